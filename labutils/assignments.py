"""Single-source assignments: build the student notebooks from ``solutions/`` and check them.

The tool lives in :mod:`labutils.authoring` (region scanner, build steps, lint, hint rules, nbgrader
export, command line); this module keeps the command and the names callers import from
``labutils.assignments`` (the tests) working.

    python -m labutils.assignments build
    python -m labutils.assignments check
    python -m labutils.assignments clean
    python -m labutils.assignments export-nbgrader DIR [--answer-points N]
"""
from __future__ import annotations

import sys

from .authoring.build import KERNELSPEC, LANGUAGE_INFO, build, build_notebook, clean
from .authoring.cli import main
from .authoring.lint import MAX_WIDTH, check, details_problems, hint_problems
from .authoring.nbgrader import (NBGRADER_CODE_STUB, NBGRADER_CONFIG, NBGRADER_SCHEMA, NBGRADER_TEST_CELL,
                                 NBGRADER_TIMEOUT, export_nbgrader, nbgrader_notebook)
from .authoring.regions import (ANSWER_STUB, BEGIN, END, AssignmentError, answer_regions, solution_regions,
                                strip_solutions)

__all__ = ["ANSWER_STUB", "BEGIN", "END", "KERNELSPEC", "LANGUAGE_INFO", "MAX_WIDTH", "NBGRADER_CODE_STUB",
           "NBGRADER_CONFIG", "NBGRADER_SCHEMA", "NBGRADER_TEST_CELL", "NBGRADER_TIMEOUT", "AssignmentError",
           "answer_regions", "build", "build_notebook", "check", "clean", "details_problems", "export_nbgrader",
           "hint_problems", "main", "nbgrader_notebook", "solution_regions", "strip_solutions"]

if __name__ == "__main__":
    sys.exit(main())
