"""Feature caching for a frozen backbone (Labs 2 and 4).

When the backbone is frozen and the inputs are not randomly augmented, its output for an image
is the same every epoch. Computing it once and training the head on the cached vectors gives the
same head as running the backbone every epoch, many times faster. With random augmentation the
inputs change each epoch, and the cache would train on a single fixed view instead.
"""
from __future__ import annotations

import torch
from tqdm.auto import tqdm

from .messages import t


def extract_features(backbone, loader, device=None, *, progress: bool = True, desc: str | None = None):
    """Run ``backbone`` (in eval mode, without gradients) over ``loader``; return (features, labels) on the CPU.

    Lab 1 showed the embedding a ResNet computes before ``fc``; pass a model whose ``fc`` is
    ``nn.Identity()`` to get it. BatchNorm uses its running statistics, exactly as a frozen
    backbone in eval mode does during training. ``desc`` labels the progress bar (default: "признаки").
    """
    desc = t("features.progress") if desc is None else desc
    device = device or next(backbone.parameters()).device
    was_training = backbone.training
    backbone.eval()
    feats, labels = [], []
    with torch.no_grad():
        for x, y in tqdm(loader, desc=desc, leave=False, disable=not progress):
            feats.append(backbone(x.to(device)).flatten(1).cpu())
            labels.append(torch.as_tensor(y))
    backbone.train(was_training)
    return torch.cat(feats), torch.cat(labels)
