"""Training-time utilities: timing steps to estimate an epoch (Lab 3 onward) and Lab 4's training loop."""
from __future__ import annotations

import copy
import json
import math
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm
from tqdm.auto import tqdm

from .atomic import replacing, write_atomic
from .fastpath import fast_path
from .messages import t


def time_steps(step: Callable[[], object], n_steps: int = 3, warmup: int = 1, sync: Callable[[], None] | None = None):
    """Median wall time of ``step()`` in seconds over ``n_steps`` calls after ``warmup`` untimed calls (Lab 3).

    ``sync`` (e.g. ``torch.cuda.synchronize``) is called before each clock reading, so GPU work is
    counted when it finishes rather than when it is queued.
    """
    if n_steps < 1:
        raise ValueError(t("training.n_steps", n=n_steps))
    for _ in range(warmup):
        step()
    times = []
    for _ in range(n_steps):
        if sync:
            sync()
        start = time.perf_counter()
        step()
        if sync:
            sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def format_duration(seconds: float) -> str:
    """A duration as students read it, in the current language (Labs 3-4).

    Russian (default): ``'2 ч 05 мин'``, ``'3 мин 20 с'``, ``'12.5 с'``, ``'0.4 с'``, ``'40 мс'``;
    English (``LABUTILS_LANG=en``): ``'2 h 05 min'``, ``'3 min 20 s'``, ``'12.5 s'``, ``'0.4 s'``,
    ``'40 ms'``. From an hour up: hours and minutes (``'250 ч 00 мин'`` for large values); from a
    minute: minutes and seconds; below a minute: seconds with one decimal (a dot); below 0.1 s:
    milliseconds, three significant digits. Negative values get a minus sign; NaN and infinity
    are printed as they are.
    """
    seconds = float(seconds)
    if not math.isfinite(seconds):
        return t("training.seconds", seconds=seconds)
    if seconds < 0:
        return "-" + format_duration(-seconds)
    whole = round(seconds)
    if whole >= 3600:
        hours, rest = divmod(whole, 3600)
        return t("training.hours", hours=hours, minutes=rest // 60)
    if round(seconds, 1) >= 60:
        minutes, rest = divmod(whole, 60)
        return t("training.minutes", minutes=minutes, seconds=rest)
    if seconds == 0 or round(seconds, 1) >= 0.1:
        return t("training.seconds", seconds=seconds)
    return t("training.milliseconds", ms=seconds * 1000)


# ---------------------------------------------------------------------------------------------
# Lab 4: the reusable loop. Students wrote train/evaluate loops themselves in Labs 2 and 3.

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
RESULTS = "results.json"


def _atomic_save(obj, path) -> None:
    with replacing(path) as tmp:
        torch.save(obj, tmp)


def _reseed_epoch(loader, seed: int, epoch: int) -> None:
    """Make epoch ``epoch`` draw the same shuffling, augmentation and dropout whether or not the run resumed."""
    torch.manual_seed(seed + epoch)
    generator = getattr(getattr(loader, "sampler", None), "generator", None)
    if generator is not None:
        generator.manual_seed(seed + epoch)


FROZEN_BN_MODES = ("eval", "train")


def _check_frozen_bn(frozen_bn) -> None:
    if frozen_bn not in FROZEN_BN_MODES:
        raise ValueError(t("training.frozen_bn", got=frozen_bn))


def frozen_batchnorms(model) -> list[str]:
    """Names of the BatchNorm modules of ``model`` that count as frozen (Lab 4 via :func:`fit`; taught in Lab 2).

    A BatchNorm (any ``torch.nn.modules.batchnorm._BatchNorm``: BatchNorm1d/2d/3d, SyncBatchNorm,
    the lazy variants) with parameters is frozen when none of them requires grad. An affine-less
    BatchNorm (``affine=False``) has no parameters of its own, so it follows the innermost module
    that encloses it and has parameters (e.g. the block holding the convolution it normalises):
    frozen when all of that module's parameters are frozen. If no enclosing module has parameters
    it is not frozen: nothing says the user meant to freeze it, so PyTorch's behaviour is kept.
    """
    modules = dict(model.named_modules())

    def all_frozen(module):
        params = list(module.parameters())
        return bool(params) and not any(p.requires_grad for p in params)

    names = []
    for name, module in modules.items():
        if not isinstance(module, _BatchNorm):
            continue
        if list(module.parameters(recurse=False)):
            frozen = all_frozen(module)
        else:  # affine=False: look for the innermost enclosing module with parameters
            frozen = False
            parts = name.split(".") if name else []
            for depth in range(len(parts) - 1, -1, -1):
                parent = modules[".".join(parts[:depth])]
                if list(parent.parameters()):
                    frozen = all_frozen(parent)
                    break
        if frozen:
            names.append(name)
    return names


def keep_frozen_bn_eval(model) -> int:
    """Put the frozen BatchNorms of ``model`` into eval mode; return how many (Lab 4 via :func:`fit`; taught in Lab 2).

    ``model.train()`` puts *every* BatchNorm into train mode, including those of frozen stages:
    they would normalise with the statistics of each batch and overwrite their running
    mean/variance (from ImageNet pretraining) batch after batch, although their weights never
    change. Call this right after ``model.train()``: the frozen BatchNorms then normalise with the
    running statistics they came with, so the frozen stages compute exactly what they computed
    in the pretrained network, and ``running_mean``, ``running_var`` and ``num_batches_tracked``
    stay unchanged. Which BatchNorms count as frozen: :func:`frozen_batchnorms`. Only modules that
    were in train mode are switched (and counted); trainable BatchNorms are left as they are.
    """
    modules = dict(model.named_modules())
    switched = 0
    for name in frozen_batchnorms(model):
        if modules[name].training:
            modules[name].eval()
            switched += 1
    return switched


def run_epoch(model, loader, criterion, device, optimizer=None, desc: str = "", progress: bool = True,
              *, amp="auto", channels_last="auto", scaler=None, frozen_bn: str = "eval"):
    """One pass over ``loader``: training when ``optimizer`` is given, else evaluation (Lab 4).

    Returns ``(mean_loss, accuracy, y_true, y_pred)``; the label arrays are NumPy. Loss and counts
    accumulate on the device, so the GPU is not synchronised after every batch. See
    :func:`fast_path` for ``amp``/``channels_last``; ``scaler`` is the GradScaler for float16:
    training where the fast path chose float16 (``grad_scaler`` set) without one is refused with a
    ``ValueError``, because float16 gradients underflow without loss scaling (:func:`fit` passes one).

    When training, ``frozen_bn="eval"`` (the default) keeps the BatchNorm layers of frozen parts
    in eval mode after ``model.train()`` (:func:`keep_frozen_bn_eval`); ``frozen_bn="train"``
    keeps PyTorch's default, where they follow ``model.train()``. Evaluation is unaffected.
    """
    _check_frozen_bn(frozen_bn)
    cfg = fast_path(device, amp, channels_last)
    training = optimizer is not None
    if training and cfg["grad_scaler"] and scaler is None:
        # float16 gradients underflow without loss scaling: never train in float16 without a scaler
        raise ValueError(t("training.needs_scaler", device=cfg["device"]))
    cfg.announce()
    dev = cfg["device"]
    model.train(training)
    if training and frozen_bn == "eval":
        keep_frozen_bn_eval(model)
    total = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev, dtype=torch.long)
    seen = 0
    labels_all, preds_all = [], []
    with torch.set_grad_enabled(training):
        for inputs, labels in tqdm(loader, desc=desc, leave=False, disable=not progress):
            inputs = cfg.inputs(inputs)
            labels = labels.to(dev, non_blocking=True)
            if training:
                optimizer.zero_grad(set_to_none=True)
            with cfg.autocast():
                outputs = model(inputs)
                loss = criterion(outputs, labels)
            if training:
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
            preds = outputs.argmax(dim=1)
            total += loss.detach().float() * inputs.size(0)
            correct += (preds == labels).sum()
            seen += inputs.size(0)
            labels_all.append(labels)
            preds_all.append(preds)
    if seen == 0:
        raise ValueError(t("training.no_batches", what=desc or t("training.loader")))
    y_true = torch.cat(labels_all).cpu().numpy()
    y_pred = torch.cat(preds_all).cpu().numpy()
    return total.item() / seen, correct.item() / seen, y_true, y_pred


def fit(model, train_loader, val_loader, *, criterion, optimizer, epochs: int, device, run_dir,
        scheduler=None, patience: int | None = 5, checkpoint_every: int = 5, seed: int = 42,
        resume: bool = True, progress: bool = True, on_epoch_end=None,
        amp="auto", channels_last="auto", frozen_bn: str = "eval") -> dict:
    """Train with early stopping on validation accuracy, keeping the best weights (Lab 4).

    * ``run_dir/best.pt``: the model's state_dict at the best validation accuracy (ties: lower loss);
    * ``run_dir/checkpoint.pt``: everything needed to continue, written atomically every
      ``checkpoint_every`` epochs and when training ends; with ``resume=True`` a rerun continues
      from it and, because every epoch is reseeded from ``seed``, reaches the same result on CPU as
      a run that was never interrupted;
    * ``patience``: stop after that many epochs without improvement (``None``: never stop early).

    The loop runs with :func:`labutils.fastpath.fast_path`'s settings: mixed precision and
    channels_last on CUDA, channels_last and (on CPUs with native bfloat16) bfloat16 autocast on
    the CPU, float32 on MPS; ``LABUTILS_FAST=0`` switches it off.

    ``frozen_bn`` is passed to :func:`run_epoch`: with ``"eval"`` (the default) the BatchNorm
    layers of frozen stages stay in eval mode while the rest trains, so their ImageNet running
    statistics are kept; ``"train"`` is PyTorch's default behaviour. The checkpoint records the
    setting, and resuming a model with frozen BatchNorms under the other setting is refused.

    On return the model holds the best weights. Returns the history (per-epoch train/val loss and
    accuracy, epoch times) with ``best_epoch``, ``best_val_acc``, ``best_val_loss``,
    ``epochs_run``, ``stopped_early``, ``resumed_from``, ``frozen_bn``, ``best_val_true`` and
    ``best_val_pred`` (the validation labels and the predictions of the best epoch, per example in
    the loader's order, for paired comparisons of runs; ``None`` from a checkpoint older than
    them) and ``wall_time_s``: the training time of the whole run in seconds, kept in the
    checkpoint and summed over every session that trained it, so a resumed run counts the epochs
    saved before the interruption too (epochs trained after the last checkpoint are lost with it,
    and counted when they are trained again).
    """
    _check_frozen_bn(frozen_bn)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = {
        "epoch": 0,
        "history": {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": [], "epoch_time_s": []},
        "best": {"epoch": 0, "val_acc": -1.0, "val_loss": float("inf")},
        "best_model": None,
        "bad_epochs": 0,
        "stopped_early": False,
        "frozen_bn": frozen_bn,
        "wall_time_s": 0.0,
    }
    cfg = fast_path(device, amp, channels_last)
    cfg.prepare(model)
    cfg.announce()
    scaler = torch.amp.GradScaler("cuda") if cfg["grad_scaler"] else None
    resumed_from = 0
    ckpt_path = run_dir / CHECKPOINT
    if resume and ckpt_path.exists():
        saved = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        saved_bn = saved["state"].get("frozen_bn", "train")  # checkpoints older than the option trained like "train"
        if saved_bn != frozen_bn and frozen_batchnorms(model):
            raise ValueError(t("training.resume_mismatch", checkpoint=ckpt_path, saved=saved_bn, asked=frozen_bn,
                               run_dir=run_dir))
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None and saved.get("scheduler") is not None:
            scheduler.load_state_dict(saved["scheduler"])
        if scaler is not None and saved.get("scaler") is not None:
            scaler.load_state_dict(saved["scaler"])
        state = saved["state"]
        state["frozen_bn"] = frozen_bn
        # checkpoints older than the field: the epochs' own times are the best record left
        state.setdefault("wall_time_s", float(sum(state["history"]["epoch_time_s"])))
        resumed_from = state["epoch"]
        print(t("training.resuming", run=run_dir.name, epoch=resumed_from))

    def save_checkpoint():
        _atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "scheduler": scheduler.state_dict() if scheduler is not None else None,
                      "scaler": scaler.state_dict() if scaler is not None else None,
                      "state": state}, ckpt_path)

    epochs_bar = tqdm(range(state["epoch"], epochs), desc=run_dir.name, disable=not progress,
                      initial=state["epoch"], total=epochs)
    for epoch in epochs_bar:
        if state["stopped_early"]:
            break
        start = time.perf_counter()
        _reseed_epoch(train_loader, seed, epoch)
        perf = dict(amp=amp, channels_last=channels_last, progress=progress)
        tr_loss, tr_acc, _, _ = run_epoch(model, train_loader, criterion, device, optimizer,
                                          desc=t("training.progress_train"), scaler=scaler, frozen_bn=frozen_bn,
                                          **perf)
        va_loss, va_acc, va_true, va_pred = run_epoch(model, val_loader, criterion, device,
                                                      desc=t("training.progress_val"), **perf)
        if scheduler is not None:
            scheduler.step()
        history = state["history"]
        for key, value in zip(("train_loss", "train_acc", "val_loss", "val_acc"), (tr_loss, tr_acc, va_loss, va_acc)):
            history[key].append(float(value))
        history["epoch_time_s"].append(time.perf_counter() - start)
        best = state["best"]
        if va_acc > best["val_acc"] or (va_acc == best["val_acc"] and va_loss < best["val_loss"]):
            state["best"] = {"epoch": epoch + 1, "val_acc": float(va_acc), "val_loss": float(va_loss),
                             "val_true": va_true.tolist(), "val_pred": va_pred.tolist()}
            state["best_model"] = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            _atomic_save(state["best_model"], run_dir / BEST)
            state["bad_epochs"] = 0
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch + 1
        if patience is not None and state["bad_epochs"] >= patience:
            state["stopped_early"] = True
        epochs_bar.set_postfix(train_loss=f"{tr_loss:.3f}", val_acc=f"{va_acc:.3f}")
        # the whole run's time, summed over sessions: this epoch with its validation and bookkeeping
        state["wall_time_s"] += time.perf_counter() - start
        if state["epoch"] % checkpoint_every == 0 or state["stopped_early"] or state["epoch"] == epochs:
            save_checkpoint()
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, history)
    if state["best_model"] is not None:
        model.load_state_dict(state["best_model"])
    result = dict(state["history"])
    result.update(best_epoch=state["best"]["epoch"], best_val_acc=state["best"]["val_acc"],
                  best_val_loss=state["best"]["val_loss"], epochs_run=state["epoch"],
                  stopped_early=state["stopped_early"], resumed_from=resumed_from, frozen_bn=frozen_bn,
                  wall_time_s=state["wall_time_s"],
                  best_val_true=state["best"].get("val_true"), best_val_pred=state["best"].get("val_pred"))
    return result


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_results(run_dir, record: dict):
    """Write ``run_dir/results.json`` atomically (Lab 4: one file per run); returns its path."""
    path = Path(run_dir) / RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(_jsonable(record), indent=1, ensure_ascii=False))
    return path


def load_results(folder) -> list[dict]:
    """Every ``*/results.json`` under ``folder``, sorted by run name (Lab 4's comparison)."""
    records = []
    for path in sorted(Path(folder).glob(f"*/{RESULTS}")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise ValueError(t("training.bad_json", path=path, error=exc)) from exc
    return records
