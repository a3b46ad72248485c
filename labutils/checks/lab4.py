"""Lab 4 self-checks: heads for two architectures, freezing strategies, optimizer, model selection, ONNX parity."""
from __future__ import annotations

from .core import Verdict, fail, passed
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
            fail(task, f"{arch}: expected {name} = Linear({in_features}, {num_classes}), got {got}")
        model.eval()
        with torch.no_grad():
            out = model(torch.randn(2, 3, 64, 64))
        if tuple(out.shape) != (2, num_classes):
            fail(task, f"{arch}: expected output shape (2, {num_classes}), got {tuple(out.shape)}")
        found.append(f"{arch}.{name} = Linear({in_features}, {num_classes})")
    return passed(task, "; ".join(found))


def check_strategies(apply_strategy, make_model, task: str = "Task 4.2 apply_strategy") -> Verdict:
    """Lab 4: freeze trains only the head; partial the last two stages + head; full everything."""
    from ..models import count_parameters

    summary = []
    for arch in ARCHS:
        model = make_model(arch, 5)
        for strategy, prefixes in STRATEGY_PREFIXES[arch].items():
            returned = apply_strategy(model, arch, strategy)
            if returned is not model:
                fail(task, f"{arch}/{strategy}: expected apply_strategy to return the same model it changed")
            _require_trainable(model, prefixes, f"{task} ({arch}, {strategy})")
            summary.append(f"{arch}/{strategy} {count_parameters(model, trainable_only=True):,}")
    return passed(task, "trainable parameters: " + ", ".join(summary))


def check_optimizer(make_optimizer, make_model, apply_strategy, task: str = "Task 4.3 make_optimizer") -> Verdict:
    """Lab 4: Adam over exactly the trainable parameters at ``lr``, with CosineAnnealingLR(T_max=epochs)."""
    import torch

    model = apply_strategy(make_model("resnet50", 5), "resnet50", "partial")
    optimizer, scheduler = make_optimizer(model, lr=1e-4, epochs=15)
    if not isinstance(optimizer, torch.optim.Adam):
        fail(task, f"expected torch.optim.Adam, got {type(optimizer).__name__}")
    in_opt = {id(p) for g in optimizer.param_groups for p in g["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    if in_opt != trainable:
        fail(task, f"expected the optimizer to hold exactly the {len(trainable)} trainable tensors, "
                   f"got {len(in_opt)} (pass [p for p in model.parameters() if p.requires_grad])")
    lrs = {g["lr"] for g in optimizer.param_groups}
    if lrs != {1e-4}:
        fail(task, f"expected lr 0.0001, got {sorted(lrs)}")
    if not isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) or scheduler.T_max != 15:
        got = getattr(scheduler, "T_max", None)
        fail(task, f"expected CosineAnnealingLR with T_max = epochs = 15, got {type(scheduler).__name__} (T_max={got})")
    return passed(task, f"Adam over {len(trainable)} trainable tensors, lr 1e-4, CosineAnnealingLR(T_max=15)")


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
        fail(task, "expected the choice by validation accuracy; you picked the best test accuracy "
                   "(the test set must stay unseen until the choice is made)")
    if name != "c":
        fail(task, f"expected run 'c' (highest val acc 0.95, then fewer trainable parameters), got {name!r}")
    return passed(task, "chooses by validation accuracy, ties to the smaller trainable model")


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
        fail(task, f"expected max |ONNX − PyTorch| = {want:.2e} on a 3-image batch, got {got!r}")
    if not 0.9 < float(got_other) < 1.1:
        fail(task, f"for a PyTorch model whose bias differs by 1, expected a difference of about 1, got {got_other!r}; "
                   "compare the onnxruntime output with the given model's output")
    return passed(task, f"onnxruntime vs PyTorch on 3 images: max |diff| {want:.1e}; a changed model is detected")
