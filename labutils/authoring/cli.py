"""``python -m labutils.assignments {build,check,clean,export-nbgrader}``: the authoring commands.

    python -m labutils.assignments build
    python -m labutils.assignments check
    python -m labutils.assignments clean
    python -m labutils.assignments export-nbgrader DIR [--answer-points N]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..runtime import project_root
from .build import build, clean
from .lint import check
from .nbgrader import export_nbgrader
from .regions import AssignmentError

DESCRIPTION = "Single-source assignments: build the student notebooks from ``solutions/`` and check them."


def parser(root: Path) -> argparse.ArgumentParser:
    """The command line; ``--solutions`` and ``--notebooks`` default to the checkout's folders."""
    parser = argparse.ArgumentParser(prog="python -m labutils.assignments", description=DESCRIPTION)
    parser.add_argument("command", choices=["build", "check", "clean", "export-nbgrader"])
    parser.add_argument("dir", nargs="?", type=Path,
                        help="export-nbgrader: the nbgrader course directory to write")
    parser.add_argument("--answer-points", type=float, default=0,
                        help="export-nbgrader: points of each manually graded answer cell (default 0)")
    parser.add_argument("--solutions", type=Path, default=root / "solutions")
    parser.add_argument("--notebooks", type=Path, default=root / "notebooks")
    return parser


def _build(args) -> int:
    for path in build(args.solutions, args.notebooks):
        print(f"wrote {path}")
    return 0


def _clean(args) -> int:
    changed = clean(args.solutions)
    for path in changed:
        print(f"cleaned {path}")
    print(f"{len(changed)} notebook(s) cleaned")
    return 0


def _export(args) -> int:
    for path in export_nbgrader(args.solutions, args.dir, args.answer_points):
        print(f"wrote {path}")
    return 0


def _check(args) -> int:
    problems = check(args.solutions, args.notebooks)
    for line in problems:
        print(f"FAIL: {line}", file=sys.stderr)
    if problems:
        return 1
    print(f"ok: {len(list(args.solutions.glob('*.ipynb')))} student notebook(s) in sync with {args.solutions}")
    return 0


COMMANDS = {"build": _build, "check": _check, "clean": _clean, "export-nbgrader": _export}


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (1 with ``error: ...`` on malformed markers)."""
    cli = parser(project_root())
    args = cli.parse_args(argv)
    if args.command == "export-nbgrader" and args.dir is None:
        cli.error("export-nbgrader needs the course directory: export-nbgrader DIR")
    try:
        return COMMANDS[args.command](args)
    except AssignmentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
