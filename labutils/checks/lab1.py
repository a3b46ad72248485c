"""Lab 1 self-checks: residual blocks, ResNet and embeddings, compared with torchvision's own modules.

The tasks ``TASK_RESIDUAL_BLOCK`` to ``TASK_RESNET`` (the blocks and ``ResNet._make_layer``) are here; the
factories (``TASK_FACTORIES``), the comparison with
torchvision and the embedding (``TASK_EMBEDDING``) in :mod:`.lab1_models`, the shared helpers in
:mod:`.lab1_support`."""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet as tv

from ..messages import t
from .core import Verdict, fail, student_check
from .lab1_models import (TASK_FACTORIES, TASK_EMBEDDING, check_embedding, check_factories,  # noqa: F401 (the lab's
                          check_same_as_torchvision)  # checks and tasks, as course.LABS names the module)
from .lab1_support import fail_copy, judge_run, origin_of, probe_configs
from .protocol import register, self_check, shapes_of


# ---------------------------------------------------------------------------------------------
# Lab 1: residual blocks and ResNet, as probes (student's process) and judges (grader's process)


def _basic_variants(block, x):
    """Outputs of common BasicBlock mistakes (keyed by ``lab1.mistake.*`` messages), from the reference's layers."""
    shortcut = block.downsample(x) if block.downsample is not None else x
    out = block.bn1(block.conv1(x))
    residual = block.bn2(block.conv2(F.relu(out)))
    return {
        "no_skip": F.relu(residual),
        "relu_before_add": F.relu(residual) + shortcut,
        "no_final_relu": residual + shortcut,
        "no_inner_relu": F.relu(block.bn2(block.conv2(out)) + shortcut),
    }


def _bottleneck_variants(block, x):
    shortcut = block.downsample(x) if block.downsample is not None else x
    out = F.relu(block.bn1(block.conv1(x)))
    out = F.relu(block.bn2(block.conv2(out)))
    residual = block.bn3(block.conv3(out))
    return {
        "no_skip": F.relu(residual),
        "relu_before_add": F.relu(residual) + shortcut,
        "no_final_relu": residual + shortcut,
    }


_BASIC_ORDER = "lab1.order_basic"  # message keys
_BOTTLENECK_ORDER = "lab1.order_bottleneck"


def _downsample(in_ch: int, out_ch: int, stride: int):
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


def _build_block(cls, cfg: dict):
    ds = cfg["downsample"]
    return cls(*cfg["args"], downsample=_downsample(*ds) if ds else None, **cfg["kwargs"])


def _block_case(seed: int, tv_name: str, expansion: int, configs: list[dict]) -> dict:
    """Inputs of a block check: a random input, and per configuration its state_dict shapes and weight seed."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, configs[0]["args"][0], 8, 8, generator=gen)
    runs = []
    for i, cfg in enumerate(configs):
        runs.append({**cfg, "shapes": shapes_of(_build_block(getattr(tv, tv_name), cfg)), "seed": seed * 10 + i + 1})
    return {"x": x, "expansion": expansion, "configs": runs}


def _probe_block(cls, case: dict) -> dict:
    """Probe of ``TASK_RESIDUAL_BLOCK`` and ``TASK_BOTTLENECK``: what the class is, its ``expansion``, and each
    configuration's run."""
    data = {"origin": origin_of(cls), "expansion": getattr(cls, "expansion", None), "runs": []}
    if not isinstance(data["expansion"], (int, float)) or isinstance(data["expansion"], bool):
        data["expansion"] = repr(data["expansion"])[:40]
    if data["origin"] is not None or data["expansion"] != case["expansion"]:
        return data
    data["runs"] = probe_configs(case, lambda cfg: _build_block(cls, cfg), lambda student, cfg: {
        "groups": getattr(getattr(student, "conv2", None), "groups", None)})
    if not isinstance(data["runs"][-1].get("groups"), int):
        data["runs"][-1]["groups"] = None
    return data


def _judge_block(data: dict, case: dict, task: str, name: str, tv_name: str, variants_fn, order_hint: str) -> float:
    fail_copy(task, data["origin"], name, "lab1.copy.block")
    if data["expansion"] != case["expansion"]:
        fail(task, t("lab1.expansion", want=case["expansion"], got=data["expansion"]))
    worst = 0.0
    for i, cfg in enumerate(case["configs"]):
        run = data["runs"][i]  # an IndexError here means the probe's data is incomplete
        fail_copy(task, run["built_origin"], cfg["label"].replace("ResidualBlock", name), "lab1.copy.block", built=True)
        groups = cfg["kwargs"].get("groups")
        if groups and set(run["shapes"]) == set(cfg["shapes"]) and run["groups"] != groups:
            fail(task, t("lab1.groups", label=cfg["label"], got=run["groups"]))
        diff, _ = judge_run(task, run, _build_block(getattr(tv, tv_name), cfg), cfg["shapes"], cfg["seed"],
                             case["x"], cfg["label"], variants_fn, order_hint, "lab1.downsample_hint_block")
        worst = max(worst, diff)
    return worst


_BASIC_CONFIGS = [
    {"args": [16, 16], "kwargs": {}, "downsample": None, "label": "ResidualBlock(16, 16)"},
    {"args": [16, 32], "kwargs": {"stride": 2}, "downsample": [16, 32, 2],
     "label": "ResidualBlock(16, 32, stride=2, downsample=...)"},
]
_BOTTLENECK_CONFIGS = [
    {"args": [64, 16], "kwargs": {}, "downsample": None, "label": "Bottleneck(64, 16)"},
    {"args": [64, 64], "kwargs": {"stride": 2, "groups": 32, "base_width": 4}, "downsample": [64, 256, 2],
     "label": "Bottleneck(64, 64, stride=2, groups=32, base_width=4, downsample=...)"},
]


def _case_residual_block(seed: int) -> dict:
    return _block_case(seed, "BasicBlock", 1, _BASIC_CONFIGS)


def _judge_residual_block(data: dict, case: dict, task: str) -> str:
    worst = _judge_block(data, case, task, "ResidualBlock", "BasicBlock", _basic_variants, _BASIC_ORDER)
    return t("lab1.block_ok", diff=worst)


def _case_bottleneck(seed: int) -> dict:
    return _block_case(seed, "Bottleneck", 4, _BOTTLENECK_CONFIGS)


def _judge_bottleneck(data: dict, case: dict, task: str) -> str:
    worst = _judge_block(data, case, task, "Bottleneck", "Bottleneck", _bottleneck_variants, _BOTTLENECK_ORDER)
    return t("lab1.bottleneck_ok", diff=worst)


TASK_RESIDUAL_BLOCK = register(1, "check_residual_block", _case_residual_block, _probe_block, _judge_residual_block)
TASK_BOTTLENECK = register(1, "check_bottleneck", _case_bottleneck, _probe_block, _judge_bottleneck)


@student_check
def check_residual_block(ResidualBlock, task: str = TASK_RESIDUAL_BLOCK.label) -> Verdict:
    """Lab 1: the student's BasicBlock equals torchvision's, with and without a downsample."""
    return self_check(TASK_RESIDUAL_BLOCK, (ResidualBlock,), task)


@student_check
def check_bottleneck(Bottleneck, task: str = TASK_BOTTLENECK.label) -> Verdict:
    """Lab 1: the student's Bottleneck equals torchvision's, plain and grouped (ResNeXt) variants."""
    return self_check(TASK_BOTTLENECK, (Bottleneck,), task)


_RESNET_CONFIGS = [
    {"block": "BasicBlock", "layers": [1, 2, 1, 1], "extra": {}},
    {"block": "Bottleneck", "layers": [2, 1, 1, 1], "extra": {}},
    {"block": "Bottleneck", "layers": [1, 1, 2, 1], "extra": {"groups": 32, "width_per_group": 4}},
]


def _case_resnet(seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    configs = []
    for i, cfg in enumerate(_RESNET_CONFIGS):
        reference = tv.ResNet(getattr(tv, cfg["block"]), cfg["layers"], num_classes=10, **cfg["extra"])
        configs.append({**cfg, "shapes": shapes_of(reference), "seed": seed * 10 + i + 1})
    return {"x": torch.randn(2, 3, 64, 64, generator=gen), "configs": configs}


def _probe_resnet(ResNet, case: dict, ResidualBlock=None, Bottleneck=None) -> dict:
    """Probe of ``TASK_RESNET``: ``ResNet(block, layers, num_classes=10, ...)`` built with torchvision's blocks
    (the grader) or the student's (the notebook), loaded with the case's weights and run."""
    blocks = {"BasicBlock": ResidualBlock or tv.BasicBlock, "Bottleneck": Bottleneck or tv.Bottleneck}
    data = {"origin": origin_of(ResNet), "runs": []}
    if data["origin"] is not None:
        return data
    data["runs"] = probe_configs(
        case, lambda cfg: ResNet(blocks[cfg["block"]], cfg["layers"], num_classes=10, **cfg["extra"]),
        lambda student, cfg: {"block_name": str(getattr(blocks[cfg["block"]], "__name__", "block"))[:40]})
    return data


def _judge_resnet(data: dict, case: dict, task: str) -> str:
    fail_copy(task, data["origin"], "ResNet", "lab1.copy.resnet")
    worst = 0.0
    for i, cfg in enumerate(case["configs"]):
        run = data["runs"][i]
        extra = "".join(f", {k}={v}" for k, v in cfg["extra"].items())
        label = f"ResNet({run['block_name']}, {cfg['layers']}{extra}, num_classes=10)"
        fail_copy(task, run["built_origin"], label, "lab1.copy.resnet", built=True)
        reference = tv.ResNet(getattr(tv, cfg["block"]), cfg["layers"], num_classes=10, **cfg["extra"])
        diff, tol = judge_run(task, run, reference, cfg["shapes"], cfg["seed"], case["x"], label)
        if diff > tol:
            fail(task, t("lab1.resnet_differs", label=label, diff=diff))
        worst = max(worst, diff)
    return t("lab1.resnet_ok", diff=worst)


TASK_RESNET = register(1, "check_resnet", _case_resnet, _probe_resnet, _judge_resnet)


@student_check
def check_resnet(ResNet, ResidualBlock, Bottleneck, task: str = TASK_RESNET.label) -> Verdict:
    """Lab 1: ``ResNet(block, layers)`` builds the same stages as torchvision's for both block types.

    Only ``ResNet`` is graded: the grader's probe builds it with torchvision's blocks, the notebook's
    with the student's.
    """
    return self_check(TASK_RESNET, (ResNet,), task, ResidualBlock=ResidualBlock, Bottleneck=Bottleneck)
