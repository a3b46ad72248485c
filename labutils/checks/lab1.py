"""Lab 1 self-checks: residual blocks, ResNet and embeddings, compared with torchvision's own modules."""
from __future__ import annotations

from ..messages import t
from .core import TOL, Verdict, fail, passed, student_check


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
            fail(task, t("lab1.names_differ", what=what, missing=missing or t("lab1.none"),
                         extra=extra or t("lab1.none")))
        first = str(exc).strip().splitlines()[-1].strip()
        fail(task, t("lab1.shapes_differ", what=what, first=first))


def _max_diff(a, b) -> float:
    return float((a - b).abs().max())


def _forward(task: str, model, x, what: str):
    import torch

    with torch.no_grad():
        try:
            return model(x)
        except RuntimeError as exc:
            fail(task, t("lab1.forward_failed", what=what, shape=tuple(x.shape), error=str(exc).splitlines()[0]))


# ---------------------------------------------------------------------------------------------
# Lab 1: residual blocks and ResNet


def _basic_variants(block, x):
    """Outputs of common BasicBlock mistakes (keyed by ``lab1.mistake.*`` messages), from the reference's layers."""
    import torch.nn.functional as F

    shortcut = block.downsample(x) if block.downsample is not None else x
    out = block.bn1(block.conv1(x))
    residual = block.bn2(block.conv2(F.relu(out)))
    return {
        "no_skip": F.relu(residual),
        "relu_before_add": F.relu(residual) + shortcut,
        "no_final_relu": residual + shortcut,
        "no_inner_relu": F.relu(block.bn2(block.conv2(out)) + shortcut),
    }


def _bottleneck_variants(block, x):
    import torch.nn.functional as F

    shortcut = block.downsample(x) if block.downsample is not None else x
    out = F.relu(block.bn1(block.conv1(x)))
    out = F.relu(block.bn2(block.conv2(out)))
    residual = block.bn3(block.conv3(out))
    return {
        "no_skip": F.relu(residual),
        "relu_before_add": F.relu(residual) + shortcut,
        "no_final_relu": residual + shortcut,
    }


def _paired_outputs(task, student, reference, x, label, *, seed):
    """Copy the student's (BN-randomized) weights into torchvision's module strictly and run both.

    Returns the student's output and its max |diff| from the reference; a shape mismatch fails.
    """
    import torch

    _randomize(student, seed=seed)
    _load_into(task, reference, student, t("lab1.reference", name=type(reference).__name__))
    student.eval()
    reference.eval()
    got = _forward(task, student, x, label)
    with torch.no_grad():
        want = reference(x)
    if got.shape != want.shape:
        fail(task, t("lab1.output_shape_on", label=label, shape=tuple(x.shape), want=tuple(want.shape),
                     got=tuple(got.shape)))
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
            fail(task, t("lab1.mistake_found", label=label, diff=diff, mistake=t(f"lab1.mistake.{mistake}")))
    fail(task, t("lab1.block_differs", label=label, what=t("lab1.reference", name=type(reference).__name__),
                 diff=diff, hint=t(order_hint)))


_BASIC_ORDER = "lab1.order_basic"  # message keys
_BOTTLENECK_ORDER = "lab1.order_bottleneck"


def _downsample(in_ch: int, out_ch: int, stride: int):
    from torch import nn

    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


def _block_input(task: str, block_cls, expansion: int, channels: int):
    """Check the class's ``expansion`` and return a fixed random input with ``channels`` channels."""
    import torch

    got = getattr(block_cls, "expansion", None)
    if got != expansion:
        fail(task, t("lab1.expansion", want=expansion, got=got))
    torch.manual_seed(0)
    return torch.randn(2, channels, 8, 8)


@student_check
def check_residual_block(ResidualBlock, task: str = "Task 1.1 ResidualBlock") -> Verdict:
    """Lab 1: the student's BasicBlock equals torchvision's, with and without a downsample."""
    from torchvision.models.resnet import BasicBlock

    x = _block_input(task, ResidualBlock, 1, 16)
    d1 = _compare_block(task, ResidualBlock(16, 16), BasicBlock(16, 16), x, _basic_variants,
                        "ResidualBlock(16, 16)", _BASIC_ORDER)
    student = ResidualBlock(16, 32, stride=2, downsample=_downsample(16, 32, 2))
    d2 = _compare_block(task, student, BasicBlock(16, 32, stride=2, downsample=_downsample(16, 32, 2)),
                        x, _basic_variants, "ResidualBlock(16, 32, stride=2, downsample=...)", _BASIC_ORDER)
    return passed(task, t("lab1.block_ok", diff=max(d1, d2)))


@student_check
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
            fail(task, t("lab1.groups", label="Bottleneck(64, 64, groups=32, base_width=4)", got=got_groups))
    d2 = _compare_block(task, student, reference, x, _bottleneck_variants,
                        "Bottleneck(64, 64, stride=2, groups=32, base_width=4, downsample=...)", _BOTTLENECK_ORDER)
    return passed(task, t("lab1.bottleneck_ok", diff=max(d1, d2)))


@student_check
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
            fail(task, t("lab1.resnet_differs", label=label, diff=diff))
        worst = max(worst, diff)
    return passed(task, t("lab1.resnet_ok", diff=worst))


_TV_FACTORIES = {"ResNet18": "resnet18", "ResNet34": "resnet34", "ResNet50": "resnet50",
                 "ResNeXt50_32x4d": "resnext50_32x4d"}


@student_check
def check_factories(factories: dict, task: str = "Task 1.4 ResNet18/34/50 and ResNeXt50_32x4d") -> Verdict:
    """Lab 1: each factory's parameter count equals the torchvision model of the same name."""
    from torchvision.models import get_model

    from ..models import count_parameters

    counts = []
    for name, fn in factories.items():
        arch = _TV_FACTORIES.get(name)
        if arch is None:
            fail(task, t("lab1.unknown_factory", name=name, known=list(_TV_FACTORIES)))
        model = fn()
        got = count_parameters(model)
        want = count_parameters(get_model(arch, weights=None))
        if got != want:
            fail(task, t("lab1.factory_count", name=name, want=want, arch=arch, got=got))
        counts.append(t("lab1.factory_item", name=name, count=got))
    return passed(task, t("lab1.factories_ok", counts=", ".join(counts)))


@student_check
def check_same_as_torchvision(model, reference, task: str, *, image_size: int = 224) -> Verdict:
    """Lab 1: ``model`` loads ``reference``'s state_dict with strict=True and gives the same output."""
    import torch

    model.eval()
    reference.eval()
    _load_into(task, model, reference, t("lab1.reference", name=type(reference).__name__), student_is_source=False)
    torch.manual_seed(0)
    x = torch.randn(1, 3, image_size, image_size)
    got = _forward(task, model, x, type(model).__name__)
    with torch.no_grad():
        want = reference(x)
    if got.shape != want.shape:
        fail(task, t("lab1.output_shape", want=tuple(want.shape), got=tuple(got.shape)))
    diff = _max_diff(got, want)
    if diff >= TOL:
        fail(task, t("lab1.same_diff", tol=TOL, diff=diff))
    return passed(task, t("lab1.same_ok", shape=list(got.shape), diff=diff, tol=TOL))


@student_check
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
            fail(task, t("lab1.fc_replaced"))
        want_dim = model.fc.in_features
        if tuple(emb.shape) != (3, want_dim):
            fail(task, t("lab1.embedding_shape", dim=want_dim, got=tuple(emb.shape)))
        diff = _max_diff(model.fc(emb), model(x))
    if diff > TOL:
        fail(task, t("lab1.embedding_fc", diff=diff))
    return passed(task, t("lab1.embedding_ok", dim=want_dim, diff=diff))
