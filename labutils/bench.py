"""Benchmarks for the shared training path: ``python -m labutils.bench [--quick] [--notebooks]``.

Prints, for the CPU always and for CUDA when present:

1. ``fit`` loop overhead: images/s of labutils' training pass (the one ``fit`` runs) against a
   minimal hand-written PyTorch loop, same model, data and batch size (target ratio >= 0.97);
2. the frozen-backbone feature cache: 10 epochs of head training on cached features against
   running the frozen backbone every epoch, and the largest difference between the two heads
   (target: >= 10x faster, same head);
3. CUDA only: mixed precision + channels_last against float32, ResNet-50 at 224 px (target >= 2x);
4. image loading: decoded-and-resized images cached in memory against decoding JPEGs each time;
5. with ``--notebooks``: the nbval time of each solution notebook in smoke mode (target: all four
   within 180 s on a 2-core CPU);
6. the time of Lab 2's Grad-CAM self-check (task 2.8), first call and rerun (target: each <= 5 s);
   ``--only checks`` measures only this.

These are measurements, not tests: nothing here fails when a target is missed; it says so.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _timed(fn, device) -> float:
    """Seconds for one call of ``fn``, waiting for the GPU when ``device`` is CUDA."""
    import torch

    from .training import time_steps

    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else None
    return time_steps(fn, n_steps=1, warmup=0, sync=sync)


def _tensor_loader(n, size, classes, batch, seed=0, shuffle=True):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(seed)
    data = TensorDataset(torch.randn(n, 3, size, size, generator=g), torch.randint(0, classes, (n,), generator=g))
    return DataLoader(data, batch_size=batch, shuffle=shuffle, generator=torch.Generator().manual_seed(seed))


def bench_fit_overhead(device="cpu", *, images=320, size=64, batch=32, reps=5) -> dict:
    """Images/s of ``run_epoch`` (fit's training pass) and of a minimal loop, interleaved ``reps`` times."""
    import torch
    from torch import nn
    from torchvision.models import resnet18

    from .training import fast_path, run_epoch

    torch.manual_seed(0)
    model = resnet18(num_classes=10).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    loader = _tensor_loader(images, size, 10, batch)
    cfg = fast_path(device)
    scaler = torch.amp.GradScaler("cuda") if cfg["grad_scaler"] else None
    if cfg["channels_last"]:
        model.to(memory_format=torch.channels_last)

    def minimal():  # what a student writes, with the same device settings as fit
        model.train()
        for x, y in loader:
            x = x.to(device, non_blocking=True, memory_format=torch.channels_last if cfg["channels_last"] else torch.contiguous_format)
            y = y.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=cfg["device"].type, dtype=cfg["dtype"], enabled=cfg["amp"]):
                loss = criterion(model(x), y)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()

    def labutils_pass():
        run_epoch(model, loader, criterion, device, optimizer, progress=False, scaler=scaler)

    minimal()
    labutils_pass()  # warm-up
    t_min, t_lab = [], []
    for _ in range(reps):
        t_min.append(_timed(minimal, device))
        t_lab.append(_timed(labutils_pass, device))
    ips_min = images / statistics.median(t_min)
    ips_lab = images / statistics.median(t_lab)
    return {"minimal_ips": ips_min, "labutils_ips": ips_lab, "ratio": ips_lab / ips_min,
            "setting": f"ResNet-18, {images} images {size}px, batch {batch}, median of {reps}"}


def bench_feature_cache(device="cpu", *, images=512, size=64, batch=32, epochs=10) -> dict:
    """10 epochs of a linear head: frozen backbone every epoch vs features extracted once."""
    import copy

    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    from torchvision.models import resnet18

    from .features import extract_features

    torch.manual_seed(0)
    backbone = resnet18()
    backbone.fc = nn.Identity()
    backbone = backbone.to(device).eval()
    for p in backbone.parameters():
        p.requires_grad_(False)
    head0 = nn.Linear(512, 10).to(device)
    loader = _tensor_loader(images, size, 10, batch)
    criterion = nn.CrossEntropyLoss()

    def train(head, batches):
        opt = torch.optim.SGD(head.parameters(), lr=0.05, momentum=0.9)
        for _ in range(epochs):
            for feats, y in batches():
                loss = criterion(head(feats), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return head

    def direct_batches():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            with torch.no_grad():
                feats = backbone(x)
            yield feats, y

    state = {}

    def direct():
        loader.generator.manual_seed(1)
        state["direct"] = train(copy.deepcopy(head0), direct_batches)

    def cached():
        feats, labels = extract_features(backbone, _tensor_loader(images, size, 10, batch, shuffle=False),
                                         device, progress=False)
        state["extract_s"] = time.perf_counter()
        cache = DataLoader(TensorDataset(feats.to(device), labels.to(device)), batch_size=batch, shuffle=True,
                           generator=torch.Generator().manual_seed(1))
        state["cached"] = train(copy.deepcopy(head0), lambda: iter(cache))

    t_direct = _timed(direct, device)
    start = time.perf_counter()
    t_cached = _timed(cached, device)
    t_extract = state["extract_s"] - start
    diff = max(float((a - b).abs().max()) for a, b in zip(state["direct"].state_dict().values(),
                                                          state["cached"].state_dict().values()))
    per_epoch_direct = t_direct / epochs
    per_epoch_cached = (t_cached - t_extract) / epochs
    return {"direct_s": t_direct, "cached_s": t_cached, "extract_s": t_extract, "speedup": t_direct / t_cached,
            "epoch_speedup": per_epoch_direct / per_epoch_cached, "head_max_diff": diff,
            "setting": f"frozen ResNet-18, {images} images {size}px, {epochs} epochs"}


def bench_mixed_precision(device="cuda", *, batch=64, size=224, steps=10) -> dict:
    """ResNet-50 training images/s: float32 vs labutils' CUDA fast path (AMP + channels_last)."""
    import torch
    from torch import nn
    from torchvision.models import resnet50

    from .training import fast_path, run_epoch

    results = {}
    for name, amp, cl in (("fp32", False, False), ("fast", "auto", "auto")):
        torch.manual_seed(0)
        model = resnet50(num_classes=100).to(device)
        cfg = fast_path(device, amp, cl)
        if cfg["channels_last"]:
            model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        scaler = torch.amp.GradScaler("cuda") if cfg["grad_scaler"] else None
        loader = _tensor_loader(batch * steps, size, 100, batch)
        run_epoch(model, _tensor_loader(batch * 2, size, 100, batch), nn.CrossEntropyLoss(), device, opt,
                  progress=False, amp=amp, channels_last=cl, scaler=scaler)  # warm-up (cuDNN autotuning)
        seconds = _timed(lambda: run_epoch(model, loader, nn.CrossEntropyLoss(), device, opt, progress=False,
                                           amp=amp, channels_last=cl, scaler=scaler), device)
        results[name] = batch * steps / seconds
        results[f"{name}_dtype"] = str(cfg["dtype"]).replace("torch.", "") if cfg["amp"] else "float32"
    results["ratio"] = results["fast"] / results["fp32"]
    results["setting"] = f"ResNet-50, {size}px, batch {batch}, {steps} steps, {results['fast_dtype']}"
    return results


def _train_step_ips(model, cfg, batch: int, size: int, steps: int) -> float:
    """Images/s of ``steps`` training steps (SGD, cross-entropy) of ``model`` under the settings ``cfg``."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with cfg.autocast():
            loss = nn.functional.cross_entropy(model(cfg.inputs(x)), y.to(cfg["device"]))
        loss.backward()
        optimizer.step()

    from .training import time_steps

    return batch / time_steps(step, n_steps=steps, warmup=1)


def bench_cpu_fast_path(*, arch: str = "resnet50", size: int = 160, batch: int = 16, steps: int = 3,
                        rounds: int = 2) -> dict:
    """CPU training images/s of ``arch`` in float32 (contiguous) and with the fast path (channels_last,
    plus bfloat16 autocast where the CPU supports it), one step at a time, the rounds interleaved."""
    from torchvision.models import get_model

    from .fastpath import fast_path

    plain_cfg, fast_cfg = fast_path("cpu", amp=False, channels_last=False), fast_path("cpu")
    runs: dict[str, list[float]] = {"fp32": [], "fast": []}
    models = {}
    for name, cfg in (("fp32", plain_cfg), ("fast", fast_cfg)):
        import torch

        torch.manual_seed(0)
        models[name] = cfg.prepare(get_model(arch, weights=None, num_classes=10))
    for _ in range(rounds):
        for name, cfg in (("fp32", plain_cfg), ("fast", fast_cfg)):
            runs[name].append(_train_step_ips(models[name], cfg, batch, size, steps))
    fp32, fast = max(runs["fp32"]), max(runs["fast"])
    dtype = str(fast_cfg["dtype"]).replace("torch.", "") if fast_cfg["amp"] else "float32"
    return {"fp32_ips": fp32, "fast_ips": fast, "speedup": fast / fp32, "dtype": dtype,
            "channels_last": fast_cfg["channels_last"],
            "setting": f"{arch} training step, {size}px, batch {batch}, best of {rounds} rounds x median of {steps}"}


def bench_fast_path_agreement(*, epochs: int = 8, images: int = 512, size: int = 32, batch: int = 32,
                              seeds: tuple[int, ...] = (0, 1, 2)) -> dict:
    """Train the same small ResNet-18 on the same synthetic data in float32 and with the CPU fast path,
    once per seed; final training loss and validation accuracy of each run (the fast path must not
    change what a lab shows: the two columns should differ no more than the seeds do)."""
    import numpy as np
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    from torchvision.models import resnet18

    from .fastpath import fast_path
    from .standins import class_pattern
    from .training import run_epoch

    classes = 4
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.arange(images) % classes)
    pixels = np.stack([class_pattern(int(k), classes, size, size, rng=rng) for k in labels]).astype(np.float32)
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(labels).long()
    split = int(images * 0.75)
    out = {"fp32": {"final_train_loss": [], "val_accuracy": []}, "fast": {"final_train_loss": [], "val_accuracy": []}}
    for seed in seeds:
        for name, amp, cl in (("fp32", False, False), ("fast", "auto", "auto")):
            torch.manual_seed(seed)
            model = resnet18(num_classes=classes)
            fast_path("cpu", amp, cl).prepare(model)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
            train = DataLoader(TensorDataset(x[:split], y[:split]), batch_size=batch, shuffle=True,
                               generator=torch.Generator().manual_seed(seed))
            val = DataLoader(TensorDataset(x[split:], y[split:]), batch_size=batch)
            for _ in range(epochs):
                loss, _, _, _ = run_epoch(model, train, nn.CrossEntropyLoss(), "cpu", optimizer, progress=False,
                                          amp=amp, channels_last=cl)
            _, acc, _, _ = run_epoch(model, val, nn.CrossEntropyLoss(), "cpu", progress=False, amp=amp,
                                     channels_last=cl)
            out[name]["final_train_loss"].append(round(loss, 4))
            out[name]["val_accuracy"].append(round(acc, 4))
    out["setting"] = (f"ResNet-18 from scratch, {classes} synthetic classes, {split} train / {images - split} val "
                      f"images {size}px, {epochs} epochs, SGD, seeds {list(seeds)}")
    return out


def bench_image_cache(*, images=200, side=320, size=224) -> dict:
    """Images/s reading JPEGs through ImageListDataset, decoding each time vs preloaded in memory."""
    from torchvision import transforms

    from .imagefolder import ImageListDataset, scan_image_folder
    from .standins import make_image_folder

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
    from .runtime import project_root

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


def _verdict(ok: bool) -> str:
    return "target met" if ok else "target NOT met"


def _solution_function(notebook: str, name: str):
    """The function ``name`` as a solution notebook defines it (its code cell, up to the cell's self-check)."""
    import nbformat
    import torch
    import torch.nn.functional as F

    root = Path(__file__).resolve().parent.parent
    nb = nbformat.read(str(root / "solutions" / notebook), as_version=4)
    source = next(c.source for c in nb.cells if c.cell_type == "code" and f"def {name}(" in c.source)
    namespace = {"torch": torch, "F": F}
    exec(compile(source.split("checks.check_")[0], f"{notebook}:{name}", "exec"), namespace)
    return namespace[name]


def bench_checks(*, reruns: int = 3) -> dict:
    """Seconds of Lab 2's Grad-CAM self-check (task 2.8) on the solution's ``grad_cam``, as a student runs it:
    the first call in a process that has already imported what Lab 2 imports (torch, torchvision,
    scikit-learn, pytorch-grad-cam), then the median of ``reruns`` more calls (target: each <= 5 s)."""
    import contextlib
    import io

    import pytorch_grad_cam  # noqa: F401 (imported before timing: a notebook kernel has it from the first run)
    import sklearn.metrics  # noqa: F401

    from . import checks
    from .checks import lab2

    grad_cam = _solution_function("02_chest_xray_finetuning.ipynb", "grad_cam")
    lab2._cached_case_grad_cam.cache_clear()
    times = []
    for _ in range(1 + reruns):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            checks.check_grad_cam(grad_cam)
        times.append(time.perf_counter() - start)
    return {"check_2_8_s": times[0], "check_2_8_rerun_s": statistics.median(times[1:]),
            "setting": f"solution grad_cam, first call then median of {reruns} reruns"}


def _load_average() -> str:
    import os

    try:
        return f"{os.getloadavg()[0]:.1f}"
    except (AttributeError, OSError):  # Windows
        return "n/a"


def print_checks() -> None:
    """Print :func:`bench_checks`' figures with the machine's load (busy cores slow every timing)."""
    import torch

    k = bench_checks()
    print(f"self-check 2.8        first call {k['check_2_8_s']:6.2f} s | rerun {k['check_2_8_rerun_s']:6.2f} s "
          f"(target ≤ 5 s: {_verdict(max(k['check_2_8_s'], k['check_2_8_rerun_s']) <= 5)})   [{k['setting']}; "
          f"{torch.get_num_threads()} threads, load average {_load_average()}]")


def collect_json(*, quick: bool = False, notebooks: bool = False) -> dict:
    """The figures of ``python -m labutils.bench --json``, measured now on this machine's CPU (and GPU)."""
    import platform

    import torch

    from . import budgets
    from .fastpath import cpu_bf16_supported

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
        "cpu_threads": torch.get_num_threads(), "cpu_bf16": cpu_bf16_supported(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "quick": quick,
        "fit_overhead_ratio": round(f["ratio"], 4),
        "feature_cache_speedup_per_epoch": round(c["epoch_speedup"], 2),
        "cpu_fast_path_speedup": round(fp["speedup"], 3),
        "cpu_fast_path": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in fp.items()},
        "fast_path_agreement": agree,
        "cuda_amp_speedup": None if amp is None else round(amp, 3),
        "notebooks_total_s": None,
        "check_2_8_s": round(bench_checks(reruns=1 if quick else 3)["check_2_8_s"], 3),
        "full_mode_cpu_minutes": minutes,
        "full_mode_cpu_phases": phases,
    }
    if notebooks:
        out["notebooks_total_s"] = round(sum(bench_notebooks().values()), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

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
        import contextlib
        import io
        import json

        with contextlib.redirect_stdout(io.StringIO()):  # the fast path's one-line notice
            figures = collect_json(quick=q, notebooks=args.notebooks)
        print(json.dumps(figures, ensure_ascii=False))
        return 0
    devices = []
    if args.device in ("cpu", "all"):
        devices.append("cpu")
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append("cuda")
    import platform
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
    from . import budgets

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


if __name__ == "__main__":
    sys.exit(main())
