"""Autograde student notebooks: ``python -m labutils.grade PATH... [--out grades]``.

The grader lives in :mod:`labutils.grader`; this module keeps the command and the names callers
import from ``labutils.grade`` (the tests, ``labutils.assignments``) working.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .grader import (GRACE, GRADER_TIMEOUT, LABS, RUN_VAR, SANDBOX_MODES, STATUSES, Item, Report, Settings, collect,
                     detect_lab, grade_one, kill_run, main, render, sandbox, sandbox_setting, summarize,
                     write_reports, write_summary)
from .grader import run as _run
from .grader.worker import run_isolated as _run_isolated

__all__ = ["GRACE", "GRADER_TIMEOUT", "LABS", "RUN_VAR", "SANDBOX_MODES", "STATUSES", "Item", "Report", "Settings",
           "collect", "detect_lab", "grade", "grade_one", "kill_run", "main", "render", "sandbox",
           "sandbox_setting", "summarize", "write_reports", "write_summary"]


def grade(paths: list[str], out: Path, *, timeout: float = 600.0, workers: int | None = None,
          sandbox_mode: str = "auto", memory_gb: float = 6.0, processes: int = 256) -> list[Report]:
    """:func:`labutils.grader.run.grade`, each submission graded by this module's ``_run_isolated``
    (looked up at each call, so a test can replace it here)."""
    return _run.grade(paths, out, timeout=timeout, workers=workers, sandbox_mode=sandbox_mode,
                      memory_gb=memory_gb, processes=processes, run_one=_run_isolated)


if __name__ == "__main__":
    sys.exit(main())
