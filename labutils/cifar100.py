"""Lab 3's dataset: CIFAR-100 (the Python version of Krizhevsky's archive).

Its class and superclass names, its locator (:func:`cifar100`) and its smoke-mode stand-in
(:class:`SyntheticCIFAR100`), all in one place.
"""
from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image
from torchvision import datasets as tv_datasets

from . import fetch
from .archives import extract_tar
from .messages import t
from .runtime import data_root, derived_candidates, derived_path, file_lock, is_smoke, smoke_notice
from .standins import class_pattern

# The 20 superclasses of CIFAR-100 and their 5 classes each, as listed on the dataset's page
# (https://www.cs.toronto.edu/~kriz/cifar.html); names as in the archive's meta file.
CIFAR100_SUPERCLASSES = {
    "aquatic_mammals": ["beaver", "dolphin", "otter", "seal", "whale"],
    "fish": ["aquarium_fish", "flatfish", "ray", "shark", "trout"],
    "flowers": ["orchid", "poppy", "rose", "sunflower", "tulip"],
    "food_containers": ["bottle", "bowl", "can", "cup", "plate"],
    "fruit_and_vegetables": ["apple", "mushroom", "orange", "pear", "sweet_pepper"],
    "household_electrical_devices": ["clock", "keyboard", "lamp", "telephone", "television"],
    "household_furniture": ["bed", "chair", "couch", "table", "wardrobe"],
    "insects": ["bee", "beetle", "butterfly", "caterpillar", "cockroach"],
    "large_carnivores": ["bear", "leopard", "lion", "tiger", "wolf"],
    "large_man-made_outdoor_things": ["bridge", "castle", "house", "road", "skyscraper"],
    "large_natural_outdoor_scenes": ["cloud", "forest", "mountain", "plain", "sea"],
    "large_omnivores_and_herbivores": ["camel", "cattle", "chimpanzee", "elephant", "kangaroo"],
    "medium_mammals": ["fox", "porcupine", "possum", "raccoon", "skunk"],
    "non-insect_invertebrates": ["crab", "lobster", "snail", "spider", "worm"],
    "people": ["baby", "boy", "girl", "man", "woman"],
    "reptiles": ["crocodile", "dinosaur", "lizard", "snake", "turtle"],
    "small_mammals": ["hamster", "mouse", "rabbit", "shrew", "squirrel"],
    "trees": ["maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"],
    "vehicles_1": ["bicycle", "bus", "motorcycle", "pickup_truck", "train"],
    "vehicles_2": ["lawn_mower", "rocket", "streetcar", "tank", "tractor"],
}
# torchvision's CIFAR100.classes: the archive's fine label names, which are in alphabetical order.
CIFAR100_CLASSES = sorted(name for names in CIFAR100_SUPERCLASSES.values() for name in names)


def superclass_index(classes: Sequence[str]):
    """For each class name, the index of its CIFAR-100 superclass in ``CIFAR100_SUPERCLASSES`` (Lab 3)."""
    lookup = {fine: i for i, names in enumerate(CIFAR100_SUPERCLASSES.values()) for fine in names}
    unknown = [c for c in classes if c not in lookup]
    if unknown:
        raise KeyError(t("cifar100.unknown_classes", names=unknown[:5]))
    return np.array([lookup[c] for c in classes])


def cifar100_archive_superclasses(root=None) -> dict[str, list[str]]:
    """Superclass → sorted class names, read from the extracted archive's own coarse labels (Lab 3, full mode).

    ``root`` is the folder holding ``cifar-100-python/``; without it, or when it lacks that folder
    (a shared read-only data folder), the copy :func:`cifar100` uses is read.
    """
    base = _extracted_folder(root)
    with open(base / "meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    with open(base / "train", "rb") as f:
        train = pickle.load(f, encoding="latin1")
    groups: dict[str, set[str]] = {name: set() for name in meta["coarse_label_names"]}
    for fine, coarse in zip(train["fine_labels"], train["coarse_labels"]):
        groups[meta["coarse_label_names"][coarse]].add(meta["fine_label_names"][fine])
    return {name: sorted(members) for name, members in groups.items()}


CIFAR100_FOLDER = "cifar-100-python"  # the folder the archive holds and torchvision reads


def _cifar100_roots(root=None) -> list[Path]:
    """Folders that may hold ``cifar-100-python/``: ``root`` or ``data/cifar100``, then its per-user counterpart."""
    first = Path(root) if root is not None else data_root() / "cifar100"
    return list(derived_candidates(first))


def _extracted_folder(root=None) -> Path:
    for candidate in _cifar100_roots(root):
        if (candidate / CIFAR100_FOLDER / "meta").is_file():
            return candidate / CIFAR100_FOLDER
    return _cifar100_roots(root)[0] / CIFAR100_FOLDER  # missing: open() names it


def _load_extracted(root: Path, train: bool, transform, *, quiet: bool = False):
    """torchvision's CIFAR100 read from ``root/cifar-100-python``, or None when that folder is absent
    or fails torchvision's own MD5 check of its files (Lab 3)."""
    if not (root / CIFAR100_FOLDER).is_dir():
        return None
    try:
        return tv_datasets.CIFAR100(root=str(root), train=train, download=False, transform=transform)
    except RuntimeError:  # "Dataset (metadata) not found or corrupted": torchvision's integrity check
        if not quiet:
            print(t("cifar100.folder_rejected", folder=root / CIFAR100_FOLDER))
        return None


def _set_aside(folder: Path) -> None:
    aside, n = folder.with_name(folder.name + ".corrupt"), 1
    while aside.exists():
        aside, n = folder.with_name(f"{folder.name}.corrupt{n}"), n + 1
    folder.rename(aside)
    print(t("cifar100.set_aside", folder=folder, aside=aside))


def _extract_cifar100(archive: Path, folder: Path) -> None:
    """Extract the verified archive's ``cifar-100-python/`` into ``folder`` through a unique temporary folder."""
    if folder.exists():
        _set_aside(folder)  # failed torchvision's check: kept for inspection, never deleted
    print(t("cifar100.extracting", archive=archive, dest=folder.parent))
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp-"))
    try:
        extract_tar(archive, tmp / "archive")
        os.replace(tmp / "archive" / CIFAR100_FOLDER, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cifar100(train: bool, transform=None):
    """CIFAR-100 train or test set as ``torchvision.datasets.CIFAR100`` (Lab 3).

    An extracted ``cifar-100-python/`` in ``data/cifar100`` (or its per-user counterpart, see
    :func:`labutils.runtime.writable_path`) is used as it is when torchvision's own MD5 check of its
    files passes; the archive is then not needed. Otherwise the archive comes through the registry
    (reused when present, downloaded only when missing; MD5-checked) and is extracted safely where
    the user can write; a folder that failed the check is renamed ``*.corrupt``, never deleted.
    In smoke mode a synthetic stand-in with the same 100 class names, ``.classes``, ``.targets``
    and ``.data`` is returned instead, and says so.
    """
    if is_smoke():
        smoke_notice(t("cifar100.standin"), once_key="cifar100")
        return SyntheticCIFAR100(train=train, transform=transform)
    for root in _cifar100_roots():
        dataset = _load_extracted(root, train, transform)
        if dataset is not None:
            return dataset
    archive = fetch.download("cifar100")  # data/cifar100/cifar-100-python.tar.gz, MD5-checked
    folder = derived_path(_cifar100_roots()[0] / CIFAR100_FOLDER)
    with file_lock(folder.parent / f".{CIFAR100_FOLDER}.lock", what=folder):
        dataset = _load_extracted(folder.parent, train, transform, quiet=True)  # another process may have finished
        if dataset is None:
            _extract_cifar100(archive, folder)
            dataset = _load_extracted(folder.parent, train, transform)
    if dataset is None:
        raise RuntimeError(t("cifar100.folder_rejected", folder=folder))
    return dataset


class SyntheticCIFAR100:
    """A CIFAR-100 stand-in with torchvision's interface: ``.data`` (N, 32, 32, 3) uint8, ``.targets``,
    ``.classes`` (the real 100 names) and PIL images passed through ``transform`` (Lab 3, smoke mode).

    ``per_class`` images per class (default 6 for train, 2 for test), generated in memory from a
    fixed seed, so the same call always gives the same images.
    """

    def __init__(self, train: bool = True, transform=None, per_class: int | None = None, seed: int = 0):
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
        image = Image.fromarray(self.data[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]
