"""Benchmarks of labutils' training pass and of the frozen-backbone feature cache (``python -m labutils.bench``)."""
from __future__ import annotations

import copy
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.models import resnet18

from .. import training
from ..training import run_epoch
from ..features import extract_features
from .timing import tensor_loader, timed


def bench_fit_overhead(device="cpu", *, images=320, size=64, batch=32, reps=5) -> dict:
    """Images/s of ``run_epoch`` (fit's training pass) and of a minimal loop, interleaved ``reps`` times."""
    torch.manual_seed(0)
    model = resnet18(num_classes=10).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    loader = tensor_loader(images, size, 10, batch)
    cfg = training.fast_path(device)
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
        t_min.append(timed(minimal, device))
        t_lab.append(timed(labutils_pass, device))
    ips_min = images / statistics.median(t_min)
    ips_lab = images / statistics.median(t_lab)
    return {"minimal_ips": ips_min, "labutils_ips": ips_lab, "ratio": ips_lab / ips_min,
            "setting": f"ResNet-18, {images} images {size}px, batch {batch}, median of {reps}"}


def bench_feature_cache(device="cpu", *, images=512, size=64, batch=32, epochs=10) -> dict:
    """10 epochs of a linear head: frozen backbone every epoch vs features extracted once."""
    torch.manual_seed(0)
    backbone = resnet18()
    backbone.fc = nn.Identity()
    backbone = backbone.to(device).eval()
    for p in backbone.parameters():
        p.requires_grad_(False)
    head0 = nn.Linear(512, 10).to(device)
    loader = tensor_loader(images, size, 10, batch)
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
        feats, labels = extract_features(backbone, tensor_loader(images, size, 10, batch, shuffle=False),
                                         device, progress=False)
        state["extract_s"] = time.perf_counter()
        cache = DataLoader(TensorDataset(feats.to(device), labels.to(device)), batch_size=batch, shuffle=True,
                           generator=torch.Generator().manual_seed(1))
        state["cached"] = train(copy.deepcopy(head0), lambda: iter(cache))

    t_direct = timed(direct, device)
    start = time.perf_counter()
    t_cached = timed(cached, device)
    t_extract = state["extract_s"] - start
    diff = max(float((a - b).abs().max()) for a, b in zip(state["direct"].state_dict().values(),
                                                          state["cached"].state_dict().values()))
    per_epoch_direct = t_direct / epochs
    per_epoch_cached = (t_cached - t_extract) / epochs
    return {"direct_s": t_direct, "cached_s": t_cached, "extract_s": t_extract, "speedup": t_direct / t_cached,
            "epoch_speedup": per_epoch_direct / per_epoch_cached, "head_max_diff": diff,
            "setting": f"frozen ResNet-18, {images} images {size}px, {epochs} epochs"}
