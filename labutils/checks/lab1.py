"""Lab 1 self-checks: residual blocks, ResNet and embeddings, compared with torchvision's own modules."""
from __future__ import annotations

from ..messages import t
from .core import TOL, Verdict, fail, passed, student_check
from .protocol import register, self_check


# ---------------------------------------------------------------------------------------------
# helpers


def _load_into(task: str, target, source, what: str, *, student_is_source: bool = True) -> None:
    """Copy ``source``'s state_dict into ``target`` strictly, turning a mismatch into a verdict.

    ``what`` names the reference (torchvision's module); ``student_is_source`` tells which side is
    the student's, so the verdict lists the names the student lacks and those it has extra, and
    each differing shape as "got ..., expected ..." (:func:`_fail_state`).
    """
    from .protocol import shapes_of

    student, reference = (source, target) if student_is_source else (target, source)
    _fail_state(task, shapes_of(student), shapes_of(reference), what)
    target.load_state_dict(source.state_dict(), strict=True)


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


# ---------------------------------------------------------------------------------------------
# Lab 1: residual blocks and ResNet, as probes (student's process) and judges (grader's process)


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


_BASIC_ORDER = "lab1.order_basic"  # message keys
_BOTTLENECK_ORDER = "lab1.order_bottleneck"


def _downsample(in_ch: int, out_ch: int, stride: int):
    from torch import nn

    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


def _origin(cls):
    """:func:`_torchvision_origin` as plain data: ``[origin, method or None]`` or ``None``."""
    found = _torchvision_origin(cls)
    return None if found is None else [found[0], found[1]]


def _fail_copy(task: str, origin, name: str, what_key: str, *, built: bool = False) -> None:
    """Fail ``task`` for a class that is torchvision's (``origin`` from :func:`_origin`)."""
    if origin is None:
        return
    where, method = origin
    what = t(what_key)
    if method is None:
        fail(task, t("lab1.copy_built" if built else "lab1.copy_class", name=name, origin=where, what=what))
    fail(task, t("lab1.copy_method", name=name, method=method, origin=where, what=what))


def _is_downsample(name: str) -> bool:
    return name.startswith("downsample.") or ".downsample." in name


def _fail_state(task: str, got: dict, want: dict, what: str,
                downsample_hint: str = "lab1.downsample_hint_layer") -> None:
    """Fail when the student's state_dict names/shapes ``got`` differ from the reference's ``want``.

    A difference only in ``downsample`` modules is named as such, with ``downsample_hint`` (a message key:
    the block's or the stage's rule) saying what to do; a shape names both sides, the student's first.
    """
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing and not extra and all(_is_downsample(n) for n in missing):
        where = missing[0].split("downsample")[0].rstrip(".")
        fail(task, t("lab1.downsample_missing", where=where or t("lab1.the_block"), what=what, names=missing[:2],
                     hint=t(downsample_hint)))
    if extra and not missing and all(_is_downsample(n) for n in extra):
        where = extra[0].split("downsample")[0].rstrip(".")
        fail(task, t("lab1.downsample_extra", where=where or t("lab1.the_block"), what=what, names=extra[:2],
                     hint=t(downsample_hint)))
    if missing or extra:
        fail(task, t("lab1.names_differ", what=what, missing=missing[:4] or t("lab1.none"),
                     extra=extra[:4] or t("lab1.none")))
    for name in want:
        if list(got[name]) != list(want[name]):
            fail(task, t("lab1.shapes_differ", what=what, name=name, got=list(got[name]), want=list(want[name])))


def _run_student(student, shapes: dict, seed: int, x) -> dict:
    """Probe helper: the student's module's state_dict shapes and, when they are the reference's, its
    output on ``x`` in eval mode with the case's weights (or the first line of its error)."""
    import torch

    from .protocol import random_state, shapes_of

    run = {"shapes": shapes_of(student)}
    if run["shapes"] != shapes:
        return run
    student.load_state_dict(random_state(shapes, seed), strict=True)
    student.eval()
    try:
        with torch.no_grad():
            run["out"] = student(x)
    except RuntimeError as exc:
        run["forward_error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return run


def _tolerance(want) -> float:
    """``TOL`` for outputs of size about 1, relative beyond: float32 rounds outputs of size 80 to ~1e-5."""
    return TOL * max(1.0, float(want.abs().max()))


def _probe_configs(case: dict, build, describe) -> list[dict]:
    """Probe helper: for each configuration of the case, build the student's module, describe it, and run it
    with the case's weights (:func:`_run_student`); stops at the first copy of torchvision's class or failure."""
    runs = []
    for cfg in case["configs"]:
        student = build(cfg)
        run = {**describe(student, cfg), "built_origin": _origin(type(student))}
        runs.append(run)
        if run["built_origin"] is not None:
            break
        run.update(_run_student(student, cfg["shapes"], cfg["seed"], case["x"]))
        if "out" not in run:
            break
    return runs


def _judge_run(task: str, run: dict, reference, shapes: dict, seed: int, x, label: str, variants_fn=None,
               order_hint: str | None = None,
               downsample_hint: str = "lab1.downsample_hint_layer") -> tuple[float, float]:
    """Judge helper: compare one probed run with ``reference`` loaded with the same weights.

    Returns the max |diff| and the tolerance it passed (see :func:`_tolerance`)."""
    import torch

    from .protocol import random_state

    what = t("lab1.reference", name=type(reference).__name__)
    _fail_state(task, run["shapes"], shapes, what, downsample_hint)
    if "forward_error" in run:
        fail(task, t("lab1.forward_failed", what=label, shape=tuple(x.shape), error=str(run["forward_error"])))
    reference.load_state_dict(random_state(shapes, seed), strict=True)
    reference.eval()
    with torch.no_grad():
        want = reference(x)
    got = run["out"]
    if tuple(got.shape) != tuple(want.shape):
        fail(task, t("lab1.output_shape_on", label=label, shape=tuple(x.shape), want=tuple(want.shape),
                     got=tuple(got.shape)))
    diff = _max_diff(got.to(want.dtype), want)
    tol = _tolerance(want)
    if diff <= tol or variants_fn is None:
        return diff, tol
    with torch.no_grad():
        variants = variants_fn(reference, x)
    for mistake, alt in variants.items():
        if alt.shape == got.shape and _max_diff(got.to(alt.dtype), alt) <= tol:
            fail(task, t("lab1.mistake_found", label=label, diff=diff, mistake=t(f"lab1.mistake.{mistake}")))
    fail(task, t("lab1.block_differs", label=label, what=what, diff=diff, hint=t(order_hint)))


def _build_block(cls, cfg: dict):
    ds = cfg["downsample"]
    return cls(*cfg["args"], downsample=_downsample(*ds) if ds else None, **cfg["kwargs"])


def _block_case(seed: int, tv_name: str, expansion: int, configs: list[dict]) -> dict:
    """Inputs of a block check: a random input, and per configuration its state_dict shapes and weight seed."""
    import torch
    from torchvision.models import resnet as tv

    from .protocol import shapes_of

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, configs[0]["args"][0], 8, 8, generator=gen)
    runs = []
    for i, cfg in enumerate(configs):
        runs.append({**cfg, "shapes": shapes_of(_build_block(getattr(tv, tv_name), cfg)), "seed": seed * 10 + i + 1})
    return {"x": x, "expansion": expansion, "configs": runs}


def _probe_block(cls, case: dict) -> dict:
    """Probe of tasks 1.1/1.2: what the class is, its ``expansion``, and each configuration's run."""
    data = {"origin": _origin(cls), "expansion": getattr(cls, "expansion", None), "runs": []}
    if not isinstance(data["expansion"], (int, float)) or isinstance(data["expansion"], bool):
        data["expansion"] = repr(data["expansion"])[:40]
    if data["origin"] is not None or data["expansion"] != case["expansion"]:
        return data
    data["runs"] = _probe_configs(case, lambda cfg: _build_block(cls, cfg), lambda student, cfg: {
        "groups": getattr(getattr(student, "conv2", None), "groups", None)})
    if not isinstance(data["runs"][-1].get("groups"), int):
        data["runs"][-1]["groups"] = None
    return data


def _judge_block(data: dict, case: dict, task: str, name: str, tv_name: str, variants_fn, order_hint: str) -> float:
    from torchvision.models import resnet as tv

    _fail_copy(task, data["origin"], name, "lab1.copy.block")
    if data["expansion"] != case["expansion"]:
        fail(task, t("lab1.expansion", want=case["expansion"], got=data["expansion"]))
    worst = 0.0
    for i, cfg in enumerate(case["configs"]):
        run = data["runs"][i]  # an IndexError here means the probe's data is incomplete
        _fail_copy(task, run["built_origin"], cfg["label"].replace("ResidualBlock", name), "lab1.copy.block", built=True)
        groups = cfg["kwargs"].get("groups")
        if groups and set(run["shapes"]) == set(cfg["shapes"]) and run["groups"] != groups:
            fail(task, t("lab1.groups", label=cfg["label"], got=run["groups"]))
        diff, _ = _judge_run(task, run, _build_block(getattr(tv, tv_name), cfg), cfg["shapes"], cfg["seed"],
                             case["x"], cfg["label"], variants_fn, order_hint, "lab1.downsample_hint_block")
        worst = max(worst, diff)
    return worst


_BASIC_CONFIGS = [
    {"args": [16, 16], "kwargs": {}, "downsample": None, "label": "ResidualBlock(16, 16)"},
    {"args": [16, 32], "kwargs": {"stride": 2}, "downsample": [16, 32, 2],
     "label": "ResidualBlock(16, 32, stride=2, downsample=...)"},
]
_BOTTLENECK_CONFIGS = [
    {"args": [64, 16], "kwargs": {}, "downsample": None, "label": "Bottleneck(64, 16)"},
    {"args": [64, 64], "kwargs": {"stride": 2, "groups": 32, "base_width": 4}, "downsample": [64, 256, 2],
     "label": "Bottleneck(64, 64, stride=2, groups=32, base_width=4, downsample=...)"},
]


def _case_residual_block(seed: int) -> dict:
    return _block_case(seed, "BasicBlock", 1, _BASIC_CONFIGS)


def _judge_residual_block(data: dict, case: dict, task: str) -> str:
    worst = _judge_block(data, case, task, "ResidualBlock", "BasicBlock", _basic_variants, _BASIC_ORDER)
    return t("lab1.block_ok", diff=worst)


def _case_bottleneck(seed: int) -> dict:
    return _block_case(seed, "Bottleneck", 4, _BOTTLENECK_CONFIGS)


def _judge_bottleneck(data: dict, case: dict, task: str) -> str:
    worst = _judge_block(data, case, task, "Bottleneck", "Bottleneck", _bottleneck_variants, _BOTTLENECK_ORDER)
    return t("lab1.bottleneck_ok", diff=worst)


TASK_1_1 = register("1.1", "Task 1.1 ResidualBlock", ("ResidualBlock",), _case_residual_block, _probe_block,
                    _judge_residual_block)
TASK_1_2 = register("1.2", "Task 1.2 Bottleneck", ("Bottleneck",), _case_bottleneck, _probe_block,
                    _judge_bottleneck)


@student_check
def check_residual_block(ResidualBlock, task: str = "Task 1.1 ResidualBlock") -> Verdict:
    """Lab 1: the student's BasicBlock equals torchvision's, with and without a downsample."""
    return self_check(TASK_1_1, (ResidualBlock,), task)


@student_check
def check_bottleneck(Bottleneck, task: str = "Task 1.2 Bottleneck") -> Verdict:
    """Lab 1: the student's Bottleneck equals torchvision's, plain and grouped (ResNeXt) variants."""
    return self_check(TASK_1_2, (Bottleneck,), task)


_RESNET_CONFIGS = [
    {"block": "BasicBlock", "layers": [1, 2, 1, 1], "extra": {}},
    {"block": "Bottleneck", "layers": [2, 1, 1, 1], "extra": {}},
    {"block": "Bottleneck", "layers": [1, 1, 2, 1], "extra": {"groups": 32, "width_per_group": 4}},
]


def _case_resnet(seed: int) -> dict:
    import torch
    from torchvision.models import resnet as tv

    from .protocol import shapes_of

    gen = torch.Generator().manual_seed(seed)
    configs = []
    for i, cfg in enumerate(_RESNET_CONFIGS):
        reference = tv.ResNet(getattr(tv, cfg["block"]), cfg["layers"], num_classes=10, **cfg["extra"])
        configs.append({**cfg, "shapes": shapes_of(reference), "seed": seed * 10 + i + 1})
    return {"x": torch.randn(2, 3, 64, 64, generator=gen), "configs": configs}


def _probe_resnet(ResNet, case: dict, ResidualBlock=None, Bottleneck=None) -> dict:
    """Probe of task 1.3: ``ResNet(block, layers, num_classes=10, ...)`` built with torchvision's blocks
    (the grader) or the student's (the notebook), loaded with the case's weights and run."""
    from torchvision.models import resnet as tv

    blocks = {"BasicBlock": ResidualBlock or tv.BasicBlock, "Bottleneck": Bottleneck or tv.Bottleneck}
    data = {"origin": _origin(ResNet), "runs": []}
    if data["origin"] is not None:
        return data
    data["runs"] = _probe_configs(
        case, lambda cfg: ResNet(blocks[cfg["block"]], cfg["layers"], num_classes=10, **cfg["extra"]),
        lambda student, cfg: {"block_name": str(getattr(blocks[cfg["block"]], "__name__", "block"))[:40]})
    return data


def _judge_resnet(data: dict, case: dict, task: str) -> str:
    from torchvision.models import resnet as tv

    _fail_copy(task, data["origin"], "ResNet", "lab1.copy.resnet")
    worst = 0.0
    for i, cfg in enumerate(case["configs"]):
        run = data["runs"][i]
        extra = "".join(f", {k}={v}" for k, v in cfg["extra"].items())
        label = f"ResNet({run['block_name']}, {cfg['layers']}{extra}, num_classes=10)"
        _fail_copy(task, run["built_origin"], label, "lab1.copy.resnet", built=True)
        reference = tv.ResNet(getattr(tv, cfg["block"]), cfg["layers"], num_classes=10, **cfg["extra"])
        diff, tol = _judge_run(task, run, reference, cfg["shapes"], cfg["seed"], case["x"], label)
        if diff > tol:
            fail(task, t("lab1.resnet_differs", label=label, diff=diff))
        worst = max(worst, diff)
    return t("lab1.resnet_ok", diff=worst)


TASK_1_3 = register("1.3", "Task 1.3 ResNet._make_layer", ("ResNet",), _case_resnet, _probe_resnet, _judge_resnet)


@student_check
def check_resnet(ResNet, ResidualBlock, Bottleneck, task: str = "Task 1.3 ResNet._make_layer") -> Verdict:
    """Lab 1: ``ResNet(block, layers)`` builds the same stages as torchvision's for both block types.

    Only ``ResNet`` is graded: the grader's probe builds it with torchvision's blocks, the notebook's
    with the student's.
    """
    return self_check(TASK_1_3, (ResNet,), task, ResidualBlock=ResidualBlock, Bottleneck=Bottleneck)


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


class _UnknownBlock(Exception):
    """Raised by the reference ``ResNet`` for a block that is neither a BasicBlock nor a Bottleneck."""


class _ReferenceBuilds:
    """Reference ``ResNet``, ``ResidualBlock`` and ``Bottleneck`` built on torchvision, recording each build.

    ``ResNet(block, layers, num_classes=1000, groups=1, width_per_group=64)`` has the signature of the
    lab's class and returns ``torchvision.models.resnet.ResNet(...)`` with the same arguments; the
    blocks are torchvision's BasicBlock and Bottleneck. ``builds`` maps ``id(model)`` to the
    arguments of each model built, so a check can tell that a factory's model came from here.
    """

    def __init__(self):
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
                raise _UnknownBlock(str(getattr(block, "__name__", repr(block)))[:60])
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


def _case_factories(seed: int) -> dict:
    return {"names": list(_TV_FACTORIES)}


def _probe_factories(*factories_and_case, **_) -> dict:
    """Probe of task 1.4: per factory, the configuration it passed to the reference ``ResNet`` (or what
    it returned instead), its parameter count, and the outputs of the model built with 10 classes."""
    from ..models import count_parameters

    *factories, case = factories_and_case
    data = {}
    for name, fn in zip(case["names"], factories):
        refs, entry = _ReferenceBuilds(), {}
        data[name] = entry
        try:
            model, build = refs.call(fn)
        except _UnknownBlock as exc:
            entry["unknown_block"] = str(exc)
            continue
        entry["build"] = None if build is None else {k: v for k, v in build.items() if k != "model"}
        entry["origin"] = _origin(type(model)) if build is None else None
        entry["count"] = count_parameters(model) if hasattr(model, "parameters") else -1
        small, _ = refs.call(fn, 10)
        outputs = getattr(getattr(small, "fc", None), "out_features", None)
        entry["out10"] = outputs if isinstance(outputs, int) else None
    return data


def _judge_factories(data: dict, case: dict, task: str) -> str:
    from torchvision.models import get_model

    from ..models import count_parameters

    counts, isolated = [], True
    for name in case["names"]:
        arch, entry = _TV_FACTORIES[name], data[name]
        if "unknown_block" in entry:
            fail(task, t("lab1.factory_block", name=name, got=entry["unknown_block"]))
        reference = get_model(arch, weights=None)
        build = entry["build"]
        if build is None:
            _fail_copy(task, entry["origin"], f"{name}()", "lab1.copy.model", built=True)
            isolated = False
        got_count, want_count = int(entry["count"]), count_parameters(reference)
        if build is not None:
            got = (build["block"], build["layers"], build["groups"], build["width_per_group"])
            want = _reference_config(reference)
            if tuple(got) != tuple(want):
                fail(task, t("lab1.factory_config", name=name, want=_config_text(*want), arch=arch,
                             want_count=want_count, got=_config_text(*got), got_count=got_count))
        if got_count != want_count:
            fail(task, t("lab1.factory_count", name=name, want=want_count, arch=arch, got=got_count))
        if entry["out10"] != 10:
            fail(task, t("lab1.factory_num_classes", name=name, got=entry["out10"]))
        counts.append(t("lab1.factory_item", name=name, count=got_count))
    key = "lab1.factories_ok_reference" if isolated else "lab1.factories_ok"
    return t(key, counts=", ".join(counts))


TASK_1_4 = register("1.4", "Task 1.4 ResNet18/34/50 and ResNeXt50_32x4d", tuple(_TV_FACTORIES), _case_factories,
                    _probe_factories, _judge_factories)


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
    unknown = [name for name in factories if name not in _TV_FACTORIES]
    if unknown:
        fail(task, t("lab1.unknown_factory", name=unknown[0], known=list(_TV_FACTORIES)))
    names = [name for name in _TV_FACTORIES if name in factories]
    return self_check(TASK_1_4, tuple(factories[n] for n in names), task, case={"names": names})


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




def _case_embedding(seed: int) -> dict:
    import torch
    from torchvision.models import resnet18

    from .protocol import shapes_of

    gen = torch.Generator().manual_seed(seed)
    return {"x": torch.randn(3, 3, 64, 64, generator=gen), "x1": torch.randn(1, 3, 64, 64, generator=gen),
            "shapes": shapes_of(resnet18()), "seed": seed + 1, "reference": True}


def _probe_embedding(extract_embedding, case: dict, model=None) -> dict:
    """Probe of task 1.5: the embedding of the case's images, the model's logits, and its ``fc`` after the call;
    then the embedding's shape for a batch of one image (``x1``), as the notebook later embeds single images.

    The grader's probe uses torchvision's ResNet-18 with the case's weights; the notebook's, its own model.
    """
    import torch

    from .protocol import random_state

    if model is None:
        from torchvision.models import resnet18

        model = resnet18()
        model.load_state_dict(random_state(case["shapes"], case["seed"]), strict=True)
    model.eval()
    fc_before = model.fc
    with torch.no_grad():
        emb = extract_embedding(model, case["x"])
        data = {"fc_replaced": model.fc is not fc_before, "emb": emb}
        if not data["fc_replaced"]:
            data.update(logits=model(case["x"]), fc_weight=model.fc.weight, fc_bias=model.fc.bias)
            one = extract_embedding(model, case["x1"])
            data["one_shape"] = [int(d) for d in getattr(one, "shape", ())]
    return data


def _judge_embedding(data: dict, case: dict, task: str) -> str:
    import torch

    from .protocol import random_state

    if data["fc_replaced"]:
        fail(task, t("lab1.fc_replaced"))
    emb, weight = data["emb"], data["fc_weight"]
    want_dim = weight.shape[1]
    if not isinstance(emb, torch.Tensor) or tuple(emb.shape) != (3, want_dim):
        fail(task, t("lab1.embedding_shape", dim=want_dim, got=tuple(getattr(emb, "shape", ()))))
    logits = data["logits"]
    if case["reference"]:  # the grader: the embedding of its own ResNet-18 with the same weights
        from torchvision.models import resnet18

        model = resnet18().eval()
        model.load_state_dict(random_state(case["shapes"], case["seed"]), strict=True)
        weight, bias = model.fc.weight, model.fc.bias
        with torch.no_grad():
            logits = model(case["x"])
    with torch.no_grad():
        diff = _max_diff(torch.nn.functional.linear(emb.float(), weight, data["fc_bias"] if not case["reference"]
                                                    else bias), logits)
    if diff > _tolerance(logits):
        fail(task, t("lab1.embedding_fc", diff=diff))
    if list(data["one_shape"]) != [1, want_dim]:
        fail(task, t("lab1.embedding_one", shape=tuple(case["x1"].shape), dim=want_dim,
                     got=tuple(data["one_shape"])))
    return t("lab1.embedding_ok", dim=want_dim, diff=diff)


TASK_1_5 = register("1.5", "Task 1.5 extract_embedding", ("extract_embedding",), _case_embedding, _probe_embedding,
                    _judge_embedding)


@student_check
def check_embedding(extract_embedding, model, task: str = "Task 1.5 extract_embedding") -> Verdict:
    """Lab 1: the embedding is the pooled vector that ``fc`` receives, and the model is left intact."""
    case = {**_case_embedding(0), "reference": False}
    return self_check(TASK_1_5, (extract_embedding,), task, case=case, model=model)
