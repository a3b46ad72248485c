"""Lab 2 self-check of Grad-CAM (``TASK_GRAD_CAM``): the probe runs the student's ``grad_cam`` on the case's narrow
ResNet-18s, the judge compares with pytorch-grad-cam's map (:mod:`.gradcam_reference`)."""
from __future__ import annotations


import torch

from ..messages import t
from .common import Raw, as_array, repr_of
from .core import Verdict, fail, student_check
from .gradcam_reference import (CAM_MAX_TOL, CAM_MEAN_TOL, CAM_SIZE, cam_distance, cam_family, cam_image,
                                cam_model, case_grad_cam, library_variants, one_thread, set_bias, upsampled)
from .protocol import register, self_check


def _hooked_modules(model) -> list:
    """Names of the modules that still carry hooks (forward, backward, their pre-hooks)."""
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return [name or "model" for name, module in model.named_modules()
            if any(len(getattr(module, kind, None) or {}) for kind in kinds)]


def _cam_title(run: dict) -> str:
    """The run's model as a verdict names it: its head, and whether its body is frozen."""
    title = t(f"lab2.cam_model_{run['pool']}")
    return title + t("lab2.cam_frozen_body") if list(run.get("trainable", [])) == ["fc."] else title


@one_thread
def _probe_grad_cam(grad_cam, case: dict) -> dict:
    """Probe of ``TASK_GRAD_CAM``: the student's map for each run of the case (shape, values or the ``repr`` of
    what was not an array, whether it is a tensor still attached to the graph) and the modules still
    hooked after each call. The parameters named in the run's ``trainable`` train, the rest is frozen,
    as in the notebook's models; on a run whose whole body is frozen, an error of the student's code is
    recorded (and named by the judge), not raised."""
    runs = []
    for run in case["runs"]:
        model, image = cam_model(run["pool"], run["weights"]), cam_image(run["image"])
        set_bias(model, run["bias"])
        trainable = tuple(run["trainable"])
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith(trainable)
        if trainable == ("fc.",):
            try:
                got = grad_cam(model, image.clone(), int(run["target"]))
            except Exception as exc:  # noqa: BLE001 (named by the judge: the frozen body is the likely cause)
                text = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
                runs.append({"error": f"{type(exc).__name__}: {text}".rstrip(": ")})
                break
        else:
            got = grad_cam(model, image.clone(), int(run["target"]))
        shape, values = as_array(got)
        runs.append({"shape": shape, "values": values, "text": None if values is not None else repr_of(got, 100),
                     "tensor": isinstance(got, torch.Tensor), "type": type(got).__name__[:60],
                     "attached": bool(isinstance(got, torch.Tensor) and got.requires_grad),
                     "hooked": _hooked_modules(model)})
    return {"runs": runs}


@one_thread
def _judge_grad_cam(data: dict, case: dict, task: str) -> str:
    runs = data["runs"]
    if len(runs) != len(case["runs"]) and "error" not in runs[-1]:
        raise ValueError(f"{len(runs)} maps, expected {len(case['runs'])}")
    worst = 0.0
    for run, got in zip(case["runs"], runs):
        title = _cam_title(run)
        if "error" in got:
            fail(task, t("lab2.cam_frozen_error", model=title, error=str(got["error"])[:160]))
        if got["hooked"]:
            fail(task, t("lab2.cam_hooks", modules=", ".join(str(m) for m in got["hooked"][:3])))
        values = got["values"]
        if values is None or list(got["shape"]) != list(CAM_SIZE):
            fail(task, t("lab2.cam_shape", size=f"({CAM_SIZE[0]}, {CAM_SIZE[1]})",
                         got=Raw(got["text"]) if values is None else tuple(got["shape"])))
        if not got["tensor"]:
            fail(task, t("lab2.cam_not_tensor", got=str(got["type"])))
        if got["attached"]:
            fail(task, t("lab2.cam_attached"))
        values = values.double()
        if not bool(torch.isfinite(values).all()):
            fail(task, t("lab2.cam_finite"))
        if values.min() < -1e-3 or values.max() > 1 + 1e-3:
            fail(task, t("lab2.cam_range", lo=float(values.min()), hi=float(values.max())))
        model, image, target = cam_model(run["pool"], run["weights"]), cam_image(run["image"]), run["target"]
        set_bias(model, run["bias"])
        mean, top = cam_distance(values, library_variants(model, image, target))
        if mean <= CAM_MEAN_TOL and top <= CAM_MAX_TOL:
            worst = max(worst, mean)
            continue
        family = cam_family(model, image, target)
        close = {key: cam_distance(values, upsampled(grid_map, CAM_SIZE))[0]
                 for key, grid_map in family.items() if key != "ok"}
        key = min(close, key=close.get)
        if close[key] <= CAM_MEAN_TOL:
            fail(task, t(f"lab2.cam_{key}", model=title, target=target))
        fail(task, t("lab2.cam_differs", model=title, target=target, mean=mean, top=top))
    return t("lab2.cam_ok", n=len(runs), mean=worst)


TASK_GRAD_CAM = register(2, "check_grad_cam", case_grad_cam, _probe_grad_cam, _judge_grad_cam)


@student_check
def check_grad_cam(grad_cam, task: str = TASK_GRAD_CAM.label) -> Verdict:
    """Lab 2: the student's Grad-CAM matches pytorch-grad-cam's on layer4 for the given class, on two
    narrow ResNet-18s with random weights (the second with its whole body frozen), returns a detached
    tensor and leaves no hooks behind."""
    return self_check(TASK_GRAD_CAM, (grad_cam,), task)
