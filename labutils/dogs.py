"""Lab 4's dataset: five breeds of Stanford Dogs (``images.tar``).

Its breeds, its preparation into ``train/val/test`` (:func:`prepare_dogs`), its locator
(:func:`dogs_raw_images`) and its smoke-mode stand-in archive, all in one place.
"""
from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from . import fetch, hosted
from .archives import extract_tar
from .imagefolder import scan_image_folder, stratified_split
from .messages import t
from .runtime import data_root, derived_candidates, derived_path, file_lock, is_smoke, smoke_notice
from .standins import make_image_folder

DOG_BREEDS = {  # folder in images.tar -> class name used in data/processed
    "n02088364-beagle": "beagle",
    "n02108089-boxer": "boxer",
    "n02106662-German_shepherd": "german_shepherd",
    "n02099601-golden_retriever": "golden_retriever",
    "n02113799-standard_poodle": "poodle",
}
MIN_IMAGE_SIDE = 64
MIN_BREED_IMAGES = 100  # each of the five breeds has 150-200 images in Stanford Dogs


@dataclass
class DogsPreparation:
    """What :func:`prepare_dogs` did: split counts, skipped files (with reasons), folders."""

    processed: Path
    counts: dict[str, dict[str, int]]
    skipped: list[tuple[str, str]]
    total: int

    def report(self) -> str:
        lines = [t("dogs.report", total=self.total, breeds=len(DOG_BREEDS), processed=self.processed)]
        for split, per_class in self.counts.items():
            lines.append(f"  {split:5s} {sum(per_class.values()):4d}: " + ", ".join(f"{k} {v}" for k, v in per_class.items()))
        if self.skipped:
            lines.append(t("dogs.skipped", n=len(self.skipped)))
            lines += [f"  {path}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def _too_small(path: str, min_side: int) -> str | None:
    with Image.open(path) as img:
        if min(img.size) < min_side:
            return t("dogs.too_small", width=img.size[0], height=img.size[1], side=min_side)
    return None


def prepare_dogs(raw_images, processed, *, seed: int = 42, min_side: int = MIN_IMAGE_SIDE) -> DogsPreparation:
    """Copy the five breeds from ``raw_images/<wnid-breed>/`` into ``processed/{train,val,test}/<breed>/`` (Lab 4).

    Unreadable images (fully decoded) and images smaller than ``min_side`` on either side are
    skipped and listed. The split is stratified 70/15/15 with ``seed`` (scikit-learn, in two
    steps: 70/30, then the 30 halved). Files are copied, never moved: the raw data stays as it is.
    An existing ``processed`` folder is reused when it holds the same split, else it is an error.

    Where ``processed``'s folder cannot be written (a shared read-only data folder) the split is
    made in its per-user counterpart (:func:`labutils.runtime.writable_path`); the returned
    ``.processed`` says where. The split is built in a unique temporary folder and renamed into
    place under a file lock, so two students preparing it at once get one complete copy: the
    second waits and reuses the first one's result.
    """
    raw_images, processed = Path(raw_images), Path(processed)
    samples, skipped = _usable_samples(raw_images, min_side)
    train, rest = stratified_split(samples, test_size=0.30, seed=seed)
    val, test = stratified_split(rest, test_size=0.50, seed=seed)
    names = list(DOG_BREEDS.values())
    parts = {"train": train, "val": val, "test": test}
    plan = {split: sorted([Path(p).name, names[label]] for p, label in part)
            for split, part in parts.items()}  # lists: JSON round-trips them

    def done(folder: Path) -> DogsPreparation:
        return DogsPreparation(folder, _split_counts(plan, names), skipped, len(samples))

    if _holds_plan(processed, plan):  # reused as it is, even from a read-only folder
        return done(processed)
    target = derived_path(processed)
    with file_lock(target.parent / f".{target.name}.lock", what=target) as locked:
        if _holds_plan(target, plan):  # finished by another process while we waited
            return done(target)
        if target.exists():
            raise FileExistsError(t("dogs.exists", processed=target))
        _build_split(parts, names, plan, target, clean=locked)
    return done(target)


def _usable_samples(raw_images: Path, min_side: int):
    scan = scan_image_folder(raw_images, list(DOG_BREEDS), decode=True)
    skipped = list(scan.skipped)
    samples = []
    for path, label in scan.samples:
        reason = _too_small(path, min_side)
        if reason:
            skipped.append((path, reason))
        else:
            samples.append((path, label))
    return samples, skipped


def _holds_plan(folder: Path, plan) -> bool:
    manifest = folder / "split.json"
    return manifest.is_file() and json.loads(manifest.read_text()) == plan


def _build_split(parts, names, plan, target: Path, *, clean: bool) -> None:
    """Copy the split into a unique temporary folder next to ``target``, then rename it into place.

    ``clean`` (only while holding the lock) first removes temporary folders of interrupted runs.
    """
    prefix = f".{target.name}.tmp-"
    for stale in target.parent.glob(prefix + "*") if clean else ():  # interrupted runs' leftovers
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=prefix))
    try:
        for split, part in parts.items():
            for path, label in part:
                folder = tmp / split / names[label]
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, folder / Path(path).name)
        (tmp / "split.json").write_text(json.dumps(plan, indent=1))
        try:
            os.rename(tmp, target)
        except OSError:  # without fcntl another process may have renamed its copy first
            if not _holds_plan(target, plan):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _split_counts(plan, names) -> dict[str, dict[str, int]]:
    return {split: {name: sum(1 for _, n in items if n == name) for name in names} for split, items in plan.items()}


def dogs_raw_images(*, progress: bool = True) -> Path:
    """``Images/`` folder holding the five breeds, extracted from Stanford Dogs ``images.tar`` (Lab 4).

    Full mode: the registry downloads images.tar (~794 MB, SHA-256 checked) and only the five
    breeds are extracted (safely) into ``data/stanford_dogs/raw``, unless an extraction is already
    there or Kaggle's copy is attached (:func:`attached_dogs`: linked breed by breed, read where it
    is). Smoke mode: a small synthetic ``images.tar`` with the same layout (plus a sixth breed, one
    unreadable and one too-small image) goes through the same extraction, and says so. An existing extraction is used as it is;
    when the data folder is read-only, extraction (and the stand-in) go to its per-user
    counterpart (:func:`labutils.runtime.writable_path`), under a file lock shared by all users.
    """
    smoke = is_smoke()
    base = data_root() / "smoke" / "stanford_dogs" if smoke else data_root() / "stanford_dogs"
    for candidate in derived_candidates(base):
        if (candidate / "raw" / "Images").is_dir():  # already extracted: no need to touch (or re-hash) the archive
            if smoke:
                smoke_notice(t("dogs.standin", base=candidate), once_key="dogs")
            return candidate / "raw" / "Images"
    attached = None if smoke else attached_dogs()
    if attached is not None:
        return _link_breeds(attached, derived_path(base / "raw") / "Images")
    raw = derived_path(base / "raw")
    if smoke:
        smoke_notice(t("dogs.standin", base=raw.parent), once_key="dogs")
    with file_lock(raw.parent / ".raw.lock", what=raw):
        if not (raw / "Images").is_dir():  # another process may have extracted it while we waited
            archive = _standin_dogs_tar(raw.parent) if smoke else fetch.download("stanford_dogs", progress=progress)
            print(t("dogs.extracting", n=len(DOG_BREEDS), archive=archive))
            extract_tar(archive, raw, keep=lambda name: name.split("/")[:2][-1] in DOG_BREEDS and name.count("/") >= 2)
    return raw / "Images"


def check_dogs_images(images) -> None:
    """Content check of an extracted ``Images/`` folder (Kaggle's ``jessicali9530/stanford-dogs-dataset``): each
    of the five breeds' folders holds at least ``MIN_BREED_IMAGES`` JPEGs named ``<wnid>_<n>.jpg`` as in
    ``images.tar``; raises ``ValueError`` naming the first that does not (Lab 4)."""
    for folder in DOG_BREEDS:
        wnid = folder.split("-")[0]
        found = len(list((Path(images) / folder).glob(f"{wnid}_*.jpg")))
        if found < MIN_BREED_IMAGES:
            raise ValueError(t("dogs.attached_short", folder=Path(images) / folder, n=found, want=MIN_BREED_IMAGES))


def attached_dogs() -> Path | None:
    """Stanford Dogs' ``Images/`` among the attached datasets (Kaggle's ``/kaggle/input``), read where it is,
    when it passes :func:`check_dogs_images`; None when there is none (Lab 4)."""
    return hosted.first_attached("stanford_dogs",
                                 lambda p: p.name == "Images" and all((p / b).is_dir() for b in DOG_BREEDS),
                                 check_dogs_images)


def _link_breeds(source: Path, images: Path) -> Path:
    """``images/`` with a link to each of the five breeds' folders of ``source`` (an attached read-only copy
    holding all 120 breeds), so the lab sees five breeds as after its own extraction; ``source`` itself
    where links cannot be made."""
    try:
        images.mkdir(parents=True, exist_ok=True)
        for folder in DOG_BREEDS:
            if not (images / folder).exists():
                (images / folder).symlink_to(source / folder, target_is_directory=True)
    except OSError:
        return source
    return images


def _standin_dogs_tar(base: Path) -> Path:
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
