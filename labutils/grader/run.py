"""The grading run: collect the submissions, read them all, grade them in parallel, write as they finish."""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

from . import sandbox
from .gradebook import report_names, write_gradebook, write_report
from .kernel import Settings
from .report import Report
from .summary import write_summary
from .worker import read_submission, run_isolated

SANDBOX_MODES = ("auto", "bwrap", "none")


def collect(paths: list[str]) -> list[str]:
    """Notebook files named directly, plus every ``*.ipynb`` inside named folders (sorted)."""
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(str(q) for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.exists():
            found.append(str(p))
        else:
            raise FileNotFoundError(f"{p} does not exist")
    return found


def sandbox_setting(mode: str = "auto") -> tuple[bool, str]:
    """Whether to use the bubblewrap sandbox for ``mode`` (auto: when it works here), and why not.

    ``bwrap`` requires it and raises ``RuntimeError`` naming the reason when it cannot start.
    """
    if mode not in SANDBOX_MODES:
        raise ValueError(f"--sandbox {mode!r}: expected one of {', '.join(SANDBOX_MODES)}")
    if mode == "none":
        return False, "switched off (--sandbox none)"
    works, why = sandbox.bwrap_status()
    if mode == "bwrap" and not works:
        raise RuntimeError(f"--sandbox bwrap: {why}")
    return works, why


def _check_options(memory_gb: float, processes: int, sandbox_mode: str) -> None:
    if not memory_gb > 0:
        raise ValueError(f"--memory-gb {memory_gb}: expected a positive number of GiB")
    if processes < 1:
        raise ValueError(f"--max-processes {processes}: expected at least 1")
    if sandbox_mode not in SANDBOX_MODES:
        raise ValueError(f"--sandbox {sandbox_mode!r}: expected one of {', '.join(SANDBOX_MODES)}")


def grade(paths: list[str], out: Path, *, timeout: float = 600.0, workers: int | None = None,
          sandbox_mode: str = "auto", memory_gb: float = 6.0, processes: int = 256,
          run_one: Callable[..., Report] | None = None) -> list[Report]:
    """Grade submissions in parallel and write the reports (see :mod:`labutils.grader`).

    Every submission is read into memory before any kernel starts. Each report and the gradebook are
    rewritten atomically as each submission finishes, so an interrupted run keeps what it graded; the
    class summary is written at the end, also when the run is interrupted. Without the sandbox
    (``sandbox_mode``), one warning says so on stderr. ``run_one(path, text, settings, cancel)`` grades
    one submission (default :func:`labutils.grader.worker.run_isolated`; tests replace it).
    """
    _check_options(memory_gb, processes, sandbox_mode)
    run_one = run_one or run_isolated
    files = collect(paths)
    if not files:
        raise FileNotFoundError(f"no notebooks found in {', '.join(paths)}")
    texts = {f: read_submission(f) for f in files}  # before any kernel starts: a notebook cannot rewrite a classmate's
    out.mkdir(parents=True, exist_ok=True)
    use_sandbox, why = sandbox_setting(sandbox_mode)
    if not use_sandbox:
        print(f"warning: submissions run WITHOUT a sandbox: {why}. A notebook can then read and write "
              "everything the grading user can (see docs/instructors/grading.md).", file=sys.stderr)
    names = report_names(files)
    cores = max(1, os.cpu_count() or 1)
    workers = min(workers or cores, len(files))
    hidden = sorted({str(Path(f).resolve().parent) for f in files} | {str(out.resolve())})
    settings = Settings(timeout=timeout, threads=max(1, cores // workers), sandbox=use_sandbox,
                        hidden=tuple(hidden), memory_gb=memory_gb, processes=processes)
    done: dict[str, Report] = {}
    cancel = threading.Event()

    def finished(f: str, report: Report) -> None:
        done[f] = report
        write_report(report, names, out)
        write_gradebook([done[g] for g in files if g in done], names, out)

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {}
        for f in files:
            if isinstance(texts[f], Report):
                finished(f, texts[f])
            else:
                futures[pool.submit(run_one, f, texts[f], settings, cancel)] = f
        for future in as_completed(futures):
            finished(futures[future], future.result())
    finally:
        cancel.set()  # on an interruption, running workers are killed within a second
        pool.shutdown(wait=True, cancel_futures=True)
        reports = [done[f] for f in files if f in done]
        write_gradebook(reports, names, out)
        write_summary(reports, out)
    return reports
