"""The class at a glance: ``summary.md`` (tables), ``summary.csv`` and ``summary.png`` (per-task success
rate and status counts), written at the end of every run."""
from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from pathlib import Path

from ..atomic import write_atomic
from .report import Report
from .rubric import LABS

STATUSES = ["ok", "timeout", "crashed", "error", "invalid", "unknown-lab"]


def summarize(reports: list[Report]) -> dict:
    """Status counts and, per task of every lab with submissions, how many passed and the commonest
    failing verdicts (top 3)."""
    statuses = Counter(r.status for r in reports)
    labs = []
    for stem, items in LABS.items():
        mine = [r for r in reports if r.lab == stem]
        if not mine:
            continue
        tasks = []
        for item in items:
            results = [t for r in mine for t in r.tasks if t["task"] == item.task]
            failing = Counter(t["message"] for t in results if not t["ok"])
            missing = len(mine) - len(results)
            if missing:
                failing["not graded"] += missing
            passed = sum(t["ok"] for t in results)
            tasks.append({"task": item.task, "title": item.title, "points": item.points, "submissions": len(mine),
                          "passed": passed, "share": passed / len(mine), "failing": failing.most_common(3)})
        labs.append({"lab": stem, "submissions": len(mine), "mean_points": sum(r.points for r in mine) / len(mine),
                     "max_points": sum(i.points for i in items), "tasks": tasks})
    return {"submissions": len(reports),
            "statuses": [(s, statuses[s]) for s in STATUSES + sorted(set(statuses) - set(STATUSES)) if statuses[s]],
            "labs": labs}


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def write_summary(reports: list[Report], out: Path, extra: list[str] = ()) -> dict:
    """``summary.md`` (tables, then the lines ``extra``: the similar-code pairs), ``summary.csv`` (one row
    per task) and ``summary.png`` (per-task success rate and status counts) in ``out``; returns
    :func:`summarize`'s dict."""
    s = summarize(reports)
    lines = ["# Class summary", "", f"{s['submissions']} submission(s).", "",
             "| status | submissions |", "|---|---|"]
    lines += [f"| {status} | {n} |" for status, n in s["statuses"]]
    flagged = [r for r in reports if r.flags]
    unsandboxed = sum(1 for r in reports if r.sandbox.startswith("none"))
    if unsandboxed:
        lines += ["", f"{unsandboxed} submission(s) ran without a sandbox (see their reports)."]
    if flagged:
        lines += ["", "Flagged for review (code that reaches into the interpreter or other processes; "
                      "scores are not changed):", ""]
        lines += [f"- `{Path(r.submission).name}`: {len(r.flags)} flag(s), first: {r.flags[0]}" for r in flagged]
    for lab in s["labs"]:
        lines += ["", f"## {lab['lab']}: {lab['submissions']} submission(s), "
                      f"mean {lab['mean_points']:.1f} / {lab['max_points']} points", "",
                  "| task | title | points | passed | most common failing verdicts |", "|---|---|---|---|---|"]
        for t in lab["tasks"]:
            failing = "; ".join(f"{n}× {_cell(m)}" for m, n in t["failing"]) or "—"
            lines.append(f"| {t['task']} | {_cell(t['title'])} | {t['points']} | "
                         f"{t['passed']} / {t['submissions']} ({t['share']:.0%}) | {failing} |")
    lines += list(extra)
    write_atomic(out / "summary.md", "\n".join(lines) + "\n")

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["lab", "task", "title", "points", "submissions", "passed", "share",
                     *[f"{k}_{i}" for i in (1, 2, 3) for k in ("failing_verdict", "count")]])
    for lab in s["labs"]:
        for t in lab["tasks"]:
            failing = [x for m, n in t["failing"] for x in (m, n)]
            writer.writerow([lab["lab"], t["task"], t["title"], t["points"], t["submissions"], t["passed"],
                             f"{t['share']:.3f}", *failing, *[""] * (6 - len(failing))])
    writer.writerow([])
    writer.writerow(["status", "submissions"])
    writer.writerows(s["statuses"])
    write_atomic(out / "summary.csv", buffer.getvalue())

    try:
        write_atomic(out / "summary.png", _summary_png(s))
    except Exception as exc:  # a missing or broken matplotlib must not cost the gradebook
        print(f"warning: summary.png not written ({type(exc).__name__}: {exc})", file=sys.stderr)
    return s


def _summary_png(s: dict) -> bytes:
    # matplotlib is imported here: a missing or broken one costs only the plot (see write_summary)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    tasks = [(lab["lab"], t) for lab in s["labs"] for t in lab["tasks"]]
    fig = Figure(figsize=(max(6.0, 0.55 * len(tasks) + 4.0), 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=[max(1, len(tasks)), 4])
    colors = {stem: f"C{i}" for i, stem in enumerate(LABS)}
    x = range(len(tasks))
    bars = left.bar(x, [100 * t["share"] for _, t in tasks], color=[colors[stem] for stem, _ in tasks])
    for bar, (_, t) in zip(bars, tasks):
        left.annotate(f"{t['passed']}/{t['submissions']}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=8)
    left.set_xticks(list(x), [t["task"] for _, t in tasks])
    if tasks:
        stems = list(dict.fromkeys(stem for stem, _ in tasks))
        left.legend([Patch(color=colors[stem]) for stem in stems], stems, title="lab", fontsize=8,
                    loc="upper left", ncols=min(4, len(stems)))
    left.set_ylim(0, 125)  # room for the legend above full bars
    left.set_yticks(range(0, 101, 20))
    left.set_xlabel("task")
    left.set_ylabel("submissions that passed the task, %")
    left.set_title(f"Per-task success rate ({s['submissions']} submissions)")
    if not tasks:
        left.text(0.5, 0.5, "no gradable submissions", ha="center", va="center", transform=left.transAxes)
    statuses = s["statuses"]
    right.bar(range(len(statuses)), [n for _, n in statuses], color="C7")
    right.set_xticks(range(len(statuses)), [name for name, _ in statuses], rotation=30, ha="right")
    right.set_xlabel("status")
    right.set_ylabel("submissions")
    right.set_title("Run status")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()
