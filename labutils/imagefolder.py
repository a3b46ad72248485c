"""Generic image-folder tools with clear errors: scan, dataset, splits (Labs 2-4).

Each dataset has its own module (:mod:`labutils.chest_xray`, :mod:`labutils.cifar100`,
:mod:`labutils.dogs`) with its locator, its preparation and its smoke-mode stand-in.

``scan_image_folder`` reads a ``root/<class>/<image>`` tree the way ``torchvision.datasets.ImageFolder``
does, but explains every problem by name: a missing folder, an empty class folder, a file that is
not an image, an image that cannot be read or decoded, an image too large for Pillow, macOS metadata
(``.DS_Store``, ``._*``, ``__MACOSX/``). It never deletes or moves anything.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError
from sklearn.model_selection import StratifiedGroupKFold, train_test_split
from tqdm.auto import tqdm

from .messages import t
from .runtime import is_smoke

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MACOS_FOLDER = "__MACOSX"
REPORT_LIMIT = 50  # skipped files listed one per line by ScanResult.report(); the rest are counted
_WIDE_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")  # integer grayscale deeper than 8 bits


class ImageReadError(OSError):
    """An image file could not be decoded; the message names the file."""


@dataclass
class ScanResult:
    """What :func:`scan_image_folder` found: samples plus everything it skipped, by name."""

    root: Path
    classes: list[str]
    samples: list[tuple[str, int]]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def counts(self) -> dict[str, int]:
        counts = {name: 0 for name in self.classes}
        for _, label in self.samples:
            counts[self.classes[label]] += 1
        return counts

    def report(self, limit: int = REPORT_LIMIT) -> str:
        """One line of counts plus one line per skipped file, at most ``limit`` of them (printed by the labs)."""
        counts = ", ".join(f"{k} {v}" for k, v in self.counts().items())
        lines = [t("imagefolder.report_counts", root=self.root, counts=counts, n=len(self.samples))]
        if self.skipped:
            lines.append(t("imagefolder.report_skipped", n=len(self.skipped)))
            lines += [f"  {path}: {reason}" for path, reason in self.skipped[:limit]]
            if len(self.skipped) > limit:
                lines.append(t("imagefolder.report_more", n=len(self.skipped) - limit))
        return "\n".join(lines)


def _probe(path: Path, decode: bool) -> str | None:
    """None if ``path`` opens (and, with ``decode``, decodes) as an image, else the reason it does not.

    Decoding a JPEG uses ``draft`` to 1/8 scale: libjpeg still reads every byte (a truncated file
    fails) but skips most of the work. Other formats are decoded in full.
    """
    try:
        with Image.open(path) as img:
            if decode:
                img.draft(img.mode, (64, 64))  # JPEG only; a no-op for other formats
                img.load()
    except UnidentifiedImageError:
        return t("imagefolder.unreadable")
    except Image.DecompressionBombError as exc:
        return t("imagefolder.too_large", error=exc)
    except (OSError, SyntaxError, ValueError) as exc:
        return t("imagefolder.undecodable", error=exc)
    return None


def _macos_junk(path: Path) -> str | None:
    """The skip reason for macOS metadata (``.DS_Store``, ``._*`` AppleDouble, ``__MACOSX/``), else None."""
    if path.name == MACOS_FOLDER and path.is_dir():
        return t("imagefolder.macos_folder")
    if path.name == ".DS_Store" or path.name.startswith("._"):
        return t("imagefolder.macos_file")
    return None


def _class_folders(root: Path) -> list[str]:
    """The class sub-folders of ``root``, sorted as ImageFolder does, without hidden and ``__MACOSX`` ones."""
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and p.name != MACOS_FOLDER)


def scan_image_folder(root, classes: Sequence[str] | None = None, *, decode: bool = True) -> ScanResult:
    """List ``root/<class>/*`` images with integer labels (Labs 2 and 4).

    ``classes`` fixes the expected class folders and their label order (default: the sub-folders,
    sorted, as ImageFolder does, ``__MACOSX`` excluded). Raises ``FileNotFoundError`` naming a
    missing folder and ``ValueError`` naming a class folder without images. Skipped and listed in
    ``ScanResult.skipped``, with the reason: files that are not images, macOS metadata
    (``.DS_Store``, ``._*``, ``__MACOSX/``), images that do not open, images too large for Pillow,
    and (``decode=True``, the default) images that do not decode, such as truncated JPEGs, which
    would otherwise stop training later. ``decode=False`` only reads the headers (faster, weaker).
    Other hidden files and sub-folders of a class folder are ignored, as before.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(t("imagefolder.folder_missing", root=root))
    junk_root = []
    if classes is None:
        classes = _class_folders(root)
        if (root / MACOS_FOLDER).is_dir():
            junk_root.append((str(root / MACOS_FOLDER), t("imagefolder.macos_folder")))
        if not classes:
            raise FileNotFoundError(t("imagefolder.no_classes", root=root))
    missing = [str(root / name) for name in classes if not (root / name).is_dir()]
    if missing:
        raise FileNotFoundError(t("imagefolder.class_missing", folders=", ".join(missing), classes=list(classes)))
    result = ScanResult(root=root, classes=list(classes), samples=[], skipped=junk_root)
    for label, name in enumerate(classes):
        folder = root / name
        found = 0
        for path in sorted(folder.iterdir()):
            junk = _macos_junk(path)
            if junk:
                result.skipped.append((str(path), junk))
                continue
            if path.name.startswith(".") or path.is_dir():
                continue
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                ext = path.suffix or t("imagefolder.no_extension")
                result.skipped.append((str(path), t("imagefolder.not_image_file", ext=ext)))
                continue
            reason = _probe(path, decode)
            if reason:
                result.skipped.append((str(path), reason))
                continue
            result.samples.append((str(path), label))
            found += 1
        if found == 0:
            raise ValueError(t("imagefolder.class_empty", folder=folder))
    return result


def load_image(path, mode: str = "RGB"):
    """Open one image and convert it to ``mode`` (Labs 2 and 4).

    A decode failure, or an image too large for Pillow, raises ``ImageReadError`` naming the file.
    Grayscale deeper than 8 bits is first scaled to 8 bits (see :func:`_to_8bit`) unless ``mode``
    is itself such a mode: a plain ``convert("L")`` would clip it to white.
    """
    try:
        with Image.open(path) as img:
            if img.mode in _WIDE_MODES and mode not in _WIDE_MODES + ("F",):
                return _to_8bit(img).convert(mode)
            return img.convert(mode)
    except Image.DecompressionBombError as exc:
        raise ImageReadError(t("imagefolder.image_too_large", path=path, error=exc)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(t("imagefolder.image_read", path=path, error=exc)) from exc


def _to_8bit(img):
    """An ``"L"`` copy of a 16/32-bit integer grayscale image, scaled rather than clipped.

    The rule: 16-bit modes (``"I;16"``, ``"I;16B"``, ...) are divided by 256, so 0..65535 maps to
    0..255. Mode ``"I"`` (32-bit; older Pillow opens 16-bit PNGs this way) is left as is when its
    maximum is at most 255, divided by 256 when the maximum fits 16 bits (the same result as the
    16-bit modes), else scaled by 255 / maximum. Negative values become 0.
    """
    values = np.asarray(img).astype(np.int64)
    top = int(values.max()) if values.size else 0
    if img.mode != "I" or 255 < top <= 0xFFFF:
        values = values >> 8
    elif top > 0xFFFF:
        values = values * 255 // top
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))  # uint8 2-D: mode "L"


class ImageListDataset:
    """A ``Dataset`` over (path, label) pairs with ``classes``, ``targets`` and ``samples`` like ImageFolder.

    Images are converted to ``mode`` (``"L"`` for X-rays, then a transform can make 3 channels).
    :meth:`preload` decodes and resizes every image once and keeps them in memory, so later epochs
    skip JPEG decoding; random augmentation still runs on every access. Used by Labs 2 and 4.
    """

    def __init__(self, samples: Sequence[tuple[str, int]], classes: Sequence[str], transform=None,
                 mode: str = "RGB"):
        self.samples = list(samples)
        self.classes = list(classes)
        self.targets = [label for _, label in self.samples]
        self.transform = transform
        self.mode = mode
        self._cache = None  # list of uint8 arrays once preloaded

    def __len__(self) -> int:
        return len(self.samples)

    def _resized(self, path, size):
        image = load_image(path, self.mode)
        if size is None:
            return image
        if isinstance(size, int):  # shorter side = size, aspect ratio kept
            w, h = image.size
            scale = size / min(w, h)
            return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), resample=2)  # bilinear
        return image.resize((size[1], size[0]), resample=2)

    def preload(self, size=None, *, budget_bytes: int | None = None, progress: bool = True) -> bool:
        """Decode (and resize to ``size``: an int for the shorter side, or (H, W)) every image once.

        Skipped, with a message, when the estimated memory exceeds ``budget_bytes`` (default: a
        quarter of this machine's RAM, at most 4 GB). Returns True when the cache is in place.
        Call it before creating DataLoaders: forked workers then share the cache instead of
        filling their own.
        """
        channels = 1 if self.mode == "L" else 3
        if size is None:
            per_image = 2000 * 2000 * channels  # unknown sizes: assume large photographs
        elif isinstance(size, int):
            per_image = int(size * size * 1.5) * channels
        else:
            per_image = size[0] * size[1] * channels
        need = per_image * len(self)
        budget = budget_bytes if budget_bytes is not None else min(4 << 30, _ram_bytes() // 4)
        if need > budget:
            print(t("imagefolder.not_caching", n=len(self), need=need / 2**20, budget=budget / 2**20))
            return False
        desc = t("imagefolder.progress_caching")
        self._cache = [np.asarray(self._resized(p, size))
                       for p, _ in tqdm(self.samples, desc=desc, leave=False, disable=not progress)]
        return True

    def with_transform(self, transform) -> "ImageListDataset":
        """The same images (and the same in-memory cache, if preloaded) with another transform."""
        twin = ImageListDataset(self.samples, self.classes, transform, self.mode)
        twin._cache = self._cache
        return twin

    def __getitem__(self, index: int):
        if self._cache is not None:
            image = Image.fromarray(self._cache[index])
        else:
            image = load_image(self.samples[index][0], self.mode)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]


def _ram_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30  # unknown platform: assume 8 GB


def stratified_split(samples: Sequence[tuple[str, int]], test_size: float = 0.2, seed: int = 42):
    """Split (path, label) pairs into train/test with the same class ratio in both (Labs 2 and 4).

    Uses scikit-learn's ``train_test_split(stratify=labels, random_state=seed)``; the same input
    and seed always give the same split.
    """
    samples = list(samples)
    labels = [label for _, label in samples]
    train, test = train_test_split(samples, test_size=test_size, stratify=labels, random_state=seed)
    return train, test


def grouped_split(samples: Sequence[tuple[str, int]], groups: Sequence[str], val_fraction: float = 0.2,
                  seed: int = 42):
    """Split (path, label) pairs so that no group (patient) lands on both sides (Lab 2).

    Uses scikit-learn's ``StratifiedGroupKFold`` with ``round(1 / val_fraction)`` folds, shuffled
    with ``seed``, and returns ``(train, val)`` where ``val`` is the first fold: every group is
    wholly in one part, and the class ratio is kept as far as whole groups allow. The same input
    and seed always give the same split.
    """
    samples, groups = list(samples), list(groups)
    if len(samples) != len(groups):
        raise ValueError(t("imagefolder.grouped_count", n=len(samples), groups=len(groups)))
    if not 0 < val_fraction <= 0.5:
        raise ValueError(t("imagefolder.grouped_fraction", fraction=val_fraction))
    n_splits = max(2, round(1 / val_fraction))
    if len(set(groups)) < n_splits:
        raise ValueError(t("imagefolder.grouped_few", groups=len(set(groups)), folds=n_splits, fraction=val_fraction))
    labels = [label for _, label in samples]
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    train_idx, val_idx = next(splitter.split(samples, labels, groups))
    return [samples[i] for i in train_idx], [samples[i] for i in val_idx]


def default_workers() -> int:
    """DataLoader workers for the labs (Labs 2-4).

    0 in smoke mode (a few dozen tiny images: starting workers costs more than it saves), on
    Windows/macOS, and in a Jupyter kernel whose start method spawns workers, where they hang;
    otherwise one per spare CPU core, at most 4. Pair it with ``persistent_workers`` so workers
    start once per run. The start method is the one a DataLoader will use (:func:`start_method`):
    Python 3.14 makes ``forkserver`` the Linux default.
    """
    if is_smoke() or sys.platform in ("win32", "darwin"):
        return 0
    if "ipykernel" in sys.modules and start_method() in ("spawn", "forkserver"):
        return 0  # spawned workers re-import the notebook's code, which a kernel cannot provide
    return min(4, max(0, (os.cpu_count() or 1) - 1))


def start_method() -> str:
    """The start method a DataLoader's workers will use: the one set for this process, else the
    platform's default (the first of ``get_all_start_methods()``), found without fixing it."""
    return multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]


def stratified_indices(targets: Sequence[int], n: int, seed: int = 42) -> list[int]:
    """``n`` indices with the class balance of ``targets`` (Lab 3's CPU subset), always the same for a seed."""
    targets = list(targets)
    if n >= len(targets):
        return list(range(len(targets)))
    chosen, _ = train_test_split(list(range(len(targets))), train_size=n, stratify=targets, random_state=seed)
    return sorted(chosen)
