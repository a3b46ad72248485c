"""``python -m labutils.rehearse``: build full-size stand-ins, run each lab's full mode end to end, report.

::

    python -m labutils.rehearse [--scale tiny|full] [--lab 02 ...] [--out DIR] [--precision auto|fp32]

Steps: build the stand-in archives and weight files that the chosen labs need in ``<out>/data``
(:mod:`.chest`, :mod:`.cifar`, :mod:`.dogs`, :mod:`.weights`; reused when ``<out>`` already holds
the same scale's), then for each lab clear everything the previous run derived (extractions,
splits, runs, the cache), run the solution notebook (:mod:`.run`) and measure the disk it wrote.
Writes ``<out>/report.json``, ``<out>/report.txt`` and ``<out>/executed/<lab>.ipynb``; exits 1
when a lab failed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .. import course
from ..messages import t
from ..runtime import project_root
from . import chest, cifar, dogs, kernel, report, weights
from .monitor import folder_bytes, now
from .run import MIB, kernel_env, run_notebook

DATASETS = {"02": "chest", "03": "cifar", "04": "dogs"}
STANDINS = "standins.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def layout(scale: str) -> dict:
    """The stand-ins' counts at ``scale``: stand-ins built with other counts are not reused."""
    return {"chest": chest.COUNTS[scale], "cifar": cifar.PER_CLASS[scale], "dogs": dogs.counts(scale)}


def build_standins(data: Path, scale: str, labs: list[str], workers: int) -> dict:
    """Write the stand-ins ``labs`` need under ``data``; return the manifest (path -> SHA-256) and more."""
    start = now()
    files, cifar_md5 = [], {}
    for lab in labs:
        kind = DATASETS.get(lab)
        if kind == "chest":
            files.append(chest.build(data, scale, workers))
        elif kind == "cifar":
            path, cifar_md5 = cifar.build(data, scale)
            files.append(path)
        elif kind == "dogs":
            files.append(dogs.build(data, scale, workers))
    files += weights.build(data, [int(lab) for lab in labs])
    manifest = {str(p.resolve()): _sha256(p) for p in files}
    return {"scale": scale, "labs": sorted(labs), "layout": layout(scale), "manifest": manifest, "cifar_md5": cifar_md5,
            "build_s": round(now() - start, 1), "bytes": sum(p.stat().st_size for p in files)}


def _reusable(out: Path, scale: str, labs: list[str]) -> dict | None:
    path = out / STANDINS
    if not path.is_file():
        return None
    built = json.loads(path.read_text(encoding="utf-8"))
    if built["scale"] != scale or built.get("layout") != layout(scale) or not set(labs) <= set(built["labs"]):
        return None
    if any(not Path(p).is_file() or _sha256(Path(p)) != h for p, h in built["manifest"].items()):
        return None
    return built


def reset_derived(data: Path, cache: Path, manifest: dict) -> None:
    """Remove everything under ``data`` that is not a stand-in file, and the whole ``cache``: each lab
    starts as a student's first run does, with only the downloads in place."""
    keep = {Path(p) for p in manifest}
    for path in sorted(data.rglob("*"), key=lambda p: -len(p.parts)):
        resolved = path.resolve()
        if resolved in keep or any(k.is_relative_to(resolved) for k in keep):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)


def _notebook(lab: str) -> Path:
    return project_root() / "solutions" / f"{course.lab(lab).stem}.ipynb"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m labutils.rehearse", description=t("rehearse.cli_description"))
    parser.add_argument("--scale", choices=("tiny", "full"), default="tiny", help=t("rehearse.cli_scale"))
    parser.add_argument("--lab", action="append", choices=[one.id for one in course.LABS], help=t("rehearse.cli_lab"))
    parser.add_argument("--out", type=Path, default=None, help=t("rehearse.cli_out"))
    parser.add_argument("--precision", choices=("auto", "fp32"), default="auto", help=t("rehearse.cli_precision"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help=t("rehearse.cli_workers"))
    parser.add_argument("--cell-timeout", type=int, default=3600, help=t("rehearse.cli_timeout"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    labs = sorted(set(args.lab or [one.id for one in course.LABS]))
    out = (args.out or Path(tempfile.mkdtemp(prefix="labutils-rehearse-"))).resolve()
    data, cache = out / "data", out / "cache"
    if data.is_dir() and any(data.iterdir()) and not (out / STANDINS).is_file():
        print(t("rehearse.not_ours", data=data), file=sys.stderr)
        return 2
    data.mkdir(parents=True, exist_ok=True)
    built = _reusable(out, args.scale, labs)
    if built is None:
        print(t("rehearse.building", scale=args.scale, data=data), flush=True)
        built = build_standins(data, args.scale, labs, args.workers)
        (out / STANDINS).write_text(json.dumps(built, indent=1), encoding="utf-8")
    print(t("rehearse.built", n=len(built["manifest"]), mb=built["bytes"] / 1e6, s=built["build_s"]), flush=True)
    setup = kernel.setup_source(built["manifest"], built["cifar_md5"], fp32=args.precision == "fp32",
                                tiny=args.scale == "tiny")
    result = {"scale": args.scale, "precision": args.precision, "machine": report.machine(),
              "load_average_start": report.load_average(), "standins": {k: built[k] for k in ("build_s", "bytes")},
              "phase_rule": "labutils/rehearse/phases.py", "labs": {}}
    for lab in labs:
        reset_derived(data, cache, built["manifest"])
        before = folder_bytes(data, cache)
        print(t("rehearse.running", lab=lab, notebook=_notebook(lab).name), flush=True)
        record = run_notebook(_notebook(lab), setup, kernel_env(data, cache), out / "executed" / f"{lab}.ipynb",
                              cell_timeout=args.cell_timeout)
        record["disk_written_mib"] = round((folder_bytes(data, cache) - before) / MIB, 1)
        result["labs"][lab] = record
        report.write_json(result, out / "report.json")  # partial results survive a later failure
    result["load_average_end"] = report.load_average()
    report.write_json(result, out / "report.json")
    text = report.table(result)
    (out / "report.txt").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(t("rehearse.written", path=out / "report.json"))
    failed = [lab for lab, rec in result["labs"].items() if rec["status"] != "ok"]
    for lab in failed:
        print(t("rehearse.lab_failed", lab=lab, cell=result["labs"][lab].get("failed_cell"),
                error=result["labs"][lab]["error"][-1500:]), file=sys.stderr)
    return 1 if failed else 0
