"""Every graded check in two halves: a *probe* that runs the student's code, a *judge* that compares.

Used by every lab's checks (``lab1`` ... ``lab4``) and by :mod:`labutils.grade`.

* ``make_case(seed)`` builds the task's inputs as plain data: tensors, weights (``state_dict``s),
  numbers, strings, lists and dicts. The grader draws a secret seed, so a notebook cannot know them
  in advance; a self-check in the notebook uses seed 0.
* ``probe(*objects, case, **extra)`` runs where the student's code runs (the notebook's kernel). It
  calls the student's objects on the case and returns plain data only (outputs, parameter names,
  shapes, what it observed), never a verdict.
* ``judge(data, case, task)`` runs in the grader's own process. It rebuilds the references from the
  case itself (torchvision's modules, scikit-learn's functions) and compares; it returns the
  evidence of a passing verdict or raises :class:`~labutils.checks.core.CheckFailed`.

In a notebook, ``check_residual_block(ResidualBlock)`` runs all three in the student's process
(:func:`self_check`) and prints the verdict. The grader runs only the probe in the student's kernel
(:func:`probe_for_grader`, results saved with :func:`torch.save`), loads them back with
``torch.load(weights_only=True)`` and judges them in its own process (:func:`judge_for_grader`):
whatever a notebook does to its own interpreter, it can only change the data, and data that is not
the reference's on inputs it could not know fails.
"""
from __future__ import annotations

import contextlib
import importlib
import math
import numbers
import secrets
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .. import course
from ..messages import t, task_label
from .core import CheckFailed, Verdict, passed, unfinished_verdict

MAX_ITEMS = 100_000  # elements of a list/dict in a probe's result, against a result that fills memory
MAX_DEPTH = 32  # nesting of lists/dicts in a probe's result
MAX_NODES = 1_000_000  # values visited in a probe's result, each shared reference counted again
MAX_TEXT = 16 * 2**20  # characters of all the strings of a probe's result together
MAX_ELEMENTS = 2**26  # elements of all the tensors of a probe's result together


@dataclass(frozen=True)
class Task:
    """One graded task: its label, the notebook names the grader passes, and its three halves."""

    number: str                        # "<lab>.<k>", from the course table
    label: str                         # the course table's label, "Task <number> <title>"
    names: tuple[str, ...]             # notebook globals the grader passes to ``probe``, in order (the table's)
    make_case: Callable[[int], dict]
    probe: Callable[..., dict]
    judge: Callable[[dict, dict, str], str]


TASKS: dict[str, Task] = {}


def register(lab: int, check: str, make_case, probe, judge) -> Task:
    """Add the three halves of the task of lab ``lab`` that the self-check ``check`` (its function's name)
    checks to :data:`TASKS` (each lab's check modules register their own).

    The task's number, its label (``"Task <number> <title>"``) and the notebook names its probe reads come
    from the course's table (:meth:`labutils.course.Lab.checked_by`), so a check names its task once; a
    check the lab's table does not list raises ``KeyError``.
    """
    row = course.lab(lab).checked_by(check)
    if row is None:
        raise KeyError(f"lab {lab} of labutils.course has no task checked by {check!r}")
    task = Task(row.number, row.label, row.names, make_case, probe, judge)
    TASKS[row.number] = task
    return task


def plain(value, where: str = "result"):
    """``value`` as plain data (None, bool, int, float, str, list, dict with str keys, CPU tensor).

    Tensors are detached, moved to the CPU and copied; numpy arrays become tensors and numpy
    scalars Python numbers; tuples become lists. Anything else raises ``TypeError`` naming ``where``.
    """
    if value is None or isinstance(value, bool):
        return bool(value) if value is not None else None
    if isinstance(value, str):
        return str(value)  # a str subclass would not load back with weights_only=True
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu").clone().contiguous()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ITEMS:
            raise TypeError(f"{where}: more than {MAX_ITEMS} items")
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise TypeError(f"{where}: more than {MAX_ITEMS} items")
        return {str(k): plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(f"{where}: {type(value).__name__} is not plain data")


def check_bounded(value, where: str = "results") -> None:
    """Refuse (``ValueError`` naming the place) data loaded back from a kernel that is not plain data of
    bounded size: before anything calls ``str()``, ``repr()`` or compares it (used by the grader's judge).

    It walks the value without recursion and counts every visit (a list shared a thousand times is
    visited a thousand times), so a small file that unfolds into a huge or deeply nested value is refused
    after at most :data:`MAX_NODES` steps: depth over :data:`MAX_DEPTH`, more than :data:`MAX_ITEMS`
    items in one list or dict, strings over :data:`MAX_TEXT` characters or tensors over
    :data:`MAX_ELEMENTS` elements in all, dict keys that are not ``str``, integers over 128 bits,
    tensors whose shape reaches past their storage, and any type that :func:`plain` never produces.
    """
    budget = {"nodes": 0, "text": 0, "elements": 0}
    stack = [(value, 0, None, where)]  # (value, depth, parent entry, key): the place is spelled out on refusal
    while stack:
        entry = stack.pop()
        item, depth = entry[0], entry[1]
        if depth > MAX_DEPTH:
            raise ValueError(f"{_place(entry)}: nested deeper than {MAX_DEPTH} levels")
        kind = type(item)
        if kind is dict:
            if any(type(k) is not str for k in item):
                raise ValueError(f"{_place(entry)}: a key that is not a string")
            children = item.items()
        elif kind is list or kind is tuple:
            children = enumerate(item)
        else:
            _check_leaf(item, entry, budget)
            continue
        if len(item) > MAX_ITEMS:
            raise ValueError(f"{_place(entry)}: more than {MAX_ITEMS} items")
        budget["nodes"] += len(item) + 1
        if budget["nodes"] > MAX_NODES:
            raise ValueError(f"{where}: more than {MAX_NODES} values (shared references counted each time)")
        for key, child in children:
            if type(child) in _NUMBERS:
                if type(child) is int and child.bit_length() > 128:
                    raise ValueError(f"{_place((child, depth + 1, entry, key))}: an integer of "
                                     f"{child.bit_length()} bits")
            else:
                stack.append((child, depth + 1, entry, key))


_NUMBERS = (type(None), bool, int, float)


def _place(entry) -> str:
    keys = []
    while entry[2] is not None:
        keys.append(f"[{entry[3]!r:.40}]")
        entry = entry[2]
    return entry[3] + "".join(reversed(keys))


def _check_leaf(item, entry, budget: dict) -> None:
    """One value of :func:`check_bounded` that is not a list or dict."""
    kind = type(item)
    if kind in _NUMBERS:
        if kind is int and item.bit_length() > 128:
            raise ValueError(f"{_place(entry)}: an integer of {item.bit_length()} bits")
    elif kind is str:
        budget["text"] += len(item)
        if budget["text"] > MAX_TEXT:
            raise ValueError(f"{_place(entry)}: more than {MAX_TEXT} characters of text in all")
    elif kind is torch.Tensor:
        budget["elements"] += item.numel()
        if budget["elements"] > MAX_ELEMENTS:
            raise ValueError(f"{_place(entry)}: tensors of more than {MAX_ELEMENTS} elements in all")
        if item.layout != torch.strided or item.device.type != "cpu":
            raise ValueError(f"{_place(entry)}: a tensor that is not a plain CPU tensor")
        if item.numel() and any(s < 0 for s in item.stride()):
            raise ValueError(f"{_place(entry)}: a tensor with a negative stride")
        reach = (item.storage_offset() + sum((n - 1) * s for n, s in zip(item.shape, item.stride()))
                 + 1) * item.element_size() if item.numel() else 0
        if reach > item.untyped_storage().nbytes():
            raise ValueError(f"{_place(entry)}: a tensor whose shape reaches past its storage")
    else:
        raise ValueError(f"{_place(entry)}: {kind.__name__[:40]} is not plain data")


def shapes_of(module) -> dict:
    """``{name: [dims]}`` of a module's state_dict: what a case ships instead of the weights themselves."""
    return {name: list(value.shape) for name, value in module.state_dict().items()}


def random_state(shapes: dict, seed: int) -> dict:
    """Deterministic random weights for ``shapes`` (see :func:`shapes_of`), the same in every process.

    Weights get a He-like scale (``randn * sqrt(2 / fan_in)``), biases and BatchNorm shifts and
    running means small values, BatchNorm scales and running variances values in [0.5, 1.5), and
    ``num_batches_tracked`` zero, so that a deep network's activations stay finite and BatchNorm is
    not a no-op. A probe and a judge that call this with the same case build the same weights.
    """
    gen = torch.Generator().manual_seed(int(seed))
    state = {}
    for name, shape in shapes.items():
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "num_batches_tracked":
            state[name] = torch.zeros(shape, dtype=torch.long)
        elif leaf == "running_var" or (leaf == "weight" and len(shape) == 1):
            state[name] = torch.rand(shape, generator=gen) + 0.5
        elif leaf in ("running_mean", "bias"):
            state[name] = torch.randn(shape, generator=gen) * 0.2
        else:
            fan_in = math.prod(shape[1:]) or 1
            state[name] = torch.randn(shape, generator=gen) * math.sqrt(2.0 / fan_in)
    return state


def self_check(task: Task, objects: tuple, label: str | None = None, seed: int = 0, case: dict | None = None,
               **extra) -> Verdict:
    """The notebook's self-check: case, probe and judge in this process; prints and returns the verdict.

    ``case`` replaces ``task.make_case(seed)`` where the notebook's check differs from the grader's
    (e.g. it checks the student's own model). The student's exceptions propagate from the probe
    unchanged (``student_check`` makes them readable).
    """
    label = label or task.label
    case = task.make_case(seed) if case is None else case
    data = plain(task.probe(*objects, case, **extra))
    return passed(label, task.judge(data, case, label))


def error_data(task: Task, exc: BaseException) -> dict:
    """What the grader records when the student's code raised inside a probe."""
    if isinstance(exc, NotImplementedError):
        return {"error": "unfinished", "message": str(unfinished_verdict(task.label, exc))}
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return {"error": type(exc).__name__, "message": text[:300]}


def probe_for_grader(number: str, namespace: dict, case: dict) -> dict:
    """Run task ``number``'s probe on the notebook's names (kernel side); never raises.

    Returns ``{"data": ...}`` or ``{"error": ..., "message": ...}``, where the error is the exception's
    type name, ``"unfinished"`` (an unfilled TODO) or ``"missing"`` (a name the notebook lacks).
    """
    task = TASKS[number]
    missing = [name for name in task.names if name not in namespace]
    if missing:
        return {"error": "missing", "message": t("grade.name_missing", name=missing[0])}
    try:
        return {"data": plain(task.probe(*[namespace[name] for name in task.names], case))}
    except BaseException as exc:  # noqa: BLE001 (SystemExit from the student's code is a result too)
        return error_data(task, exc)


def judge_for_grader(number: str, result, case: dict) -> tuple[bool, str]:
    """Judge a probe's result (loaded back as data) in the grader's process: ``(ok, verdict line)``."""
    task = TASKS[number]
    if not isinstance(result, dict) or not ({"data"} <= set(result) or {"error", "message"} <= set(result)):
        return False, t("grade.malformed", task=task.number)
    if "data" not in result:
        error, message = str(result["error"])[:60], str(result["message"])[:300]
        return False, message if error in ("unfinished", "missing") else f"{error}: {message}"
    try:
        return True, task.judge(result["data"], case, task.label)
    except CheckFailed as exc:
        return False, str(exc)
    except Exception as exc:  # data of the wrong shape or type: the probe was not ours, or was tampered with
        return False, t("grade.malformed_detail", task=task.number, error=f"{type(exc).__name__}: {str(exc)[:120]}")


def assert_task(number: str, namespace: dict, seed: int | None = None) -> None:
    """Judge task ``number`` on a notebook's names exactly as :mod:`labutils.grade` does, in this process.

    The autograded test cells of the nbgrader export (``python -m labutils.assignments export-nbgrader``)
    call it as ``assert_task("<number>", globals())``. It builds the task's case (from a random seed, like the
    grader, unless ``seed`` is given), runs :func:`probe_for_grader` and :func:`judge_for_grader`, and
    prints the verdict line of a done task; when the task is not done it raises the verdict as
    :class:`~labutils.checks.core.CheckFailed`, an ``AssertionError`` that Jupyter shows as that one
    line. It returns None, so nbgrader never reads a partial score from the cell. What the probe writes
    to stderr (warnings, progress bars) goes to stdout: nbgrader scores a test cell with any stderr
    output as failed.
    """
    importlib.import_module(__package__)  # registers every lab's tasks in TASKS
    if number not in TASKS:
        raise KeyError(f"unknown task {number!r}; known: {', '.join(sorted(TASKS))}")
    task = TASKS[number]
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    with contextlib.redirect_stderr(sys.stdout):
        case = task.make_case(seed)
        ok, message = judge_for_grader(number, probe_for_grader(number, namespace, case), case)
    if ok:
        print(Verdict(task.label, message), flush=True)
        return None
    label = task_label(task.label)
    verdict = message if message.startswith(label) else f"{label}: {message}"
    raise CheckFailed(verdict)  # shown as "❌ <verdict>", the line a failing self-check shows
