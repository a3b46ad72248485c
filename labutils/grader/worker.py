"""One worker process per submission: it grades in a kernel of its own, and everything it started dies with it.

:func:`run_isolated` (in the grader's process) starts ``python -c`` :data:`WORKER_COMMAND` in a new
session with ``LABUTILS_GRADE_RUN=<id>`` in its environment, hands it the job as JSON on stdin, waits
(killing it at an outer time limit or when the run is cancelled), kills every process marked with the
id, removes the job's folder and reads the report the worker wrote. :func:`worker` is the other end.
"""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import nbformat

from .. import course
from ..atomic import write_atomic
from . import sandbox
from .detect import detect_lab
from .judge import fill_tasks
from .kernel import GRACE, GRADER_TIMEOUT, RERUN_TIMEOUT, Settings, grade_in_kernel
from .report import Report, render
from .sandbox import RUN_VAR, kill_run

WORKER_COMMAND = "from labutils.grader.worker import worker; worker()"


def worker() -> None:
    """Entry point of one submission's worker process: the job as JSON on stdin, the report to a file."""
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    try:  # orphans of the kernel become our children, so they can be found and killed at the end
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:
        pass
    try:
        report = grade_in_kernel(job["path"], job["text"], Settings(**job["settings"]), Path(job["job"]),
                                 job["run_id"])
    except BaseException as exc:  # noqa: BLE001 (a grader bug becomes this submission's status)
        report = Report(submission=job["path"], status="error",
                        detail=f"the grader failed: {type(exc).__name__}: {str(exc)[:200]}")
    sandbox.kill(sandbox.descendants(os.getpid()))
    kill_run(job["run_id"])
    write_atomic(Path(job["result"]), json.dumps(asdict(report)))


def _wait(proc: subprocess.Popen, start: float, limit: float, cancel: threading.Event | None) -> tuple[int, bool, bool]:
    """Wait for the worker; kill it when the run is cancelled or it outlives ``limit``: ``(rc, cancelled, overran)``."""
    cancelled = overran = False
    while True:
        try:
            return proc.wait(timeout=0.5), cancelled, overran
        except subprocess.TimeoutExpired:
            cancelled = cancel is not None and cancel.is_set()
            overran = time.monotonic() - start > limit
            if cancelled or overran:
                proc.kill()
                return proc.wait(), cancelled, overran


def _read_result(result: Path) -> Report | None:
    """The report the worker wrote, or None when it is missing or does not make a report."""
    if not result.is_file():
        return None
    try:
        report = Report(**json.loads(result.read_text(encoding="utf-8")))
        render(report), report.points, report.max_points  # noqa: B018 (a tampered result must not stop the run)
    except Exception:
        return None
    return report


def run_isolated(path: str, text: str, settings: Settings, cancel: threading.Event | None = None) -> Report:
    """Grade one submission in a fresh worker process, then kill everything it started and remove its
    folder. Never raises for anything the submission does: a dead worker is reported as ``crashed``."""
    start, run_id = time.monotonic(), uuid.uuid4().hex
    timeout = settings.timeout
    try:
        job = Path(tempfile.mkdtemp(prefix="labutils-grade-"))
    except OSError as exc:
        report = report_without_result(path, text)
        report.status, report.detail = "error", f"no work folder: {exc}"
        fill_tasks(report)
        return report
    try:
        result = job / "result.json"
        (job / "work").mkdir()
        env = {**os.environ, RUN_VAR: run_id,
               "PYTHONPATH": os.pathsep.join(p for p in (str(course.ROOT), os.environ.get("PYTHONPATH")) if p)}
        proc = subprocess.Popen([sys.executable, "-c", WORKER_COMMAND],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=str(job), env=env, start_new_session=True)
        try:
            proc.stdin.write(json.dumps({"path": path, "text": text, "settings": asdict(settings), "job": str(job),
                                         "run_id": run_id, "result": str(result)}).encode())
            proc.stdin.close()
        except OSError:
            pass
        # the worker enforces the real limits itself (a rerun of the definitions included)
        limit = timeout + GRADER_TIMEOUT + RERUN_TIMEOUT + 4 * GRACE + 180
        rc, cancelled, overran = _wait(proc, start, limit, cancel)
        kill_run(run_id)
        report = _read_result(result)
        if report is None:
            report = report_without_result(path, text)
            if cancelled:
                report.status, report.detail = "error", "grading was cancelled"
            elif overran:
                report.status, report.detail = "timeout", f"grading ran past {limit:.0f} s and was killed"
            elif rc < 0:
                report.status, report.detail = "crashed", (f"the grading process was killed by signal {-rc} "
                                                           "(by the notebook, or for lack of memory)")
            else:
                report.status, report.detail = "crashed", f"the grading process exited with code {rc} and no result"
            fill_tasks(report)
    except Exception as exc:  # the worker could not be started (no memory, no processes left)
        kill_run(run_id)
        report = report_without_result(path, text)
        report.status, report.detail = "error", f"the grader could not run it: {type(exc).__name__}: {str(exc)[:200]}"
        fill_tasks(report)
    finally:
        sandbox.remove_tree(job)
    report.seconds = round(time.monotonic() - start, 1)
    return report


def report_without_result(path: str, text: str) -> Report:
    """An empty report for a submission whose worker left no result, with its lab when it can be told."""
    report = Report(submission=str(path))
    try:
        report.lab = detect_lab(Path(path), nbformat.reads(text, as_version=4))
    except Exception:
        pass
    return report


def read_submission(path: str) -> str | Report:
    """The submission's text, or an ``invalid`` report when it cannot be read as UTF-8."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Report(submission=str(path), status="invalid", detail=f"not a readable notebook: {str(exc)[:200]}")


def grade_one(path: str, settings: Settings | None = None) -> Report:
    """Execute and grade one notebook in its own worker process; never raises for what the notebook does.

    ``settings.threads`` caps the kernel's CPU threads (``OMP_NUM_THREADS``): parallel kernels that each
    use every core slow each other down many times over.
    """
    text = read_submission(path)
    if isinstance(text, Report):
        return text
    return run_isolated(str(path), text, settings or Settings())
