"""The files a run writes: one Markdown report per submission and ``gradebook.csv`` (each atomically)."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ..atomic import write_atomic
from .report import Report, render
from .summary import write_summary


def _safe_name(path: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem) or "submission"
    parent = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).parent.name)
    name = base if base not in taken else f"{parent}__{base}"
    n = 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def new_name(path: str, taken: set[str]) -> str:
    """A report file stem for ``path`` not in ``taken`` (added to it): its stem, made unique."""
    return _safe_name(path, taken)


def report_names(submissions: list[str]) -> dict[str, str]:
    """Submission -> the stem of its report file: its own stem, made unique (``notebooks__01_...``)."""
    taken: set[str] = set()
    return {s: _safe_name(s, taken) for s in submissions}


def _task_key(task: str) -> list[int]:
    return [int(p) for p in task.split(".")]


def write_gradebook(reports: list[Report], names: dict[str, str], out: Path) -> Path:
    """``out/gradebook.csv``: one row per submission, one column per task graded in this run."""
    task_ids = sorted({t["task"] for r in reports for t in r.tasks}, key=_task_key)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission", "report", "lab", "status", "points", "max_points", "errors", *task_ids])
    for r in reports:
        per_task = {t["task"]: t["points"] for t in r.tasks}
        writer.writerow([r.submission, f"{names[r.submission]}.md", r.lab or "", r.status, r.points if r.lab else "",
                         r.max_points if r.lab else "", len(r.errors), *[per_task.get(t, "") for t in task_ids]])
    gradebook = out / "gradebook.csv"
    write_atomic(gradebook, buffer.getvalue())
    return gradebook


def write_report(report: Report, names: dict[str, str], out: Path) -> None:
    """``out/<name>.md``: the submission's Markdown report."""
    write_atomic(out / f"{names[report.submission]}.md", render(report))


def write_reports(reports: list[Report], out: Path) -> Path:
    """One Markdown report per submission, ``gradebook.csv`` and the class summary (``summary.md``,
    ``summary.csv``, ``summary.png``), each written atomically; returns the gradebook's path."""
    out.mkdir(parents=True, exist_ok=True)
    names = report_names([r.submission for r in reports])
    for r in reports:
        write_report(r, names, out)
    gradebook = write_gradebook(reports, names, out)
    write_summary(reports, out)
    return gradebook
