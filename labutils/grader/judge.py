"""Load the probes' data (plain data only) and judge it in the grader's process: ``Report.tasks``.

The probe cell (:mod:`labutils.grader.probe`) saved each task's data in the kernel; here it is read
back with ``torch.load(weights_only=True)`` and judged by :func:`labutils.checks.protocol.judge_for_grader`
against references built here, so nothing the notebook did to its interpreter decides a verdict.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..checks import protocol
from .report import Report
from .rubric import LABS

MAX_RESULTS = 512 * 2**20  # bytes: a probe's results file larger than this is not read


def load_results(path: Path) -> tuple[dict | None, str]:
    """The probes' results as a dict, or None and why not ("" when the probe cell never wrote them)."""
    results, problem = None, ""
    try:
        size = path.stat().st_size
        if size > MAX_RESULTS:
            problem = f"the probe's results are {size / 2**20:.0f} MiB, over the {MAX_RESULTS / 2**20:.0f} MiB limit"
        else:
            results = torch.load(str(path), weights_only=True, map_location="cpu")
            if not isinstance(results, dict):
                results, problem = None, "the probe's results are not a dict"
    except FileNotFoundError:
        problem = ""  # the probe cell did not run (a timeout, a dead kernel): the status says why
    except Exception as exc:  # a file the notebook replaced or corrupted
        results, problem = None, f"the probe's results cannot be read ({type(exc).__name__}: {str(exc)[:120]})"
    return results, problem


def judge(report: Report, cases: dict, results_path: Path, copies: dict[str, str]) -> None:
    """Fill ``report.tasks``: load the probes' data and judge each task of the report's lab.

    ``copies`` maps a task to the verdict of :func:`labutils.grader.integrity.library_copies`: it scores 0.
    """
    results, problem = load_results(results_path)
    if problem:
        report.detail = f"{report.detail}; {problem}" if report.detail else problem
        if report.status == "ok":
            report.status = "error"
    report.tasks = []
    for item in LABS.get(report.lab, []):
        if item.task in copies:
            ok, message = False, copies[item.task]
        elif results is None or item.task not in results:
            ok, message = False, "not graded: " + (report.detail or "the grader's probes did not run")
        else:
            ok, message = protocol.judge_for_grader(item.task, results[item.task], cases[item.task])
        report.tasks.append({"task": item.task, "title": item.title, "points": item.points if ok else 0,
                             "max_points": item.points, "ok": ok, "message": message})


def fill_tasks(report: Report) -> None:
    """Tasks of a submission that was not judged: each scores 0 with the reason."""
    report.tasks = [{"task": i.task, "title": i.title, "points": 0, "max_points": i.points, "ok": False,
                     "message": "not graded: " + (report.detail or "the grader's probes did not run")}
                    for i in LABS.get(report.lab, [])]
