"""Lab 3 self-checks: the model, the CIFAR-100 transform, the prediction loop and ``denormalize``.

Each graded check is a probe (runs the student's code, returns plain data) and a judge (rebuilds the
reference from the case and compares), see :mod:`labutils.checks.protocol`. The new head reuses
Lab 2's ``check_head``; the training loop (``TASK_CIFAR_TRAIN_LOOP``) reuses Lab 2's probe and judge."""
from __future__ import annotations


import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import transforms
from torchvision.models import resnext50_32x4d

from ..data import IMAGENET_MEAN, IMAGENET_STD, normalize
from ..messages import t
from .common import fail_state
from .core import Verdict, fail, student_check
from .lab2_loops import TASK_TRAIN_LOOP
from .protocol import random_state, register, self_check, shapes_of


def _as_int(value):
    """``value`` if it is an int (not a bool), else ``None``: what a probe may report of an attribute."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ---------------------------------------------------------------------------------------------
# TASK_RESNEXT: the model: ResNeXt-50 32x4d with a new head


def _case_resnext(seed: int) -> dict:
    return {"num_classes": 100}


def _probe_resnext(model, case: dict) -> dict:
    """Probe of ``TASK_RESNEXT``: the model's stages, layer1[0].conv2's groups and width, its ``fc``, and the
    names and shapes of its state_dict (no weights)."""
    stages = [len(getattr(model, f"layer{i}", [])) for i in range(1, 5)]
    first = getattr(model, "layer1")[0] if stages[0] else None
    conv = getattr(first, "conv2", None)
    fc = getattr(model, "fc", None)
    linear = isinstance(fc, nn.Linear)
    return {
        "stages": stages,
        "conv2": {"groups": _as_int(getattr(conv, "groups", None)),
                  "in_channels": _as_int(getattr(conv, "in_channels", 0)) or 0},
        "fc": {"linear": linear, "type": type(fc).__name__,
               "in_features": fc.in_features if linear else None, "out_features": fc.out_features if linear else None},
        "shapes": shapes_of(model) if isinstance(model, nn.Module) else {},
    }


def _judge_resnext(data: dict, case: dict, task: str) -> str:
    n = int(case["num_classes"])
    stages = [int(s) for s in data["stages"]]
    if stages != [3, 4, 6, 3]:
        fail(task, t("lab3.stages", got=stages))
    groups, in_channels = data["conv2"]["groups"], int(data["conv2"]["in_channels"])
    width = in_channels // max(groups or 1, 1)
    if groups != 32 or width != 4:
        fail(task, t("lab3.cardinality", groups=groups, width=width))
    fc = data["fc"]
    shape = (int(fc["in_features"]), int(fc["out_features"])) if fc["linear"] is True else None
    if shape != (2048, n):
        fail(task, t("lab3.fc", n=n, got=shape if shape is not None else str(fc["type"])))
    with torch.device("meta"):  # names and shapes only: no memory, no initialization
        reference = resnext50_32x4d(weights=None)
        reference.fc = nn.Linear(2048, n)
    fail_state(task, data["shapes"], shapes_of(reference), t("lab1.reference", name="resnext50_32x4d"))
    return t("lab3.resnext_ok", stages=stages, n=n)


TASK_RESNEXT = register(3, "check_resnext50_32x4d", _case_resnext, _probe_resnext, _judge_resnext)


@student_check
def check_resnext50_32x4d(model, num_classes: int = 100, task: str = TASK_RESNEXT.label) -> Verdict:
    """Lab 3: the model is ResNeXt-50 32x4d (stages 3-4-6-3, 32 groups of 4 in layer1) with a new head,
    and its state_dict has the names and shapes of torchvision's ``resnext50_32x4d`` with that head."""
    return self_check(TASK_RESNEXT, (model,), task, case={"num_classes": num_classes})


# ---------------------------------------------------------------------------------------------
# TASK_TRANSFORM: the transform


def _case_transform(seed: int) -> dict:
    """A random 32x32 RGB image (uint8, height x width x channels), as CIFAR-100 stores them, and a
    non-square one (24x40), on which ``Resize(size)`` and ``Resize((size, size))`` differ."""
    rng = np.random.default_rng(seed)
    return {"image": torch.from_numpy(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)),
            "wide": torch.from_numpy(rng.integers(0, 256, (24, 40, 3), dtype=np.uint8))}


def _probe_transform(transform, size, case: dict) -> dict:
    """Probe of ``TASK_TRANSFORM``: the transform applied to the case's images as PIL images, and ``IMAGE_SIZE``."""
    got = transform(Image.fromarray(case["image"].numpy()))
    data = {"size": size, "type": type(got).__name__}
    if isinstance(got, torch.Tensor):
        data["out"] = got
        wide = transform(Image.fromarray(case["wide"].numpy()))
        data["wide"] = wide if isinstance(wide, torch.Tensor) else None
    return data


def _judge_transform(data: dict, case: dict, task: str) -> str:
    size = data["size"]
    if "out" not in data:
        fail(task, t("lab3.not_tensor", got=str(data["type"])))
    got = data["out"]
    if not isinstance(got, torch.Tensor):
        raise TypeError("out is not a tensor")
    if tuple(got.shape) != (3, size, size):
        fail(task, t("lab3.tensor_shape", size=size, got=tuple(got.shape)))
    size = int(size)  # equal to the tensor's own sides: bounded by the data itself
    image = Image.fromarray(case["image"].numpy())
    want = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                               transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])(image)
    if got.min() >= 0 and got.max() <= 1:
        fail(task, t("lab3.not_normalized"))
    diff = float((got.to(want.dtype) - want).abs().max())
    if not diff <= 1e-4:  # NaN fails too
        fail(task, t("lab3.transform_diff", diff=diff))
    wide, (h, w) = data["wide"], tuple(case["wide"].shape[:2])
    if not isinstance(wide, torch.Tensor) or tuple(wide.shape) != (3, size, size):
        fail(task, t("lab3.resize_pair", h=h, w=w, size=size,
                     got=tuple(wide.shape) if isinstance(wide, torch.Tensor) else type(wide).__name__))
    reference = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                                    transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    want = reference(Image.fromarray(case["wide"].numpy()))
    diff = float((wide.to(want.dtype) - want).abs().max())
    if not diff <= 1e-4:
        fail(task, t("lab3.transform_diff", diff=diff))
    return t("lab3.transform_ok", channels=3, size=size)


TASK_TRANSFORM = register(3, "check_transform", _case_transform, _probe_transform, _judge_transform)


@student_check
def check_transform(transform, size: int, task: str = TASK_TRANSFORM.label) -> Verdict:
    """Lab 3: resize to ``size``×``size``, ToTensor, ImageNet normalization, in that order."""
    return self_check(TASK_TRANSFORM, (transform, size), task)


# ---------------------------------------------------------------------------------------------
# TASK_CIFAR_TRAIN_LOOP: the training loop: Lab 2's probe and judge


TASK_CIFAR_TRAIN_LOOP = register(3, "check_train_loop", 
                                 TASK_TRAIN_LOOP.make_case, TASK_TRAIN_LOOP.probe, TASK_TRAIN_LOOP.judge)


# ---------------------------------------------------------------------------------------------
# TASK_PREDICT: predict


def _predict_model(shapes: dict):
    """The classifier of ``TASK_PREDICT`` for ``shapes``: Linear → BatchNorm1d → ReLU → Linear.

    BatchNorm makes the mode visible in the output: in train mode it normalizes with the batch's
    statistics instead of the (random) running ones, so a predict left in train mode predicts other labels.
    """
    hidden, features = shapes["0.weight"]
    classes = shapes["3.weight"][0]
    return nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, classes))


def _case_predict(seed: int, n: int = 48, features: int = 8, hidden: int = 16, classes: int = 5) -> dict:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=gen)
    y = torch.randint(0, classes, (n,), generator=gen)
    shapes = shapes_of(_predict_model({"0.weight": [hidden, features], "3.weight": [classes, hidden]}))
    return {"x": x, "y": y, "batch": 8, "shapes": shapes, "seed": seed * 10 + 1}


def _reference_predict_model(case: dict):
    model = _predict_model(case["shapes"])
    model.load_state_dict(random_state(case["shapes"], case["seed"]), strict=True)
    return model


def _probe_predict(predict, case: dict) -> dict:
    """Probe of ``TASK_PREDICT``: ``predict(model, loader, cpu)`` on the case's model (left in train mode) and data;
    what it returned, and the (training, grad enabled) state that every forward call saw."""
    model = _reference_predict_model(case)
    calls = []
    model.register_forward_pre_hook(lambda m, inp: calls.append([m.training, torch.is_grad_enabled()]))
    model.train()  # predict must switch to eval mode itself
    loader = DataLoader(TensorDataset(case["x"], case["y"]), batch_size=case["batch"], shuffle=False)
    result = predict(model, loader, torch.device("cpu"))
    data = {"pair": isinstance(result, tuple) and len(result) == 2, "calls": calls}
    if data["pair"]:
        data["types"] = [type(v).__name__ for v in result]
        if all(isinstance(v, np.ndarray) for v in result):
            data["y_true"], data["y_pred"] = result
    return data


def _same_values(got, want) -> bool:
    return isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(want.shape) and bool((got == want).all())


def _judge_predict(data: dict, case: dict, task: str) -> str:
    if data["pair"] is not True:
        fail(task, t("lab3.predict_return"))
    if "y_true" not in data or "y_pred" not in data:
        a, b = data["types"]
        fail(task, t("lab3.numpy", a=str(a), b=str(b)))
    calls = [(bool(training), bool(grad)) for training, grad in data["calls"]]
    if any(training for training, _ in calls):
        fail(task, t("lab2.eval_mode"))
    if any(grad for _, grad in calls):
        fail(task, t("lab3.no_grad"))
    y_true, y_pred, y = data["y_true"], data["y_pred"], case["y"]
    if not _same_values(y_true, y):
        fail(task, t("lab3.true_labels", n=len(y), shape=tuple(getattr(y_true, "shape", ()))))
    model = _reference_predict_model(case).eval()
    with torch.no_grad():
        want = model(case["x"]).argmax(1)
    if not _same_values(y_pred, want):
        fail(task, t("lab3.argmax"))
    return t("lab3.predict_ok", n=len(want))


TASK_PREDICT = register(3, "check_predict", _case_predict, _probe_predict, _judge_predict)


@student_check
def check_predict(predict, task: str = TASK_PREDICT.label) -> Verdict:
    """Lab 3: eval mode, no gradients, ``torch.max`` over dim 1, true and predicted labels as NumPy arrays."""
    return self_check(TASK_PREDICT, (predict,), task)


# ---------------------------------------------------------------------------------------------
# TASK_DENORMALIZE: denormalize


_DENORM_CASES = (("batch", "lab3.case_batch"), ("image", "lab3.case_image"))


def _case_denormalize(seed: int) -> dict:
    """ImageNet-normalized random images: a batch [4, 3, 8, 8] and one image [3, 8, 8]."""
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    return {"batch": normalize(x), "image": normalize(x[0])}


def _probe_denormalize(denormalize, case: dict) -> dict:
    """Probe of ``TASK_DENORMALIZE``: ``denormalize`` of each of the case's normalized tensors (or the type it
    returned)."""
    data = {}
    for key, _ in _DENORM_CASES:
        got = denormalize(case[key].clone())
        data[key] = {"out": got} if isinstance(got, torch.Tensor) else {"type": type(got).__name__}
    return data


def _judge_denormalize(data: dict, case: dict, task: str) -> str:
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    for key, label_key in _DENORM_CASES:
        label, normalized, entry = t(label_key), case[key], data[key]
        got = entry.get("out")
        if not isinstance(got, torch.Tensor) or got.shape != normalized.shape:
            fail(task, t("lab3.denorm_shape", case=label,
                         got=tuple(got.shape) if isinstance(got, torch.Tensor) else str(entry.get("type"))))
        want = normalized * std + mean
        diff = float((got.to(want.dtype) - want).abs().max())
        if not diff <= 1e-5:  # NaN fails too
            if torch.allclose(got.to(want.dtype), normalized * mean + std, atol=1e-5):
                fail(task, t("lab3.swapped", case=label))
            fail(task, t("lab3.not_inverse", case=label, diff=diff))
    return t("lab3.denorm_ok")


TASK_DENORMALIZE = register(3, "check_denormalize", _case_denormalize, _probe_denormalize, _judge_denormalize)


@student_check
def check_denormalize(denormalize, task: str = TASK_DENORMALIZE.label) -> Verdict:
    """Lab 3: ``denormalize`` inverts ImageNet normalization for one image and for a batch."""
    return self_check(TASK_DENORMALIZE, (denormalize,), task)
