"""Synthetic stand-ins for the real datasets, used only in smoke mode and in tests.

A stand-in keeps the real dataset's structure (folder tree, class names, image mode, varied image
sizes) but its pixels are generated: each class draws stripes of its own orientation, frequency
and tint, plus noise. The classes are therefore learnable, so a test can check that training
lowers the loss. Generation is deterministic (same seed, same bytes) and goes to ``data/``,
never into git.
"""
from __future__ import annotations

import colorsys
import json
import math
import shutil
from pathlib import Path
from typing import Mapping

import numpy as np
from PIL import Image

from .messages import t

MARKER = ".labutils_standin.json"
_GOLDEN = 0.6180339887498949


def class_pattern(label: int, n_classes: int, height: int, width: int, *, channels: int = 3, rng=None):
    """One synthetic image of class ``label`` as a float array in [0, 1], shape [H, W, C] (all labs).

    The class decides the stripes' orientation and frequency and the tint; ``rng`` adds a random
    phase and pixel noise so no two images are equal. Coordinates are relative, so the pattern
    survives resizing.
    """
    if not 0 <= label < n_classes:
        raise ValueError(t("standins.label", label=label, last=n_classes - 1))
    rng = rng if rng is not None else np.random.default_rng(label)
    angle = math.pi * ((label * _GOLDEN) % 1.0)
    cycles = 2.0 + 4.0 * ((label * 0.37) % 1.0)
    yy, xx = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    phase = rng.uniform(0, 2 * math.pi)
    stripes = 0.5 + 0.35 * np.sin(2 * math.pi * cycles * (xx * math.cos(angle) + yy * math.sin(angle)) + phase)
    if channels == 1:
        brightness = 0.35 + 0.3 * (label / max(n_classes - 1, 1))
        img = (stripes * 0.6 + brightness * 0.4)[..., None]
    else:
        tint = np.array(colorsys.hsv_to_rgb((label * _GOLDEN) % 1.0, 0.6, 1.0))
        img = stripes[..., None] * tint[None, None, :]
    img = img + rng.normal(0.0, 0.08, size=img.shape)
    return np.clip(img, 0.0, 1.0)


def _params(class_counts, mode, size_range, ext, seed) -> dict:
    return {
        "class_counts": dict(class_counts),
        "mode": mode,
        "size_range": list(size_range),
        "ext": ext,
        "seed": seed,
    }


def _check_target(root: Path, params: dict) -> bool:
    """True when ``root`` already holds this exact stand-in; raise if it holds anything else."""
    marker = root / MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == params:
                return True
        except json.JSONDecodeError:
            pass
        shutil.rmtree(root)  # an older stand-in of ours (marked): safe to replace
        return False
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(t("standins.not_ours", root=root))
    return False


def make_image_folder(root, class_counts: Mapping[str, int], *, mode: str = "RGB",
                      size_range: tuple[int, int] = (40, 96), ext: str = ".jpg", seed: int = 0) -> Path:
    """Write a stand-in ``root/<class>/<class>_NNNN<ext>`` tree (Labs 2 and 4).

    ``class_counts`` maps class names to image counts (imbalance is kept as given); ``mode`` is
    ``"RGB"`` or ``"L"`` (grayscale, like X-rays); widths and heights vary within ``size_range``.
    A marker file records the settings, so calling again with the same settings reuses the tree.
    A folder holding anything else is never written into.
    """
    if mode not in ("RGB", "L"):
        raise ValueError(t("standins.mode", mode=mode))
    lo, hi = size_range
    if not 8 <= lo <= hi:
        raise ValueError(t("standins.size_range", got=size_range))
    root = Path(root)
    params = _params(class_counts, mode, size_range, ext, seed)
    if _check_target(root, params):
        return root
    names = list(class_counts)
    channels = 1 if mode == "L" else 3
    for label, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(class_counts[name]):
            rng = np.random.default_rng([seed, label, i])
            h, w = (int(v) for v in rng.integers(lo, hi + 1, size=2))
            pixels = class_pattern(label, len(names), h, w, channels=channels, rng=rng)
            array = (pixels * 255).round().astype(np.uint8)
            image = Image.fromarray(array[..., 0] if channels == 1 else array)  # uint8 2-D -> "L", 3-D -> "RGB"
            image.save(folder / f"{name}_{i:04d}{ext}")
    (root / MARKER).write_text(json.dumps(params, indent=1))
    return root


def is_standin(root) -> bool:
    """True when ``root`` was written by :func:`make_image_folder` (the marker file is there)."""
    return (Path(root) / MARKER).is_file()
