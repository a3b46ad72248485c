"""Image-folder datasets with clear errors, stratified splits, and the course's dataset locators.

``scan_image_folder`` reads a ``root/<class>/<image>`` tree the way ``torchvision.datasets.ImageFolder``
does, but explains every problem by name: a missing folder, an empty class folder, a file that is
not an image, an image that cannot be read. It never deletes or moves anything.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .messages import t

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


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

    def report(self) -> str:
        """One line of counts plus one line per skipped file (printed by the labs)."""
        counts = ", ".join(f"{k} {v}" for k, v in self.counts().items())
        lines = [t("datasets.report_counts", root=self.root, counts=counts, n=len(self.samples))]
        if self.skipped:
            lines.append(t("datasets.report_skipped", n=len(self.skipped)))
            lines += [f"  {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def _probe(path: Path, decode: bool) -> str | None:
    """None if ``path`` opens as an image, else the reason it does not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if decode:
                img.draft(img.mode, (64, 64))  # JPEG: decode at 1/8 scale, still reads every byte
                img.load()
    except UnidentifiedImageError:
        return t("datasets.unreadable")
    except (OSError, SyntaxError, ValueError) as exc:
        return t("datasets.undecodable", error=exc)
    return None


def scan_image_folder(root, classes: Sequence[str] | None = None, *, decode: bool = False) -> ScanResult:
    """List ``root/<class>/*`` images with integer labels (Labs 2 and 4).

    ``classes`` fixes the expected class folders and their label order (default: the sub-folders,
    sorted, as ImageFolder does). Raises ``FileNotFoundError`` naming a missing folder and
    ``ValueError`` naming a class folder without images. Files that are not images, and images that
    do not open (``decode=True`` also decodes each one, which catches truncated JPEGs), are skipped
    and listed in ``ScanResult.skipped``.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(t("datasets.folder_missing", root=root))
    if classes is None:
        classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not classes:
            raise FileNotFoundError(t("datasets.no_classes", root=root))
    missing = [str(root / name) for name in classes if not (root / name).is_dir()]
    if missing:
        raise FileNotFoundError(t("datasets.class_missing", folders=", ".join(missing), classes=list(classes)))
    result = ScanResult(root=root, classes=list(classes), samples=[])
    for label, name in enumerate(classes):
        folder = root / name
        found = 0
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.is_dir():
                continue
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                ext = path.suffix or t("datasets.no_extension")
                result.skipped.append((str(path), t("datasets.not_image_file", ext=ext)))
                continue
            reason = _probe(path, decode)
            if reason:
                result.skipped.append((str(path), reason))
                continue
            result.samples.append((str(path), label))
            found += 1
        if found == 0:
            raise ValueError(t("datasets.class_empty", folder=folder))
    return result


def load_image(path, mode: str = "RGB"):
    """Open one image and convert it to ``mode``; a decode failure raises ``ImageReadError`` naming it."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.convert(mode)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(t("datasets.image_read", path=path, error=exc)) from exc


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
        import numpy as np
        from tqdm.auto import tqdm

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
            print(t("datasets.not_caching", n=len(self), need=need / 2**20, budget=budget / 2**20))
            return False
        desc = t("datasets.progress_caching")
        self._cache = [np.asarray(self._resized(p, size))
                       for p, _ in tqdm(self.samples, desc=desc, leave=False, disable=not progress)]
        return True

    def with_transform(self, transform) -> "ImageListDataset":
        """The same images (and the same in-memory cache, if preloaded) with another transform."""
        twin = ImageListDataset(self.samples, self.classes, transform, self.mode)
        twin._cache = self._cache
        return twin

    def __getitem__(self, index: int):
        from PIL import Image

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
    from sklearn.model_selection import train_test_split

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
    from sklearn.model_selection import StratifiedGroupKFold

    samples, groups = list(samples), list(groups)
    if len(samples) != len(groups):
        raise ValueError(t("datasets.grouped_count", n=len(samples), groups=len(groups)))
    if not 0 < val_fraction <= 0.5:
        raise ValueError(t("datasets.grouped_fraction", fraction=val_fraction))
    n_splits = max(2, round(1 / val_fraction))
    if len(set(groups)) < n_splits:
        raise ValueError(t("datasets.grouped_few", groups=len(set(groups)), folds=n_splits, fraction=val_fraction))
    labels = [label for _, label in samples]
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    train_idx, val_idx = next(splitter.split(samples, labels, groups))
    return [samples[i] for i in train_idx], [samples[i] for i in val_idx]


def default_workers() -> int:
    """DataLoader workers for the labs (Labs 2-4).

    0 in smoke mode (a few dozen tiny images: starting workers costs more than it saves), on
    Windows/macOS, and in a Jupyter kernel whose start method spawns workers, where they hang;
    otherwise one per spare CPU core, at most 4. Pair it with ``persistent_workers`` so workers start once per run.
    """
    from .runtime import is_smoke

    import multiprocessing

    if is_smoke() or sys.platform in ("win32", "darwin"):
        return 0
    if "ipykernel" in sys.modules and multiprocessing.get_start_method(allow_none=True) in ("spawn", "forkserver"):
        return 0  # spawned workers re-import the notebook's code, which a kernel cannot provide
    return min(4, max(0, (os.cpu_count() or 1) - 1))


# ---------------------------------------------------------------------------------------------
# Lab 2: chest X-rays (Kermany et al. 2018)

CHEST_XRAY_ENV = "LABUTILS_CHEST_XRAY"


# Kermany's file names carry the patient: "person1_bacteria_1.jpeg" and "person1_virus_6.jpeg" are
# two X-rays of one child; "IM-0115-0001.jpeg" and "NORMAL2-IM-1427-0001.jpeg" are image 0001 of
# patients IM-0115 and NORMAL2-IM-1427.
_KERMANY_PATIENT = (
    re.compile(r"^(person\d+)_(?:bacteria|virus)_\d+$", re.IGNORECASE),
    re.compile(r"^((?:NORMAL2-)?IM-\d+)-\d+$", re.IGNORECASE),
)


def chest_xray_patient(path) -> str | None:
    """The patient id in a Kermany chest X-ray file name, or None when the name has no id (Lab 2).

    ``person1_bacteria_1.jpeg`` and ``person1_virus_6.jpeg`` give ``"person1"``;
    ``IM-0115-0001.jpeg`` gives ``"IM-0115"``; ``NORMAL2-IM-1427-0001.jpeg`` gives
    ``"NORMAL2-IM-1427"``.
    """
    stem = Path(path).stem
    for pattern in _KERMANY_PATIENT:
        match = pattern.match(stem)
        if match:
            return match.group(1)
    return None


def chest_xray_patients(samples: Sequence[tuple[str, int]]) -> tuple[list[str], list[str]]:
    """One patient id per sample, plus the files whose names carry none (Lab 2).

    A file without an id becomes a patient of its own (``"file:<name>"``): the safe choice, since
    nothing links it to another image; the second list names those files so the lab can report them.
    """
    groups, unnamed = [], []
    for path, _ in samples:
        patient = chest_xray_patient(path)
        if patient is None:
            unnamed.append(str(path))
            patient = f"file:{Path(path).name}"
        groups.append(patient)
    return groups, unnamed


def _looks_like_chest_xray(root: Path) -> bool:
    from .registry import CHEST_XRAY_CLASSES

    return all((root / "train" / c).is_dir() for c in CHEST_XRAY_CLASSES)


def chest_xray_root(path=None) -> Path:
    """The chest X-ray folder holding ``train/`` and ``test/``, each with ``NORMAL/`` and ``PNEUMONIA/`` (Lab 2).

    Looked up in this order: the ``path`` argument; ``$LABUTILS_CHEST_XRAY`` (e.g. the Kaggle copy
    ``.../chest_xray``); in smoke mode a synthetic stand-in (grayscale, varied sizes, imbalanced
    like the real set, several images per patient named as in Kermany's archive); otherwise ``data/chest_xray/extracted/chest_xray``, extracted from the registry's
    ChestXRay2017.zip, which is downloaded (~1.2 GB) if missing.
    """
    from .archives import extract_zip
    from .fetch import download
    from .registry import CHEST_XRAY_CLASSES
    from .runtime import data_root, is_smoke, smoke_notice
    from .standins import make_chest_xray_folder

    given = path or os.environ.get(CHEST_XRAY_ENV)
    if given:
        root = Path(given).expanduser()
        if not _looks_like_chest_xray(root):
            source = t("datasets.source_argument") if path else CHEST_XRAY_ENV
            raise FileNotFoundError(t("datasets.not_xray", root=root, source=source))
        return root
    if is_smoke():
        root = data_root() / "smoke" / "chest_xray"
        # Patients, not images: 1-5 X-rays each, Kermany's file names, healthy:sick about 1:3 in train/
        # and 1:2 in test/ like the real set (1,341:3,875 and 234:390). test/ reuses one PNEUMONIA patient number of train/ (person20), so the lab's
        # check for patients present in both folders has something to find.
        layout = {"train": ({"NORMAL": 9, "PNEUMONIA": 20}, {"NORMAL": 1, "PNEUMONIA": 1}, 2),
                  "test": ({"NORMAL": 4, "PNEUMONIA": 9}, {"NORMAL": 101, "PNEUMONIA": 20}, 7)}
        for split, (patients, first_ids, seed) in layout.items():
            make_chest_xray_folder(root / split, patients, first_ids=first_ids, seed=seed)
        smoke_notice(t("datasets.xray_standin", root=root), once_key="chest_xray")
        return root
    extracted = data_root() / "chest_xray" / "extracted"
    root = extracted / "chest_xray"
    if _looks_like_chest_xray(root):
        return root
    archive = download("chest_xray")
    print(t("datasets.extracting_xray", archive=archive, dest=extracted))
    extract_zip(archive, extracted, keep=lambda name: name.startswith("chest_xray/") and not name.endswith("/"))
    return root


# ---------------------------------------------------------------------------------------------
# Lab 3: CIFAR-100

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
    import numpy as np

    lookup = {fine: i for i, names in enumerate(CIFAR100_SUPERCLASSES.values()) for fine in names}
    unknown = [c for c in classes if c not in lookup]
    if unknown:
        raise KeyError(t("datasets.unknown_cifar", names=unknown[:5]))
    return np.array([lookup[c] for c in classes])


def cifar100_archive_superclasses(root) -> dict[str, list[str]]:
    """Superclass → sorted class names, read from the extracted archive's own coarse labels (Lab 3, full mode)."""
    import pickle

    base = Path(root) / "cifar-100-python"
    with open(base / "meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    with open(base / "train", "rb") as f:
        train = pickle.load(f, encoding="latin1")
    groups: dict[str, set[str]] = {name: set() for name in meta["coarse_label_names"]}
    for fine, coarse in zip(train["fine_labels"], train["coarse_labels"]):
        groups[meta["coarse_label_names"][coarse]].add(meta["fine_label_names"][fine])
    return {name: sorted(members) for name, members in groups.items()}


def stratified_indices(targets: Sequence[int], n: int, seed: int = 42) -> list[int]:
    """``n`` indices with the class balance of ``targets`` (Lab 3's CPU subset), always the same for a seed."""
    from sklearn.model_selection import train_test_split

    targets = list(targets)
    if n >= len(targets):
        return list(range(len(targets)))
    chosen, _ = train_test_split(list(range(len(targets))), train_size=n, stratify=targets, random_state=seed)
    return sorted(chosen)


def cifar100(train: bool, transform=None):
    """CIFAR-100 train or test set as ``torchvision.datasets.CIFAR100`` (Lab 3).

    The archive comes through the registry (progress bar, MD5 check) into ``data/cifar100``;
    torchvision then verifies and extracts it. In smoke mode a synthetic stand-in with the same
    100 class names, ``.classes``, ``.targets`` and ``.data`` is returned instead, and says so.
    """
    from torchvision import datasets as tv_datasets

    from .fetch import download
    from .runtime import is_smoke, smoke_notice
    from .standins import SyntheticCIFAR100

    if is_smoke():
        smoke_notice(t("datasets.cifar_standin"), once_key="cifar100")
        return SyntheticCIFAR100(train=train, transform=transform)
    archive = download("cifar100")  # data/cifar100/cifar-100-python.tar.gz, MD5-checked
    # torchvision finds the verified archive in its root, checks it again and extracts it once.
    return tv_datasets.CIFAR100(root=str(archive.parent), train=train, download=True, transform=transform)


# ---------------------------------------------------------------------------------------------
# Lab 4: five Stanford Dogs breeds

DOG_BREEDS = {  # folder in images.tar -> class name used in data/processed
    "n02088364-beagle": "beagle",
    "n02108089-boxer": "boxer",
    "n02106662-German_shepherd": "german_shepherd",
    "n02099601-golden_retriever": "golden_retriever",
    "n02113799-standard_poodle": "poodle",
}
MIN_IMAGE_SIDE = 64


@dataclass
class DogsPreparation:
    """What :func:`prepare_dogs` did: split counts, skipped files (with reasons), folders."""

    processed: Path
    counts: dict[str, dict[str, int]]
    skipped: list[tuple[str, str]]
    total: int

    def report(self) -> str:
        lines = [t("datasets.dogs_report", total=self.total, breeds=len(DOG_BREEDS), processed=self.processed)]
        for split, per_class in self.counts.items():
            lines.append(f"  {split:5s} {sum(per_class.values()):4d}: " + ", ".join(f"{k} {v}" for k, v in per_class.items()))
        if self.skipped:
            lines.append(t("datasets.dogs_skipped", n=len(self.skipped)))
            lines += [f"  {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def _too_small(path: str, min_side: int) -> str | None:
    from PIL import Image

    with Image.open(path) as img:
        if min(img.size) < min_side:
            return t("datasets.too_small", width=img.size[0], height=img.size[1], side=min_side)
    return None


def prepare_dogs(raw_images, processed, *, seed: int = 42, min_side: int = MIN_IMAGE_SIDE) -> DogsPreparation:
    """Copy the five breeds from ``raw_images/<wnid-breed>/`` into ``processed/{train,val,test}/<breed>/`` (Lab 4).

    Unreadable images (fully decoded) and images smaller than ``min_side`` on either side are
    skipped and listed. The split is stratified 70/15/15 with ``seed`` (scikit-learn, in two
    steps: 70/30, then the 30 halved). Files are copied, never moved: the raw data stays as it is.
    An existing ``processed`` folder is reused when it holds the same split, else it is an error.
    """
    import json
    import shutil

    raw_images, processed = Path(raw_images), Path(processed)
    scan = scan_image_folder(raw_images, list(DOG_BREEDS), decode=True)
    skipped = list(scan.skipped)
    samples = []
    for path, label in scan.samples:
        reason = _too_small(path, min_side)
        if reason:
            skipped.append((path, reason))
        else:
            samples.append((path, label))
    train, rest = stratified_split(samples, test_size=0.30, seed=seed)
    val, test = stratified_split(rest, test_size=0.50, seed=seed)
    names = list(DOG_BREEDS.values())
    plan = {split: sorted([Path(p).name, names[label]] for p, label in part)
            for split, part in (("train", train), ("val", val), ("test", test))}  # lists: JSON round-trips them
    manifest = processed / "split.json"
    if processed.exists():
        if manifest.is_file() and json.loads(manifest.read_text()) == plan:
            return DogsPreparation(processed, _split_counts(plan, names), skipped, len(samples))
        raise FileExistsError(t("datasets.dogs_exists", processed=processed))
    partial = processed.with_name(processed.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)  # our own leftover from an interrupted run
    for split, part in (("train", train), ("val", val), ("test", test)):
        for path, label in part:
            target = partial / split / names[label]
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / Path(path).name)
    (partial / "split.json").write_text(json.dumps(plan, indent=1))
    partial.rename(processed)
    return DogsPreparation(processed, _split_counts(plan, names), skipped, len(samples))


def _split_counts(plan, names) -> dict[str, dict[str, int]]:
    return {split: {name: sum(1 for _, n in items if n == name) for name in names} for split, items in plan.items()}


def dogs_raw_images(*, progress: bool = True) -> Path:
    """``Images/`` folder holding the five breeds, extracted from Stanford Dogs ``images.tar`` (Lab 4).

    Full mode: the registry downloads images.tar (~794 MB, SHA-256 checked) and only the five
    breeds are extracted (safely) into ``data/stanford_dogs/raw``. Smoke mode: a small synthetic
    ``images.tar`` with the same layout (plus a sixth breed, one unreadable and one too-small
    image) goes through the same extraction, and says so.
    """
    from .archives import extract_tar
    from .fetch import download
    from .runtime import data_root, is_smoke, smoke_notice

    smoke = is_smoke()
    base = data_root() / "smoke" / "stanford_dogs" if smoke else data_root() / "stanford_dogs"
    raw = base / "raw"
    if smoke:
        smoke_notice(t("datasets.dogs_standin", base=base), once_key="dogs")
    if (raw / "Images").is_dir():  # already extracted: no need to touch (or re-hash) the archive
        return raw / "Images"
    archive = _standin_dogs_tar(base) if smoke else download("stanford_dogs", progress=progress)
    print(t("datasets.extracting_dogs", n=len(DOG_BREEDS), archive=archive))
    extract_tar(archive, raw, keep=lambda name: name.split("/")[:2][-1] in DOG_BREEDS and name.count("/") >= 2)
    return raw / "Images"


def _standin_dogs_tar(base: Path) -> Path:
    import tarfile

    from PIL import Image

    from .standins import make_image_folder

    archive = base / "images.tar"
    if archive.exists():
        return archive
    tree = base / "standin_tree"
    counts = {folder: 12 for folder in DOG_BREEDS}
    counts["n02085620-Chihuahua"] = 4  # a breed the lab must not extract
    make_image_folder(tree / "Images", counts, size_range=(72, 128), seed=4)
    beagles = tree / "Images" / "n02088364-beagle"
    (beagles / "n02088364_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a complete JPEG")
    Image.new("RGB", (40, 48), (120, 90, 60)).save(beagles / "n02088364_tiny.jpg")
    base.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".tmp")
    with tarfile.open(tmp, "w") as tf:
        tf.add(tree / "Images", arcname="Images")
    tmp.rename(archive)
    return archive
