"""ONNX export with honest file sizes (Lab 4).

torch's exporter writes the graph to ``model.onnx`` and, by default, the weights to a separate
``model.onnx.data``; the graph file alone is tiny, so its size says nothing about the model.
:func:`export_onnx` reports both files, and ``single_file=True`` embeds the weights in one file.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path


def onnx_sizes(path) -> dict[str, int]:
    """Bytes of ``path`` (the graph) and of its external-data file ``path + '.data'`` if present."""
    path = Path(path)
    data = path.with_name(path.name + ".data")
    graph = path.stat().st_size
    weights = data.stat().st_size if data.exists() else 0
    return {"graph_bytes": graph, "data_bytes": weights, "total_bytes": graph + weights}


def export_onnx(model, example, path, *, single_file: bool = False, quiet: bool = True) -> dict[str, int]:
    """Export ``model`` (in eval mode) with a dynamic batch dimension; returns :func:`onnx_sizes`.

    ``example`` is one input batch. ``single_file=True`` stores the weights inside the ``.onnx``
    file (fine below protobuf's 2 GB limit); otherwise they go to ``.onnx.data`` beside it. Any
    file left by an earlier export with the other layout is removed first, so sizes never mix.
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".data")):
        if stale.exists():
            stale.unlink()
    model = model.eval()
    batch = torch.export.Dim("batch", min=1)
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        torch.onnx.export(model, (example,), str(path), dynamo=True, input_names=["images"],
                          output_names=["logits"], dynamic_shapes=({0: batch},),
                          external_data=not single_file)
    return onnx_sizes(path)
