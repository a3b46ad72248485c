"""The command line: ``python -m labutils.grade PATH... [--out grades]`` (argument parsing and the summary lines)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..messages import LANG_ENV, language
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
    p.add_argument("--roster", type=Path, default=None,
                   help="class roster: a CSV with the columns id, name and optional email, group; writes the "
                        "term table term.csv/term.md")
    p.add_argument("--match", default=None, metavar="PATTERN",
                   help="map a file name to a roster id with this regular expression and its named group id "
                        "(default: a folder per student named by the id)")
    p.add_argument("--feedback-lang", choices=("ru", "en"), default=None,
                   help="language of the student feedback in feedback/ and of the verdicts (default ru, "
                        "or LABUTILS_LANG)")
    p.add_argument("--export", action="append", default=[], metavar="FORMAT",
                   help="write the term table as an LMS grade-import file: moodle or canvas (needs --roster; "
                        "may be repeated)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the grader from the command line; returns the exit code (2 for a bad path or setting)."""
    args = parser().parse_args(argv)
    if args.feedback_lang:  # the verdicts the kernels print, and so the feedback, in that language
        os.environ[LANG_ENV] = args.feedback_lang
    try:
        reports = grade(args.paths, args.out, timeout=args.timeout, workers=args.workers, sandbox_mode=args.sandbox,
                        memory_gb=args.memory_gb, processes=args.max_processes, roster=args.roster,
                        pattern=args.match, feedback_lang=language(), exports=tuple(args.export))
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max(len(r.submission) for r in reports)
    for r in reports:
        score = f"{r.points:>2} / {r.max_points:<2}" if r.lab else "  -    "
        print(f"{r.submission:<{width}}  {r.lab or '?':<26} {score}  {r.status:<11} {len(r.errors)} error(s)  "
              f"{r.seconds:.0f} s")
    print(f"reports, feedback/, gradebook.csv (and gradebook.sqlite, the whole record) and summary.md/.csv/.png "
          f"written to {args.out}/")
    if args.roster:
        print(f"term table: {args.out}/term.csv and term.md (unmatched submissions and duplicates are listed "
              "there)" + "".join(f"; {fmt}: {args.out}/{fmt}.csv" for fmt in args.export))
    return 0
