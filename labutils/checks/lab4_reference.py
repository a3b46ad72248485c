"""Lab 4's references: the architectures, their heads and the strategies' trainable prefixes, and the models
and strategies that the grader's probes use where the notebook passes the student's own (the tasks
``TASK_MAKE_MODEL`` to ``TASK_OPTIMIZER``)."""
from __future__ import annotations

import functools

from torch import nn
from torchvision.models import get_model

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
def reference_params(arch: str) -> tuple:
    """``((name, numel), ...)`` of :func:`reference_model`'s parameters, in order."""
    return tuple((name, p.numel()) for name, p in reference_model(arch).named_parameters())
