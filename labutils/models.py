"""Pretrained torchvision models fetched through the course registry, and parameter counting.

Outside smoke mode, :func:`load_pretrained` gets the ImageNet weight file through
:mod:`labutils.fetch` (checked, cached in ``data/weights``; a copy in torch's own hub cache is
reused) and stops with instructions when it cannot. In smoke mode it builds the same
architecture with random weights and says so.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torchvision.models import get_model, get_model_weights

from .fetch import download
from .messages import t
from .registry import weights_resource
from .runtime import is_smoke, smoke_notice


def _hub_checkpoint(filename: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def load_pretrained(arch: str, weights: str = "DEFAULT", *, progress: bool = True):
    """torchvision model ``arch`` (e.g. ``"resnet18"``) with ImageNet weights (Labs 1-4).

    ``weights`` names a member of the architecture's weights enum (``"DEFAULT"``,
    ``"IMAGENET1K_V1"``...). In smoke mode the weights are random and a banner says so.
    Returns the model in eval mode, on the CPU.
    """
    enum = get_model_weights(arch)
    try:
        member = enum[weights] if isinstance(weights, str) else weights
    except KeyError:
        raise KeyError(t("models.no_weights", arch=arch, weights=weights, names=[w.name for w in enum])) from None
    if is_smoke():
        smoke_notice(t("models.random_weights", arch=arch, weights=f"{enum.__name__}.{member.name}"),
                     once_key=f"weights:{arch}")
        model = get_model(arch, weights=None, num_classes=len(member.meta["categories"]))
        return model.eval()
    resource = weights_resource(member, name=arch)
    path = download(resource, progress=progress, extra_locations=(_hub_checkpoint(resource.filename),))
    model = get_model(arch, weights=None, num_classes=len(member.meta["categories"]))
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    print(t("models.loaded", arch=arch, weights=f"{enum.__name__}.{member.name}", path=path))
    return model.eval()


def count_parameters(model, *, trainable_only: bool = False) -> int:
    """Number of parameters in ``model`` (or only those with ``requires_grad``) (Labs 1-4)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
