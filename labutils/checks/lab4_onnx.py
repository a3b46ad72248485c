"""Lab 4 self-check of the ONNX export: ``onnx_max_abs_diff`` (``TASK_ONNX``) against onnxruntime.

onnxruntime is imported where the judge runs the exported file: an optional extra of Lab 4 only."""
from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..export import export_onnx
from ..messages import t
from .common import Raw
from .core import TOL, Verdict, fail, student_check
from .protocol import random_state, register, self_check, shapes_of


# ---------------------------------------------------------------------------------------------
# TASK_ONNX: onnx_max_abs_diff


def _tiny_model():
    """``TASK_ONNX``'s model: BatchNorm and Dropout make its train-mode output differ from its eval-mode one."""
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(0.5), nn.Linear(4, 5))


def _tiny_models(case: dict) -> tuple:
    """The exported model, the same with the head's bias + ``shift``, and a model with other weights (eval)."""
    model = _tiny_model()
    model.load_state_dict(random_state(case["shapes"], case["seed"]), strict=True)
    other = copy.deepcopy(model)
    with torch.no_grad():
        other[-1].bias.add_(case["shift"])
    changed = _tiny_model()
    changed.load_state_dict(random_state(case["shapes"], case["other_seed"]), strict=True)
    return model.eval(), other.eval(), changed.eval()


def _case_onnx(seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {"shapes": shapes_of(_tiny_model()), "seed": seed * 10 + 1, "other_seed": seed * 10 + 2,
            "shift": 1.0, "batch": torch.randn(3, 3, 16, 16, generator=gen)}


def _number(value) -> dict:
    """What a student's function returned: whether it is a float, its value as a float (or None), its repr."""
    try:
        number = float(value)
    except (TypeError, ValueError, RuntimeError):
        number = None
    return {"float": isinstance(value, (float, np.floating)), "value": number, "repr": repr(value)[:80]}


def _probe_onnx(max_abs_diff, case: dict) -> dict:
    """Probe of ``TASK_ONNX``: the case's tiny model exported to ONNX (with the library's ``export_onnx``), then
    what ``max_abs_diff(path, model, batch)`` returns for that model, for it with the head's bias shifted,
    and for a model with other weights. The models are handed over in train mode (as after training), so
    the function must switch them to eval itself; the (training, grad enabled) state of every forward call
    of theirs is recorded."""
    model, other, changed = _tiny_models(case)
    batch = case["batch"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiny.onnx"
        export_onnx(model, batch[:1].clone(), path)
        calls = []
        for m in (model, other, changed):
            m.register_forward_pre_hook(lambda mod, inp: calls.append([mod.training, torch.is_grad_enabled()]))
        results = {}
        for key, m in (("got", model), ("got_other", other), ("got_changed", changed)):
            results[key] = _number(max_abs_diff(path, m.train(), batch.clone()))
        return {**results, "calls": calls}


def _onnx_outputs(case: dict):
    """The judge's own export of the case's model, run by onnxruntime on the case's batch, and the PyTorch
    outputs of the three models."""
    import onnxruntime as ort  # an optional extra: only ``TASK_ONNX``'s judge runs the exported file

    model, other, changed = _tiny_models(case)
    batch = case["batch"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiny.onnx"
        export_onnx(model, batch[:1].clone(), path, single_file=True)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        onnx_out = session.run(None, {session.get_inputs()[0].name: batch.numpy().astype(np.float32)})[0]
    with torch.no_grad():
        return onnx_out, [m(batch).numpy() for m in (model, other, changed)]


def _judge_onnx(data: dict, case: dict, task: str) -> str:
    onnx_out, (out, out_other, out_changed) = _onnx_outputs(case)
    want, want_other, want_changed = (float(np.abs(onnx_out - o).max()) for o in (out, out_other, out_changed))
    got, got_other, got_changed = data["got"], data["got_other"], data["got_changed"]
    calls = [(bool(training), bool(grad)) for training, grad in data["calls"]]
    if any(training for training, _ in calls):
        fail(task, t("lab4.onnx_eval"))
    if any(grad for _, grad in calls):
        fail(task, t("lab4.onnx_no_grad"))
    if not got["float"] or got["value"] is None or not abs(got["value"] - want) <= 1e-6:
        fail(task, t("lab4.onnx_diff", want=want, got=Raw(got["repr"])))
    value = got_other["value"]
    if value is None or not (0.9 < value < 1.1 and abs(value - want_other) <= TOL * max(1.0, want_other)):
        fail(task, t("lab4.onnx_other", got=Raw(got_other["repr"])))
    value = got_changed["value"]
    if value is None or not abs(value - want_changed) <= TOL * max(1.0, want_changed):
        fail(task, t("lab4.onnx_diff", want=want_changed, got=Raw(got_changed["repr"])))
    return t("lab4.onnx_ok", diff=want)


TASK_ONNX = register(4, "check_onnx_parity", _case_onnx, _probe_onnx, _judge_onnx)


@student_check
def check_onnx_parity(max_abs_diff, task: str = TASK_ONNX.label) -> Verdict:
    """Lab 4: the function runs the ONNX file with onnxruntime and returns max |ONNX − PyTorch| on a batch.

    Checked on a tiny model exported to ONNX: for that model the difference is the true one (the judge
    exports and runs the model itself), and for a model whose head's bias differs by the case's shift,
    and a model with other weights, it is the difference to those models.
    """
    return self_check(TASK_ONNX, (max_abs_diff,), task)
