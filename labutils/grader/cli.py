"""The command line: ``python -m labutils.grade PATH... [--out grades]`` (argument parsing and the summary lines)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .run import SANDBOX_MODES, grade

DESCRIPTION = "Autograde student notebooks: ``python -m labutils.grade PATH... [--out grades]``."


def parser() -> argparse.ArgumentParser:
    """The grader's argument parser."""
    p = argparse.ArgumentParser(prog="python -m labutils.grade", description=DESCRIPTION)
    p.add_argument("paths", nargs="+", help="notebooks or folders of notebooks")
    p.add_argument("--out", type=Path, default=Path("grades"), help="folder for the reports (default: grades/)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per notebook (default 600)")
    p.add_argument("--workers", type=int, default=None, help="parallel notebooks (default: CPU count)")
    p.add_argument("--sandbox", choices=SANDBOX_MODES, default="auto",
                   help="run each kernel in bubblewrap: auto (when it works here, the default), bwrap "
                        "(required), none")
    p.add_argument("--memory-gb", type=float, default=6.0,
                   help="resident memory allowed to one submission's processes together (default 6)")
    p.add_argument("--max-processes", type=int, default=256,
                   help="processes one submission may run at once (default 256)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the grader from the command line; returns the exit code (2 for a bad path or setting)."""
    args = parser().parse_args(argv)
    try:
        reports = grade(args.paths, args.out, timeout=args.timeout, workers=args.workers, sandbox_mode=args.sandbox,
                        memory_gb=args.memory_gb, processes=args.max_processes)
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max(len(r.submission) for r in reports)
    for r in reports:
        score = f"{r.points:>2} / {r.max_points:<2}" if r.lab else "  -    "
        print(f"{r.submission:<{width}}  {r.lab or '?':<26} {score}  {r.status:<11} {len(r.errors)} error(s)  "
              f"{r.seconds:.0f} s")
    print(f"reports, gradebook.csv and summary.md/.csv/.png written to {args.out}/")
    return 0
