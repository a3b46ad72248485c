"""The outcome of one submission (:class:`Report`) and its Markdown report (:func:`render`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .rubric import max_points
from .sandbox import POLL


@dataclass
class Report:
    """The outcome for one submission."""

    submission: str
    lab: str | None = None
    status: str = "ok"  # ok, timeout, crashed, invalid, unknown-lab, error
    detail: str = ""
    tasks: list[dict] = field(default_factory=list)  # task, title, points, max_points, ok, message
    errors: list[dict] = field(default_factory=list)  # cell, ename, evalue
    seconds: float = 0.0
    sandbox: str = ""  # "bubblewrap", or "none: <why>"
    peak_memory_gb: float = 0.0  # resident memory of all its processes together, sampled (see sandbox.Limits)
    flags: list[str] = field(default_factory=list)  # code marked for the instructor's review (grader.integrity)

    @property
    def points(self) -> int:
        return sum(t["points"] for t in self.tasks)

    @property
    def max_points(self) -> int:
        return max_points(self.lab)


def cell_errors(nb) -> list[dict]:
    """``{cell, ename, evalue}`` of every error output of an executed notebook (the value's first line)."""
    errors = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append({"cell": index, "ename": out.get("ename", ""),
                               "evalue": str(out.get("evalue", "")).strip().splitlines()[0][:200]
                               if str(out.get("evalue", "")).strip() else ""})
    return errors


def render(report: Report) -> str:
    """The per-student Markdown report."""
    lines = [f"# Grade report: {Path(report.submission).name}", ""]
    lines.append(f"- submission: `{report.submission}`")
    lines.append(f"- lab: {report.lab or 'unknown'}")
    lines.append(f"- status: **{report.status}**" + (f" — {report.detail}" if report.detail else ""))
    if report.lab:
        lines.append(f"- points: **{report.points} / {report.max_points}**")
    lines.append(f"- time: {report.seconds:.1f} s")
    if report.sandbox:
        lines.append(f"- sandbox: {report.sandbox}")
    if report.peak_memory_gb:
        lines.append(f"- peak memory: {report.peak_memory_gb:.2f} GiB (resident, all its processes, sampled every "
                     f"{POLL} s)")
    if report.flags:
        lines += ["", "Flagged for the instructor's review (the score is not changed by these):", ""]
        lines += [f"- {flag}" for flag in report.flags]
    if report.tasks:
        lines += ["", "| task | points | verdict |", "|---|---|---|"]
        for t in report.tasks:
            mark = "✅" if t["ok"] else "❌"
            message = t["message"].replace("|", "\\|").removeprefix("✅ ")
            lines.append(f"| {t['task']} {t['title']} | {t['points']} / {t['max_points']} | {mark} {message} |")
    if report.errors:
        lines += ["", "Execution errors (cell numbers count from 0):", ""]
        lines += [f"- cell {e['cell']}: {e['ename']}: {e['evalue']}" for e in report.errors]
    return "\n".join(lines) + "\n"
