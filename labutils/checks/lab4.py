"""Lab 4 self-checks: heads for two architectures (``TASK_MAKE_MODEL``) and freezing strategies (``TASK_STRATEGIES``).

Each graded check is a probe (runs the student's function in the notebook's process and returns plain
data) and a judge (rebuilds the references from the case in the grader's process); see
:mod:`labutils.checks.protocol`. The optimizer and the choice of the best run (``TASK_OPTIMIZER``,
``TASK_PICK_BEST``) are in
:mod:`.lab4_training`, ONNX parity (``TASK_ONNX``) in :mod:`.lab4_onnx`; their checks are re-exported here."""
from __future__ import annotations


import torch
from torch import nn

from ..messages import t
from .common import fail_trainable
from .core import TOL, Verdict, fail, student_check
# the lab's other checks and tasks, so that this module holds every task of Lab 4 (course.LABS names it)
from .lab4_onnx import TASK_ONNX, check_onnx_parity  # noqa: F401
from .lab4_reference import (ARCHS, HEADS, STRATEGIES, STRATEGY_PREFIXES,  # noqa: F401 (Lab 4's references,
                              reference_apply_strategy, reference_model, reference_params)  # public here)
from .lab4_training import TASK_OPTIMIZER, TASK_PICK_BEST, check_optimizer, check_pick_best  # noqa: F401
from .protocol import random_state, register, self_check, shapes_of


def _find(model, dotted: str):
    """``(module, None)`` at the dotted path, or ``(None, "<path found> = <its type>")`` where it stops."""
    module, found = model, []
    for part in dotted.split("."):
        try:
            module = module[int(part)] if part.isdigit() else getattr(module, part)
        except (AttributeError, IndexError, KeyError, TypeError, NotImplementedError):
            return None, f"{'.'.join(found) or 'model'} = {type(module).__name__}"
        found.append(part)
    return module, None


def _sorted_state(shapes: dict, seed: int) -> dict:
    """:func:`~labutils.checks.protocol.random_state` drawn in name order, whatever the module order."""
    return random_state(dict(sorted(shapes.items())), seed)


# ---------------------------------------------------------------------------------------------
# TASK_MAKE_MODEL: make_model


def _case_make_model(seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, 64, 64, generator=gen)
    num_classes = 5 if seed == 0 else int(torch.randint(3, 13, (1,), generator=gen))
    return {"x": x, "num_classes": num_classes, "seeds": {arch: seed * 10 + i + 1 for i, arch in enumerate(ARCHS)}}


def _probe_make_model(make_model, case: dict) -> dict:
    """Probe of ``TASK_MAKE_MODEL``: per architecture, the head found, the state_dict shapes and the output on the
    case's images with the case's random weights (drawn for the model's own shapes)."""
    data = {}
    for arch in ARCHS:
        model = make_model(arch, case["num_classes"])
        head, parent = _find(model, HEADS[arch][0])
        entry = {"head": {"linear": isinstance(head, nn.Linear),
                          "type": type(head).__name__ if head is not None else parent,
                          "in": getattr(head, "in_features", None) if isinstance(head, nn.Linear) else None,
                          "out": getattr(head, "out_features", None) if isinstance(head, nn.Linear) else None}}
        data[arch] = entry
        if not entry["head"]["linear"]:
            break
        entry["shapes"] = shapes_of(model)
        model.load_state_dict(_sorted_state(entry["shapes"], case["seeds"][arch]), strict=True)
        model.eval()
        with torch.no_grad():
            out = model(case["x"])
        if isinstance(out, torch.Tensor):
            entry["out"] = out
        else:
            entry["out_type"] = type(out).__name__
            break
    else:
        data["unknown"] = _call_unknown_arch(make_model, case["num_classes"])
    return data


UNKNOWN_ARCH = "unknown_arch"  # not a torchvision model: make_model must raise ValueError for it


def _stub_pretrained(arch, *args, **kwargs):
    """What ``load_pretrained`` returns while :func:`_call_unknown_arch` runs: a small model, nothing loaded."""
    return nn.Sequential(nn.Flatten(), nn.Linear(3, 10))


def _call_unknown_arch(make_model, num_classes: int) -> dict:
    """``make_model(UNKNOWN_ARCH, num_classes)``: ``{"raised": <exception type name> or None, "message": ...}``.

    While it runs, a ``load_pretrained`` in the function's globals (the notebook loads weights with it before
    choosing the head) returns a small stand-in model, so that a missing ``raise ValueError`` is seen as a
    returned model instead of an error of the weights' registry; the name is restored in a ``finally``.
    """
    namespace = getattr(make_model, "__globals__", None)
    patched = isinstance(namespace, dict) and "load_pretrained" in namespace
    saved = namespace["load_pretrained"] if patched else None
    try:
        if patched:
            namespace["load_pretrained"] = _stub_pretrained
        got = make_model(UNKNOWN_ARCH, num_classes)
    except Exception as exc:  # noqa: BLE001 (the exception is the result)
        text = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        return {"raised": type(exc).__name__ if not isinstance(exc, ValueError) else "ValueError", "message": text}
    finally:
        if patched:
            namespace["load_pretrained"] = saved
    return {"raised": None, "message": type(got).__name__[:60]}


def _judge_make_model(data: dict, case: dict, task: str) -> str:
    n, x = case["num_classes"], case["x"]
    found = []
    for arch in ARCHS:
        entry = data[arch]
        name, in_features = HEADS[arch]
        head = entry["head"]
        if not head["linear"] or (head["in"], head["out"]) != (in_features, n):
            got = (head["in"], head["out"]) if head["linear"] else str(head["type"])
            fail(task, t("lab4.head", arch=arch, name=name, inp=in_features, n=n, got=got))
        if "out" not in entry:
            fail(task, t("lab4.output", arch=arch, n=n, got=str(entry["out_type"])))
        out = entry["out"]
        if tuple(out.shape) != (x.shape[0], n):
            fail(task, t("lab4.output", arch=arch, n=n, got=tuple(out.shape)))
        reference = reference_model(arch, n)
        want_shapes, got_shapes = shapes_of(reference), entry["shapes"]
        missing, extra = sorted(set(want_shapes) - set(got_shapes)), sorted(set(got_shapes) - set(want_shapes))
        if missing or extra:
            fail(task, t("lab4.model_names", arch=arch, missing=missing[:4] or t("lab1.none"),
                         extra=extra[:4] or t("lab1.none")))
        for key, shape in want_shapes.items():
            if list(got_shapes[key]) != list(shape):
                fail(task, t("lab4.model_shapes", arch=arch, name=key, got=list(got_shapes[key]), want=list(shape)))
        reference.load_state_dict(_sorted_state(want_shapes, case["seeds"][arch]), strict=True)
        reference.eval()
        with torch.no_grad():
            want = reference(x)
        diff = float((out.to(want.dtype) - want).abs().max())
        if not diff <= TOL * max(1.0, float(want.abs().max())):
            fail(task, t("lab4.model_output", arch=arch, diff=diff))
        found.append(f"{arch}.{name} = Linear({in_features}, {n})")
    unknown = data["unknown"]
    if unknown["raised"] is None:
        fail(task, t("lab4.unknown_arch_accepted", arch=UNKNOWN_ARCH, n=n, got=str(unknown["message"])))
    if unknown["raised"] != "ValueError":
        fail(task, t("lab4.unknown_arch_error", arch=UNKNOWN_ARCH, n=n,
                     error=f"{str(unknown['raised'])[:60]}: {str(unknown['message'])[:120]}"))
    return "; ".join(found) + t("lab4.unknown_arch_ok", arch=UNKNOWN_ARCH)


TASK_MAKE_MODEL = register(4, "check_make_model", _case_make_model, _probe_make_model, _judge_make_model)


@student_check
def check_make_model(make_model, num_classes: int = 5, task: str = TASK_MAKE_MODEL.label) -> Verdict:
    """Lab 4: both architectures get a fresh head with ``num_classes`` outputs and still run.

    The model must be torchvision's architecture with only the head replaced: loaded with the same
    random weights as that reference, it gives the same output on the same images.
    """
    return self_check(TASK_MAKE_MODEL, (make_model,), task, case={**_case_make_model(0), "num_classes": num_classes})


# ---------------------------------------------------------------------------------------------
# TASK_STRATEGIES: apply_strategy


def _case_strategies(seed: int) -> dict:
    order = {arch: list(STRATEGIES) for arch in ARCHS}
    if seed != 0:
        gen = torch.Generator().manual_seed(seed)
        for arch in ARCHS:
            order[arch] = [STRATEGIES[i] for i in torch.randperm(len(STRATEGIES), generator=gen).tolist()]
    return {"order": order, "reference": True}


def _probe_strategies(apply_strategy, case: dict, make_model=None) -> dict:
    """Probe of ``TASK_STRATEGIES``: the strategies applied in the case's order to one model per architecture
    (the reference's in the grader, the student's ``make_model``'s in the notebook); after each, whether
    the same model came back and every parameter's name, requires_grad and size."""
    build = make_model or reference_model
    data = {}
    for arch in ARCHS:
        model = build(arch, 5)
        runs = data[arch] = []
        for strategy in case["order"][arch]:
            returned = apply_strategy(model, arch, strategy)
            named = list(model.named_parameters())
            runs.append({"same": returned is model, "names": [n for n, _ in named],
                         "flags": [bool(p.requires_grad) for _, p in named], "numel": [p.numel() for _, p in named]})
            if returned is not model:
                return data
    return data


def _judge_strategies(data: dict, case: dict, task: str) -> str:
    summary = []
    for arch in ARCHS:
        runs = data[arch]
        reference = dict(reference_params(arch)) if case["reference"] else {}
        for i, strategy in enumerate(case["order"][arch]):
            run = runs[i]
            if not run["same"]:
                fail(task, t("lab4.same_model", arch=arch, strategy=strategy))
            if not len(run["names"]) == len(run["flags"]) == len(run["numel"]):
                raise ValueError("names, flags and numel differ in length")
            params = {str(n): bool(f) for n, f in zip(run["names"], run["flags"])}
            sizes = {str(n): int(k) for n, k in zip(run["names"], run["numel"])}
            for name, numel in reference.items():  # the grader's model is the reference: all of it is judged
                params.setdefault(name, False)
                sizes[name] = numel
            fail_trainable(f"{task} ({arch}, {strategy})", list(params.items()), STRATEGY_PREFIXES[arch][strategy])
            count = sum(sizes[n] for n, flag in params.items() if flag)
            summary.append(t("lab4.strategy_item", arch=arch, strategy=strategy, count=count))
    return t("lab4.strategies_ok", summary=", ".join(summary))


TASK_STRATEGIES = register(4, "check_strategies", _case_strategies, _probe_strategies, _judge_strategies)


@student_check
def check_strategies(apply_strategy, make_model, task: str = TASK_STRATEGIES.label) -> Verdict:
    """Lab 4: freeze trains only the head; partial the last two stages + head; full everything.

    The notebook applies the strategies to models from the student's ``make_model``; the grader to
    :func:`reference_model`'s, so that a mistake of ``TASK_MAKE_MODEL`` does not cost this task.
    """
    return self_check(TASK_STRATEGIES, (apply_strategy,), task, case={**_case_strategies(0), "reference": False},
                      make_model=make_model)
