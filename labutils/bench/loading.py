"""Benchmarks of reading data and of running the labs: the in-memory image cache, and each solution
notebook under nbval in smoke mode (``python -m labutils.bench [--notebooks]``)."""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from torchvision import transforms

from ..imagefolder import ImageListDataset, scan_image_folder
from ..runtime import project_root
from ..standins import make_image_folder


def bench_image_cache(*, images=200, side=320, size=224) -> dict:
    """Images/s reading JPEGs through ImageListDataset, decoding each time vs preloaded in memory."""
    with tempfile.TemporaryDirectory() as tmp:
        root = make_image_folder(Path(tmp) / "imgs", {"a": images // 2, "b": images - images // 2},
                                 size_range=(side, int(side * 1.3)), seed=1)
        scan = scan_image_folder(root)
        tf = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()])
        plain = ImageListDataset(scan.samples, scan.classes, tf)
        cached = ImageListDataset(scan.samples, scan.classes, tf)
        start = time.perf_counter()
        cached.preload(size, progress=False)
        preload_s = time.perf_counter() - start

        def read(ds):
            start = time.perf_counter()
            for i in range(len(ds)):
                ds[i]
            return len(ds) / (time.perf_counter() - start)

        plain_ips, cached_ips = read(plain), read(cached)
    return {"decode_ips": plain_ips, "cached_ips": cached_ips, "ratio": cached_ips / plain_ips,
            "preload_s": preload_s, "setting": f"{images} JPEGs ~{side}px → {size}px, 1 process"}


def bench_notebooks(root: Path | None = None) -> dict[str, float]:
    """Wall seconds of ``python -m pytest solutions/NN_*.ipynb`` (nbval, smoke mode) per notebook."""
    root = root or project_root()
    times = {}
    for nb in sorted((root / "solutions").glob("*.ipynb")):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "pytest", str(nb.relative_to(root)), "-q", "-p", "no:randomly"],
                                cwd=root, capture_output=True, text=True)
        times[nb.name] = time.perf_counter() - start
        if result.returncode != 0:
            times[nb.name + " (FAILED)"] = times.pop(nb.name)
    return times
