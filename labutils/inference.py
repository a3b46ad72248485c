"""Inference speed and INT8 quantisation, measured (Lab 4, section 6: the guide's claims checked).

The guide calls EfficientNet-B0 "fast at inference" and ONNX Runtime "optimisation for
production". Lab 4 measures both on the CPU with these helpers:

* :func:`torch_runner` and :func:`onnx_runner` turn a PyTorch model or an ONNX file into a
  function of one NumPy batch that returns logits; inside :func:`cpu_threads` both use the same
  number of CPU threads;
* :func:`latency_ms` times such a function on one input: warm-up calls are not timed, and the
  median with the quartiles of the repeats is returned in milliseconds;
* :func:`quantize_int8` writes an INT8 dynamically quantised copy of an ONNX model with
  onnxruntime's quantiser; :func:`predict_onnx` gives its predictions on a loader;
* :func:`same_speed` says whether two timings are a tie (their interquartile ranges overlap), and
  :func:`latency_verdict` says it in a sentence;
* :func:`measure_versions` does all of it for several versions of a model: one row each.
"""
from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .messages import t


@contextlib.contextmanager
def cpu_threads(n: int):
    """Run the block with ``torch.set_num_threads(n)`` and restore the previous count after it (Lab 4).

    :func:`onnx_runner` sessions created inside take the same count, so both runtimes get the same
    cores. On a machine busy with other work, one thread gives the steadiest timings: with more,
    each operator waits for the slowest of its threads.
    """
    if n < 1:
        raise ValueError(f"cpu_threads: need at least one thread, got {n}")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(previous)


def torch_runner(model) -> Callable[[np.ndarray], np.ndarray]:
    """``model`` in eval mode, float32, no gradients, as a function of a NumPy batch (Lab 4).

    It runs on torch's current number of threads (:func:`cpu_threads`).
    """
    model = model.eval()

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(batch)).numpy()

    return run


def onnx_runner(path, threads: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """An onnxruntime CPU session of ``path`` as a function of a NumPy batch (Lab 4).

    ``threads`` is the session's intra-op thread count; ``None`` takes torch's current count, so a
    comparison with :func:`torch_runner` uses the same number of cores.
    """
    import onnxruntime as ort  # optional extra (Lab 4), kept lazy

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads if threads is not None else torch.get_num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {name: batch.astype(np.float32, copy=False)})[0]

    return run


def latency_ms(run: Callable[[np.ndarray], object], example: np.ndarray, *, repeats: int = 30,
               warmup: int = 5) -> dict[str, float]:
    """Wall time of ``run(example)`` in milliseconds: ``warmup`` untimed calls, then ``repeats`` timed ones.

    Returns ``{"median", "q1", "q3", "repeats"}`` (quartiles of the timed calls). Lab 4 passes a
    batch of one image: the latency of answering one request.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"latency_ms: repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    for _ in range(warmup):
        run(example)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(example)
        times.append((time.perf_counter() - start) * 1000)
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3), "repeats": repeats}


def same_speed(a: dict, b: dict) -> bool:
    """True when two :func:`latency_ms` results cannot be told apart: their interquartile ranges overlap."""
    return a["q1"] <= b["q3"] and b["q1"] <= a["q3"]


def file_bytes(path) -> int:
    """Bytes of an ONNX model: the file plus its external-data file ``path + '.data'`` if present."""
    path = Path(path)
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.exists() else 0)


def quantize_int8(src, dst) -> int:
    """Write an INT8 dynamically quantised copy of the ONNX model ``src`` to ``dst``; returns its bytes (Lab 4).

    onnxruntime's ``quantize_dynamic``: weights are stored as 8-bit integers with a scale per
    tensor, activations are quantised on the fly for each input. Unsigned 8-bit weights
    (``QUInt8``) are used because onnxruntime's CPU kernel for quantised convolutions
    (``ConvInteger``) takes unsigned weights. ``dst`` is written as one file. onnxruntime's
    optional pre-processing (``quant_pre_process``) is not run; its log line suggesting it is
    silenced.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic  # optional extra (Lab 4), kept lazy

    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise FileNotFoundError(f"quantize_int8: no ONNX model at {src}; export it first (export_onnx)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(src, dst, weight_type=QuantType.QUInt8)
    finally:
        root.setLevel(level)
    return file_bytes(dst)


def predict_onnx(run: Callable[[np.ndarray], np.ndarray], loader) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predicted classes of an :func:`onnx_runner` (or :func:`torch_runner`) over ``loader`` (Lab 4)."""
    labels, preds = [], []
    for images, y in loader:
        logits = run(np.asarray(images, dtype=np.float32))
        preds.append(np.asarray(logits).argmax(axis=1))
        labels.append(np.asarray(y))
    if not labels:
        raise ValueError("predict_onnx: the loader gave no batches")
    return np.concatenate(labels), np.concatenate(preds)


def latency_verdict(name_a: str, a: dict, name_b: str, b: dict) -> str:
    """One sentence in the current language: which of two :func:`latency_ms` results is faster, or a tie (Lab 4)."""
    if same_speed(a, b):
        return t("inference.tie", a=name_a, b=name_b, a_q1=a["q1"], a_q3=a["q3"], b_q1=b["q1"], b_q3=b["q3"])
    (fast, f), (slow, s) = sorted([(name_a, a), (name_b, b)], key=lambda item: item[1]["median"])
    return t("inference.faster", fast=fast, slow=slow, ratio=s["median"] / f["median"], fast_ms=f["median"],
             slow_ms=s["median"])


def measure_versions(versions: dict, example: np.ndarray, loader, *, repeats: int = 30, warmup: int = 5) -> dict:
    """Latency, size and accuracy of each version of a model (Lab 4, section 6).

    ``versions`` maps a name to ``(run, size_bytes)``, ``run`` from :func:`torch_runner` or
    :func:`onnx_runner`. Returns ``{name: {"latency": latency_ms(...), "bytes": ..., "accuracy": ...,
    "pred": predictions on loader, "true": labels}}``; every version is timed on the same ``example``.
    """
    out = {}
    for name, (run, size) in versions.items():
        latency = latency_ms(run, example, repeats=repeats, warmup=warmup)
        true, pred = predict_onnx(run, loader)
        out[name] = {"latency": latency, "bytes": int(size), "accuracy": float(np.mean(true == pred)),
                     "pred": pred, "true": true}
    return out
