"""Lab 3 self-checks: the CIFAR-100 transform, the prediction loop and ``denormalize``.

The new head and the training loop reuse Lab 2's checks (``check_head``, ``check_train_loop``).
"""
from __future__ import annotations

from .core import Verdict, fail, passed
from .lab2 import _ModeProbe, _toy_problem


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
        fail(task, f"expected a tensor (is ToTensor in the pipeline?), got {type(got).__name__}")
    if tuple(got.shape) != (3, size, size):
        fail(task, f"expected a tensor of shape (3, {size}, {size}), got {tuple(got.shape)}")
    want = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                               transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])(image)
    if got.min() >= 0 and got.max() <= 1:
        fail(task, "expected normalized values (ImageNet mean/std), got values in [0, 1]: add Normalize")
    diff = float((got - want).abs().max())
    if diff > 1e-4:
        fail(task, f"expected Resize → ToTensor → Normalize(ImageNet mean/std), max |diff| {diff:.3g}")
    return passed(task, f"(3, {size}, {size}) tensor, normalized with ImageNet statistics")


def check_predict(predict, task: str = "Task 3.4 predict") -> Verdict:
    """Lab 3: eval mode, no gradients, ``torch.max`` over dim 1, true and predicted labels as NumPy arrays."""
    import numpy as np
    import torch

    model, loader, x, y = _toy_problem(seed=2)
    probe = _ModeProbe(model)
    model.train()  # predict must switch to eval mode itself
    result = predict(model, loader, torch.device("cpu"))
    if not (isinstance(result, tuple) and len(result) == 2):
        fail(task, "expected predict to return (y_true, y_pred)")
    y_true, y_pred = result
    if not isinstance(y_true, np.ndarray) or not isinstance(y_pred, np.ndarray):
        fail(task, f"expected NumPy arrays, got {type(y_true).__name__} and {type(y_pred).__name__}")
    if any(training for training, _ in probe.calls):
        fail(task, "expected eval mode during evaluation, got train mode: call model.eval() first")
    if any(grad for _, grad in probe.calls):
        fail(task, "expected no gradient tracking: run the loop inside torch.no_grad()")
    with torch.no_grad():
        want = model(x).argmax(1).numpy()
    if y_true.shape != (len(y),) or not np.array_equal(y_true, y.numpy()):
        fail(task, f"expected the {len(y)} true labels in loader order, got shape {y_true.shape}")
    if y_pred.shape != want.shape or not np.array_equal(y_pred, want):
        fail(task, "expected predictions = indices of the maximum logit (torch.max(outputs, 1)[1])")
    return passed(task, f"eval mode, no_grad, {len(y_pred)} labels and predictions as NumPy arrays")


def check_denormalize(denormalize, task: str = "Task 3.5 denormalize") -> Verdict:
    """Lab 3: ``denormalize`` inverts ImageNet normalization for one image and for a batch."""
    import torch

    from ..data import IMAGENET_MEAN, IMAGENET_STD, normalize

    torch.manual_seed(0)
    x = torch.rand(4, 3, 8, 8)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    for label, original in (("a batch [4, 3, 8, 8]", x), ("one image [3, 8, 8]", x[0])):
        got = denormalize(normalize(original).clone())
        if not isinstance(got, torch.Tensor) or got.shape != original.shape:
            fail(task, f"for {label} expected a tensor of the same shape, got "
                       f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}")
        diff = float((got - original).abs().max())
        if diff > 1e-5:
            normalized = normalize(original)
            if torch.allclose(got, normalized * mean + std, atol=1e-5):
                fail(task, f"for {label}: mean and std are swapped; denormalize is x * std + mean")
            fail(task, f"for {label}: expected denormalize(normalize(x)) == x, got max |diff| {diff:.3g} "
                       "(multiply by std, then add mean, per channel)")
    return passed(task, "denormalize(normalize(x)) == x for a batch and for a single image")


def check_resnext50_32x4d(model, num_classes: int = 100, task: str = "Task 3.1 model") -> Verdict:
    """Lab 3: the model is ResNeXt-50 32x4d (stages 3-4-6-3, 32 groups of 4 in layer1) with a new head."""
    from torch import nn

    stages = [len(getattr(model, f"layer{i}", [])) for i in range(1, 5)]
    if stages != [3, 4, 6, 3]:
        fail(task, f"expected the 50-layer stages [3, 4, 6, 3], got {stages}")
    conv = getattr(model.layer1[0], "conv2", None)
    groups = getattr(conv, "groups", None)
    width = getattr(conv, "in_channels", 0) // max(groups or 1, 1)
    if groups != 32 or width != 4:
        fail(task, f"expected cardinality 32 with 4 channels per group in layer1 (32x4d), "
                   f"got {groups} groups of {width}")
    fc = getattr(model, "fc", None)
    if not isinstance(fc, nn.Linear) or (fc.in_features, fc.out_features) != (2048, num_classes):
        shape = (fc.in_features, fc.out_features) if isinstance(fc, nn.Linear) else type(fc).__name__
        fail(task, f"expected fc = Linear(2048, {num_classes}), got {shape}")
    return passed(task, f"ResNeXt-50 32x4d: stages {stages}, 32 groups × 4 channels, fc = Linear(2048, {num_classes})")
