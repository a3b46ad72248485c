"""What every benchmark of :mod:`labutils.bench` times with: one timed call, a loader of random tensors."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

from ..training import time_steps


def timed(fn, device) -> float:
    """Seconds for one call of ``fn``, waiting for the GPU when ``device`` is CUDA."""
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else None
    return time_steps(fn, n_steps=1, warmup=0, sync=sync)


def tensor_loader(n, size, classes, batch, seed=0, shuffle=True):
    """A seeded DataLoader of ``n`` random ``size``-px images with labels below ``classes``."""
    g = torch.Generator().manual_seed(seed)
    data = TensorDataset(torch.randn(n, 3, size, size, generator=g), torch.randint(0, classes, (n,), generator=g))
    return DataLoader(data, batch_size=batch, shuffle=shuffle, generator=torch.Generator().manual_seed(seed))
