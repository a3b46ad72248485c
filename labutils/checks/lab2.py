"""Lab 2 self-checks: the new head (``TASK_HEAD``), freezing (``TASK_FROZEN_BACKBONE``) and the fine-tuning
optimizer (``TASK_FINETUNE_OPTIMIZER``).

Every graded check is split into a case, a probe and a judge (see :mod:`.protocol`). Lab 2's other tasks
have their own modules: the loops (``TASK_TRAIN_LOOP``, ``TASK_EVAL_LOOP``) :mod:`.lab2_loops`, the medical metrics
(``TASK_SENS_SPEC``, ``TASK_CLASS_WEIGHTS``)
:mod:`.lab2_metrics`, Grad-CAM (``TASK_GRAD_CAM``) :mod:`.lab2_gradcam` with its reference :mod:`.gradcam_reference`;
their checks are re-exported here."""
from __future__ import annotations


import torch
from torch import nn
from torchvision import models
from torchvision.models import resnet18

from ..messages import t
from .common import fail_trainable
from .core import Verdict, fail, student_check
# the lab's other checks and tasks, so that this module holds every task of Lab 2 (course.LABS names it)
from .lab2_gradcam import TASK_GRAD_CAM, check_grad_cam  # noqa: F401
from .lab2_loops import TASK_TRAIN_LOOP, TASK_EVAL_LOOP, check_eval_loop, check_train_loop  # noqa: F401
from .lab2_metrics import (TASK_CLASS_WEIGHTS, TASK_SENS_SPEC, check_class_weights,  # noqa: F401
                           check_sensitivity_specificity)
from .protocol import register, self_check


def _is_task_function(obj) -> bool:
    """True for the student's function (e.g. ``replace_head``) rather than a model it built."""
    return callable(obj) and not isinstance(obj, nn.Module)


def _function_name(function) -> str:
    name = getattr(function, "__name__", "function")
    return name[:60] if isinstance(name, str) else "function"


def _reference_resnet18(num_classes: int = 2):
    """torchvision's ResNet-18 (random weights) with a fresh ``Linear(512, num_classes)`` head."""
    model = resnet18(weights=None)
    model.fc = nn.Linear(512, num_classes)
    return model


# ---------------------------------------------------------------------------------------------
# TASK_HEAD: replace_head


def _describe_fc(model) -> dict:
    """``model.fc`` as data: its type name and, for an ``nn.Linear``, its in/out features."""
    fc = getattr(model, "fc", None)
    linear = isinstance(fc, nn.Linear)
    return {"type": type(fc).__name__, "linear": linear,
            "in": fc.in_features if linear else None, "out": fc.out_features if linear else None}


def _case_head(seed: int) -> dict:
    return {"num_classes": 2, "in_features": 512, "builds": [["resnet50", 2048], ["resnet18", 512]]}


def _probe_head(replace_head, case: dict, model=None) -> dict:
    """Probe of ``TASK_HEAD``: ``model.fc`` after ``replace_head`` on each fresh torchvision model of the case
    (random weights), or of ``model`` itself when the notebook checks a model it built."""
    if model is not None:
        return {"fcs": [_describe_fc(model)]}
    data = {"fcs": []}
    for arch, _ in case["builds"]:
        built = replace_head(getattr(models, arch)(weights=None), case["num_classes"])
        if built is None:
            data["returned_none"] = _function_name(replace_head)
            break
        data["fcs"].append(_describe_fc(built))
    return data


def _judge_head(data: dict, case: dict, task: str) -> str:
    if "returned_none" in data:
        fail(task, t("lab2.returns_none", name=str(data["returned_none"])[:60]))
    fcs = data["fcs"]
    if len(fcs) != max(1, len(case["builds"])):
        raise ValueError(f"{len(fcs)} heads described, expected {max(1, len(case['builds']))}")
    for (_, width), fc in zip(case["builds"], fcs):
        if fc["linear"] and fc["in"] != width:
            fail(task, t("lab2.head_inputs", want=width, got=fc["in"]))
    fc = fcs[-1]
    if not fc["linear"]:
        fail(task, t("lab2.head_type", got=str(fc["type"])[:60]))
    if fc["out"] != case["num_classes"]:
        fail(task, t("lab2.head_outputs", want=case["num_classes"], got=fc["out"]))
    if fc["in"] != case["in_features"]:
        fail(task, t("lab2.head_inputs", want=case["in_features"], got=fc["in"]))
    return f"model.fc = Linear({int(fc['in'])}, {int(fc['out'])})"


TASK_HEAD = register(2, "check_head", _case_head, _probe_head, _judge_head)


@student_check
def check_head(model, num_classes: int = 2, in_features: int = 512,
               task: str = TASK_HEAD.label) -> Verdict:
    """Lab 2 (and 3, 4): ``model.fc`` is a fresh ``Linear(in_features, num_classes)``.

    ``model`` may also be the student's ``replace_head(model, num_classes)`` itself (Lab 2): the
    check then applies it to a fresh ResNet-50 and a fresh ResNet-18 (random weights), so the
    number of inputs must be read from the model, and an unfinished TODO is reported in one line.
    """
    if _is_task_function(model):
        case = {**_case_head(0), "num_classes": num_classes}
        return self_check(TASK_HEAD, (model,), task, case=case)
    case = {"num_classes": num_classes, "in_features": in_features, "builds": []}
    return self_check(TASK_HEAD, (None,), task, case=case, model=model)


# ---------------------------------------------------------------------------------------------
# TASK_FROZEN_BACKBONE: freeze_backbone (and the trainable-parameter rule Labs 2 and 4 share)


def _trainable_rows(model) -> list:
    """``[[name, requires_grad, numel], ...]`` of a model's parameters."""
    return [[name, bool(p.requires_grad), int(p.numel())] for name, p in model.named_parameters()]


def _require_trainable(model, prefixes: tuple[str, ...], task: str) -> None:
    """Fail unless exactly the parameters named with one of ``prefixes`` have requires_grad=True."""
    fail_trainable(task, _trainable_rows(model), prefixes)


def _case_frozen(seed: int) -> dict:
    return {"prefixes": ["fc."], "build": True}


def _probe_frozen(freeze_backbone, case: dict, model=None) -> dict:
    """Probe of ``TASK_FROZEN_BACKBONE``: requires_grad of every parameter after ``freeze_backbone`` on a fresh
    ResNet-18 with a 2-class head (random weights), or of ``model`` as the notebook passed it."""
    if model is None:
        model = freeze_backbone(_reference_resnet18(2))
        if model is None:
            return {"returned_none": _function_name(freeze_backbone)}
    return {"params": _trainable_rows(model)}


def _judge_frozen(data: dict, case: dict, task: str) -> str:
    if "returned_none" in data:
        fail(task, t("lab2.returns_none", name=str(data["returned_none"])[:60]))
    rows = [[str(n), bool(grad), int(numel)] for n, grad, numel in data["params"]]
    prefixes = tuple(case["prefixes"])
    fail_trainable(task, rows, prefixes)
    if case["build"]:  # the counts of the grader's own ResNet-18 wherever the names are its
        sizes = {name: p.numel() for name, p in _reference_resnet18(2).named_parameters()}
        rows = [[n, grad, sizes.get(n, numel)] for n, grad, numel in rows]
    trainable = sum(numel for _, grad, numel in rows if grad)
    total = sum(numel for _, _, numel in rows)
    return t("lab2.trainable_ok", trainable=trainable, total=total, names=", ".join(p.rstrip(".") for p in prefixes))


TASK_FROZEN_BACKBONE = register(2, "check_frozen_backbone", _case_frozen, _probe_frozen, _judge_frozen)


@student_check
def check_trainable(model, prefixes: tuple[str, ...], task: str) -> Verdict:
    """Exactly the parameters whose names start with one of ``prefixes`` are trainable (Labs 2, 4)."""
    case = {"prefixes": list(prefixes), "build": False}
    return self_check(TASK_FROZEN_BACKBONE, (None,), task, case=case, model=model)


@student_check
def check_frozen_backbone(model, task: str = TASK_FROZEN_BACKBONE.label) -> Verdict:
    """Lab 2: only the head ``fc`` trains.

    ``model`` may also be the student's ``freeze_backbone(model)`` itself: the check then applies
    it to a fresh ResNet-18 with a 2-class head (random weights).
    """
    if _is_task_function(model):
        return self_check(TASK_FROZEN_BACKBONE, (model,), task)
    return self_check(TASK_FROZEN_BACKBONE, (None,), task, case={"prefixes": ["fc."], "build": False}, model=model)


# ---------------------------------------------------------------------------------------------
# TASK_FINETUNE_OPTIMIZER: make_finetune_optimizer

_FINETUNE_PREFIXES = ("layer4.", "fc.")


def _case_finetune(seed: int) -> dict:
    return {"head_lr": 1e-3, "backbone_lr": 1e-4, "reference": True}


def _probe_finetune(make_optimizer, case: dict, model=None) -> dict:
    """Probe of ``TASK_FINETUNE_OPTIMIZER``: the optimizer's parameter groups as parameter names and learning rates, and
    requires_grad of every parameter after the call. The grader's model is torchvision's ResNet-18
    (random weights) with a 2-class head and only ``fc`` trainable; the notebook's is its own."""
    if model is None:
        model = _reference_resnet18(2)
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("fc.")
    optimizer = make_optimizer(model, head_lr=case["head_lr"], backbone_lr=case["backbone_lr"])
    kind = {"optimizer": type(optimizer).__name__[:60], "is_adam": isinstance(optimizer, torch.optim.Adam)}
    if not isinstance(optimizer, torch.optim.Optimizer):
        return {**kind, "groups": [], "params": _trainable_rows(model)}
    names = {id(p): name for name, p in model.named_parameters()}
    groups = [{"params": [names.get(id(p), "?") for p in g["params"]], "lr": float(g["lr"])}
              for g in optimizer.param_groups]
    return {**kind, "groups": groups, "params": _trainable_rows(model)}


def _judge_finetune(data: dict, case: dict, task: str) -> str:
    head_lr, backbone_lr = case["head_lr"], case["backbone_lr"]
    if not data["is_adam"]:
        fail(task, t("lab2.adam", got=str(data["optimizer"])))
    rows = [[str(n), bool(grad), int(numel)] for n, grad, numel in data["params"]]
    fail_trainable(task, rows, _FINETUNE_PREFIXES)
    groups = data["groups"]
    if len(groups) != 2:
        fail(task, t("lab2.groups", got=len(groups)))
    if case["reference"]:  # the grader's model: the names of torchvision's ResNet-18
        names = [name for name, _ in _reference_resnet18(2).named_parameters()]
    else:
        names = [n for n, _, _ in rows]
    owners = {prefix.rstrip("."): {n for n in names if n.startswith(prefix)} for prefix in _FINETUNE_PREFIXES}
    lrs = {}
    for g in groups:
        members = {str(n) for n in g["params"]}
        owner = next((name for name, s in owners.items() if members == s), None)
        if owner is None:
            fail(task, t("lab2.group_members"))
        lrs[owner] = g["lr"]
    if lrs.get("layer4") != backbone_lr or lrs.get("fc") != head_lr:
        fail(task, t("lab2.group_lrs", backbone=backbone_lr, head=head_lr, got=lrs))
    return t("lab2.optimizer_ok", backbone=backbone_lr, head=head_lr)


TASK_FINETUNE_OPTIMIZER = register(2, "check_finetune_optimizer", _case_finetune, _probe_finetune, _judge_finetune)


@student_check
def check_finetune_optimizer(make_optimizer, model, head_lr: float = 1e-3, backbone_lr: float = 1e-4,
                             task: str = TASK_FINETUNE_OPTIMIZER.label) -> Verdict:
    """Lab 2: layer4 and fc train, in two parameter groups, the backbone with the smaller learning rate."""
    case = {"head_lr": head_lr, "backbone_lr": backbone_lr, "reference": False}
    return self_check(TASK_FINETUNE_OPTIMIZER, (make_optimizer,), task, case=case, model=model)
