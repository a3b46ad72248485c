"""What each lab's full mode computes, and how long that takes here (Labs 1-4, ``python -m labutils.bench``).

Each lab's CPU budget is a list of :class:`Phase`: a model, an input size, a batch size, what trains
(nothing, the head, the last stages, everything) and how many such steps the lab runs in full mode
with its CPU settings. :func:`measure` times one step of each kind on this machine with the fast path
(:mod:`labutils.fastpath`) and :func:`estimate` multiplies: the figure covers the models' forward and
backward passes, not data loading, plotting or downloads. The notebooks take their CPU settings from
here (``LAB4_CPU``, ``LAB3_CPU``) so that the benchmark's estimate and the lab's run agree.

The seeds' own settings (Lab 4's ``LAB4_GUIDE``, Lab 3's manual at 224 px) stay one switch away in
each notebook, for a GPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torchvision.models import get_model

from .fastpath import fast_path
from .training import time_steps

# Lab 4: the guide's input size and patience, and the CPU budget (image side in pixels). Like for
# like: within a budget every strategy gets the same epoch cap and the same early-stopping rule
# (the guide gave 15 / 15 / 20 epochs to freeze / partial / full; its longest, 20, is the cap here)
LAB4_STRATEGIES = ("freeze", "partial", "full")
LAB4_GUIDE = {"image_size": 224, "epochs": dict.fromkeys(LAB4_STRATEGIES, 20), "patience": 5}
LAB4_CPU = {"image_size": 160, "epochs": dict.fromkeys(LAB4_STRATEGIES, 8), "patience": 3}
LAB4_BUDGETS = {"guide": LAB4_GUIDE, "cpu": LAB4_CPU}
# Stanford Dogs' five breeds hold 807 images (beagle 195, boxer 151, German shepherd 152, golden retriever
# 150, standard poodle 159, as listed for images.tar); prepare_dogs splits them 70/15/15
LAB4_IMAGES = {"train": 565, "val": 121, "test": 121}
# Lab 3: the manual's 224 px on all images, and the CPU budget
LAB3_CPU = {"image_size": 64, "train_images": 5000, "test_images": 2000, "epochs": 3}
# Lab 2: the real split, per patient (train/validation from train/, the official test/)
LAB2_IMAGES = {"train": 4200, "val": 1050, "test": 624}
LAB2_CPU = {"image_size": 224, "finetune_epochs": 3}

BATCH = 32


@dataclass(frozen=True)
class Phase:
    """``steps`` steps of ``arch`` on ``batch`` images of ``size`` px; ``train`` names what trains
    (``None``: forward only, no gradients; ``"all"``; or parameter-name prefixes such as ``"layer4.,fc."``)."""

    what: str
    arch: str
    size: int
    batch: int
    train: str | None
    steps: int
    fast: bool = True  # run with the fast path, as the lab does there (its own evaluation loops stay float32)
    scaler: bool = True  # False: a student's own loop without a GradScaler (Labs 2, 3): never float16

    @property
    def kind(self) -> tuple:
        return self.arch, self.size, self.batch, self.train, self.fast, self.scaler


def _batches(images: int, batch: int = BATCH) -> int:
    return math.ceil(images / batch)


_LAB4_PREFIXES = {"resnet50": {"partial": "layer3.,layer4.,fc.", "full": "all"},
                  "efficientnet_b0": {"partial": "features.6.,features.7.,features.8.,classifier.", "full": "all"}}


def lab4_phases(settings: dict = LAB4_CPU) -> list[Phase]:
    """Lab 4 at most (no early stop): per model, the frozen run's one pass over train and val for the
    feature cache; partial and full runs' training steps and validation passes each epoch; after each
    run a pass over the training images without augmentation and over test."""
    size, n = settings["image_size"], LAB4_IMAGES
    train, val, test = _batches(n["train"]), _batches(n["val"]), _batches(n["test"])
    phases = []
    for arch in ("resnet50", "efficientnet_b0"):
        phases.append(Phase(f"{arch} freeze: feature cache", arch, size, BATCH, None, train + val, fast=False))
        for strategy in ("partial", "full"):
            epochs = settings["epochs"][strategy]
            phases.append(Phase(f"{arch} {strategy}: training", arch, size, BATCH,
                                _LAB4_PREFIXES[arch][strategy], epochs * train))
            phases.append(Phase(f"{arch} {strategy}: validation", arch, size, BATCH, None, epochs * val))
        phases.append(Phase(f"{arch}: train-eval and test passes, 3 runs", arch, size, BATCH, None,
                            3 * (train + test)))
    return phases


def lab3_phases(settings: dict = LAB3_CPU) -> list[Phase]:
    """Lab 3's CPU budget: every epoch trains the whole ResNeXt-50 and predicts the test subset."""
    size, epochs = settings["image_size"], settings["epochs"]
    train, test = _batches(settings["train_images"]), _batches(settings["test_images"])
    return [Phase("resnext50_32x4d: training", "resnext50_32x4d", size, BATCH, "all", epochs * train + 3,
                  scaler=False),
            Phase("resnext50_32x4d: predictions", "resnext50_32x4d", size, BATCH, None, (epochs + 1) * test,
                  fast=False)]


def lab2_phases(settings: dict = LAB2_CPU) -> list[Phase]:
    """Lab 2: forward passes of ResNet-18 (feature cache, BatchNorm drift, validation after each epoch,
    the single test pass, embeddings) and fine-tuning with ``layer4`` and ``fc`` trainable."""
    size, epochs, n = settings["image_size"], settings["finetune_epochs"], LAB2_IMAGES
    train, val, test = _batches(n["train"]), _batches(n["val"]), _batches(n["test"])
    forward = (train + val) + 8 + epochs * val + test + (train + val)  # cache, drift, val, test, embeddings
    return [Phase("resnet18: forward passes", "resnet18", size, BATCH, None, forward, fast=False),
            Phase("resnet18: fine-tuning layer4 + fc", "resnet18", size, BATCH, "layer4.,fc.", epochs * train + 3,
                  scaler=False)]


def lab1_phases() -> list[Phase]:
    """Lab 1: comparisons with torchvision at 224 px (two passes of each of three models, ResNet-18
    on 4 images twice), the embeddings of the 1,797 digits at 64 px, and FLOP counts of two models."""
    return [Phase("resnet18: torchvision comparisons", "resnet18", 224, 4, None, 4, fast=False),
            Phase("resnet50: torchvision comparison", "resnet50", 224, 1, None, 4, fast=False),
            Phase("resnext50_32x4d: torchvision comparison", "resnext50_32x4d", 224, 1, None, 4, fast=False),
            Phase("resnet18: digit embeddings", "resnet18", 64, 256, None, _batches(1797, 256), fast=False)]


PHASES = {"01": lab1_phases, "02": lab2_phases, "03": lab3_phases, "04": lab4_phases}


def _model(arch: str, train: str | None):
    torch.manual_seed(0)
    model = get_model(arch, weights=None, num_classes=10)
    if train not in (None, "all"):
        prefixes = tuple(train.split(","))
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith(prefixes)
    return model


def measure(phase: Phase, device="cpu", steps: int = 2) -> float:
    """Seconds of one step of ``phase``'s kind on ``device`` with the fast path (median of ``steps``)."""
    cfg = (fast_path(device, scaler=phase.scaler) if phase.fast
           else fast_path(device, amp=False, channels_last=False))
    model = cfg.prepare(_model(phase.arch, phase.train).to(cfg["device"]))
    gen = torch.Generator().manual_seed(0)
    x = cfg.inputs(torch.randn(phase.batch, 3, phase.size, phase.size, generator=gen))
    y = torch.randint(0, 10, (phase.batch,), generator=gen).to(cfg["device"])
    if phase.train is None:
        model.eval()

        def step():
            with torch.no_grad(), cfg.autocast():
                model(x)
    else:
        model.train()
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)

        def step():
            optimizer.zero_grad(set_to_none=True)
            with cfg.autocast():
                loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
    sync = torch.cuda.synchronize if cfg["device"].type == "cuda" else None
    return time_steps(step, n_steps=steps, warmup=1, sync=sync)


def estimate(lab: str, device="cpu", steps: int = 2, costs: dict | None = None) -> dict:
    """Minutes of ``lab``'s full-mode model compute: each phase's measured step cost times its steps.

    ``costs`` caches step costs by kind across labs (the same ResNet-50 step is timed once).
    Returns ``{"minutes": ..., "phases": [(what, steps, seconds per step), ...]}``.
    """
    return estimate_phases(PHASES[lab](), device, steps, costs)


def estimate_phases(phases: list[Phase], device="cpu", steps: int = 2, costs: dict | None = None) -> dict:
    """:func:`estimate` for any list of phases (a notebook estimates its own settings on its device)."""
    costs = {} if costs is None else costs
    rows, total = [], 0.0
    for phase in phases:
        if phase.kind not in costs:
            costs[phase.kind] = measure(phase, device, steps)
        rows.append((phase.what, phase.steps, costs[phase.kind]))
        total += phase.steps * costs[phase.kind]
    return {"minutes": total / 60, "phases": rows}
