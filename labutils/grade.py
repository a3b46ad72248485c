"""Autograde student notebooks: ``python -m labutils.grade PATH... [--out grades]``.

For each submission (a notebook, or every notebook in a folder) the grader

1. detects the lab (metadata written by ``labutils.assignments build``, else the file name, else
   the ``Задание N.M`` (or older ``Task N.M``) hints in its code);
2. executes it in smoke mode in a fresh kernel, started by a worker process of its own, with a
   throwaway working folder (also its data folder and ``TMPDIR``) removed afterwards, under a time
   limit: at the limit the cell is interrupted, and a cell that ignores the interrupt for ``GRACE``
   seconds has its kernel killed; errors do not stop execution, and each is recorded with its cell;
3. runs the lab's checks from here, not the notebook's check cells: deleting or editing those
   cells changes nothing, and ``labutils.checks`` is reloaded first so a submission cannot patch
   it. Each check is isolated where possible (for example ``_make_layer`` is checked with
   torchvision's blocks), so one mistake costs exactly the points of its own task;
4. writes ``<out>/<submission>.md`` and rewrites ``<out>/gradebook.csv`` (atomically) as each
   submission finishes, and at the end the class summary ``summary.md``/``.csv``/``.png``.

Every submission is read into memory before any kernel starts. A hanging, crashing, malformed or
unrecognised notebook, a forged verdict line, or a notebook that kills its worker is reported as
such and never stops the others. When a submission ends, every process it started is killed (found
by ``LABUTILS_GRADE_RUN=<id>`` in its environment, also after ``setsid``). This is not a sandbox:
the notebook runs as the grading user, and the checks run in the student's kernel.
Submissions run in parallel, one process per CPU core.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import shutil
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

MARKER = "<<LABUTILS-GRADE>>"  # starts the grader cell's one verdict line, followed by the run's nonce
RUN_VAR = "LABUTILS_GRADE_RUN"  # in the environment of every process a submission starts (see kill_run)
GRACE = 10.0  # seconds a cell gets to honour the interrupt at its time limit before its kernel is killed
GRADER_TIMEOUT = 300.0  # seconds for the grader's own cell, on top of the submission's limit


@dataclass(frozen=True)
class Item:
    """One graded TODO: its task id, title, points and the check code run in the student's kernel."""

    task: str
    title: str
    points: int
    code: str


# The checks run against the names the notebook defined. ``checks`` is the freshly reloaded module.
LABS: dict[str, list[Item]] = {
    "01_residual_networks": [
        Item("1.1", "ResidualBlock", 2, "checks.check_residual_block(ResidualBlock)"),
        Item("1.2", "Bottleneck", 2, "checks.check_bottleneck(Bottleneck)"),
        Item("1.3", "ResNet._make_layer", 2,
             "from torchvision.models.resnet import BasicBlock as _Basic, Bottleneck as _Bottle\n"
             "checks.check_resnet(ResNet, _Basic, _Bottle)"),
        Item("1.4", "factories", 1,
             "checks.check_factories({'ResNet18': ResNet18, 'ResNet34': ResNet34, 'ResNet50': ResNet50, "
             "'ResNeXt50_32x4d': ResNeXt50_32x4d})"),
        Item("1.5", "extract_embedding", 1,
             "from torchvision.models import resnet18 as _r18\nchecks.check_embedding(extract_embedding, _r18())"),
    ],
    "02_chest_xray_finetuning": [
        Item("2.1", "replace_head", 1, "checks.check_head(replace_head)"),
        Item("2.2", "freeze_backbone", 1, "checks.check_frozen_backbone(freeze_backbone)"),
        Item("2.3", "train_one_epoch", 2, "checks.check_train_loop(train_one_epoch)"),
        Item("2.4", "evaluate", 2, "checks.check_eval_loop(evaluate)"),
        Item("2.5", "make_finetune_optimizer", 1,
             "import torch.nn as _nn\nfrom torchvision.models import resnet18 as _r18\n_m = _r18(); _m.fc = _nn.Linear(512, 2)\n"
             "for _n, _p in _m.named_parameters(): _p.requires_grad = _n.startswith('fc.')\n"
             "checks.check_finetune_optimizer(make_finetune_optimizer, _m)"),
        Item("2.6", "sensitivity_specificity", 1, "checks.check_sensitivity_specificity(sensitivity_specificity)"),
        Item("2.7", "class_weights", 1, "checks.check_class_weights(class_weights)"),
    ],
    "03_resnext_cifar100": [
        Item("3.1", "model and new head", 1, "checks.check_resnext50_32x4d(model, 100)"),
        Item("3.2", "transform", 1, "checks.check_transform(transform, IMAGE_SIZE)"),
        Item("3.3", "training loop", 2, "checks.check_train_loop(train_one_epoch, task='Task 3.3 training loop')"),
        Item("3.4", "predict", 2, "checks.check_predict(predict)"),
        Item("3.5", "denormalize", 1, "checks.check_denormalize(denormalize)"),
    ],
    "04_dog_breeds_strategies": [
        Item("4.1", "make_model", 1, "checks.check_make_model(make_model)"),
        Item("4.2", "apply_strategy", 2, "checks.check_strategies(apply_strategy, _ref_make_model)"),
        Item("4.3", "make_optimizer", 1, "checks.check_optimizer(make_optimizer, _ref_make_model, _ref_apply_strategy)"),
        Item("4.4", "pick_best", 1, "checks.check_pick_best(pick_best)"),
        Item("4.5", "onnx_max_abs_diff", 1, "checks.check_onnx_parity(onnx_max_abs_diff)"),
    ],
}

# Reference helpers the Lab 4 checks use, so that a wrong make_model costs only Task 4.1's points.
_LAB4_REFERENCE = '''
def _ref_make_model(arch, num_classes=5):
    import torch.nn as _nn
    from torchvision.models import get_model as _get
    _m = _get(arch, weights=None)
    if arch == "resnet50":
        _m.fc = _nn.Linear(2048, num_classes)
    else:
        _m.classifier[1] = _nn.Linear(1280, num_classes)
    return _m

def _ref_apply_strategy(model, arch, strategy):
    from labutils.checks.lab4 import STRATEGY_PREFIXES as _P
    for _n, _p in model.named_parameters():
        _p.requires_grad = _n.startswith(_P[arch][strategy])
    return model
'''


def _grader_cell(items: list[Item], nonce: str = "") -> str:
    payload = json.dumps([asdict(i) for i in items])
    return f'''
import importlib as _importlib, json as _json, io as _io, contextlib as _ctx
import labutils.checks.core, labutils.checks.lab1, labutils.checks.lab2, labutils.checks.lab3, labutils.checks.lab4
import labutils.checks
for _mod in (labutils.checks.core, labutils.checks.lab1, labutils.checks.lab2, labutils.checks.lab3,
             labutils.checks.lab4, labutils.checks):
    _importlib.reload(_mod)
checks = labutils.checks
{_LAB4_REFERENCE}
_grade = []
for _item in _json.loads({payload!r}):
    _sink = _io.StringIO()
    try:
        with _ctx.redirect_stdout(_sink), _ctx.redirect_stderr(_io.StringIO()):
            exec(_item["code"], globals())
        _lines = [l for l in _sink.getvalue().splitlines() if l.startswith("✅")]
        _grade.append({{"task": _item["task"], "ok": True, "message": _lines[-1] if _lines else "ok"}})
    except BaseException as _exc:
        _text = str(_exc).strip().splitlines()[0] if str(_exc).strip() else ""
        _name = "" if isinstance(_exc, checks.CheckFailed) else type(_exc).__name__ + ": "
        _grade.append({{"task": _item["task"], "ok": False, "message": (_name + _text)[:300]}})
print({MARKER + nonce + " "!r} + _json.dumps(_grade))
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



# ---------------------------------------------------------------------------------------------
# process hygiene: every process a submission starts carries its run's id in its environment


def _pids() -> list[int]:
    try:
        return [int(n) for n in os.listdir("/proc") if n.isdigit()]
    except OSError:  # no /proc (not Linux): nothing to sweep
        return []


def _marked(run_id: str) -> list[int]:
    """Processes other than this one whose environment carries ``LABUTILS_GRADE_RUN=<run_id>``."""
    needle, me = f"\0{RUN_VAR}={run_id}\0".encode(), os.getpid()
    found = []
    for pid in _pids():
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in b"\0" + f.read() + b"\0":
                    found.append(pid)
        except OSError:  # gone, or another user's process
            continue
    return found


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _kill(pids) -> None:
    signals = [getattr(signal, name) for name in ("SIGSTOP", "SIGKILL") if hasattr(signal, name)]
    for sig in signals:  # freeze first, so nothing forks while we kill
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass


def kill_run(run_id: str, rounds: int = 20) -> int:
    """SIGKILL every process (but this one) started for ``run_id``, also those that left the kernel's
    session or process group; returns how many. Linux only (reads ``/proc``), a no-op elsewhere."""
    killed: set[int] = set()
    for _ in range(rounds):
        pids = _marked(run_id)
        if not pids:
            break
        _kill(pids)
        killed.update(pids)
        time.sleep(0.05)
    return len(killed)


def _remove_tree(path: Path) -> None:
    """Remove a folder however large, also where the notebook made parts of it read-only."""
    def retry(func, name, _exc):
        try:
            os.chmod(os.path.dirname(name), 0o700)
            os.chmod(name, 0o700)
            func(name)
        except OSError:
            pass

    for _ in range(3):
        shutil.rmtree(path, onerror=retry)
        if not path.exists():
            return


class _Watchdog:
    """Kills the kernel hard when a cell outlives its deadline (a cell may ignore the interrupt)."""

    def __init__(self, kill):
        self._kill, self._lock, self._stop = kill, threading.Lock(), threading.Event()
        self._deadline: float | None = None
        self._reason, self.reason = "", ""
        threading.Thread(target=self._loop, daemon=True).start()

    def arm(self, seconds: float, reason: str) -> None:
        with self._lock:
            self._deadline, self._reason = time.monotonic() + seconds, reason

    def disarm(self) -> None:
        with self._lock:
            self._deadline = None

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                due = self._deadline is not None and time.monotonic() >= self._deadline
                if due:
                    self._deadline, self.reason = None, self._reason
            if due:
                self._kill()


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
            _kill([pid])
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


# ---------------------------------------------------------------------------------------------
# grading one submission (in its own worker process, see _run_isolated)


def _read_verdicts(grader, nonce: str, items: list[Item]) -> tuple[dict | None, str]:
    """The grader cell's verdicts, or None and what is wrong with its output (nothing: it did not run)."""
    text = "".join(o.get("text", "") for o in grader.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    lines = [line for line in text.splitlines() if MARKER in line]
    if not lines:
        return None, ""
    bad = "the grader's verdict line was forged or corrupted"
    if len(lines) > 1:
        return None, f"{bad}: {len(lines)} verdict lines instead of one"
    head = f"{MARKER}{nonce} "
    if not lines[0].startswith(head):
        return None, f"{bad}: {lines[0][:80]!r}"
    try:
        data = json.loads(lines[0][len(head):])
    except ValueError as exc:
        return None, f"{bad}: invalid JSON ({exc})"
    known = {i.task for i in items}
    if not isinstance(data, list) or not all(
            isinstance(v, dict) and v.get("task") in known and isinstance(v.get("ok"), bool)
            and isinstance(v.get("message"), str) for v in data) or len({v["task"] for v in data}) != len(data):
        return None, f"{bad}: unexpected structure"
    return {v["task"]: v for v in data}, ""


def _fill_tasks(report: Report, verdicts: dict | None) -> None:
    verdicts = verdicts or {}
    report.tasks = []
    for item in LABS.get(report.lab, []):
        v = verdicts.get(item.task, {"ok": False, "message": "not graded: " + (report.detail or "the grader's checks did not run")})
        report.tasks.append({"task": item.task, "title": item.title, "points": item.points if v["ok"] else 0,
                             "max_points": item.points, "ok": v["ok"], "message": v["message"]})


def _grade_in_kernel(path: str, text: str, timeout: float, threads: int | None, work: Path,
                     run_id: str | None) -> Report:
    """Execute and grade one notebook (its text, read before any kernel started) with ``work`` as cwd."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    start = time.monotonic()
    report = Report(submission=str(path))
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
    submitted = len(nb.cells)
    nonce = uuid.uuid4().hex  # a verdict line printed by the submission cannot know it in advance
    grader = nbformat.v4.new_code_cell(_grader_cell(items, nonce))  # runs after the submission's own cells
    nb.cells.append(grader)
    tmp = work / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LABUTILS_SMOKE": "1", "MPLBACKEND": "Agg",
           "LABUTILS_DATA": str(work / "data"),  # no sharing between parallel submissions
           "TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)}
    if run_id:
        env[RUN_VAR] = run_id
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
                            timeout=int(timeout), shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(work)}})
    watchdog = _Watchdog(_kernel_killer(client, run_id))
    deadline = start + timeout
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
            client.timeout = int(GRADER_TIMEOUT)
            watchdog.arm(GRADER_TIMEOUT + GRACE, f"the grader's checks ran past {GRADER_TIMEOUT:.0f} s and the kernel was killed")
            client.execute_cell(grader, submitted)
            watchdog.arm(60, "the kernel did not shut down and was killed")
    except DeadKernelError as exc:
        if watchdog.reason:
            report.status, report.detail = "timeout", watchdog.reason
        else:
            report.status, report.detail = "crashed", f"the kernel died ({str(exc).splitlines()[0][:120]})"
    except Exception as exc:  # a kernel that never started, a broken client
        report.status, report.detail = "error", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    finally:
        watchdog.stop()
    nb.cells.pop()  # the grader's cell is not the student's
    report.errors = _cell_errors(nb)
    verdicts, problem = _read_verdicts(grader, nonce, items)
    if problem:
        if report.status == "ok":
            report.status, report.detail = "error", problem
        else:
            report.detail += f"; {problem}"
    _fill_tasks(report, verdicts)
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
        report = _grade_in_kernel(job["path"], job["text"], job["timeout"], job["threads"], Path(job["work"]),
                                  job["run_id"])
    except BaseException as exc:  # noqa: BLE001 (a grader bug becomes this submission's status)
        report = Report(submission=job["path"], status="error",
                        detail=f"the grader failed: {type(exc).__name__}: {str(exc)[:200]}")
    _kill(_descendants(os.getpid()))
    kill_run(job["run_id"])
    _write_atomic(Path(job["result"]), json.dumps(asdict(report)))


def _run_isolated(path: str, text: str, timeout: float, threads: int | None,
                  cancel: threading.Event | None = None) -> Report:
    """Grade one submission in a fresh worker process, then kill everything it started and remove its
    folder. Never raises for anything the submission does: a dead worker is reported as ``crashed``."""
    start, run_id = time.monotonic(), uuid.uuid4().hex
    try:
        job = Path(tempfile.mkdtemp(prefix="labutils-grade-"))
    except OSError as exc:
        report = _report_without_result(path, text)
        report.status, report.detail = "error", f"no work folder: {exc}"
        _fill_tasks(report, None)
        return report
    overran = cancelled = False
    try:
        work, result = job / "work", job / "result.json"
        work.mkdir()
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, RUN_VAR: run_id,
               "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        proc = subprocess.Popen([sys.executable, "-c", "from labutils.grade import _worker; _worker()"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=str(job), env=env, start_new_session=True)
        try:
            proc.stdin.write(json.dumps({"path": path, "text": text, "timeout": timeout, "threads": threads,
                                         "work": str(work), "run_id": run_id, "result": str(result)}).encode())
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
        _remove_tree(job)
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


def grade_one(path: str, timeout: float = 600.0, threads: int | None = None) -> Report:
    """Execute and grade one notebook in its own worker process; never raises for what the notebook does.

    ``threads`` caps the kernel's CPU threads (``OMP_NUM_THREADS``): parallel kernels that each use
    every core slow each other down many times over.
    """
    text = _read_submission(path)
    if isinstance(text, Report):
        return text
    return _run_isolated(str(path), text, timeout, threads)


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


def grade(paths: list[str], out: Path, *, timeout: float = 600.0, workers: int | None = None) -> list[Report]:
    """Grade submissions in parallel and write the reports (see the module docstring).

    Every submission is read into memory before any kernel starts. Each report and the gradebook are
    rewritten atomically as each submission finishes, so an interrupted run keeps what it graded; the
    class summary is written at the end, also when the run is interrupted.
    """
    files = collect(paths)
    if not files:
        raise FileNotFoundError(f"no notebooks found in {', '.join(paths)}")
    texts = {f: _read_submission(f) for f in files}  # before any kernel starts: a notebook cannot rewrite a classmate's
    out.mkdir(parents=True, exist_ok=True)
    names = _names(files)
    cores = max(1, os.cpu_count() or 1)
    workers = min(workers or cores, len(files))
    threads = max(1, cores // workers)
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
                futures[pool.submit(_run_isolated, f, texts[f], timeout, threads, cancel)] = f
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
    args = parser.parse_args(argv)
    try:
        reports = grade(args.paths, args.out, timeout=args.timeout, workers=args.workers)
    except FileNotFoundError as exc:
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
