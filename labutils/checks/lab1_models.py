"""Lab 1 self-checks of the whole networks: the factories (``TASK_FACTORIES``), a model against torchvision's
(``check_same_as_torchvision``) and the embedding (``TASK_EMBEDDING``); registered with :mod:`.lab1`'s tasks."""
from __future__ import annotations


import torch
from torchvision.models import get_model, resnet18
from torchvision.models import resnet as tv

from ..messages import t
from ..models import count_parameters
from .common import max_diff
from .core import TOL, Verdict, fail, passed, student_check
from .lab1_support import fail_copy, load_into, origin_of, run_forward, tolerance
from .protocol import random_state, register, self_check, shapes_of


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
    """Probe of ``TASK_FACTORIES``: per factory, the configuration it passed to the reference ``ResNet`` (or what
    it returned instead), its parameter count, and the outputs of the model built with 10 classes."""
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
        entry["origin"] = origin_of(type(model)) if build is None else None
        entry["count"] = count_parameters(model) if hasattr(model, "parameters") else -1
        small, _ = refs.call(fn, 10)
        outputs = getattr(getattr(small, "fc", None), "out_features", None)
        entry["out10"] = outputs if isinstance(outputs, int) else None
    return data


def _judge_factories(data: dict, case: dict, task: str) -> str:
    counts, isolated = [], True
    for name in case["names"]:
        arch, entry = _TV_FACTORIES[name], data[name]
        if "unknown_block" in entry:
            fail(task, t("lab1.factory_block", name=name, got=entry["unknown_block"]))
        reference = get_model(arch, weights=None)
        build = entry["build"]
        if build is None:
            fail_copy(task, entry["origin"], f"{name}()", "lab1.copy.model", built=True)
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


TASK_FACTORIES = register(1, "check_factories", _case_factories, _probe_factories, _judge_factories)


@student_check
def check_factories(factories: dict, task: str = TASK_FACTORIES.label) -> Verdict:
    """Lab 1: each factory builds the torchvision model of the same name with the lab's ``ResNet``.

    Only the factories are graded here, not the classes they build with: while each factory runs,
    the names ``ResNet``, ``ResidualBlock`` and ``Bottleneck`` in its own globals point to reference
    adapters on torchvision (:class:`_ReferenceBuilds`), so a mistake of the tasks ``TASK_RESIDUAL_BLOCK`` to
    ``TASK_RESNET`` does not cost
    ``TASK_FACTORIES``. The factory's model must come from that ``ResNet`` with the block, stages ``layers``
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
    return self_check(TASK_FACTORIES, tuple(factories[n] for n in names), task, case={"names": names})


@student_check
def check_same_as_torchvision(model, reference, task: str, *, image_size: int = 224) -> Verdict:
    """Lab 1: ``model`` loads ``reference``'s state_dict with strict=True and gives the same output."""
    model.eval()
    reference.eval()
    load_into(task, model, reference, t("lab1.reference", name=type(reference).__name__), student_is_source=False)
    torch.manual_seed(0)
    x = torch.randn(1, 3, image_size, image_size)
    got = run_forward(task, model, x, type(model).__name__)
    with torch.no_grad():
        want = reference(x)
    if got.shape != want.shape:
        fail(task, t("lab1.output_shape", want=tuple(want.shape), got=tuple(got.shape)))
    diff = max_diff(got, want)
    if diff >= TOL:
        fail(task, t("lab1.same_diff", tol=TOL, diff=diff))
    return passed(task, t("lab1.same_ok", shape=list(got.shape), diff=diff, tol=TOL))


def _case_embedding(seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {"x": torch.randn(3, 3, 64, 64, generator=gen), "x1": torch.randn(1, 3, 64, 64, generator=gen),
            "shapes": shapes_of(resnet18()), "seed": seed + 1, "reference": True}


def _probe_embedding(extract_embedding, case: dict, model=None) -> dict:
    """Probe of ``TASK_EMBEDDING``: the embedding of the case's images, the model's logits, and its ``fc`` after
    the call;
    then the embedding's shape for a batch of one image (``x1``), as the notebook later embeds single images.

    The grader's probe uses torchvision's ResNet-18 with the case's weights; the notebook's, its own model.
    """
    if model is None:
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
    if data["fc_replaced"]:
        fail(task, t("lab1.fc_replaced"))
    emb, weight = data["emb"], data["fc_weight"]
    want_dim = weight.shape[1]
    if not isinstance(emb, torch.Tensor) or tuple(emb.shape) != (3, want_dim):
        fail(task, t("lab1.embedding_shape", dim=want_dim, got=tuple(getattr(emb, "shape", ()))))
    logits = data["logits"]
    if case["reference"]:  # the grader: the embedding of its own ResNet-18 with the same weights
        model = resnet18().eval()
        model.load_state_dict(random_state(case["shapes"], case["seed"]), strict=True)
        weight, bias = model.fc.weight, model.fc.bias
        with torch.no_grad():
            logits = model(case["x"])
    with torch.no_grad():
        diff = max_diff(torch.nn.functional.linear(emb.float(), weight, data["fc_bias"] if not case["reference"]
                                                    else bias), logits)
    if diff > tolerance(logits):
        fail(task, t("lab1.embedding_fc", diff=diff))
    if list(data["one_shape"]) != [1, want_dim]:
        fail(task, t("lab1.embedding_one", shape=tuple(case["x1"].shape), dim=want_dim,
                     got=tuple(data["one_shape"])))
    return t("lab1.embedding_ok", dim=want_dim, diff=diff)


TASK_EMBEDDING = register(1, "check_embedding", _case_embedding, _probe_embedding, _judge_embedding)


@student_check
def check_embedding(extract_embedding, model, task: str = TASK_EMBEDDING.label) -> Verdict:
    """Lab 1: the embedding is the pooled vector that ``fc`` receives, and the model is left intact."""
    case = {**_case_embedding(0), "reference": False}
    return self_check(TASK_EMBEDDING, (extract_embedding,), task, case=case, model=model)
