"""Grading one submission in a kernel: read it, scan its code, execute it with a watchdog, probe, judge.

Runs inside the submission's worker process (:mod:`labutils.grader.worker`). The steps of
:func:`grade_in_kernel`, in order:

1. :func:`read_notebook`: parse the text read before any kernel started, and detect the lab;
2. :func:`scan`: the code scan (:mod:`labutils.grader.integrity`), from that text;
3. :func:`execute`: the notebook's cells in a fresh kernel (sandboxed when ``Settings.sandbox``), each
   with what is left of the time limit; a cell that ignores the interrupt for ``GRACE`` seconds has its
   kernel killed (:class:`~labutils.grader.sandbox.Watchdog`), as do the memory and process limits
   (:class:`~labutils.grader.sandbox.Limits`); then the grader's probe cell (:mod:`labutils.grader.probe`)
   on inputs drawn from a seed only the grader knows;
4. :func:`labutils.grader.judge.judge`: the probes' data judged here.
"""
from __future__ import annotations

import math
import os
import secrets
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat
import torch
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from ..checks import protocol
from . import integrity, sandbox
from .detect import detect_lab
from .judge import judge
from .probe import probe_cell
from .report import Report, cell_errors
from .rubric import LABS
from .sandbox import RUN_VAR, kill_run

GRACE = 10.0  # seconds a cell gets to honour the interrupt at its time limit before its kernel is killed
GRADER_TIMEOUT = 300.0  # seconds for the grader's own cell, on top of the submission's limit


@dataclass(frozen=True)
class Settings:
    """How each submission is run: time limit, CPU threads, sandbox, and resource limits."""

    timeout: float = 600.0
    threads: int | None = None
    sandbox: bool = False  # run the kernel in bubblewrap (see labutils.grader.sandbox)
    hidden: tuple[str, ...] = ()  # folders the sandbox hides (the submissions', the output)
    memory_gb: float = 6.0  # resident memory of all its processes together
    processes: int = 256  # processes at once


def kernel_killer(client, run_id: str | None):
    """A function that kills the client's kernel hard, with everything its run started."""
    def kill():
        provisioner = getattr(getattr(client, "km", None), "provisioner", None)
        pgid, pid = getattr(provisioner, "pgid", None), getattr(provisioner, "pid", None)
        if pgid and hasattr(os, "killpg") and pgid != os.getpgrp():
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
        if pid:
            sandbox.kill([pid])
        if run_id:
            kill_run(run_id)
        # nbclient stops watching the kernel's pulse once it has interrupted a cell; cancelling its wait
        # makes it raise DeadKernelError now rather than after another full timeout
        task = getattr(client, "task_poll_for_reply", None)
        if task is not None and not task.done():
            try:
                task.get_loop().call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop has closed meanwhile
                pass
    return kill


def kernel_manager(job: Path, work: Path, settings: Settings):
    """A kernel manager for the sandboxed kernel (Unix sockets in ``job/kernel``), or None without a sandbox."""
    if not settings.sandbox:
        return None
    kernel_dir = job / "kernel"
    kernel_dir.mkdir(exist_ok=True)
    name = sandbox.kernel_spec(job / "kernels", work, kernel_dir, [Path(h) for h in settings.hidden])
    specs = KernelSpecManager(kernel_dirs=[str(job / "kernels")])
    return AsyncKernelManager(kernel_name=name, kernel_spec_manager=specs, transport="ipc", ip=str(kernel_dir / "ipc"),
                              connection_file=str(kernel_dir / "connection.json"))


def sandbox_line(settings: Settings) -> str:
    """What the report says about the sandbox: ``bubblewrap``, or ``none: <why>``."""
    if settings.sandbox:
        return "bubblewrap"
    works, why = sandbox.bwrap_status()
    return "none: " + (why if not works else "switched off")


def read_notebook(report: Report, path: str, text: str):
    """The notebook parsed from ``text`` with ``report.lab`` set, or None with the report's status saying why."""
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # invalid JSON, not a notebook
        first = str(exc).splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        report.status, report.detail = "invalid", f"not a readable notebook: {first}"
        return None
    report.lab = detect_lab(Path(path), nb)
    if report.lab is None:
        report.status = "unknown-lab"
        report.detail = "cannot tell which lab this notebook is (no known Task N.M hints)"
        return None
    return nb


def scan(report: Report, nb) -> dict[str, str]:
    """Set ``report.flags`` and return the library copies (task -> verdict), read before the notebook runs."""
    try:
        report.flags = integrity.tamper_flags(nb, report.lab)
        return integrity.library_copies(nb, report.lab)
    except Exception as exc:  # noqa: BLE001 (a scan that fails must not cost the grade)
        report.flags = [f"the code scan failed: {type(exc).__name__}: {str(exc)[:120]}"]
        return {}


def kernel_env(work: Path, run_id: str | None, settings: Settings) -> dict[str, str]:
    """The kernel's environment: smoke mode, its own data, temporary and cache folders, the run's id, threads."""
    tmp = work / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LABUTILS_SMOKE": "1", "MPLBACKEND": "Agg",
           "LABUTILS_DATA": str(work / "data"),  # no sharing between parallel submissions
           "TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp), "IPYTHONDIR": str(work / ".ipython"),
           "MPLCONFIGDIR": str(work / ".matplotlib"), "XDG_CACHE_HOME": str(work / ".cache")}
    if run_id:
        env[RUN_VAR] = run_id
    if settings.threads:
        env.update(OMP_NUM_THREADS=str(settings.threads), MKL_NUM_THREADS=str(settings.threads))
    return env


def run_cells(client, nb, submitted: int, report: Report, limit: float, deadline: float,
              watchdog: sandbox.Watchdog) -> None:
    """Execute the submission's code cells, each with what is left of the ``limit`` seconds; a cell past
    it is interrupted (and its kernel killed when it ignores that), and the run stops there."""
    for index, cell in enumerate(nb.cells[:submitted]):
        if cell.cell_type != "code":
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            report.status, report.detail = "timeout", f"time limit of {limit:.0f} s reached before cell {index}"
            return
        client.timeout = max(1, math.ceil(remaining))
        # nbclient interrupts the cell at the limit; a cell that ignores the interrupt is killed
        watchdog.arm(client.timeout + GRACE, f"cell {index} ran past the {limit:.0f} s limit, ignored "
                                             f"the interrupt for {GRACE:.0f} s and its kernel was killed")
        client.execute_cell(cell, index)
        if any(o.get("ename") == "KeyboardInterrupt" for o in cell.get("outputs", [])):
            report.status = "timeout"
            report.detail = f"cell {index} ran past the {limit:.0f} s limit and was interrupted"
            return


def grade_in_kernel(path: str, text: str, settings: Settings, job: Path, run_id: str | None) -> Report:
    """Execute one notebook (its text, read before any kernel started) with ``job/work`` as cwd, run the
    tasks' probes after its cells, and judge their data here."""
    start, timeout = time.monotonic(), settings.timeout
    work = job / "work"
    report = Report(submission=str(path), sandbox=sandbox_line(settings))
    nb = read_notebook(report, path, text)
    if nb is None:
        return report
    items = LABS[report.lab]
    copies = scan(report, nb)
    submitted = len(nb.cells)
    # the probes' exchange folder, outside the notebook's working folder (the sandbox mounts job/kernel)
    secret = job / "kernel" / f"grader-{uuid.uuid4().hex}"
    secret.mkdir(parents=True)
    seed = secrets.randbelow(2**31)
    cases_path, results_path = secret / "cases.pt", secret / "results.pt"
    probe = nbformat.v4.new_code_cell(probe_cell([i.task for i in items], str(cases_path), str(results_path)))
    nb.cells.append(probe)
    env = kernel_env(work, run_id, settings)
    km = kernel_manager(job, work, settings)
    client = NotebookClient(nb, km=km, kernel_name=km.kernel_name if km else "python3", allow_errors=True,
                            interrupt_on_timeout=True, timeout=int(timeout), shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(work)}})
    kill = kernel_killer(client, run_id)
    watchdog = sandbox.Watchdog(kill)
    limits = sandbox.Limits(run_id, int(settings.memory_gb * 2**30), settings.processes, kill) if run_id else None
    deadline, cases = start + timeout, {}
    try:
        watchdog.arm(timeout + GRACE, f"the kernel did not start within the {timeout:.0f} s limit and was killed")
        with client.setup_kernel(env=env):
            run_cells(client, nb, submitted, report, timeout, deadline, watchdog)
            # the inputs exist only from now on, and only the grader knows the seed they were drawn with
            cases = {i.task: protocol.TASKS[i.task].make_case(seed + k) for k, i in enumerate(items)}
            torch.save(cases, str(cases_path))
            client.timeout = int(GRADER_TIMEOUT)
            watchdog.arm(GRADER_TIMEOUT + GRACE,
                         f"the grader's probes ran past {GRADER_TIMEOUT:.0f} s and the kernel was killed")
            client.execute_cell(probe, submitted)
            watchdog.arm(60, "the kernel did not shut down and was killed")
    except DeadKernelError as exc:
        if limits is not None and limits.reason:
            report.status, report.detail = "crashed", limits.reason
        elif watchdog.reason:
            report.status, report.detail = "timeout", watchdog.reason
        else:
            report.status, report.detail = "crashed", f"the kernel died ({str(exc).splitlines()[0][:120]})"
    except Exception as exc:  # a kernel that never started, a broken client
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        report.status, report.detail = "error", f"{type(exc).__name__}: {first}"
    finally:
        watchdog.stop()
        if limits is not None:
            limits.stop()
    nb.cells.pop()  # the grader's cell is not the student's
    report.errors = cell_errors(nb)
    failed = [o for o in probe.get("outputs", []) if o.get("output_type") == "error"]
    if failed and report.status == "ok":
        report.status = "error"
        report.detail = (f"the grader's probe cell failed: {failed[0].get('ename')}: "
                         f"{str(failed[0].get('evalue'))[:200]}")
    if limits is not None:
        report.peak_memory_gb = round(limits.peak_bytes / 2**30, 2)
    if report.status == "ok" and (limits is not None and limits.reason):
        report.status, report.detail = "crashed", limits.reason
    judge(report, cases, results_path, copies)
    report.seconds = round(time.monotonic() - start, 1)
    return report
