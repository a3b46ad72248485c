"""Autograde student notebooks: ``python -m labutils.grade PATH... [--out grades]``.

For each submission (a notebook, or every notebook in a folder) the grader

1. detects the lab (metadata written by ``labutils.assignments build``, else the file name, else
   the ``Задание N.M`` (or older ``Task N.M``) hints in its code), and reads the student-written
   code without running it (:mod:`labutils.integrity`: Lab 1 library copies score 0, tampering is
   flagged for review);
2. executes it in smoke mode in a fresh kernel, started by a worker process of its own, in a
   throwaway working folder (also its data folder and ``TMPDIR``) removed afterwards; on Linux with
   bubblewrap the kernel runs in a sandbox (:mod:`labutils.sandbox`), with memory and process limits;
   at the time limit the cell is interrupted, and a cell that ignores the interrupt for ``GRACE``
   seconds has its kernel killed; errors do not stop execution, and each is recorded with its cell;
3. then runs one cell of its own: each task's probe (:mod:`labutils.checks.protocol`) calls what the
   notebook defined on inputs drawn from a seed only the grader knows, and saves plain data; the
   grader loads it with ``torch.load(weights_only=True)`` and judges it here, against references it
   builds itself, so nothing the notebook does to its own interpreter decides a verdict. Each task is
   judged with reference implementations of everything else, so one mistake costs one task;
4. writes ``<out>/<submission>.md`` and rewrites ``<out>/gradebook.csv`` (atomically) as each
   submission finishes, and at the end the class summary ``summary.md``/``.csv``/``.png``.

Every submission is read into memory before any kernel starts. A hanging, crashing, malformed or
unrecognised notebook, a forged results file, or a notebook that kills its worker is reported as
such and never stops the others. When a submission ends, every process it started is killed (found
by ``LABUTILS_GRADE_RUN=<id>`` in its environment, also after ``setsid``). Submissions run in
parallel, one process per CPU core. README, "Grading", says what is and is not enforced.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import sandbox
from .sandbox import RUN_VAR, kill_run

GRACE = 10.0  # seconds a cell gets to honour the interrupt at its time limit before its kernel is killed
GRADER_TIMEOUT = 300.0  # seconds for the grader's own cell, on top of the submission's limit


@dataclass(frozen=True)
class Item:
    """One graded TODO: its task number, title and points. Its check is ``labutils.checks.protocol.TASKS[task]``."""

    task: str
    title: str
    points: int


LABS: dict[str, list[Item]] = {
    "01_residual_networks": [
        Item("1.1", "ResidualBlock", 2),
        Item("1.2", "Bottleneck", 2),
        Item("1.3", "ResNet._make_layer", 2),
        Item("1.4", "factories", 1),
        Item("1.5", "extract_embedding", 1),
    ],
    "02_chest_xray_finetuning": [
        Item("2.1", "replace_head", 1),
        Item("2.2", "freeze_backbone", 1),
        Item("2.3", "train_one_epoch", 2),
        Item("2.4", "evaluate", 2),
        Item("2.5", "make_finetune_optimizer", 1),
        Item("2.6", "sensitivity_specificity", 1),
        Item("2.7", "class_weights", 1),
        Item("2.8", "grad_cam", 2),
    ],
    "03_resnext_cifar100": [
        Item("3.1", "model and new head", 1),
        Item("3.2", "transform", 1),
        Item("3.3", "training loop", 2),
        Item("3.4", "predict", 2),
        Item("3.5", "denormalize", 1),
    ],
    "04_dog_breeds_strategies": [
        Item("4.1", "make_model", 1),
        Item("4.2", "apply_strategy", 2),
        Item("4.3", "make_optimizer", 1),
        Item("4.4", "pick_best", 1),
        Item("4.5", "onnx_max_abs_diff", 1),
    ],
}


def _probe_cell(numbers: list[str], cases: str, results: str) -> str:
    """The one cell the grader adds: runs the tasks' probes on the notebook's names and saves their data.

    It computes no verdict and its output is not read: the grader loads ``results`` as data
    (``torch.load(weights_only=True)``) and judges it in its own process.
    """
    return f'''
import importlib as _importlib, torch as _torch
import labutils.checks.core, labutils.checks.protocol, labutils.checks.lab1, labutils.checks.lab2
import labutils.checks.lab3, labutils.checks.lab4, labutils.checks
for _mod in (labutils.checks.core, labutils.checks.protocol, labutils.checks.lab1, labutils.checks.lab2,
             labutils.checks.lab3, labutils.checks.lab4, labutils.checks):
    _importlib.reload(_mod)
_cases = _torch.load({cases!r}, weights_only=True)
_torch.save({{_n: labutils.checks.protocol.probe_for_grader(_n, globals(), _cases[_n]) for _n in {numbers!r}}},
            {results!r})
'''


# ---------------------------------------------------------------------------------------------
# lab detection


def detect_lab(path: Path, nb) -> str | None:
    """The lab's notebook stem (e.g. ``01_residual_networks``), or None when it cannot be told."""
    stamped = nb.metadata.get("labutils", {}).get("lab")
    if stamped in LABS:
        return stamped
    for stem in LABS:
        if path.stem.startswith(stem) or stem in path.stem:
            return stem
    numbers = re.findall(r"# TODO: (?:Task|Задание) (\d+)\.", "\n".join(c.source for c in nb.cells if c.cell_type == "code"))
    if numbers:
        most = max(set(numbers), key=numbers.count)
        matches = [stem for stem in LABS if stem.startswith(f"{int(most):02d}_")]
        if matches:
            return matches[0]
    return None


# ---------------------------------------------------------------------------------------------
# the report


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
    flags: list[str] = field(default_factory=list)  # code marked for the instructor's review (labutils.integrity)

    @property
    def points(self) -> int:
        return sum(t["points"] for t in self.tasks)

    @property
    def max_points(self) -> int:
        return sum(i.points for i in LABS.get(self.lab, []))


def _cell_errors(nb) -> list[dict]:
    errors = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append({"cell": index, "ename": out.get("ename", ""),
                               "evalue": str(out.get("evalue", "")).strip().splitlines()[0][:200]
                               if str(out.get("evalue", "")).strip() else ""})
    return errors



def _kernel_killer(client, run_id: str | None):
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


@dataclass(frozen=True)
class Settings:
    """How each submission is run: time limit, CPU threads, sandbox, and resource limits."""

    timeout: float = 600.0
    threads: int | None = None
    sandbox: bool = False  # run the kernel in bubblewrap (see labutils.sandbox)
    hidden: tuple[str, ...] = ()  # folders the sandbox hides (the submissions', the output)
    memory_gb: float = 6.0  # resident memory of all its processes together
    processes: int = 256  # processes at once


# ---------------------------------------------------------------------------------------------
# grading one submission (in its own worker process, see _run_isolated)

MAX_RESULTS = 512 * 2**20  # bytes: a probe's results file larger than this is not read


def _judge(report: Report, cases: dict, results_path: Path, copies: dict[str, str]) -> None:
    """Fill ``report.tasks``: load the probes' data (plain data only) and judge it here, in the grader.

    ``copies`` maps a task to the verdict of :func:`labutils.integrity.library_copies`: it scores 0.
    """
    from .checks import protocol

    results, problem = None, ""
    try:
        size = results_path.stat().st_size
        if size > MAX_RESULTS:
            problem = f"the probe's results are {size / 2**20:.0f} MiB, over the {MAX_RESULTS / 2**20:.0f} MiB limit"
        else:
            import torch

            results = torch.load(str(results_path), weights_only=True, map_location="cpu")
            if not isinstance(results, dict):
                results, problem = None, "the probe's results are not a dict"
    except FileNotFoundError:
        problem = ""  # the probe cell did not run (a timeout, a dead kernel): the status says why
    except Exception as exc:  # a file the notebook replaced or corrupted
        results, problem = None, f"the probe's results cannot be read ({type(exc).__name__}: {str(exc)[:120]})"
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


def _fill_tasks(report: Report, verdicts: dict | None) -> None:
    """Tasks of a submission that was not judged: each scores 0 with the reason."""
    report.tasks = [{"task": i.task, "title": i.title, "points": 0, "max_points": i.points, "ok": False,
                     "message": "not graded: " + (report.detail or "the grader's probes did not run")}
                    for i in LABS.get(report.lab, [])]


def _kernel_manager(job: Path, work: Path, settings: Settings):
    """A kernel manager for the sandboxed kernel (Unix sockets in ``job/kernel``), or None without a sandbox."""
    if not settings.sandbox:
        return None
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    kernel_dir = job / "kernel"
    kernel_dir.mkdir(exist_ok=True)
    name = sandbox.kernel_spec(job / "kernels", work, kernel_dir, [Path(h) for h in settings.hidden])
    return AsyncKernelManager(kernel_name=name, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(job / "kernels")]),
                              transport="ipc", ip=str(kernel_dir / "ipc"),
                              connection_file=str(kernel_dir / "connection.json"))


def _grade_in_kernel(path: str, text: str, settings: Settings, job: Path, run_id: str | None) -> Report:
    """Execute one notebook (its text, read before any kernel started) with ``job/work`` as cwd, run the
    tasks' probes after its cells, and judge their data here."""
    import secrets

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    from . import integrity
    from .checks import protocol

    start, timeout = time.monotonic(), settings.timeout
    work = job / "work"
    report = Report(submission=str(path), sandbox="bubblewrap" if settings.sandbox else
                    "none: " + (sandbox.bwrap_status()[1] if not sandbox.bwrap_status()[0] else "switched off"))
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # invalid JSON, not a notebook
        first = str(exc).splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        report.status, report.detail = "invalid", f"not a readable notebook: {first}"
        return report
    report.lab = detect_lab(Path(path), nb)
    if report.lab is None:
        report.status, report.detail = "unknown-lab", "cannot tell which lab this notebook is (no known Task N.M hints)"
        return report
    items = LABS[report.lab]
    try:  # read from the text held here, before the notebook runs
        report.flags = integrity.tamper_flags(nb, report.lab)
        copies = integrity.library_copies(nb, report.lab)
    except Exception as exc:  # noqa: BLE001 (a scan that fails must not cost the grade)
        report.flags, copies = [f"the code scan failed: {type(exc).__name__}: {str(exc)[:120]}"], {}
    submitted = len(nb.cells)
    # the probes' exchange folder, outside the notebook's working folder (the sandbox mounts job/kernel)
    secret = job / "kernel" / f"grader-{uuid.uuid4().hex}"
    secret.mkdir(parents=True)
    seed = secrets.randbelow(2**31)
    cases_path, results_path = secret / "cases.pt", secret / "results.pt"
    probe = nbformat.v4.new_code_cell(_probe_cell([i.task for i in items], str(cases_path), str(results_path)))
    nb.cells.append(probe)
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
    km = _kernel_manager(job, work, settings)
    client = NotebookClient(nb, km=km, kernel_name=km.kernel_name if km else "python3", allow_errors=True,
                            interrupt_on_timeout=True, timeout=int(timeout), shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(work)}})
    kill = _kernel_killer(client, run_id)
    watchdog = sandbox.Watchdog(kill)
    limits = sandbox.Limits(run_id, int(settings.memory_gb * 2**30), settings.processes, kill) if run_id else None
    deadline, cases = start + timeout, {}
    try:
        watchdog.arm(timeout + GRACE, f"the kernel did not start within the {timeout:.0f} s limit and was killed")
        with client.setup_kernel(env=env):
            for index, cell in enumerate(nb.cells[:submitted]):
                if cell.cell_type != "code":
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    report.status, report.detail = "timeout", f"time limit of {timeout:.0f} s reached before cell {index}"
                    break
                client.timeout = max(1, math.ceil(remaining))
                # nbclient interrupts the cell at the limit; a cell that ignores the interrupt is killed
                watchdog.arm(client.timeout + GRACE, f"cell {index} ran past the {timeout:.0f} s limit, ignored "
                                                     f"the interrupt for {GRACE:.0f} s and its kernel was killed")
                client.execute_cell(cell, index)
                if any(o.get("ename") == "KeyboardInterrupt" for o in cell.get("outputs", [])):
                    report.status, report.detail = "timeout", f"cell {index} ran past the {timeout:.0f} s limit and was interrupted"
                    break
            # the inputs exist only from now on, and only the grader knows the seed they were drawn with
            cases = {i.task: protocol.TASKS[i.task].make_case(seed + k) for k, i in enumerate(items)}
            import torch

            torch.save(cases, str(cases_path))
            client.timeout = int(GRADER_TIMEOUT)
            watchdog.arm(GRADER_TIMEOUT + GRACE, f"the grader's probes ran past {GRADER_TIMEOUT:.0f} s and the kernel was killed")
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
        report.status, report.detail = "error", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    finally:
        watchdog.stop()
        if limits is not None:
            limits.stop()
    nb.cells.pop()  # the grader's cell is not the student's
    report.errors = _cell_errors(nb)
    failed = [o for o in probe.get("outputs", []) if o.get("output_type") == "error"]
    if failed and report.status == "ok":
        report.status = "error"
        report.detail = f"the grader's probe cell failed: {failed[0].get('ename')}: {str(failed[0].get('evalue'))[:200]}"
    if limits is not None:
        report.peak_memory_gb = round(limits.peak_bytes / 2**30, 2)
    if report.status == "ok" and (limits is not None and limits.reason):
        report.status, report.detail = "crashed", limits.reason
    _judge(report, cases, results_path, copies)
    report.seconds = round(time.monotonic() - start, 1)
    return report


def _worker() -> None:
    """Entry point of one submission's worker process: the job as JSON on stdin, the report to a file."""
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    try:  # orphans of the kernel become our children, so they can be found and killed at the end
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:
        pass
    try:
        report = _grade_in_kernel(job["path"], job["text"], Settings(**job["settings"]), Path(job["job"]),
                                  job["run_id"])
    except BaseException as exc:  # noqa: BLE001 (a grader bug becomes this submission's status)
        report = Report(submission=job["path"], status="error",
                        detail=f"the grader failed: {type(exc).__name__}: {str(exc)[:200]}")
    sandbox.kill(sandbox.descendants(os.getpid()))
    kill_run(job["run_id"])
    _write_atomic(Path(job["result"]), json.dumps(asdict(report)))


def _run_isolated(path: str, text: str, settings: Settings, cancel: threading.Event | None = None) -> Report:
    """Grade one submission in a fresh worker process, then kill everything it started and remove its
    folder. Never raises for anything the submission does: a dead worker is reported as ``crashed``."""
    start, run_id = time.monotonic(), uuid.uuid4().hex
    timeout = settings.timeout
    try:
        job = Path(tempfile.mkdtemp(prefix="labutils-grade-"))
    except OSError as exc:
        report = _report_without_result(path, text)
        report.status, report.detail = "error", f"no work folder: {exc}"
        _fill_tasks(report, None)
        return report
    overran = cancelled = False
    try:
        result = job / "result.json"
        (job / "work").mkdir()
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, RUN_VAR: run_id,
               "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        proc = subprocess.Popen([sys.executable, "-c", "from labutils.grade import _worker; _worker()"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=str(job), env=env, start_new_session=True)
        try:
            proc.stdin.write(json.dumps({"path": path, "text": text, "settings": asdict(settings), "job": str(job),
                                         "run_id": run_id, "result": str(result)}).encode())
            proc.stdin.close()
        except OSError:
            pass
        limit = timeout + GRADER_TIMEOUT + 3 * GRACE + 120  # the worker enforces the real limits itself
        while True:
            try:
                rc = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                cancelled = cancel is not None and cancel.is_set()
                overran = time.monotonic() - start > limit
                if cancelled or overran:
                    proc.kill()
                    rc = proc.wait()
                    break
        kill_run(run_id)
        report = None
        if result.is_file():
            try:
                report = Report(**json.loads(result.read_text(encoding="utf-8")))
                render(report), report.points, report.max_points  # noqa: B018 (a tampered result must not stop the run)
            except Exception:
                report = None
        if report is None:
            report = _report_without_result(path, text)
            if cancelled:
                report.status, report.detail = "error", "grading was cancelled"
            elif overran:
                report.status, report.detail = "timeout", f"grading ran past {limit:.0f} s and was killed"
            elif rc < 0:
                report.status, report.detail = "crashed", (f"the grading process was killed by signal {-rc} "
                                                           "(by the notebook, or for lack of memory)")
            else:
                report.status, report.detail = "crashed", f"the grading process exited with code {rc} and no result"
            _fill_tasks(report, None)
    except Exception as exc:  # the worker could not be started (no memory, no processes left)
        kill_run(run_id)
        report = _report_without_result(path, text)
        report.status, report.detail = "error", f"the grader could not run it: {type(exc).__name__}: {str(exc)[:200]}"
        _fill_tasks(report, None)
    finally:
        sandbox.remove_tree(job)
    report.seconds = round(time.monotonic() - start, 1)
    return report


def _report_without_result(path: str, text: str) -> Report:
    report = Report(submission=str(path))
    try:
        import nbformat
        report.lab = detect_lab(Path(path), nbformat.reads(text, as_version=4))
    except Exception:
        pass
    return report


def grade_one(path: str, settings: Settings | None = None) -> Report:
    """Execute and grade one notebook in its own worker process; never raises for what the notebook does.

    ``settings.threads`` caps the kernel's CPU threads (``OMP_NUM_THREADS``): parallel kernels that each
    use every core slow each other down many times over.
    """
    text = _read_submission(path)
    if isinstance(text, Report):
        return text
    return _run_isolated(str(path), text, settings or Settings())


def _read_submission(path: str) -> str | Report:
    try:
        return Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Report(submission=str(path), status="invalid", detail=f"not a readable notebook: {str(exc)[:200]}")


# ---------------------------------------------------------------------------------------------
# reports


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
                     f"{sandbox.POLL} s)")
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


def _safe_name(path: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).stem) or "submission"
    parent = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(path).parent.name)
    name = base if base not in taken else f"{parent}__{base}"
    n = 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``path`` through a temporary file in the same folder and ``os.replace``: readers (and an
    interrupted run) see the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _task_key(task: str) -> list[int]:
    return [int(p) for p in task.split(".")]


def _write_gradebook(reports: list[Report], names: dict[str, str], out: Path) -> Path:
    task_ids = sorted({t["task"] for r in reports for t in r.tasks}, key=_task_key)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission", "report", "lab", "status", "points", "max_points", "errors", *task_ids])
    for r in reports:
        per_task = {t["task"]: t["points"] for t in r.tasks}
        writer.writerow([r.submission, f"{names[r.submission]}.md", r.lab or "", r.status, r.points if r.lab else "",
                         r.max_points if r.lab else "", len(r.errors), *[per_task.get(t, "") for t in task_ids]])
    gradebook = out / "gradebook.csv"
    _write_atomic(gradebook, buffer.getvalue())
    return gradebook


def _names(submissions: list[str]) -> dict[str, str]:
    taken: set[str] = set()
    return {s: _safe_name(s, taken) for s in submissions}


def write_reports(reports: list[Report], out: Path) -> Path:
    """One Markdown report per submission, ``gradebook.csv`` and the class summary (``summary.md``,
    ``summary.csv``, ``summary.png``), each written atomically; returns the gradebook's path."""
    out.mkdir(parents=True, exist_ok=True)
    names = _names([r.submission for r in reports])
    for r in reports:
        _write_atomic(out / f"{names[r.submission]}.md", render(r))
    gradebook = _write_gradebook(reports, names, out)
    write_summary(reports, out)
    return gradebook


# ---------------------------------------------------------------------------------------------
# the class at a glance


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


def write_summary(reports: list[Report], out: Path) -> dict:
    """``summary.md`` (tables), ``summary.csv`` (one row per task) and ``summary.png`` (per-task success
    rate and status counts) in ``out``; returns :func:`summarize`'s dict."""
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
    _write_atomic(out / "summary.md", "\n".join(lines) + "\n")

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
    _write_atomic(out / "summary.csv", buffer.getvalue())

    try:
        _write_atomic(out / "summary.png", _summary_png(s))
    except Exception as exc:  # a missing or broken matplotlib must not cost the gradebook
        print(f"warning: summary.png not written ({type(exc).__name__}: {exc})", file=sys.stderr)
    return s


def _summary_png(s: dict) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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
        from matplotlib.patches import Patch
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


# ---------------------------------------------------------------------------------------------
# the run


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


SANDBOX_MODES = ("auto", "bwrap", "none")


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


def grade(paths: list[str], out: Path, *, timeout: float = 600.0, workers: int | None = None,
          sandbox_mode: str = "auto", memory_gb: float = 6.0, processes: int = 256) -> list[Report]:
    """Grade submissions in parallel and write the reports (see the module docstring).

    Every submission is read into memory before any kernel starts. Each report and the gradebook are
    rewritten atomically as each submission finishes, so an interrupted run keeps what it graded; the
    class summary is written at the end, also when the run is interrupted. Without the sandbox
    (``sandbox_mode``), one warning says so on stderr.
    """
    if not memory_gb > 0:
        raise ValueError(f"--memory-gb {memory_gb}: expected a positive number of GiB")
    if processes < 1:
        raise ValueError(f"--max-processes {processes}: expected at least 1")
    if sandbox_mode not in SANDBOX_MODES:
        raise ValueError(f"--sandbox {sandbox_mode!r}: expected one of {', '.join(SANDBOX_MODES)}")
    files = collect(paths)
    if not files:
        raise FileNotFoundError(f"no notebooks found in {', '.join(paths)}")
    texts = {f: _read_submission(f) for f in files}  # before any kernel starts: a notebook cannot rewrite a classmate's
    out.mkdir(parents=True, exist_ok=True)
    use_sandbox, why = sandbox_setting(sandbox_mode)
    if not use_sandbox:
        print(f"warning: submissions run WITHOUT a sandbox: {why}. A notebook can then read and write "
              "everything the grading user can (see README, Grading).", file=sys.stderr)
    names = _names(files)
    cores = max(1, os.cpu_count() or 1)
    workers = min(workers or cores, len(files))
    hidden = sorted({str(Path(f).resolve().parent) for f in files} | {str(out.resolve())})
    settings = Settings(timeout=timeout, threads=max(1, cores // workers), sandbox=use_sandbox,
                        hidden=tuple(hidden), memory_gb=memory_gb, processes=processes)
    done: dict[str, Report] = {}
    cancel = threading.Event()

    def finished(f: str, report: Report) -> None:
        done[f] = report
        _write_atomic(out / f"{names[f]}.md", render(report))
        _write_gradebook([done[g] for g in files if g in done], names, out)

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {}
        for f in files:
            if isinstance(texts[f], Report):
                finished(f, texts[f])
            else:
                futures[pool.submit(_run_isolated, f, texts[f], settings, cancel)] = f
        for future in as_completed(futures):
            finished(futures[future], future.result())
    finally:
        cancel.set()  # on an interruption, running workers are killed within a second
        pool.shutdown(wait=True, cancel_futures=True)
        reports = [done[f] for f in files if f in done]
        _write_gradebook(reports, names, out)
        write_summary(reports, out)
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labutils.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="notebooks or folders of notebooks")
    parser.add_argument("--out", type=Path, default=Path("grades"), help="folder for the reports (default: grades/)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per notebook (default 600)")
    parser.add_argument("--workers", type=int, default=None, help="parallel notebooks (default: CPU count)")
    parser.add_argument("--sandbox", choices=SANDBOX_MODES, default="auto",
                        help="run each kernel in bubblewrap: auto (when it works here, the default), bwrap "
                             "(required), none")
    parser.add_argument("--memory-gb", type=float, default=6.0,
                        help="resident memory allowed to one submission's processes together (default 6)")
    parser.add_argument("--max-processes", type=int, default=256,
                        help="processes one submission may run at once (default 256)")
    args = parser.parse_args(argv)
    try:
        reports = grade(args.paths, args.out, timeout=args.timeout, workers=args.workers, sandbox_mode=args.sandbox,
                        memory_gb=args.memory_gb, processes=args.max_processes)
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max(len(r.submission) for r in reports)
    for r in reports:
        score = f"{r.points:>2} / {r.max_points:<2}" if r.lab else "  -    "
        print(f"{r.submission:<{width}}  {r.lab or '?':<26} {score}  {r.status:<11} {len(r.errors)} error(s)  {r.seconds:.0f} s")
    print(f"reports, gradebook.csv and summary.md/.csv/.png written to {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
