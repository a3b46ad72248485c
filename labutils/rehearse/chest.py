"""Lab 2's stand-in for ChestXRay2017.zip: Kermany's layout, file names, image modes and sizes (rehearsal).

The archive holds ``chest_xray/{train,test}/{NORMAL,PNEUMONIA}/*.jpeg`` like the one Mendeley
publishes. At ``full`` scale the counts are the real ones (train 1,349 NORMAL + 3,883 PNEUMONIA,
test 234 + 390) and the images are 1,000-2,900 px on the long side, mostly grayscale, with a few
RGB and CMYK JPEGs as in the real set; their pixels carry a class pattern plus film-grain noise, so
the files compress to roughly the real archive's 200 KB per image (1.2 GB / 5,856).
"""
from __future__ import annotations

import io
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..standins import class_pattern

# images per split and class; "full" is Mendeley's ChestXRay2017.zip: 5,232 train + 624 test (the Kaggle
# copy moved 8 + 8 of train/ into a val/ folder, leaving 1,341 + 3,875)
COUNTS = {
    "full": {"train": {"NORMAL": 1349, "PNEUMONIA": 3883}, "test": {"NORMAL": 234, "PNEUMONIA": 390}},
    "tiny": {"train": {"NORMAL": 14, "PNEUMONIA": 26}, "test": {"NORMAL": 6, "PNEUMONIA": 8}},
}
LONG_SIDE = {"full": (1000, 2900), "tiny": (1000, 1400)}
RGB_EVERY, CMYK_EVERY = 97, 601  # a few colour JPEGs among the grayscale ones, as in the real set
TEST_FIRST_ID = 5000  # test patients get numbers of their own, except one shared with train (see plan)


def plan(scale: str) -> list[tuple[str, str, str, int]]:
    """``(split, class, file name, seed)`` for every image of the stand-in, Kermany's naming (Lab 2).

    NORMAL: ``IM-0001-0001.jpeg`` or ``NORMAL2-IM-0002-0001.jpeg``, a second view
    ``...-0001-0001.jpeg``; PNEUMONIA: ``person3_bacteria_12.jpeg`` / ``person3_virus_13.jpeg``,
    one to four X-rays per child. The first PNEUMONIA patient of ``test/`` also appears in ``train/``
    (the lab looks for patients present in both).
    """
    rows, seed = [], 0
    for split, classes in COUNTS[scale].items():
        first = 1 if split == "train" else TEST_FIRST_ID
        counter = 0
        for name, count in classes.items():
            rng = np.random.default_rng([len(split), len(name), count])
            number, made = first, 0
            while made < count:
                views = min(count - made, int(rng.integers(1, 3 if name == "NORMAL" else 5)))
                patient = 1 if (split == "test" and name == "PNEUMONIA" and number == first) else number
                for j in range(views):
                    if name == "NORMAL":
                        prefix = "NORMAL2-IM" if number % 2 else "IM"
                        view = f"-{j:04d}" if j else ""
                        filename = f"{prefix}-{patient:04d}-0001{view}.jpeg"
                    else:
                        counter += 1
                        kind = "virus" if rng.uniform() < 0.35 else "bacteria"
                        filename = f"person{patient}_{kind}_{counter}.jpeg"
                    rows.append((split, name, filename, seed))
                    seed += 1
                made += views
                number += 1
    return rows


def _mode(seed: int) -> str:
    if seed % CMYK_EVERY == CMYK_EVERY - 1:
        return "CMYK"
    return "RGB" if seed % RGB_EVERY == RGB_EVERY - 1 else "L"


def render(label: int, seed: int, long_side: tuple[int, int]) -> bytes:
    """One stand-in X-ray as JPEG bytes: the class pattern upscaled to a real size, plus grain."""
    rng = np.random.default_rng(seed)
    long = int(rng.integers(long_side[0], long_side[1] + 1))
    short = int(long * rng.uniform(0.7, 0.95))
    height, width = (short, long) if rng.uniform() < 0.7 else (long, short)
    base = class_pattern(label, 2, 96, 96, channels=1, rng=rng)[..., 0]
    image = Image.fromarray((base * 255).astype(np.uint8)).resize((width, height), Image.BILINEAR)
    grain = rng.integers(-4, 5, size=(height, width), dtype=np.int16)
    pixels = np.clip(np.asarray(image, dtype=np.int16) + grain, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    mode = _mode(seed)
    if mode != "L":
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=75)
    return buffer.getvalue()


def _render_row(args):
    label, seed, long_side = args
    return render(label, seed, long_side)


def build(data: Path, scale: str, workers: int = 1) -> Path:
    """Write ``<data>/chest_xray/ChestXRay2017.zip`` (the registry's file name) and return it (Lab 2)."""
    target = Path(data) / "chest_xray" / "ChestXRay2017.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = plan(scale)
    jobs = [(0 if name == "NORMAL" else 1, seed, LONG_SIDE[scale]) for _, name, _, seed in rows]
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for folder in ("chest_xray/", "chest_xray/train/", "chest_xray/test/"):
            zf.writestr(folder, b"")
        with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            for (split, name, filename, _), data_bytes in zip(rows, pool.map(_render_row, jobs, chunksize=16)):
                zf.writestr(f"chest_xray/{split}/{name}/{filename}", data_bytes)
    tmp.replace(target)
    return target
