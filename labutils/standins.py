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

from .messages import t

MARKER = ".labutils_standin.json"
_GOLDEN = 0.6180339887498949


def class_pattern(label: int, n_classes: int, height: int, width: int, *, channels: int = 3, rng=None):
    """One synthetic image of class ``label`` as a float array in [0, 1], shape [H, W, C] (all labs).

    The class decides the stripes' orientation and frequency and the tint; ``rng`` adds a random
    phase and pixel noise so no two images are equal. Coordinates are relative, so the pattern
    survives resizing.
    """
    import numpy as np

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
    import numpy as np
    from PIL import Image

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


def make_chest_xray_folder(root, patients: Mapping[str, int], *, images_per_patient: tuple[int, int] = (1, 5),
                           first_ids: Mapping[str, int] | None = None, size_range: tuple[int, int] = (48, 112),
                           seed: int = 0) -> Path:
    """Write a stand-in chest X-ray split ``root/{NORMAL,PNEUMONIA}/`` named like Kermany's files (Lab 2).

    ``patients`` maps the two class folders to a number of patients; each patient gets
    ``images_per_patient`` (min, max) grayscale JPEGs named as in the real archive:
    ``IM-0007-0001.jpeg`` or ``NORMAL2-IM-0008-0002.jpeg`` for NORMAL, ``person3_bacteria_12.jpeg``
    or ``person3_virus_13.jpeg`` for PNEUMONIA (one patient may have both). Patient numbers start
    at ``first_ids[class]`` (default 1). Images of one patient share a look (stripe phase,
    brightness, size), as X-rays of one child do, so a per-image split really leaks. Same settings,
    same bytes; a folder holding anything else is never written into.
    """
    import numpy as np
    from PIL import Image

    classes = list(patients)
    if classes != ["NORMAL", "PNEUMONIA"]:
        raise ValueError(t("standins.patients", got=classes))
    lo, hi = images_per_patient
    if not 1 <= lo <= hi:
        raise ValueError(t("standins.per_patient", got=images_per_patient))
    first_ids = {name: 1 for name in classes} | dict(first_ids or {})
    root = Path(root)
    params = _params(patients, "L", size_range, ".jpeg", seed) | {
        "layout": "kermany", "images_per_patient": list(images_per_patient), "first_ids": first_ids}
    if _check_target(root, params):
        return root
    counter = 0  # Kermany numbers PNEUMONIA images with one running counter
    for label, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(patients[name]):
            number = first_ids[name] + k
            rng = np.random.default_rng([seed, label, number])
            h, w = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, size=2))
            base = class_pattern(label, len(classes), h, w, channels=1, rng=rng)[..., 0]
            base = base + rng.uniform(-0.12, 0.12)  # the patient's own brightness
            viral_share = rng.uniform(0, 1)
            for j in range(int(rng.integers(lo, hi + 1))):
                img_rng = np.random.default_rng([seed, label, number, j])
                pixels = np.clip(base + img_rng.normal(0.0, 0.05, size=base.shape), 0.0, 1.0)
                if name == "NORMAL":
                    prefix = "NORMAL2-IM" if k % 2 else "IM"
                    filename = f"{prefix}-{number:04d}-{j + 1:04d}.jpeg"
                else:
                    counter += 1
                    kind = "virus" if img_rng.uniform(0, 1) < viral_share else "bacteria"
                    filename = f"person{number}_{kind}_{counter}.jpeg"
                Image.fromarray((pixels * 255).round().astype(np.uint8)).save(folder / filename)
    (root / MARKER).write_text(json.dumps(params, indent=1))
    return root


def is_standin(root) -> bool:
    """True when ``root`` was written by :func:`make_image_folder` (the marker file is there)."""
    return (Path(root) / MARKER).is_file()


class SyntheticCIFAR100:
    """A CIFAR-100 stand-in with torchvision's interface: ``.data`` (N, 32, 32, 3) uint8, ``.targets``,
    ``.classes`` (the real 100 names) and PIL images passed through ``transform`` (Lab 3, smoke mode).

    ``per_class`` images per class (default 6 for train, 2 for test), generated in memory from a
    fixed seed, so the same call always gives the same images.
    """

    def __init__(self, train: bool = True, transform=None, per_class: int | None = None, seed: int = 0):
        import numpy as np

        from .datasets import CIFAR100_CLASSES

        self.train = train
        self.transform = transform
        self.classes = list(CIFAR100_CLASSES)
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        per_class = per_class or (6 if train else 2)
        images, targets = [], []
        for label in range(len(self.classes)):
            for i in range(per_class):
                rng = np.random.default_rng([seed, int(train), label, i])
                images.append((class_pattern(label, len(self.classes), 32, 32, rng=rng) * 255).round().astype(np.uint8))
                targets.append(label)
        self.data = np.stack(images)
        self.targets = targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        from PIL import Image

        image = Image.fromarray(self.data[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]
