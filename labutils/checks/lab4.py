"""Lab 4 self-checks: heads for two architectures, freezing strategies, optimizer, model selection, ONNX parity."""
from __future__ import annotations

from ..messages import t
from .core import Verdict, fail, passed, student_check
from .lab2 import _require_trainable

ARCHS = ("resnet50", "efficientnet_b0")
HEADS = {"resnet50": ("fc", 2048), "efficientnet_b0": ("classifier.1", 1280)}
# Which parameter-name prefixes train under each strategy ("" = everything).
STRATEGY_PREFIXES = {
    "resnet50": {"freeze": ("fc.",), "partial": ("layer3.", "layer4.", "fc."), "full": ("",)},
    "efficientnet_b0": {"freeze": ("classifier.",),
                        "partial": ("features.6.", "features.7.", "features.8.", "classifier."),
                        "full": ("",)},
}


def _head(model, arch):
    name, _ = HEADS[arch]
    module = model
    for part in name.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    return module


@student_check
def check_make_model(make_model, num_classes: int = 5, task: str = "Task 4.1 make_model") -> Verdict:
    """Lab 4: both architectures get a fresh head with ``num_classes`` outputs and still run."""
    import torch
    from torch import nn

    found = []
    for arch in ARCHS:
        model = make_model(arch, num_classes)
        name, in_features = HEADS[arch]
        head = _head(model, arch)
        if not isinstance(head, nn.Linear) or (head.in_features, head.out_features) != (in_features, num_classes):
            got = (head.in_features, head.out_features) if isinstance(head, nn.Linear) else type(head).__name__
            fail(task, t("lab4.head", arch=arch, name=name, inp=in_features, n=num_classes, got=got))
        model.eval()
        with torch.no_grad():
            out = model(torch.randn(2, 3, 64, 64))
        if tuple(out.shape) != (2, num_classes):
            fail(task, t("lab4.output", arch=arch, n=num_classes, got=tuple(out.shape)))
        found.append(f"{arch}.{name} = Linear({in_features}, {num_classes})")
    return passed(task, "; ".join(found))


@student_check
def check_strategies(apply_strategy, make_model, task: str = "Task 4.2 apply_strategy") -> Verdict:
    """Lab 4: freeze trains only the head; partial the last two stages + head; full everything."""
    from ..models import count_parameters

    summary = []
    for arch in ARCHS:
        model = make_model(arch, 5)
        for strategy, prefixes in STRATEGY_PREFIXES[arch].items():
            returned = apply_strategy(model, arch, strategy)
            if returned is not model:
                fail(task, t("lab4.same_model", arch=arch, strategy=strategy))
            _require_trainable(model, prefixes, f"{task} ({arch}, {strategy})")
            summary.append(t("lab4.strategy_item", arch=arch, strategy=strategy,
                             count=count_parameters(model, trainable_only=True)))
    return passed(task, t("lab4.strategies_ok", summary=", ".join(summary)))


@student_check
def check_optimizer(make_optimizer, make_model, apply_strategy, task: str = "Task 4.3 make_optimizer") -> Verdict:
    """Lab 4: Adam over exactly the trainable parameters at ``lr``, with CosineAnnealingLR(T_max=epochs)."""
    import torch

    model = apply_strategy(make_model("resnet50", 5), "resnet50", "partial")
    optimizer, scheduler = make_optimizer(model, lr=1e-4, epochs=15)
    if not isinstance(optimizer, torch.optim.Adam):
        fail(task, t("lab4.adam", got=type(optimizer).__name__))
    in_opt = {id(p) for g in optimizer.param_groups for p in g["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    if in_opt != trainable:
        fail(task, t("lab4.opt_params", want=len(trainable), got=len(in_opt)))
    lrs = {g["lr"] for g in optimizer.param_groups}
    if lrs != {1e-4}:
        fail(task, t("lab4.lr", got=sorted(lrs)))
    if not isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) or scheduler.T_max != 15:
        got = getattr(scheduler, "T_max", None)
        fail(task, t("lab4.scheduler", got=type(scheduler).__name__, tmax=got))
    return passed(task, t("lab4.optimizer_ok", n=len(trainable)))


@student_check
def check_pick_best(pick_best, task: str = "Task 4.4 pick_best") -> Verdict:
    """Lab 4: the winner is chosen by validation accuracy (ties: fewer trainable parameters), never by test."""
    runs = [
        {"run": "a", "best_val_acc": 0.90, "test": {"acc": 0.99}, "params": {"trainable": 10}},
        {"run": "b", "best_val_acc": 0.95, "test": {"acc": 0.91}, "params": {"trainable": 1000}},
        {"run": "c", "best_val_acc": 0.95, "test": {"acc": 0.90}, "params": {"trainable": 100}},
    ]
    got = pick_best(runs)
    name = got.get("run") if isinstance(got, dict) else got
    if name == "a":
        fail(task, t("lab4.picked_test"))
    if name != "c":
        fail(task, t("lab4.pick_wrong", got=name))
    return passed(task, t("lab4.pick_ok"))


@student_check
def check_onnx_parity(max_abs_diff, task: str = "Task 4.5 onnx_max_abs_diff") -> Verdict:
    """Lab 4: the function runs the ONNX file with onnxruntime and returns max |ONNX − PyTorch| on a batch."""
    import tempfile
    from pathlib import Path

    import numpy as np
    import onnxruntime as ort
    import torch
    from torch import nn

    from ..export import export_onnx

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5)).eval()
    batch = torch.randn(3, 3, 16, 16)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiny.onnx"
        export_onnx(model, batch[:1], path)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        with torch.no_grad():
            want = float(np.abs(session.run(None, {session.get_inputs()[0].name: batch.numpy()})[0]
                                - model(batch).numpy()).max())
        got = max_abs_diff(path, model, batch)
        other = nn.Sequential(*[m for m in model]).eval()
        with torch.no_grad():
            other[-1].bias.add_(1.0)  # a different PyTorch model: the ONNX outputs now differ by ~1
        got_other = max_abs_diff(path, other, batch)
    if not isinstance(got, (float, np.floating)) or abs(float(got) - want) > 1e-6:
        fail(task, t("lab4.onnx_diff", want=want, got=got))
    if not 0.9 < float(got_other) < 1.1:
        fail(task, t("lab4.onnx_other", got=got_other))
    return passed(task, t("lab4.onnx_ok", diff=want))
