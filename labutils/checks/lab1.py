"""Lab 1 self-checks: residual blocks, ResNet and embeddings, compared with torchvision's own modules."""
from __future__ import annotations

from .core import TOL, Verdict, fail, passed


# ---------------------------------------------------------------------------------------------
# helpers


def _randomize(module, seed: int = 0) -> None:
    """Give BatchNorm layers random affine parameters and running statistics (so BN is not a no-op)."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.2)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


def _load_into(task: str, target, source, what: str, *, student_is_source: bool = True) -> None:
    """Copy ``source``'s state_dict into ``target`` strictly, turning a mismatch into a verdict.

    ``what`` names the reference (torchvision's module); ``student_is_source`` tells which side is
    the student's, so the verdict lists the names the student lacks and those it has extra.
    """
    try:
        target.load_state_dict(source.state_dict(), strict=True)
    except RuntimeError as exc:
        student, reference = (source, target) if student_is_source else (target, source)
        got, want = set(student.state_dict()), set(reference.state_dict())
        missing = sorted(want - got)[:4]
        extra = sorted(got - want)[:4]
        if missing or extra:
            fail(task, f"parameter names differ from {what}: missing {missing or 'none'}, "
                       f"unexpected {extra or 'none'} (use torchvision's names: conv1, bn1, conv2, bn2, "
                       f"conv3, bn3, downsample)")
        first = str(exc).strip().splitlines()[-1].strip()
        fail(task, f"parameter shapes differ from {what}: {first}")


def _max_diff(a, b) -> float:
    return float((a - b).abs().max())


def _forward(task: str, model, x, what: str):
    import torch

    with torch.no_grad():
        try:
            return model(x)
        except RuntimeError as exc:
            fail(task, f"{what} failed on input {tuple(x.shape)}: {str(exc).splitlines()[0]} "
                       "(do the main path and the shortcut agree in shape? check strides and downsample)")


# ---------------------------------------------------------------------------------------------
# Lab 1: residual blocks and ResNet


def _basic_variants(block, x):
    """Outputs of common BasicBlock mistakes, computed from the reference block's layers."""
    import torch.nn.functional as F

    shortcut = block.downsample(x) if block.downsample is not None else x
    out = block.bn1(block.conv1(x))
    residual = block.bn2(block.conv2(F.relu(out)))
    return {
        "the skip connection is missing (no `+ identity`)": F.relu(residual),
        "ReLU is applied before the addition instead of after it": F.relu(residual) + shortcut,
        "the final ReLU after the addition is missing": residual + shortcut,
        "the ReLU between the two convolutions is missing": F.relu(block.bn2(block.conv2(out)) + shortcut),
    }


def _bottleneck_variants(block, x):
    import torch.nn.functional as F

    shortcut = block.downsample(x) if block.downsample is not None else x
    out = F.relu(block.bn1(block.conv1(x)))
    out = F.relu(block.bn2(block.conv2(out)))
    residual = block.bn3(block.conv3(out))
    return {
        "the skip connection is missing (no `+ identity`)": F.relu(residual),
        "ReLU is applied before the addition instead of after it": F.relu(residual) + shortcut,
        "the final ReLU after the addition is missing": residual + shortcut,
    }


def _paired_outputs(task, student, reference, x, label, *, seed):
    """Copy the student's (BN-randomized) weights into torchvision's module strictly and run both.

    Returns the student's output and its max |diff| from the reference; a shape mismatch fails.
    """
    import torch

    _randomize(student, seed=seed)
    _load_into(task, reference, student, f"torchvision's {type(reference).__name__}")
    student.eval()
    reference.eval()
    got = _forward(task, student, x, label)
    with torch.no_grad():
        want = reference(x)
    if got.shape != want.shape:
        fail(task, f"{label} on input {tuple(x.shape)}: expected output shape {tuple(want.shape)}, "
                   f"got {tuple(got.shape)}")
    return got, _max_diff(got, want)


def _compare_block(task, student, reference, x, variants_fn, label, order_hint):
    import torch

    got, diff = _paired_outputs(task, student, reference, x, label, seed=1)
    if diff <= TOL:
        return diff
    with torch.no_grad():
        variants = variants_fn(reference, x)
    for mistake, alt in variants.items():
        if alt.shape == got.shape and _max_diff(got, alt) <= TOL:
            fail(task, f"{label}: output differs from torchvision's (max |diff| {diff:.3g}) because {mistake}")
    fail(task, f"{label}: expected the output of torchvision's {type(reference).__name__} with the same weights, "
               f"got max |diff| {diff:.3g} ({order_hint})")


_BASIC_ORDER = "order: conv1 → bn1 → relu → conv2 → bn2, add the shortcut, then relu; the stride belongs to conv1"
_BOTTLENECK_ORDER = ("order: conv1 (1x1) → bn1 → relu → conv2 (3x3) → bn2 → relu → conv3 (1x1) → bn3, add the "
                     "shortcut, then relu; the stride and the groups belong to conv2, the 3x3 convolution")


def _downsample(in_ch: int, out_ch: int, stride: int):
    from torch import nn

    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


def _block_input(task: str, block_cls, expansion: int, channels: int):
    """Check the class's ``expansion`` and return a fixed random input with ``channels`` channels."""
    import torch

    got = getattr(block_cls, "expansion", None)
    if got != expansion:
        fail(task, f"expected class attribute expansion = {expansion}, got {got!r}")
    torch.manual_seed(0)
    return torch.randn(2, channels, 8, 8)


def check_residual_block(ResidualBlock, task: str = "Task 1.1 ResidualBlock") -> Verdict:
    """Lab 1: the student's BasicBlock equals torchvision's, with and without a downsample."""
    from torchvision.models.resnet import BasicBlock

    x = _block_input(task, ResidualBlock, 1, 16)
    d1 = _compare_block(task, ResidualBlock(16, 16), BasicBlock(16, 16), x, _basic_variants,
                        "ResidualBlock(16, 16)", _BASIC_ORDER)
    student = ResidualBlock(16, 32, stride=2, downsample=_downsample(16, 32, 2))
    d2 = _compare_block(task, student, BasicBlock(16, 32, stride=2, downsample=_downsample(16, 32, 2)),
                        x, _basic_variants, "ResidualBlock(16, 32, stride=2, downsample=...)", _BASIC_ORDER)
    return passed(task, f"same output as torchvision's BasicBlock with and without downsample "
                        f"(max |diff| {max(d1, d2):.1e}), output [2, 32, 4, 4] after stride 2")


def check_bottleneck(Bottleneck, task: str = "Task 1.2 Bottleneck") -> Verdict:
    """Lab 1: the student's Bottleneck equals torchvision's, plain and grouped (ResNeXt) variants."""
    from torchvision.models.resnet import Bottleneck as TVBottleneck

    x = _block_input(task, Bottleneck, 4, 64)
    d1 = _compare_block(task, Bottleneck(64, 16), TVBottleneck(64, 16), x, _bottleneck_variants,
                        "Bottleneck(64, 16)", _BOTTLENECK_ORDER)
    cfg = dict(stride=2, groups=32, base_width=4)
    student = Bottleneck(64, 64, downsample=_downsample(64, 256, 2), **cfg)
    reference = TVBottleneck(64, 64, downsample=_downsample(64, 256, 2), **cfg)
    if student.state_dict().keys() == reference.state_dict().keys():
        got_groups = getattr(getattr(student, "conv2", None), "groups", None)
        if got_groups != 32:
            fail(task, f"Bottleneck(64, 64, groups=32, base_width=4): expected conv2.groups == 32, got {got_groups}")
    d2 = _compare_block(task, student, reference, x, _bottleneck_variants,
                        "Bottleneck(64, 64, stride=2, groups=32, base_width=4, downsample=...)", _BOTTLENECK_ORDER)
    return passed(task, f"same output as torchvision's Bottleneck, plain and grouped 32x4d with stride 2 "
                        f"(max |diff| {max(d1, d2):.1e})")


def check_resnet(ResNet, ResidualBlock, Bottleneck, task: str = "Task 1.3 ResNet._make_layer") -> Verdict:
    """Lab 1: ``ResNet(block, layers)`` builds the same stages as torchvision's for both block types."""
    import torch
    from torchvision.models import resnet as tv

    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    cases = [
        (ResidualBlock, tv.BasicBlock, [1, 2, 1, 1], {}),
        (Bottleneck, tv.Bottleneck, [2, 1, 1, 1], {}),
        (Bottleneck, tv.Bottleneck, [1, 1, 2, 1], {"groups": 32, "width_per_group": 4}),
    ]
    worst = 0.0
    for block, tv_block, layers, extra in cases:
        label = f"ResNet({block.__name__}, {layers}{', ' if extra else ''}{', '.join(f'{k}={v}' for k, v in extra.items())}, num_classes=10)"
        student = ResNet(block, layers, num_classes=10, **extra)
        reference = tv.ResNet(tv_block, layers, num_classes=10, **extra)
        _, diff = _paired_outputs(task, student, reference, x, label, seed=2)
        if diff > TOL:
            fail(task, f"{label}: expected torchvision's output with the same weights, got max |diff| {diff:.3g} "
                       "(does the downsample use the stage's stride? is in_channels updated after each stage?)")
        worst = max(worst, diff)
    return passed(task, f"3 configurations (BasicBlock, Bottleneck, grouped) load torchvision's weights "
                        f"strictly and match (max |diff| {worst:.1e})")


_TV_FACTORIES = {"ResNet18": "resnet18", "ResNet34": "resnet34", "ResNet50": "resnet50",
                 "ResNeXt50_32x4d": "resnext50_32x4d"}


def check_factories(factories: dict, task: str = "Task 1.4 ResNet18/34/50 and ResNeXt50_32x4d") -> Verdict:
    """Lab 1: each factory's parameter count equals the torchvision model of the same name."""
    from torchvision.models import get_model

    from ..models import count_parameters

    counts = []
    for name, fn in factories.items():
        arch = _TV_FACTORIES.get(name)
        if arch is None:
            fail(task, f"unknown factory {name!r}; expected one of {list(_TV_FACTORIES)}")
        model = fn()
        got = count_parameters(model)
        want = count_parameters(get_model(arch, weights=None))
        if got != want:
            fail(task, f"{name}(): expected {want:,} parameters (torchvision {arch}), got {got:,}")
        counts.append(f"{name} {got:,}")
    return passed(task, "parameter counts equal torchvision's: " + ", ".join(counts))


def check_same_as_torchvision(model, reference, task: str, *, image_size: int = 224) -> Verdict:
    """Lab 1: ``model`` loads ``reference``'s state_dict with strict=True and gives the same output."""
    import torch

    model.eval()
    reference.eval()
    _load_into(task, model, reference, f"torchvision's {type(reference).__name__}", student_is_source=False)
    torch.manual_seed(0)
    x = torch.randn(1, 3, image_size, image_size)
    got = _forward(task, model, x, type(model).__name__)
    with torch.no_grad():
        want = reference(x)
    if got.shape != want.shape:
        fail(task, f"expected output shape {tuple(want.shape)}, got {tuple(got.shape)}")
    diff = _max_diff(got, want)
    if diff >= TOL:
        fail(task, f"expected max |diff| < {TOL:g} against torchvision, got {diff:.3g}")
    return passed(task, f"loads torchvision's state_dict with strict=True, output {list(got.shape)}, "
                        f"max |diff| {diff:.1e} < {TOL:g}")


def check_embedding(extract_embedding, model, task: str = "Task 1.5 extract_embedding") -> Verdict:
    """Lab 1: the embedding is the pooled vector that ``fc`` receives, and the model is left intact."""
    import torch

    model.eval()
    torch.manual_seed(0)
    x = torch.randn(3, 3, 64, 64)
    fc_before = model.fc
    with torch.no_grad():
        emb = extract_embedding(model, x)
        if model.fc is not fc_before:
            fail(task, "extract_embedding replaced model.fc; compute the embedding without changing the model")
        want_dim = model.fc.in_features
        if tuple(emb.shape) != (3, want_dim):
            fail(task, f"expected embeddings shaped (3, {want_dim}) for 3 images, got {tuple(emb.shape)}")
        diff = _max_diff(model.fc(emb), model(x))
    if diff > TOL:
        fail(task, f"expected model.fc(embedding) to equal model(x), got max |diff| {diff:.3g} "
                   "(take the vector after avgpool and flatten, before fc)")
    return passed(task, f"shape (3, {want_dim}) and fc(embedding) == model(x) (max |diff| {diff:.1e})")
