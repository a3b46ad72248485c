"""Lab 3 self-checks: the CIFAR-100 transform, the prediction loop and ``denormalize``.

The new head and the training loop reuse Lab 2's checks (``check_head``, ``check_train_loop``).
"""
from __future__ import annotations

from ..messages import t
from .core import Verdict, fail, passed, student_check
from .lab2 import _ModeProbe, _toy_problem


@student_check
def check_transform(transform, size: int, task: str = "Task 3.2 transform") -> Verdict:
    """Lab 3: resize to ``size``×``size``, ToTensor, ImageNet normalization, in that order."""
    import numpy as np
    import torch
    from PIL import Image
    from torchvision import transforms

    from ..data import IMAGENET_MEAN, IMAGENET_STD

    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    got = transform(image)
    if not isinstance(got, torch.Tensor):
        fail(task, t("lab3.not_tensor", got=type(got).__name__))
    if tuple(got.shape) != (3, size, size):
        fail(task, t("lab3.tensor_shape", size=size, got=tuple(got.shape)))
    want = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                               transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])(image)
    if got.min() >= 0 and got.max() <= 1:
        fail(task, t("lab3.not_normalized"))
    diff = float((got - want).abs().max())
    if diff > 1e-4:
        fail(task, t("lab3.transform_diff", diff=diff))
    return passed(task, t("lab3.transform_ok", channels=3, size=size))


@student_check
def check_predict(predict, task: str = "Task 3.4 predict") -> Verdict:
    """Lab 3: eval mode, no gradients, ``torch.max`` over dim 1, true and predicted labels as NumPy arrays."""
    import numpy as np
    import torch

    model, loader, x, y = _toy_problem(seed=2)
    probe = _ModeProbe(model)
    model.train()  # predict must switch to eval mode itself
    result = predict(model, loader, torch.device("cpu"))
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(task, t("lab3.predict_return"))
    y_true, y_pred = result
    if not isinstance(y_true, np.ndarray) or not isinstance(y_pred, np.ndarray):
        fail(task, t("lab3.numpy", a=type(y_true).__name__, b=type(y_pred).__name__))
    if any(training for training, _ in probe.calls):
        fail(task, t("lab2.eval_mode"))
    if any(grad for _, grad in probe.calls):
        fail(task, t("lab3.no_grad"))
    with torch.no_grad():
        want = model(x).argmax(1).numpy()
    if y_true.shape != (len(y),) or not np.array_equal(y_true, y.numpy()):
        fail(task, t("lab3.true_labels", n=len(y), shape=y_true.shape))
    if y_pred.shape != want.shape or not np.array_equal(y_pred, want):
        fail(task, t("lab3.argmax"))
    return passed(task, t("lab3.predict_ok", n=len(y_pred)))


@student_check
def check_denormalize(denormalize, task: str = "Task 3.5 denormalize") -> Verdict:
    """Lab 3: ``denormalize`` inverts ImageNet normalization for one image and for a batch."""
    import torch

    from ..data import IMAGENET_MEAN, IMAGENET_STD, normalize

    torch.manual_seed(0)
    x = torch.rand(4, 3, 8, 8)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    for case, original in (("lab3.case_batch", x), ("lab3.case_image", x[0])):
        label = t(case)
        got = denormalize(normalize(original).clone())
        if not isinstance(got, torch.Tensor) or got.shape != original.shape:
            fail(task, t("lab3.denorm_shape", case=label,
                         got=tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__))
        diff = float((got - original).abs().max())
        if diff > 1e-5:
            normalized = normalize(original)
            if torch.allclose(got, normalized * mean + std, atol=1e-5):
                fail(task, t("lab3.swapped", case=label))
            fail(task, t("lab3.not_inverse", case=label, diff=diff))
    return passed(task, t("lab3.denorm_ok"))


@student_check
def check_resnext50_32x4d(model, num_classes: int = 100, task: str = "Task 3.1 model") -> Verdict:
    """Lab 3: the model is ResNeXt-50 32x4d (stages 3-4-6-3, 32 groups of 4 in layer1) with a new head."""
    from torch import nn

    stages = [len(getattr(model, f"layer{i}", [])) for i in range(1, 5)]
    if stages != [3, 4, 6, 3]:
        fail(task, t("lab3.stages", got=stages))
    conv = getattr(model.layer1[0], "conv2", None)
    groups = getattr(conv, "groups", None)
    width = getattr(conv, "in_channels", 0) // max(groups or 1, 1)
    if groups != 32 or width != 4:
        fail(task, t("lab3.cardinality", groups=groups, width=width))
    fc = getattr(model, "fc", None)
    if not isinstance(fc, nn.Linear) or (fc.in_features, fc.out_features) != (2048, num_classes):
        shape = (fc.in_features, fc.out_features) if isinstance(fc, nn.Linear) else type(fc).__name__
        fail(task, t("lab3.fc", n=num_classes, got=shape))
    return passed(task, t("lab3.resnext_ok", stages=stages, n=num_classes))
