"""Image normalization shared by the labs: ImageNet statistics, ``normalize`` and ``denormalize``."""
from __future__ import annotations

from typing import Sequence

import torch
from torchvision import transforms

from .messages import t

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize():
    """``transforms.Normalize`` with the ImageNet mean/std the pretrained weights expect (Labs 2-4)."""
    return transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)


def _stats(tensor, mean: Sequence[float], std: Sequence[float]):
    channel_dim = -3
    if tensor.dim() < 3 or tensor.shape[channel_dim] != len(mean):
        raise ValueError(t("data.shape", channels=len(mean), shape=tuple(tensor.shape)))
    shape = (len(mean), 1, 1)
    m = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device).view(shape)
    s = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device).view(shape)
    return m, s


def normalize(tensor, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
    """``(x - mean) / std`` per channel, for one image or a batch; returns a new tensor (Labs 1-4)."""
    m, s = _stats(tensor, mean, std)
    return (tensor - m) / s


def denormalize(tensor, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
    """Undo :func:`normalize`: ``x * std + mean``, clamped to [0, 1] for display (Labs 2-4)."""
    m, s = _stats(tensor, mean, std)
    return (tensor * s + m).clamp(0.0, 1.0)
