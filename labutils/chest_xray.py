"""Lab 2's dataset: Kermany et al.'s chest X-rays (Mendeley ChestXRay2017.zip or the Kaggle copy).

Its locator (:func:`chest_xray_root`), the patient ids in its file names (:func:`chest_xray_patient`)
and its smoke-mode stand-in (:func:`make_chest_xray_folder`), all in one place.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image

from . import fetch, hosted
from .archives import CorruptArchiveError, extract_zip
from .messages import t
from .registry import CHEST_XRAY_CLASSES
from .runtime import data_root, derived_candidates, derived_path, is_smoke, smoke_notice
from .standins import MARKER, _check_target, _params, class_pattern

CHEST_XRAY_ENV = "LABUTILS_CHEST_XRAY"


# Kermany's file names carry the patient. Every scheme below was checked against public listings of
# the set (the Coronahack metadata CSV, which names all of ChestXRay2017's files, and a listing of
# Mendeley version 3's test/ folder; see tests/test_datasets.py):
#   ChestXRay2017.zip (Mendeley v2) and its Kaggle copy
#     person1_bacteria_1.jpeg, person1_virus_6.jpeg      two X-rays of child person1
#     person447_virus_921_1.jpeg                          one file with an extra "_1"
#     IM-0115-0001.jpeg, NORMAL2-IM-1427-0001.jpeg        image 0001 of IM-0115 / NORMAL2-IM-1427
#     IM-0011-0001-0001.jpeg, NORMAL2-IM-1345-0001-0002.jpeg   further views of the same patient
#   Mendeley v3 (CellData/chest_xray)
#     NORMAL-1049278-0001.jpeg, BACTERIA-7257218-0003.jpeg, VIRUS-1352878-0007.jpeg
#     patient number, then image number; the number is the patient whatever the prefix.
_KERMANY_PATIENT = (
    re.compile(r"^(person\d+)_(?:bacteria|virus)_\d+(?:_\d+)?$", re.IGNORECASE),
    re.compile(r"^((?:NORMAL2-)?IM-\d+)-\d+(?:-\d+)?$", re.IGNORECASE),
    re.compile(r"^(?:NORMAL|BACTERIA|VIRUS)-(\d+)-\d+$", re.IGNORECASE),
)
UNNAMED_LISTED = 10  # files without a patient id named one by one in the report; the rest are counted


def chest_xray_patient(path) -> str | None:
    """The patient id in a Kermany chest X-ray file name, or None when the name has no id (Lab 2).

    ``person1_bacteria_1.jpeg`` and ``person1_virus_6.jpeg`` give ``"person1"``;
    ``IM-0115-0001.jpeg`` and its second view ``IM-0115-0001-0002.jpeg`` give ``"IM-0115"``;
    ``NORMAL2-IM-1427-0001.jpeg`` and ``NORMAL2-IM-1427-0001-0002.jpeg`` give ``"NORMAL2-IM-1427"``;
    Mendeley version 3's ``VIRUS-1352878-0002.jpeg`` gives ``"1352878"`` (its ``NORMAL-``,
    ``BACTERIA-`` and ``VIRUS-`` files share one patient number).
    """
    stem = Path(path).stem
    for pattern in _KERMANY_PATIENT:
        match = pattern.match(stem)
        if match:
            return match.group(1)
    return None


def describe_unnamed(unnamed: Sequence[str], limit: int = UNNAMED_LISTED) -> str:
    """The report on files whose names carry no patient id: their count and names, at most ``limit`` (Lab 2)."""
    if not unnamed:
        return t("chest_xray.unnamed_none")
    lines = [t("chest_xray.unnamed_count", n=len(unnamed))]
    lines += [f"  {path}" for path in unnamed[:limit]]
    if len(unnamed) > limit:
        lines.append(t("chest_xray.unnamed_more", n=len(unnamed) - limit))
    return "\n".join(lines)


def chest_xray_patients(samples: Sequence[tuple[str, int]], *, report: bool = True
                        ) -> tuple[list[str], list[str]]:
    """One patient id per sample, plus the files whose names carry none (Lab 2).

    A file without an id becomes a patient of its own (``"file:<name>"``): the safe choice, since
    nothing links it to another image; the second list names those files. With ``report`` (the
    default) their count and names are printed (:func:`describe_unnamed`), so no caller can drop
    them silently; nothing is printed when every file has an id.
    """
    groups, unnamed = [], []
    for path, _ in samples:
        patient = chest_xray_patient(path)
        if patient is None:
            unnamed.append(str(path))
            patient = f"file:{Path(path).name}"
        groups.append(patient)
    if report and unnamed:
        print(describe_unnamed(unnamed), flush=True)
    return groups, unnamed


def _looks_like_chest_xray(root: Path) -> bool:
    return all((root / "train" / c).is_dir() for c in CHEST_XRAY_CLASSES)


def chest_xray_root(path=None) -> Path:
    """The chest X-ray folder holding ``train/`` and ``test/``, each with ``NORMAL/`` and ``PNEUMONIA/`` (Lab 2).

    Looked up in this order: the ``path`` argument; ``$LABUTILS_CHEST_XRAY`` (e.g. the Kaggle copy
    ``.../chest_xray``); in smoke mode a synthetic stand-in (grayscale, varied sizes, imbalanced
    like the real set, several images per patient named as in Kermany's archive); an extraction
    already in ``data/chest_xray/extracted/chest_xray``; Kaggle's copy among the attached datasets
    (:func:`attached_chest_xray`); otherwise ``data/chest_xray/extracted/chest_xray``, extracted from the registry's
    ChestXRay2017.zip, which is downloaded (~1.2 GB) if missing. When the data folder is read-only
    (a shared classroom copy), the extraction and the stand-in go to its per-user counterpart
    (:func:`labutils.runtime.writable_path`).
    """
    given = path or os.environ.get(CHEST_XRAY_ENV)
    if given:
        root = Path(given).expanduser()
        if not _looks_like_chest_xray(root):
            source = t("chest_xray.source_argument") if path else CHEST_XRAY_ENV
            raise FileNotFoundError(t("chest_xray.not_xray", root=root, source=source))
        return root
    if is_smoke():
        root = derived_path(data_root() / "smoke" / "chest_xray")  # per-user when the data folder is read-only
        # Patients, not images: 1-5 X-rays each, Kermany's file names, healthy:sick about 1:3 in train/
        # and 1:2 in test/ like the real set (1,341:3,875 and 234:390). test/ reuses one PNEUMONIA patient number of train/ (person20), so the lab's
        # check for patients present in both folders has something to find.
        layout = {"train": ({"NORMAL": 9, "PNEUMONIA": 20}, {"NORMAL": 1, "PNEUMONIA": 1}, 2),
                  "test": ({"NORMAL": 4, "PNEUMONIA": 9}, {"NORMAL": 101, "PNEUMONIA": 20}, 7)}
        for split, (patients, first_ids, seed) in layout.items():
            make_chest_xray_folder(root / split, patients, first_ids=first_ids, seed=seed)
        smoke_notice(t("chest_xray.standin", root=root), once_key="chest_xray")
        return root
    extracted = data_root() / "chest_xray" / "extracted"
    for found in derived_candidates(extracted):
        if _looks_like_chest_xray(found / "chest_xray"):  # already extracted, possibly read-only
            return found / "chest_xray"
    attached = attached_chest_xray()
    if attached is not None:
        return attached
    archive = fetch.download("chest_xray")
    extracted = derived_path(extracted)  # per-user when the data folder is read-only
    root = extracted / "chest_xray"
    print(t("chest_xray.extracting", archive=archive, dest=extracted))
    try:
        extract_zip(archive, extracted, keep=lambda name: name.startswith("chest_xray/") and not name.endswith("/"))
    except CorruptArchiveError:
        fetch.set_aside_damaged(archive, "chest_xray")  # so that "download it again" really downloads it
        raise
    except FileExistsError:
        if not _looks_like_chest_xray(root):  # else another process (a classmate) has just extracted it
            raise
    return root




MIN_NAMED_SHARE = 0.95  # of a copy's X-rays whose file names carry the patient: else the split cannot work


def check_chest_xray_folder(root) -> None:
    """Content check of an extracted copy (Kaggle's ``paultimothymooney/chest-xray-pneumonia``): ``train/`` and
    ``test/`` each with ``NORMAL/`` and ``PNEUMONIA/`` X-rays, nearly all named by patient as in Kermany's
    archive, so the per-patient split works; raises ``ValueError`` saying what is wrong (Lab 2)."""
    root = Path(root)
    names = []
    for split in ("train", "test"):
        for cls in CHEST_XRAY_CLASSES:
            files = [p.name for p in (root / split / cls).glob("*.jpeg")] if (root / split / cls).is_dir() else []
            if not files:
                raise ValueError(t("registry.no_jpegs", folders=f"{root / split / cls}"))
            names += files
    named = sum(chest_xray_patient(name) is not None for name in names) / len(names)
    if named < MIN_NAMED_SHARE:
        raise ValueError(t("chest_xray.unnamed_count", n=round((1 - named) * len(names))))


def attached_chest_xray() -> Path | None:
    """The chest X-rays among the attached datasets (Kaggle's ``/kaggle/input``): the first ``chest_xray``
    folder that passes :func:`check_chest_xray_folder`, read where it is; None when there is none (Lab 2)."""
    return hosted.first_attached("chest_xray", lambda p: p.name == "chest_xray" and _looks_like_chest_xray(p),
                                 check_chest_xray_folder)


SIGNAL_BOX = (0.25, 0.75, 0.25, 0.75)  # rows from-to, columns from-to (fractions): where the class shows


def _xray_standin(label: int, n_classes: int, h: int, w: int, rng):
    """One stand-in X-ray: the class pattern (:func:`class_pattern`) only inside :data:`SIGNAL_BOX`, the
    same class-independent texture (noisy diagonal stripes of a random phase) everywhere else, so a
    model can only tell the classes apart by the centre and its Grad-CAM should look there."""
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    texture = 0.5 + 0.2 * np.sin(2 * np.pi * 3.0 * (xx + yy) + rng.uniform(0, 2 * np.pi))
    image = np.clip(texture + rng.normal(0.0, 0.08, size=(h, w)), 0.0, 1.0)
    r0, r1, c0, c1 = int(SIGNAL_BOX[0] * h), int(SIGNAL_BOX[1] * h), int(SIGNAL_BOX[2] * w), int(SIGNAL_BOX[3] * w)
    image[r0:r1, c0:c1] = class_pattern(label, n_classes, r1 - r0, c1 - c0, channels=1, rng=rng)[..., 0]
    return image


def make_chest_xray_folder(root, patients: Mapping[str, int], *, images_per_patient: tuple[int, int] = (1, 5),
                           first_ids: Mapping[str, int] | None = None, size_range: tuple[int, int] = (48, 112),
                           seed: int = 0) -> Path:
    """Write a stand-in chest X-ray split ``root/{NORMAL,PNEUMONIA}/`` named like Kermany's files (Lab 2).

    ``patients`` maps the two class folders to a number of patients; each patient gets
    ``images_per_patient`` (min, max) grayscale JPEGs named as in the real archive:
    ``IM-0007-0001.jpeg`` then ``IM-0007-0001-0001.jpeg``, ``IM-0007-0001-0002.jpeg``... (further views, as
    the real set names them) or the same with ``NORMAL2-IM-0008`` for NORMAL, ``person3_bacteria_12.jpeg``
    or ``person3_virus_13.jpeg`` for PNEUMONIA (one patient may have both). Patient numbers start
    at ``first_ids[class]`` (default 1). Images of one patient share a look (stripe phase,
    brightness, size), as X-rays of one child do, so a per-image split really leaks. The class shows
    only inside :data:`SIGNAL_BOX` (the central half of each side), the rest is class-independent. Same settings,
    same bytes; a folder holding anything else is never written into.
    """
    classes = list(patients)
    if classes != ["NORMAL", "PNEUMONIA"]:
        raise ValueError(t("chest_xray.patients", got=classes))
    lo, hi = images_per_patient
    if not 1 <= lo <= hi:
        raise ValueError(t("chest_xray.per_patient", got=images_per_patient))
    first_ids = {name: 1 for name in classes} | dict(first_ids or {})
    root = Path(root)
    params = _params(patients, "L", size_range, ".jpeg", seed) | {
        "layout": "kermany-views", "signal_box": list(SIGNAL_BOX), "images_per_patient": list(images_per_patient),
        "first_ids": first_ids}
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
            base = _xray_standin(label, len(classes), h, w, rng)
            base = base + rng.uniform(-0.12, 0.12)  # the patient's own brightness
            viral_share = rng.uniform(0, 1)
            for j in range(int(rng.integers(lo, hi + 1))):
                img_rng = np.random.default_rng([seed, label, number, j])
                pixels = np.clip(base + img_rng.normal(0.0, 0.05, size=base.shape), 0.0, 1.0)
                if name == "NORMAL":  # IM-0007-0001.jpeg, then further views IM-0007-0001-0001.jpeg, ...
                    prefix = "NORMAL2-IM" if k % 2 else "IM"
                    view = f"-{j:04d}" if j else ""
                    filename = f"{prefix}-{number:04d}-0001{view}.jpeg"
                else:
                    counter += 1
                    kind = "virus" if img_rng.uniform(0, 1) < viral_share else "bacteria"
                    filename = f"person{number}_{kind}_{counter}.jpeg"
                Image.fromarray((pixels * 255).round().astype(np.uint8)).save(folder / filename)
    (root / MARKER).write_text(json.dumps(params, indent=1))
    return root
