"""Lab 4's stand-in for Stanford Dogs ``images.tar``: the five breeds' real counts and image sizes (rehearsal).

The tar holds ``Images/<wnid>-<breed>/<wnid>_<n>.jpg`` like the real one. ``full``: the five
breeds' real counts (beagle 195, boxer 151, German shepherd 152, golden retriever 150, standard
poodle 159; :data:`labutils.budgets.LAB4_IMAGES` splits those 807), RGB JPEGs whose sides are
drawn around the real set's typical 500 x 375 (about 200-1,000 px; the real set's extremes reach
2,500); ``tiny``: 12 per breed. One more breed (Chihuahua, a few images) stands for the 115 the
lab must not extract; the real tar's other breeds are left out to keep the file small.
"""
from __future__ import annotations

import io
import tarfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..dogs import DOG_BREEDS
from ..standins import class_pattern

REAL_COUNTS = {"n02088364-beagle": 195, "n02108089-boxer": 151, "n02106662-German_shepherd": 152,
               "n02099601-golden_retriever": 150, "n02113799-standard_poodle": 159}
OTHER_BREED = "n02085620-Chihuahua"


def counts(scale: str) -> dict[str, int]:
    """Images per breed folder at ``scale``, the breed the lab skips included."""
    if sorted(REAL_COUNTS) != sorted(DOG_BREEDS):
        raise AssertionError("rehearsal breeds differ from labutils.dogs.DOG_BREEDS")
    chosen = dict(REAL_COUNTS) if scale == "full" else dict.fromkeys(REAL_COUNTS, 12)
    chosen[OTHER_BREED] = 6
    return chosen


def render(label: int, seed: int) -> bytes:
    """One RGB stand-in photo as JPEG bytes: a class pattern at a realistic size, plus noise."""
    rng = np.random.default_rng(seed)
    width = int(np.clip(rng.lognormal(np.log(480), 0.3), 200, 1000))
    height = int(np.clip(width * rng.uniform(0.6, 1.2), 160, 1000))
    base = (class_pattern(label, len(REAL_COUNTS) + 1, 64, 64, rng=rng) * 255).astype(np.uint8)
    image = Image.fromarray(base).resize((width, height), Image.BILINEAR)
    noise = rng.integers(-8, 9, size=(height, width, 3), dtype=np.int16)
    pixels = np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _render_row(args):
    return render(*args)


def build(data: Path, scale: str, workers: int = 1) -> Path:
    """Write ``<data>/stanford_dogs/images.tar`` (the registry's file name) and return it (Lab 4)."""
    target = Path(data) / "stanford_dogs" / "images.tar"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = [(folder, i) for folder, n in counts(scale).items() for i in range(1, n + 1)]
    labels = {folder: k for k, folder in enumerate(counts(scale))}
    jobs = [(labels[folder], 1000 * labels[folder] + i) for folder, i in rows]
    tmp = target.with_name(target.name + ".tmp")
    with tarfile.open(tmp, "w") as tf:
        for folder in ["Images", *(f"Images/{f}" for f in labels)]:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            for (folder, i), payload in zip(rows, pool.map(_render_row, jobs, chunksize=8)):
                wnid = folder.split("-")[0]
                info = tarfile.TarInfo(f"Images/{folder}/{wnid}_{i}.jpg")
                info.size, info.mode = len(payload), 0o644
                tf.addfile(info, io.BytesIO(payload))
    tmp.replace(target)
    return target
