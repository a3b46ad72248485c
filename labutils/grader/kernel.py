"""Grading one submission in a kernel: read it, scan its code, execute it with a watchdog, probe, judge.

Runs inside the submission's worker process (:mod:`labutils.grader.worker`). The steps of
:func:`grade_in_kernel`, in order:

1. :func:`read_notebook`: parse the text read before any kernel started, and detect the lab;
2. :func:`scan`: the code scan (:mod:`labutils.grader.integrity`), from that text;
3. :func:`session` with :func:`run_cells`: the notebook's cells in a fresh kernel (sandboxed when
   ``Settings.sandbox``, under hard rlimits either way), each with what is left of the time limit; a cell
   that ignores the interrupt for ``GRACE`` seconds has its kernel killed
   (:class:`~labutils.grader.sandbox.Watchdog`), as do the memory and process limits
   (:class:`~labutils.grader.sandbox.Limits`); then (:func:`run_probe`) the grader's probe cell
   (:mod:`labutils.grader.probe`) on inputs drawn from a seed only the grader knows, exchanged through
   :mod:`labutils.grader.exchange`. When the kernel died before the probes, :func:`rerun_definitions`
   runs the notebook's definitions and the probes in a fresh kernel;
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
from typing import Callable

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from ..checks import protocol
from . import definitions, exchange, integrity, limits as hard_limits, sandbox
from .detect import detect_lab
from .judge import judge
from .probe import probe_cell
from .report import Report, cell_errors
from .rubric import LABS
from .sandbox import RUN_VAR, kill_run

GRACE = 10.0  # seconds a cell gets to honour the interrupt at its time limit before its kernel is killed
GRADER_TIMEOUT = 300.0  # seconds for the grader's own cell, on top of the submission's limit
RERUN_TIMEOUT = 60.0  # seconds for the definitions a fresh kernel reruns after a kernel died before the probes


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


def kernel_manager(job: Path, work: Path, settings: Settings) -> AsyncKernelManager:
    """A kernel manager for the submission's kernel, under hard limits and, with the sandbox, in it (Unix
    sockets in ``job/kernel``; the grader's cases in ``job/cases``, read-only there)."""
    kernel_dir = job / "kernel"
    kernel_dir.mkdir(exist_ok=True)
    plan = sandbox.KernelPlan(work=work, writable=(kernel_dir, job / "results"), readonly=(job / "cases",),
                              hidden=tuple(Path(h) for h in settings.hidden),
                              memory_bytes=int(settings.memory_gb * 2**30), processes=settings.processes,
                              threads=settings.threads, sandbox=settings.sandbox)
    name = sandbox.kernel_spec(job / "kernels", plan)
    specs = KernelSpecManager(kernel_dirs=[str(job / "kernels")])
    if not settings.sandbox:
        return AsyncKernelManager(kernel_name=name, kernel_spec_manager=specs)
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
        report.flags = integrity.tamper_flags(nb, report.lab) + integrity.pasted_library(nb, report.lab)
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
              watchdog: sandbox.Watchdog, progress: list[int]) -> None:
    """Execute the submission's code cells, each with what is left of the ``limit`` seconds; a cell past
    it is interrupted (and its kernel killed when it ignores that), and the run stops there. The index of
    each cell is appended to ``progress`` as it starts."""
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
        progress.append(index)
        client.execute_cell(cell, index)
        if any(o.get("ename") == "KeyboardInterrupt" for o in cell.get("outputs", [])):
            report.status = "timeout"
            report.detail = f"cell {index} ran past the {limit:.0f} s limit and was interrupted"
            return


@dataclass
class Exchange:
    """The probe cell and the files it exchanges with the grader (:mod:`labutils.grader.exchange`)."""

    cases_path: Path
    results_path: Path
    make_cases: Callable[[], dict]  # the cases, drawn from the secret seed
    cases: dict | None = None  # once written
    peak_bytes: int = 0  # the most memory the kernels' processes held together (sandbox.Limits)

    def probe(self, items) -> nbformat.NotebookNode:
        return nbformat.v4.new_code_cell(probe_cell([i.task for i in items], str(self.cases_path),
                                                    str(self.results_path)))


def run_probe(client, probe, index: int, watchdog: sandbox.Watchdog, ex: Exchange) -> dict:
    """Write the cases (they exist only from now on) and run the grader's probe cell; returns the cases."""
    cases = ex.cases = ex.make_cases()
    exchange.save_cases(ex.cases_path.parent, ex.cases_path.name, cases)
    client.timeout = int(GRADER_TIMEOUT)
    watchdog.arm(GRADER_TIMEOUT + GRACE,
                 f"the grader's probes ran past {GRADER_TIMEOUT:.0f} s and the kernel was killed")
    client.execute_cell(probe, index)
    watchdog.arm(60, "the kernel did not shut down and was killed")
    return cases


def session(nb, job: Path, settings: Settings, run_id: str | None, body, ex: Exchange) -> str:
    """Start a fresh kernel for ``nb`` under the watchdog and limits and call ``body(client, watchdog)``;
    returns why the kernel ended early as ``"<status>:<detail>"`` ("" when it did not) and raises what is
    not the kernel's death. ``nb``'s cells hold the outputs; ``ex.peak_bytes`` the peak memory."""
    work = job / "work"
    km = kernel_manager(job, work, settings)
    client = NotebookClient(nb, km=km, kernel_name=km.kernel_name, allow_errors=True,
                            interrupt_on_timeout=True, timeout=int(settings.timeout), shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(work)}})
    kill = kernel_killer(client, run_id)
    watchdog = sandbox.Watchdog(kill)
    limits = sandbox.Limits(run_id, int(settings.memory_gb * 2**30), settings.processes, kill) if run_id else None
    try:
        watchdog.arm(settings.timeout + GRACE,
                     f"the kernel did not start within the {settings.timeout:.0f} s limit and was killed")
        with client.setup_kernel(env=kernel_env(work, run_id, settings)):
            body(client, watchdog)
        return "crashed:" + limits.reason if limits is not None and limits.reason else ""
    except DeadKernelError as exc:
        if limits is not None and limits.reason:
            return "crashed:" + limits.reason
        if watchdog.reason:
            return "timeout:" + watchdog.reason
        return f"crashed:the kernel died ({str(exc).splitlines()[0][:120]})"
    finally:
        watchdog.stop()
        if limits is not None:
            limits.stop()
            ex.peak_bytes = max(ex.peak_bytes, limits.peak_bytes)


def rerun_definitions(report: Report, nb, upto: int, job: Path, settings: Settings, run_id: str | None,
                      ex: Exchange, items) -> None:
    """After a kernel died before the probes: a fresh kernel runs only the definitions of cells ``0..upto``
    (:mod:`labutils.grader.definitions`), then the probes; the report's detail says so."""
    defs = definitions.definitions(nb, upto)
    graded = {name for i in items for name in protocol.TASKS[i.task].names}
    if not definitions.defined_names(defs) & graded:  # nothing graded was defined: nothing to rerun
        return
    fresh = nbformat.v4.new_notebook(metadata=nb.metadata)
    fresh.cells = [nbformat.v4.new_code_cell(code) for _, code in defs]
    probe = ex.probe(items)
    fresh.cells.append(probe)
    budget = min(settings.timeout, RERUN_TIMEOUT)

    def body(client, watchdog):
        deadline = time.monotonic() + budget
        for k, cell in enumerate(fresh.cells[:-1]):
            client.timeout = max(1, math.ceil(deadline - time.monotonic()))
            watchdog.arm(client.timeout + GRACE,
                         "the notebook's definitions alone ran past the limit in a fresh kernel")
            client.execute_cell(cell, k)
        run_probe(client, probe, len(fresh.cells) - 1, watchdog, ex)

    try:
        ended = session(fresh, job, settings, run_id, body, ex)
    except Exception as exc:  # noqa: BLE001 (the first kernel's status stands)
        ended = f"error:{type(exc).__name__}: {str(exc)[:120]}"
    cells = ", ".join(str(i) for i, _ in defs)
    report.detail += f"; the tasks were judged in a fresh kernel that ran only the definitions of cells {cells}"
    if ended:
        report.detail += f" (that kernel ended too: {ended.split(':', 1)[1]})"


def grade_in_kernel(path: str, text: str, settings: Settings, job: Path, run_id: str | None) -> Report:
    """Execute one notebook (its text, read before any kernel started) with ``job/work`` as cwd, run the
    tasks' probes after its cells, and judge their data here. When the kernel is killed before the probes
    ran (a time or resource limit), a fresh kernel runs only the notebook's definitions and the probes."""
    start = time.monotonic()
    report = Report(submission=str(path), sandbox=sandbox_line(settings))
    nb = read_notebook(report, path, text)
    if nb is None:
        return report
    items = LABS[report.lab]
    copies = scan(report, nb)
    submitted = len(nb.cells)
    # the exchange (labutils.grader.exchange): the cases in a folder the sandbox mounts read-only, the
    # results in one the kernel can write; neither file exists before the grader or the probe creates it
    for folder in ("cases", "results"):
        (job / folder).mkdir(mode=0o700, exist_ok=True)
    seed, token = secrets.randbelow(2**31), uuid.uuid4().hex
    ex = Exchange(job / "cases" / f"cases-{token}.pt", job / "results" / f"results-{token}.pt",
                  lambda: {i.task: protocol.TASKS[i.task].make_case(seed + k) for k, i in enumerate(items)})
    probe = ex.probe(items)
    nb.cells.append(probe)
    progress: list[int] = []

    def body(client, watchdog):
        run_cells(client, nb, submitted, report, settings.timeout, start + settings.timeout, watchdog, progress)
        progress.append(submitted)
        run_probe(client, probe, submitted, watchdog, ex)

    ended = ""
    try:
        ended = session(nb, job, settings, run_id, body, ex)
    except Exception as exc:  # a kernel that never started, a broken client, a planted exchange file
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        report.status, report.detail = "error", f"{type(exc).__name__}: {first}"
    if ended:
        report.status, report.detail = ended.split(":", 1)
    nb.cells.pop()  # the grader's cell is not the student's
    report.errors = cell_errors(nb)
    failed = [o for o in probe.get("outputs", []) if o.get("output_type") == "error"]
    if failed and report.status == "ok":
        report.status = "error"
        report.detail = (f"the grader's probe cell failed: {failed[0].get('ename')}: "
                         f"{str(failed[0].get('evalue'))[:200]}")
    if ended and progress and progress[-1] < submitted:  # killed before the probes ran
        rerun_definitions(report, nb, progress[-1], job, settings, run_id, ex, items)
    if run_id:
        report.peak_memory_gb = round(ex.peak_bytes / 2**30, 2)
    if run_id:  # in the worker: what the kernel returned is judged under a memory limit of its own
        hard_limits.cap_worker_memory(int(settings.memory_gb * 2**30))
    judge(report, ex.cases or {}, ex.results_path, copies)
    report.seconds = round(time.monotonic() - start, 1)
    return report
