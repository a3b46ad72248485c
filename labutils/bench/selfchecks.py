"""The time of Lab 2's Grad-CAM self-check (``TASK_GRAD_CAM``) as a student meets it
(``python -m labutils.bench --only checks``)."""
from __future__ import annotations

import contextlib
import io
import statistics
import time

import nbformat
import sklearn.metrics  # noqa: F401 (imported before timing: Lab 2's kernel has it from its first cells)
import torch
import torch.nn.functional as F

from .. import checks
from ..checks import gradcam_reference
from ..runtime import project_root


def _solution_function(notebook: str, name: str):
    """The function ``name`` as a solution notebook defines it (its code cell, up to the cell's self-check)."""
    root = project_root()
    nb = nbformat.read(str(root / "solutions" / notebook), as_version=4)
    source = next(c.source for c in nb.cells if c.cell_type == "code" and f"def {name}(" in c.source)
    namespace = {"torch": torch, "F": F}
    exec(compile(source.split("checks.check_")[0], f"{notebook}:{name}", "exec"), namespace)
    return namespace[name]


def bench_checks(*, reruns: int = 3) -> dict:
    """Seconds of Lab 2's Grad-CAM self-check (``TASK_GRAD_CAM``) on the solution's ``grad_cam``, as a student runs it:
    the first call in a process that has already imported what Lab 2 imports (torch, torchvision,
    scikit-learn, pytorch-grad-cam), then the median of ``reruns`` more calls (target: each <= 5 s)."""
    # optional extra (grad-cam), kept lazy; imported before timing: a notebook kernel has it from the first run
    import pytorch_grad_cam  # noqa: F401

    grad_cam = _solution_function("02_chest_xray_finetuning.ipynb", "grad_cam")
    gradcam_reference._cached_case_grad_cam.cache_clear()
    times = []
    for _ in range(1 + reruns):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            checks.check_grad_cam(grad_cam)
        times.append(time.perf_counter() - start)
    return {"grad_cam_check_s": times[0], "grad_cam_check_rerun_s": statistics.median(times[1:]),
            "setting": f"solution grad_cam, first call then median of {reruns} reruns"}
