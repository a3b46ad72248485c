"""Benchmarks for the shared training path: ``python -m labutils.bench [--quick] [--notebooks]``.

The runner: :func:`main` prints every figure with its target, :func:`collect_json` gathers the ones
``--json`` prints. It calls the benchmarks by the names imported here (tests replace them here).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform

import torch

from .. import budgets, fastpath
from .loading import bench_image_cache, bench_notebooks
from .loops import bench_feature_cache, bench_fit_overhead
from .precision import bench_cpu_fast_path, bench_fast_path_agreement, bench_mixed_precision
from .selfchecks import bench_checks


def _verdict(ok: bool) -> str:
    return "target met" if ok else "target NOT met"


def _load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except (AttributeError, OSError):  # Windows
        return "n/a"


def print_checks() -> None:
    """Print :func:`bench_checks`' figures with the machine's load (busy cores slow every timing)."""
    k = bench_checks()
    first, rerun = k["grad_cam_check_s"], k["grad_cam_check_rerun_s"]
    print(f"self-check grad_cam   first call {first:6.2f} s | rerun {rerun:6.2f} s "
          f"(target ≤ 5 s: {_verdict(max(first, rerun) <= 5)})   [{k['setting']}; "
          f"{torch.get_num_threads()} threads, load average {_load_average()}]")


def collect_json(*, quick: bool = False, notebooks: bool = False) -> dict:
    """The figures of ``python -m labutils.bench --json``, measured now on this machine's CPU (and GPU)."""
    f = bench_fit_overhead("cpu", images=96 if quick else 320, size=32 if quick else 64, reps=2 if quick else 5)
    c = bench_feature_cache("cpu", images=128 if quick else 512, size=32 if quick else 64)
    fp = bench_cpu_fast_path(size=64 if quick else 160, steps=2 if quick else 3, rounds=1 if quick else 2)
    agree = bench_fast_path_agreement(epochs=2 if quick else 8, images=96 if quick else 512,
                                      seeds=(0,) if quick else (0, 1, 2))
    amp = None
    if torch.cuda.is_available():
        amp = bench_mixed_precision("cuda", steps=3 if quick else 10)["ratio"]
    costs: dict = {}
    minutes, phases = {}, {}
    for lab in budgets.PHASES:
        result = budgets.estimate(lab, "cpu", steps=1 if quick else 2, costs=costs)
        minutes[lab] = round(result["minutes"], 2)
        phases[lab] = [{"what": w, "steps": n, "seconds_per_step": round(sec, 4)} for w, n, sec in result["phases"]]
    out = {
        "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(), "cpu_bf16": fastpath.cpu_bf16_supported(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "quick": quick,
        "fit_overhead_ratio": round(f["ratio"], 4),
        "feature_cache_speedup_per_epoch": round(c["epoch_speedup"], 2),
        "cpu_fast_path_speedup": round(fp["speedup"], 3),
        "cpu_fast_path": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in fp.items()},
        "fast_path_agreement": agree,
        "cuda_amp_speedup": None if amp is None else round(amp, 3),
        "notebooks_total_s": None,
        "grad_cam_check_s": round(bench_checks(reruns=1 if quick else 3)["grad_cam_check_s"], 3),
        "full_mode_cpu_minutes": minutes,
        "full_mode_cpu_phases": phases,
    }
    if notebooks:
        out["notebooks_total_s"] = round(sum(bench_notebooks().values()), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m labutils.bench``: print the figures (see the package's docstring); 0 when done."""
    parser = argparse.ArgumentParser(prog="python -m labutils.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run of the benchmark)")
    parser.add_argument("--notebooks", action="store_true", help="also time each solution notebook under nbval")
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the figures instead")
    parser.add_argument("--only", choices=["checks"], help="measure only this part (checks: the self-checks' time)")
    args = parser.parse_args(argv)
    q = args.quick
    if args.only == "checks":
        print_checks()
        return 0
    if args.json:
        with contextlib.redirect_stdout(io.StringIO()):  # the fast path's one-line notice
            figures = collect_json(quick=q, notebooks=args.notebooks)
        print(json.dumps(figures, ensure_ascii=False))
        return 0
    devices = []
    if args.device in ("cpu", "all"):
        devices.append("cpu")
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append("cuda")
    print(f"labutils.bench — torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} CPU threads" + (f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no CUDA device"))
    for device in devices:
        print(f"\n== {device} ==")
        f = bench_fit_overhead(device, images=96 if q else (320 if device == "cpu" else 2048),
                               size=32 if q else (64 if device == "cpu" else 224), reps=2 if q else 5)
        print(f"fit loop overhead     minimal {f['minimal_ips']:8.1f} img/s | labutils {f['labutils_ips']:8.1f} img/s | "
              f"ratio {f['ratio']:.3f} (target ≥ 0.97: {_verdict(f['ratio'] >= 0.97)})   [{f['setting']}]")
        c = bench_feature_cache(device, images=128 if q else 512, size=32 if q else 64)
        print(f"feature cache         backbone each epoch {c['direct_s']:6.2f} s | cached {c['cached_s']:6.2f} s "
              f"(extraction {c['extract_s']:.2f} s) | speedup {c['speedup']:.1f}× incl. extraction, "
              f"{c['epoch_speedup']:.0f}× per epoch | max |Δhead| {c['head_max_diff']:.1e}   [{c['setting']}]")
        print(f"                      target ≥ 10× over 10 epochs: {_verdict(c['speedup'] >= 10)} including the one-time "
              f"extraction (bounded by 10× there: 10 backbone passes vs 1); per epoch: {_verdict(c['epoch_speedup'] >= 10)}")
        if device == "cuda":
            m = bench_mixed_precision(device, steps=3 if q else 10)
            print(f"mixed precision       fp32 {m['fp32']:8.1f} img/s | AMP+channels_last {m['fast']:8.1f} img/s | "
                  f"ratio {m['ratio']:.2f} (target ≥ 2: {_verdict(m['ratio'] >= 2)})   [{m['setting']}]")
        else:
            fp = bench_cpu_fast_path(size=64 if q else 160, steps=2 if q else 3, rounds=1 if q else 2)
            print(f"CPU fast path         float32 {fp['fp32_ips']:6.2f} img/s | {fp['dtype']} + channels_last "
                  f"{fp['fast_ips']:6.2f} img/s | speedup {fp['speedup']:.2f}× (target ≥ 1.6: "
                  f"{_verdict(fp['speedup'] >= 1.6)})   [{fp['setting']}]")
            a = bench_fast_path_agreement(epochs=2 if q else 8, images=96 if q else 512,
                                          seeds=(0,) if q else (0, 1, 2))
            for name in ("fp32", "fast"):
                print(f"same model, {name:4s}     final training loss {a[name]['final_train_loss']} | "
                      f"val accuracy {a[name]['val_accuracy']}   [{a['setting']}]")
    print()
    print_checks()
    i = bench_image_cache(images=40 if q else 200)
    print(f"\nimage cache (CPU)     decode each time {i['decode_ips']:7.1f} img/s | cached {i['cached_ips']:7.1f} img/s | "
          f"ratio {i['ratio']:.1f}× (one-time preload {i['preload_s']:.2f} s)   [{i['setting']}]")
    print("\nfull mode on this CPU (model compute with the fast path: measured step costs × the lab's steps):")
    costs: dict = {}
    for lab in budgets.PHASES:
        e = budgets.estimate(lab, "cpu", steps=1 if q else 2, costs=costs)
        print(f"  lab {lab}: {e['minutes']:6.1f} min (target ≤ 30: {_verdict(e['minutes'] <= 30)})")
        for what, steps, seconds in e["phases"]:
            print(f"           {steps:5d} × {seconds:7.3f} s  {what}")
    if args.notebooks:
        times = bench_notebooks()
        total = sum(times.values())
        print("\nsolution notebooks under nbval, smoke mode:")
        for name, seconds in times.items():
            print(f"  {name:44s} {seconds:6.1f} s")
        print(f"  {'total':44s} {total:6.1f} s (target ≤ 180 s: {_verdict(total <= 180 and not any('FAILED' in n for n in times))})")
    return 0
