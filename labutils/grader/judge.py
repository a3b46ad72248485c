"""Load the probes' data (plain data only) and judge it in the grader's process: ``Report.tasks``.

The probe cell (:mod:`labutils.grader.probe`) saved each task's data in the kernel; here it is read
back with ``torch.load(weights_only=True)`` and judged by :func:`labutils.checks.protocol.judge_for_grader`
against references built here, so nothing the notebook did to its interpreter decides a verdict.
"""
from __future__ import annotations

from pathlib import Path

from ..checks import protocol
from . import exchange
from .report import Report
from .rubric import LABS

def load_results(path: Path) -> tuple[dict | None, str]:
    """The probes' results as a dict, or None and why not ("" when the probe cell never wrote them).

    The file is read without following links or blocking (:func:`labutils.grader.exchange.read_regular`),
    then its data checked for shape and size (:func:`labutils.checks.protocol.check_bounded`) before
    anything else touches it."""
    results, problem = None, ""
    try:
        results = exchange.load_results(path)
        if not isinstance(results, dict):
            results, problem = None, "the probe's results are not a dict"
        else:
            protocol.check_bounded(results)
    except FileNotFoundError:
        problem = ""  # the probe cell did not run (a timeout, a dead kernel): the status says why
    except exchange.Refused as exc:
        results, problem = None, f"the probe's results were refused: {exc}"
    except ValueError as exc:
        results, problem = None, f"the probe's results were refused: {str(exc)[:200]}"
    except MemoryError:
        results, problem = None, "the probe's results were refused: they do not fit the grader's memory limit"
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
        elif results is None or item.task not in results or item.task not in cases:
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
