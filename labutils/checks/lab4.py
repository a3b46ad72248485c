"""Lab 4 self-checks: heads for two architectures, freezing strategies, optimizer, model selection, ONNX parity.

Each graded check is a probe (runs the student's function in the notebook's process and returns plain
data) and a judge (rebuilds the references from the case in the grader's process); see
:mod:`labutils.checks.protocol`.
"""
from __future__ import annotations

import functools

from ..messages import t
from .core import TOL, Verdict, fail, student_check
from .protocol import register, self_check

ARCHS = ("resnet50", "efficientnet_b0")
HEADS = {"resnet50": ("fc", 2048), "efficientnet_b0": ("classifier.1", 1280)}
STRATEGIES = ("freeze", "partial", "full")
# Which parameter-name prefixes train under each strategy ("" = everything).
STRATEGY_PREFIXES = {
    "resnet50": {"freeze": ("fc.",), "partial": ("layer3.", "layer4.", "fc."), "full": ("",)},
    "efficientnet_b0": {"freeze": ("classifier.",),
                        "partial": ("features.6.", "features.7.", "features.8.", "classifier."),
                        "full": ("",)},
}


# ---------------------------------------------------------------------------------------------
# references (the grader's probes use them where the notebook passes the student's own)


def reference_model(arch: str, num_classes: int = 5):
    """torchvision's ``arch`` with random weights and a fresh ``Linear`` head of ``num_classes`` outputs."""
    from torch import nn
    from torchvision.models import get_model

    model = get_model(arch, weights=None)
    if arch == "resnet50":
        model.fc = nn.Linear(2048, num_classes)
    elif arch == "efficientnet_b0":
        model.classifier[1] = nn.Linear(1280, num_classes)
    else:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {ARCHS}")
    return model


def reference_apply_strategy(model, arch: str, strategy: str):
    """Exactly the parameters named with one of ``STRATEGY_PREFIXES[arch][strategy]`` train; returns ``model``."""
    prefixes = STRATEGY_PREFIXES[arch][strategy]
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith(prefixes)
    return model


@functools.lru_cache(maxsize=None)
def _reference_params(arch: str) -> tuple:
    """``((name, numel), ...)`` of :func:`reference_model`'s parameters, in order."""
    return tuple((name, p.numel()) for name, p in reference_model(arch).named_parameters())


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
    from .protocol import random_state

    return random_state(dict(sorted(shapes.items())), seed)


def _fail_trainable(task: str, params: list, prefixes: tuple) -> None:
    """Fail unless exactly the names with one of ``prefixes`` have the flag True (``params``: [(name, flag)])."""
    names = ", ".join(p.rstrip(".") for p in prefixes)
    wrong = [n for n, flag in params if flag and not n.startswith(prefixes)]
    frozen = [n for n, flag in params if n.startswith(prefixes) and not flag]
    if frozen and "" in prefixes:  # "full": every parameter trains
        fail(task, t("lab4.all_train", first=frozen[0], count=len(frozen)))
    if wrong:
        fail(task, t("lab2.only_these_train", names=names, count=len(wrong), first=wrong[0]))
    if frozen:
        fail(task, t("lab2.frozen_wrong", names=names, first=frozen[0]))


class _Repr(str):
    """A string that a verdict shows with ``{x!r}`` as it is (the ``repr`` of the student's value)."""

    def __repr__(self) -> str:
        return str(self)


# ---------------------------------------------------------------------------------------------
# Task 4.1 make_model


def _case_make_model(seed: int) -> dict:
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, 64, 64, generator=gen)
    num_classes = 5 if seed == 0 else int(torch.randint(3, 13, (1,), generator=gen))
    return {"x": x, "num_classes": num_classes, "seeds": {arch: seed * 10 + i + 1 for i, arch in enumerate(ARCHS)}}


def _probe_make_model(make_model, case: dict) -> dict:
    """Probe of task 4.1: per architecture, the head found, the state_dict shapes and the output on the
    case's images with the case's random weights (drawn for the model's own shapes)."""
    import torch
    from torch import nn

    from .protocol import shapes_of

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
    from torch import nn

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
    import torch

    from .protocol import shapes_of

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


TASK_4_1 = register("4.1", "Task 4.1 make_model", ("make_model",), _case_make_model, _probe_make_model,
                    _judge_make_model)


@student_check
def check_make_model(make_model, num_classes: int = 5, task: str = "Task 4.1 make_model") -> Verdict:
    """Lab 4: both architectures get a fresh head with ``num_classes`` outputs and still run.

    The model must be torchvision's architecture with only the head replaced: loaded with the same
    random weights as that reference, it gives the same output on the same images.
    """
    return self_check(TASK_4_1, (make_model,), task, case={**_case_make_model(0), "num_classes": num_classes})


# ---------------------------------------------------------------------------------------------
# Task 4.2 apply_strategy


def _case_strategies(seed: int) -> dict:
    import torch

    order = {arch: list(STRATEGIES) for arch in ARCHS}
    if seed != 0:
        gen = torch.Generator().manual_seed(seed)
        for arch in ARCHS:
            order[arch] = [STRATEGIES[i] for i in torch.randperm(len(STRATEGIES), generator=gen).tolist()]
    return {"order": order, "reference": True}


def _probe_strategies(apply_strategy, case: dict, make_model=None) -> dict:
    """Probe of task 4.2: the strategies applied in the case's order to one model per architecture
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
        reference = dict(_reference_params(arch)) if case["reference"] else {}
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
            _fail_trainable(f"{task} ({arch}, {strategy})", list(params.items()), STRATEGY_PREFIXES[arch][strategy])
            count = sum(sizes[n] for n, flag in params.items() if flag)
            summary.append(t("lab4.strategy_item", arch=arch, strategy=strategy, count=count))
    return t("lab4.strategies_ok", summary=", ".join(summary))


TASK_4_2 = register("4.2", "Task 4.2 apply_strategy", ("apply_strategy",), _case_strategies, _probe_strategies,
                    _judge_strategies)


@student_check
def check_strategies(apply_strategy, make_model, task: str = "Task 4.2 apply_strategy") -> Verdict:
    """Lab 4: freeze trains only the head; partial the last two stages + head; full everything.

    The notebook applies the strategies to models from the student's ``make_model``; the grader to
    :func:`reference_model`'s, so that a mistake of Task 4.1 does not cost this task.
    """
    return self_check(TASK_4_2, (apply_strategy,), task, case={**_case_strategies(0), "reference": False},
                      make_model=make_model)


# ---------------------------------------------------------------------------------------------
# Task 4.3 make_optimizer


def _case_optimizer(seed: int) -> dict:
    import torch

    arch, strategy = "resnet50", "partial"
    if seed != 0:  # never "full": there the frozen-parameter mistake would go unseen
        gen = torch.Generator().manual_seed(seed)
        arch = ARCHS[int(torch.randint(len(ARCHS), (1,), generator=gen))]
        strategy = ("freeze", "partial")[int(torch.randint(2, (1,), generator=gen))]
    return {"arch": arch, "strategy": strategy, "lr": 1e-4, "epochs": 15, "reference": True}


def _probe_optimizer(make_optimizer, case: dict, make_model=None, apply_strategy=None) -> dict:
    """Probe of task 4.3: the optimizer's and scheduler's types, its parameter groups as parameter names
    (with their lr) and the model's trainable names after the call."""
    import torch

    arch, strategy = case["arch"], case["strategy"]
    model = (make_model or reference_model)(arch, 5)
    model = (apply_strategy or reference_apply_strategy)(model, arch, strategy)
    optimizer, scheduler = make_optimizer(model, lr=case["lr"], epochs=case["epochs"])
    names = {id(p): n for n, p in model.named_parameters()}
    groups, seen = [], set()
    for group in getattr(optimizer, "param_groups", None) or []:
        labels = []
        for p in group.get("params", []):
            if id(p) in seen:
                continue
            seen.add(id(p))
            labels.append(names.get(id(p), f"<not in the model #{len(seen)}: {tuple(getattr(p, 'shape', ()))}>"))
        lr = group.get("lr")
        try:
            lr = float(lr)
        except (TypeError, ValueError):
            lr = repr(lr)[:60]
        groups.append({"params": labels, "lr": lr})
    t_max = getattr(scheduler, "T_max", None)
    if not (t_max is None or isinstance(t_max, (int, float, str))):
        t_max = repr(t_max)[:60]
    return {"optimizer": type(optimizer).__name__, "is_adam": isinstance(optimizer, torch.optim.Adam),
            "groups": groups, "trainable": [n for n, p in model.named_parameters() if p.requires_grad],
            "scheduler": type(scheduler).__name__,
            "is_cosine": isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR), "t_max": t_max}


def _judge_optimizer(data: dict, case: dict, task: str) -> str:
    if not data["is_adam"]:
        fail(task, t("lab4.adam", got=str(data["optimizer"])))
    in_opt = {str(name) for group in data["groups"] for name in group["params"]}
    if case["reference"]:  # the grader's model: the reference strategy on the reference model
        prefixes = STRATEGY_PREFIXES[case["arch"]][case["strategy"]]
        trainable = {name for name, _ in _reference_params(case["arch"]) if name.startswith(prefixes)}
    else:
        trainable = {str(name) for name in data["trainable"]}
    if in_opt != trainable:
        fail(task, t("lab4.opt_params", want=len(trainable), got=len(in_opt)))
    lrs = {group["lr"] for group in data["groups"]}
    if lrs != {case["lr"]}:
        try:
            got = sorted(lrs)
        except TypeError:
            got = sorted(lrs, key=str)
        fail(task, t("lab4.lr", got=got))
    if not data["is_cosine"] or data["t_max"] != case["epochs"]:
        fail(task, t("lab4.scheduler", got=str(data["scheduler"]), tmax=data["t_max"]))
    return t("lab4.optimizer_ok", n=len(trainable))


TASK_4_3 = register("4.3", "Task 4.3 make_optimizer", ("make_optimizer",), _case_optimizer, _probe_optimizer,
                    _judge_optimizer)


@student_check
def check_optimizer(make_optimizer, make_model, apply_strategy, task: str = "Task 4.3 make_optimizer") -> Verdict:
    """Lab 4: Adam over exactly the trainable parameters at ``lr``, with CosineAnnealingLR(T_max=epochs).

    The notebook builds the model with the student's ``make_model`` and ``apply_strategy``; the grader
    with the references, so that only ``make_optimizer`` is graded here.
    """
    return self_check(TASK_4_3, (make_optimizer,), task, case={**_case_optimizer(0), "reference": False},
                      make_model=make_model, apply_strategy=apply_strategy)


# ---------------------------------------------------------------------------------------------
# Task 4.4 pick_best

# The fixed trap: the best on test ("a") is not the best on validation; "b" and "c" tie on validation.
_FIXED_RUNS = [
    {"run": "a", "best_val_acc": 0.90, "test": {"acc": 0.99}, "params": {"trainable": 10}},
    {"run": "b", "best_val_acc": 0.95, "test": {"acc": 0.91}, "params": {"trainable": 1000}},
    {"run": "c", "best_val_acc": 0.95, "test": {"acc": 0.90}, "params": {"trainable": 100}},
]


def _best_by_val(runs: list) -> dict:
    return max(runs, key=lambda r: (r["best_val_acc"], -r["params"]["trainable"]))


def _random_runs(gen) -> list:
    """A random comparison table: a tie on the best validation accuracy (fewer trainable parameters wins),
    another run best on test and another with the fewest trainable parameters overall."""
    import torch

    def randint(low, high):
        return int(torch.randint(low, high, (1,), generator=gen))

    n = randint(4, 9)
    top = randint(80, 98)
    val = [top, top] + [randint(50, top) for _ in range(n - 2)]  # two runs tie at the top
    trainable = sorted({randint(10_000, 30_000_000) for _ in range(3 * n)})
    order = torch.randperm(len(trainable), generator=gen).tolist()[:n]
    params = [trainable[i] for i in order]
    small = min(range(2, n), key=lambda i: params[i])  # the fewest parameters: a run below the top
    j = params.index(min(params))
    params[small], params[j] = params[j], params[small]
    test = [randint(50, 95) for _ in range(n)]
    trap = 3 if small == 2 else 2  # best on test: another run below the top
    test[trap] = 99
    archs = ["resnet50", "efficientnet_b0"]
    ids = torch.randperm(900, generator=gen)[:n].tolist()
    runs = [{"run": f"{archs[randint(0, 2)]}_{STRATEGIES[randint(0, 3)]}_{100 + k}", "best_val_acc": val[i] / 100,
             "test": {"acc": test[i] / 100, "loss": randint(10, 200) / 100},
             "params": {"trainable": params[i], "total": 30_000_000}} for i, k in enumerate(ids)]
    return [runs[i] for i in torch.randperm(n, generator=gen).tolist()]


def _case_pick_best(seed: int) -> dict:
    import torch

    import copy

    tables = [copy.deepcopy(_FIXED_RUNS)]
    if seed != 0:
        gen = torch.Generator().manual_seed(seed)
        tables += [_random_runs(gen) for _ in range(3)]
    return {"tables": tables}


def _probe_pick_best(pick_best, case: dict) -> dict:
    """Probe of task 4.4: the ``run`` of the record that ``pick_best`` returns for each table (a copy)."""
    import copy

    picked = []
    for runs in case["tables"]:
        got = pick_best(copy.deepcopy(runs))
        name = got.get("run") if isinstance(got, dict) else got
        if isinstance(name, str):
            name = str(name)
        elif not (name is None or isinstance(name, (int, float, bool))):
            name = repr(name)[:80]
        picked.append(name)
    return {"picked": picked}


def _judge_pick_best(data: dict, case: dict, task: str) -> str:
    for i, runs in enumerate(case["tables"]):
        got = data["picked"][i]
        want = _best_by_val(runs)["run"]
        by_test = max(runs, key=lambda r: r["test"]["acc"])["run"]
        if got == by_test and got != want:
            fail(task, t("lab4.picked_test"))
        if got != want:
            if i == 0:
                fail(task, t("lab4.pick_wrong", got=got))
            fail(task, t("lab4.pick_wrong_run", want=want, acc=_best_by_val(runs)["best_val_acc"], got=got))
    return t("lab4.pick_ok")


TASK_4_4 = register("4.4", "Task 4.4 pick_best", ("pick_best",), _case_pick_best, _probe_pick_best, _judge_pick_best)


@student_check
def check_pick_best(pick_best, task: str = "Task 4.4 pick_best") -> Verdict:
    """Lab 4: the winner is chosen by validation accuracy (ties: fewer trainable parameters), never by test."""
    return self_check(TASK_4_4, (pick_best,), task)


# ---------------------------------------------------------------------------------------------
# Task 4.5 onnx_max_abs_diff


def _tiny_model():
    """Task 4.5's model: BatchNorm and Dropout make its train-mode output differ from its eval-mode one."""
    from torch import nn

    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(0.5), nn.Linear(4, 5))


def _tiny_models(case: dict) -> tuple:
    """The exported model, the same with the head's bias + ``shift``, and a model with other weights (eval)."""
    import copy

    import torch

    from .protocol import random_state

    model = _tiny_model()
    model.load_state_dict(random_state(case["shapes"], case["seed"]), strict=True)
    other = copy.deepcopy(model)
    with torch.no_grad():
        other[-1].bias.add_(case["shift"])
    changed = _tiny_model()
    changed.load_state_dict(random_state(case["shapes"], case["other_seed"]), strict=True)
    return model.eval(), other.eval(), changed.eval()


def _case_onnx(seed: int) -> dict:
    import torch

    from .protocol import shapes_of

    gen = torch.Generator().manual_seed(seed)
    return {"shapes": shapes_of(_tiny_model()), "seed": seed * 10 + 1, "other_seed": seed * 10 + 2,
            "shift": 1.0, "batch": torch.randn(3, 3, 16, 16, generator=gen)}


def _number(value) -> dict:
    """What a student's function returned: whether it is a float, its value as a float (or None), its repr."""
    import numpy as np

    try:
        number = float(value)
    except (TypeError, ValueError, RuntimeError):
        number = None
    return {"float": isinstance(value, (float, np.floating)), "value": number, "repr": repr(value)[:80]}


def _probe_onnx(max_abs_diff, case: dict) -> dict:
    """Probe of task 4.5: the case's tiny model exported to ONNX (with the library's ``export_onnx``), then
    what ``max_abs_diff(path, model, batch)`` returns for that model, for it with the head's bias shifted,
    and for a model with other weights. The models are handed over in train mode (as after training), so
    the function must switch them to eval itself; the (training, grad enabled) state of every forward call
    of theirs is recorded."""
    import tempfile
    from pathlib import Path

    import torch

    from ..export import export_onnx

    model, other, changed = _tiny_models(case)
    batch = case["batch"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiny.onnx"
        export_onnx(model, batch[:1].clone(), path)
        calls = []
        for m in (model, other, changed):
            m.register_forward_pre_hook(lambda mod, inp: calls.append([mod.training, torch.is_grad_enabled()]))
        results = {}
        for key, m in (("got", model), ("got_other", other), ("got_changed", changed)):
            results[key] = _number(max_abs_diff(path, m.train(), batch.clone()))
        return {**results, "calls": calls}


def _onnx_outputs(case: dict):
    """The judge's own export of the case's model, run by onnxruntime on the case's batch, and the PyTorch
    outputs of the three models."""
    import tempfile
    from pathlib import Path

    import numpy as np
    import onnxruntime as ort
    import torch

    from ..export import export_onnx

    model, other, changed = _tiny_models(case)
    batch = case["batch"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiny.onnx"
        export_onnx(model, batch[:1].clone(), path, single_file=True)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        onnx_out = session.run(None, {session.get_inputs()[0].name: batch.numpy().astype(np.float32)})[0]
    with torch.no_grad():
        return onnx_out, [m(batch).numpy() for m in (model, other, changed)]


def _judge_onnx(data: dict, case: dict, task: str) -> str:
    import numpy as np

    onnx_out, (out, out_other, out_changed) = _onnx_outputs(case)
    want, want_other, want_changed = (float(np.abs(onnx_out - o).max()) for o in (out, out_other, out_changed))
    got, got_other, got_changed = data["got"], data["got_other"], data["got_changed"]
    calls = [(bool(training), bool(grad)) for training, grad in data["calls"]]
    if any(training for training, _ in calls):
        fail(task, t("lab4.onnx_eval"))
    if any(grad for _, grad in calls):
        fail(task, t("lab4.onnx_no_grad"))
    if not got["float"] or got["value"] is None or not abs(got["value"] - want) <= 1e-6:
        fail(task, t("lab4.onnx_diff", want=want, got=_Repr(got["repr"])))
    value = got_other["value"]
    if value is None or not (0.9 < value < 1.1 and abs(value - want_other) <= TOL * max(1.0, want_other)):
        fail(task, t("lab4.onnx_other", got=_Repr(got_other["repr"])))
    value = got_changed["value"]
    if value is None or not abs(value - want_changed) <= TOL * max(1.0, want_changed):
        fail(task, t("lab4.onnx_diff", want=want_changed, got=_Repr(got_changed["repr"])))
    return t("lab4.onnx_ok", diff=want)


TASK_4_5 = register("4.5", "Task 4.5 onnx_max_abs_diff", ("onnx_max_abs_diff",), _case_onnx, _probe_onnx, _judge_onnx)


@student_check
def check_onnx_parity(max_abs_diff, task: str = "Task 4.5 onnx_max_abs_diff") -> Verdict:
    """Lab 4: the function runs the ONNX file with onnxruntime and returns max |ONNX − PyTorch| on a batch.

    Checked on a tiny model exported to ONNX: for that model the difference is the true one (the judge
    exports and runs the model itself), and for a model whose head's bias differs by the case's shift,
    and a model with other weights, it is the difference to those models.
    """
    return self_check(TASK_4_5, (max_abs_diff,), task)
