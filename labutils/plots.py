"""Labelled figures used by several labs (curves, image grids). Axis labels always carry units."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def plot_curves(series: Mapping[str, Sequence[float]], *, xlabel: str, ylabel: str, title: str,
                logy: bool = False, x: Sequence[float] | None = None, smooth: int = 1, ax=None):
    """One line per named series, with labelled axes and a legend (Labs 1-4: losses, gradient norms).

    ``smooth`` > 1 draws a moving average over that many points (the raw curve stays faint).
    Returns the matplotlib ``Axes``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for name, values in series.items():
        values = np.asarray(values, dtype=float)
        xs = np.asarray(x if x is not None else np.arange(1, len(values) + 1))
        if smooth > 1 and len(values) >= smooth:
            line, = ax.plot(xs, values, alpha=0.25)
            kernel = np.ones(smooth) / smooth
            ax.plot(xs[smooth - 1:], np.convolve(values, kernel, mode="valid"), color=line.get_color(), label=name)
        else:
            ax.plot(xs, values, marker="o" if len(values) <= 50 else None, markersize=3, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


def show_images(images, titles: Sequence[str] | None = None, *, ncols: int = 8, cmap: str | None = None,
                colors: Sequence[str] | None = None, suptitle: str | None = None, size: float = 1.6):
    """A grid of images (tensors [C, H, W] / [H, W] in [0, 1], or arrays) with optional titles (Labs 1-4).

    ``colors`` colours each title (e.g. red for a wrong prediction). Returns the figure.
    """
    images = list(images)
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    title_lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    row_height = size + 0.18 * title_lines  # room for multi-line titles above each image
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, row_height * nrows + (0.4 if suptitle else 0)))
    axes = np.atleast_1d(axes).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        img = img.detach().cpu().numpy() if hasattr(img, "detach") else np.asarray(img)
        if img.ndim == 3 and img.shape[0] in (1, 3):
            img = np.transpose(img, (1, 2, 0))
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap=cmap or ("gray" if img.ndim == 2 else None))
        if titles is not None:
            ax.set_title(titles[i], fontsize=8, color=colors[i] if colors is not None else "black")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
