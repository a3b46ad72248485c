"""ONNX export with honest file sizes (Lab 4).

Where torch's exporter puts the weights depends on the torch version and the options: the
torch installed for this course (2.14) with ``dynamo=True`` writes the graph to ``model.onnx`` and
the weights to a separate ``model.onnx.data`` (``external_data=True``, its default), while the
older TorchScript-based exporter, the only one in early torch 2.x, writes one file. The graph file
alone is tiny, so its size says nothing about the model. :func:`export_onnx` makes the layout
explicit whichever exporter this torch has: ``single_file=True`` gives one file; otherwise the
weights go to ``.onnx.data`` (written by torch where its exporter can, else by the ``onnx``
package from the one-file export), and :func:`onnx_sizes` reports both files.
"""
from __future__ import annotations

import contextlib
import inspect
import io
from pathlib import Path

import torch


def onnx_sizes(path) -> dict[str, int]:
    """Bytes of ``path`` (the graph) and of its external-data file ``path + '.data'`` if present."""
    path = Path(path)
    data = path.with_name(path.name + ".data")
    graph = path.stat().st_size
    weights = data.stat().st_size if data.exists() else 0
    return {"graph_bytes": graph, "data_bytes": weights, "total_bytes": graph + weights}


def dynamo_exporter_available() -> bool:
    """True when ``torch.onnx.export`` takes ``dynamo``, ``dynamic_shapes`` and ``external_data``."""
    params = inspect.signature(torch.onnx.export).parameters
    return all(name in params for name in ("dynamo", "dynamic_shapes", "external_data"))


def _to_external_data(path: Path) -> None:
    """Move the weights of a one-file ONNX model at ``path`` into ``path + '.data'``."""
    import onnx  # optional extra (Lab 4), kept lazy

    model = onnx.load(str(path))
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + ".data", size_threshold=1024)


def export_onnx(model, example, path, *, single_file: bool = False, quiet: bool = True) -> dict[str, int]:
    """Export ``model`` (in eval mode) with a dynamic batch dimension; returns :func:`onnx_sizes` (Lab 4).

    ``example`` is one input batch; the input is named ``images``, the output ``logits``.
    ``single_file=True`` stores the weights inside the ``.onnx`` file (fine below protobuf's 2 GB
    limit); otherwise they go to ``.onnx.data`` beside it, whichever exporter this torch has
    (:func:`dynamo_exporter_available`; the TorchScript exporter where it is not). Any file left
    by an earlier export with the other layout is removed first, so sizes never mix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".data")):
        if stale.exists():
            stale.unlink()
    model = model.eval()
    names = dict(input_names=["images"], output_names=["logits"])
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        if dynamo_exporter_available():
            batch = torch.export.Dim("batch", min=1)
            torch.onnx.export(model, (example,), str(path), dynamo=True, dynamic_shapes=({0: batch},),
                              external_data=not single_file, **names)
        else:
            legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
            torch.onnx.export(model, (example,), str(path), **legacy, **names,
                              dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
            if not single_file:
                _to_external_data(path)
    return onnx_sizes(path)
