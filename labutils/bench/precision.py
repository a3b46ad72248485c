"""Benchmarks of the device fast path: CUDA mixed precision, the CPU fast path, and whether the fast
path changes what a lab shows (``python -m labutils.bench``)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.models import get_model, resnet18, resnet50

from .. import fastpath, training
from ..standins import class_pattern
from ..training import run_epoch, time_steps
from .timing import tensor_loader, timed


def bench_mixed_precision(device="cuda", *, batch=64, size=224, steps=10) -> dict:
    """ResNet-50 training images/s: float32 vs labutils' CUDA fast path (AMP + channels_last)."""
    results = {}
    for name, amp, cl in (("fp32", False, False), ("fast", "auto", "auto")):
        torch.manual_seed(0)
        model = resnet50(num_classes=100).to(device)
        cfg = training.fast_path(device, amp, cl)
        if cfg["channels_last"]:
            model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        scaler = torch.amp.GradScaler("cuda") if cfg["grad_scaler"] else None
        loader = tensor_loader(batch * steps, size, 100, batch)
        run_epoch(model, tensor_loader(batch * 2, size, 100, batch), nn.CrossEntropyLoss(), device, opt,
                  progress=False, amp=amp, channels_last=cl, scaler=scaler)  # warm-up (cuDNN autotuning)
        seconds = timed(lambda: run_epoch(model, loader, nn.CrossEntropyLoss(), device, opt, progress=False,
                                          amp=amp, channels_last=cl, scaler=scaler), device)
        results[name] = batch * steps / seconds
        results[f"{name}_dtype"] = str(cfg["dtype"]).replace("torch.", "") if cfg["amp"] else "float32"
    results["ratio"] = results["fast"] / results["fp32"]
    results["setting"] = f"ResNet-50, {size}px, batch {batch}, {steps} steps, {results['fast_dtype']}"
    return results


def _train_step_ips(model, cfg, batch: int, size: int, steps: int) -> float:
    """Images/s of ``steps`` training steps (SGD, cross-entropy) of ``model`` under the settings ``cfg``."""
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

    return batch / time_steps(step, n_steps=steps, warmup=1)


def bench_cpu_fast_path(*, arch: str = "resnet50", size: int = 160, batch: int = 16, steps: int = 3,
                        rounds: int = 2) -> dict:
    """CPU training images/s of ``arch`` in float32 (contiguous) and with the fast path (channels_last,
    plus bfloat16 autocast where the CPU supports it), one step at a time, the rounds interleaved."""
    plain_cfg, fast_cfg = fastpath.fast_path("cpu", amp=False, channels_last=False), fastpath.fast_path("cpu")
    runs: dict[str, list[float]] = {"fp32": [], "fast": []}
    models = {}
    for name, cfg in (("fp32", plain_cfg), ("fast", fast_cfg)):
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
            fastpath.fast_path("cpu", amp, cl).prepare(model)
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
