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
# copying the library: a graded class that is, subclasses or borrows the methods of torchvision's


# the classes of torchvision.models.resnet that the lab has students write
_TV_CLASSES = ("BasicBlock", "Bottleneck", "ResNet")


def _tv_functions() -> dict:
    """Code object -> qualified name ("torchvision.models.resnet.BasicBlock.forward") of each method
    of torchvision's BasicBlock, Bottleneck and ResNet."""
    from torchvision.models import resnet as tv

    found = {}
    for cls_name in _TV_CLASSES:
        for attr, value in vars(getattr(tv, cls_name)).items():
            value = getattr(value, "__func__", value)  # staticmethod / classmethod
            code = getattr(value, "__code__", None)
            if code is not None:
                found[code] = f"{tv.__name__}.{cls_name}.{attr}"
    return found


def _torchvision_origin(cls):
    """What of torchvision's ResNet code ``cls`` is, or ``None`` for the student's own class.

    Returns ``(origin, None)`` when ``cls`` is one of torchvision's BasicBlock/Bottleneck/ResNet or
    a subclass of it, and ``(origin, method)`` when a method of ``cls`` (or of a base class of its
    own, below ``nn.Module``) is one of their functions, e.g. ``forward = BasicBlock.forward``.
    Functions are compared by code object, so a re-wrapped copy of the function is found too.
    """
    from torchvision.models import resnet as tv

    if not isinstance(cls, type):
        return None
    for cls_name in _TV_CLASSES:
        if issubclass(cls, getattr(tv, cls_name)):
            return f"{tv.__name__}.{cls_name}", None
    functions = _tv_functions()
    for klass in cls.__mro__:
        module = getattr(klass, "__module__", "") or ""
        if module == "builtins" or module == "torch" or module.startswith("torch."):
            continue  # nn.Module and object
        for attr, value in vars(klass).items():
            value = getattr(value, "__func__", value)
            value = getattr(value, "fget", value)  # property
            code = getattr(value, "__code__", None)
            if code in functions:
                return functions[code], attr
    return None


def _reject_copy(task: str, obj, name: str, what_key: str, *, built: bool = False) -> None:
    """Fail ``task`` when ``obj`` is torchvision's class (see :func:`_torchvision_origin`).

    ``obj`` is the class the student passed (``name`` is its name in the notebook), or, with
    ``built=True``, the type of the object the student's code built (``name`` is the call).
    """
    origin = _torchvision_origin(obj)
    if origin is None:
        return
    where, method = origin
    what = t(what_key)
    if method is None:
        fail(task, t("lab1.copy_built" if built else "lab1.copy_class", name=name, origin=where, what=what))
    fail(task, t("lab1.copy_method", name=name, method=method, origin=where, what=what))


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

    _reject_copy(task, ResidualBlock, "ResidualBlock", "lab1.copy.block")
    x = _block_input(task, ResidualBlock, 1, 16)
    student = ResidualBlock(16, 16)
    _reject_copy(task, type(student), "ResidualBlock(16, 16)", "lab1.copy.block", built=True)
    d1 = _compare_block(task, student, BasicBlock(16, 16), x, _basic_variants,
                        "ResidualBlock(16, 16)", _BASIC_ORDER)
    student = ResidualBlock(16, 32, stride=2, downsample=_downsample(16, 32, 2))
    d2 = _compare_block(task, student, BasicBlock(16, 32, stride=2, downsample=_downsample(16, 32, 2)),
                        x, _basic_variants, "ResidualBlock(16, 32, stride=2, downsample=...)", _BASIC_ORDER)
    return passed(task, t("lab1.block_ok", diff=max(d1, d2)))


@student_check
def check_bottleneck(Bottleneck, task: str = "Task 1.2 Bottleneck") -> Verdict:
    """Lab 1: the student's Bottleneck equals torchvision's, plain and grouped (ResNeXt) variants."""
    from torchvision.models.resnet import Bottleneck as TVBottleneck

    _reject_copy(task, Bottleneck, "Bottleneck", "lab1.copy.block")
    x = _block_input(task, Bottleneck, 4, 64)
    student = Bottleneck(64, 16)
    _reject_copy(task, type(student), "Bottleneck(64, 16)", "lab1.copy.block", built=True)
    d1 = _compare_block(task, student, TVBottleneck(64, 16), x, _bottleneck_variants,
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
    """Lab 1: ``ResNet(block, layers)`` builds the same stages as torchvision's for both block types.

    Only ``ResNet`` is graded here: the grader passes torchvision's blocks, the notebook the student's.
    """
    import torch
    from torchvision.models import resnet as tv

    _reject_copy(task, ResNet, "ResNet", "lab1.copy.resnet")
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
        _reject_copy(task, type(student), label, "lab1.copy.resnet", built=True)
        reference = tv.ResNet(tv_block, layers, num_classes=10, **extra)
        _, diff = _paired_outputs(task, student, reference, x, label, seed=2)
        if diff > TOL:
            fail(task, t("lab1.resnet_differs", label=label, diff=diff))
        worst = max(worst, diff)
    return passed(task, t("lab1.resnet_ok", diff=worst))


_TV_FACTORIES = {"ResNet18": "resnet18", "ResNet34": "resnet34", "ResNet50": "resnet50",
                 "ResNeXt50_32x4d": "resnext50_32x4d"}

# The names a factory's code uses, replaced by references while it runs (see check_factories).
_REFERENCE_NAMES = ("ResNet", "ResidualBlock", "Bottleneck")
# torchvision's block -> the lab's name for it, as verdicts show it
_BLOCK_NAMES = {"BasicBlock": "ResidualBlock", "Bottleneck": "Bottleneck"}


def _config_text(block: str, layers, groups: int = 1, width_per_group: int = 64) -> str:
    """``ResNet(Bottleneck, [3, 4, 6, 3], groups=32, width_per_group=4)``, the way a factory writes it."""
    extra = f", groups={groups}, width_per_group={width_per_group}" if (groups, width_per_group) != (1, 64) else ""
    return f"ResNet({block}, {list(layers)}{extra})"


def _reference_config(model) -> tuple:
    """(block, layers, groups, width_per_group) of a torchvision ResNet, with the lab's block name."""
    block = _BLOCK_NAMES.get(type(model.layer1[0]).__name__, type(model.layer1[0]).__name__)
    layers = [len(getattr(model, f"layer{i}")) for i in range(1, 5)]
    return block, layers, model.groups, model.base_width


class _ReferenceBuilds:
    """Reference ``ResNet``, ``ResidualBlock`` and ``Bottleneck`` built on torchvision, recording each build.

    ``ResNet(block, layers, num_classes=1000, groups=1, width_per_group=64)`` has the signature of the
    lab's class and returns ``torchvision.models.resnet.ResNet(...)`` with the same arguments; the
    blocks are torchvision's BasicBlock and Bottleneck. ``builds`` maps ``id(model)`` to the
    arguments of each model built, so a check can tell that a factory's model came from here.
    """

    def __init__(self, task: str, factory: str):
        from torchvision.models import resnet as tv

        self.builds: dict[int, dict] = {}
        builds = self.builds

        def ResNet(block, layers, num_classes=1000, groups=1, width_per_group=64):
            # The lab's blocks are torchvision's here; a block class from elsewhere (a factory whose
            # globals lack the lab's names) is told by its expansion: 1 is a BasicBlock, 4 a Bottleneck.
            tv_block = block if any(block is b for b in (tv.BasicBlock, tv.Bottleneck)) else None
            if tv_block is None:
                tv_block = {1: tv.BasicBlock, 4: tv.Bottleneck}.get(getattr(block, "expansion", None))
            if tv_block is None:
                fail(task, t("lab1.factory_block", name=factory, got=getattr(block, "__name__", repr(block))))
            model = tv.ResNet(tv_block, layers, num_classes=num_classes, groups=groups,
                              width_per_group=width_per_group)
            builds[id(model)] = {"block": _BLOCK_NAMES[tv_block.__name__], "layers": list(layers),
                                 "groups": groups, "width_per_group": width_per_group, "model": model}
            return model

        self.names = {"ResNet": ResNet, "ResidualBlock": tv.BasicBlock, "Bottleneck": tv.Bottleneck}

    def call(self, fn, *args):
        """Call ``fn(*args)`` with the references in place of the names its globals hold, then restore them.

        Only names present in ``fn.__globals__`` are replaced (none is added), and the originals are
        put back in a ``finally``, also when the factory raises. Returns the factory's result and the
        recorded build that it is, or ``None`` when it did not come from the reference ``ResNet``.
        """
        namespace = getattr(fn, "__globals__", None)
        saved = {}
        if isinstance(namespace, dict):
            saved = {name: namespace[name] for name in _REFERENCE_NAMES if name in namespace}
        try:
            for name in saved:
                namespace[name] = self.names[name]
            model = fn(*args)
        finally:
            for name, value in saved.items():
                namespace[name] = value
        build = self.builds.get(id(model))
        return model, (build if build is not None and build["model"] is model else None)


@student_check
def check_factories(factories: dict, task: str = "Task 1.4 ResNet18/34/50 and ResNeXt50_32x4d") -> Verdict:
    """Lab 1: each factory builds the torchvision model of the same name with the lab's ``ResNet``.

    Only the factories are graded here, not the classes they build with: while each factory runs,
    the names ``ResNet``, ``ResidualBlock`` and ``Bottleneck`` in its own globals point to reference
    adapters on torchvision (:class:`_ReferenceBuilds`), so a mistake of tasks 1.1-1.3 does not cost
    task 1.4. The factory's model must come from that ``ResNet`` with the block, stages ``layers``
    and (ResNeXt) ``groups``/``width_per_group`` of torchvision's model, the same parameter count,
    and ``num_classes`` passed on. A factory that returns torchvision's model itself fails as a copy.

    A factory whose globals lack those names (defined in another module, or building through a
    closure) is called as it is: its model is checked as a whole, by the parameter count and
    ``num_classes`` only, and still fails as a copy if it is torchvision's ResNet.
    """
    from torchvision.models import get_model

    from ..models import count_parameters

    counts, isolated = [], True
    for name, fn in factories.items():
        arch = _TV_FACTORIES.get(name)
        if arch is None:
            fail(task, t("lab1.unknown_factory", name=name, known=list(_TV_FACTORIES)))
        reference = get_model(arch, weights=None)
        refs = _ReferenceBuilds(task, name)
        model, build = refs.call(fn)
        if build is None:
            _reject_copy(task, type(model), f"{name}()", "lab1.copy.model", built=True)
            isolated = False
        got_count, want_count = count_parameters(model), count_parameters(reference)
        if build is not None:
            got = (build["block"], build["layers"], build["groups"], build["width_per_group"])
            want = _reference_config(reference)
            if got != want:
                fail(task, t("lab1.factory_config", name=name, want=_config_text(*want), arch=arch,
                             want_count=want_count, got=_config_text(*got), got_count=got_count))
        if got_count != want_count:
            fail(task, t("lab1.factory_count", name=name, want=want_count, arch=arch, got=got_count))
        small, _ = refs.call(fn, 10)
        outputs = getattr(getattr(small, "fc", None), "out_features", None)
        if outputs != 10:
            fail(task, t("lab1.factory_num_classes", name=name, got=outputs))
        counts.append(t("lab1.factory_item", name=name, count=got_count))
    key = "lab1.factories_ok_reference" if isolated else "lab1.factories_ok"
    return passed(task, t(key, counts=", ".join(counts)))


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
