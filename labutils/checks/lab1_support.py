"""Lab 1's probe and judge helpers: a module run with a case's weights against torchvision's, and
the detection of torchvision's own ResNet code in a student's class (used by ``lab1`` and ``lab1_models``)."""
from __future__ import annotations


import torch
from torchvision.models import resnet as tv

from ..messages import t
from .common import fail_state, max_diff
from .core import TOL, fail
from .protocol import random_state, shapes_of


# ---------------------------------------------------------------------------------------------
# helpers


def load_into(task: str, target, source, what: str, *, student_is_source: bool = True) -> None:
    """Copy ``source``'s state_dict into ``target`` strictly, turning a mismatch into a verdict.

    ``what`` names the reference (torchvision's module); ``student_is_source`` tells which side is
    the student's, so the verdict lists the names the student lacks and those it has extra, and
    each differing shape as "got ..., expected ..." (:func:`_fail_state`).
    """
    student, reference = (source, target) if student_is_source else (target, source)
    fail_state(task, shapes_of(student), shapes_of(reference), what)
    target.load_state_dict(source.state_dict(), strict=True)


def run_forward(task: str, model, x, what: str):
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


def origin_of(cls):
    """:func:`_torchvision_origin` as plain data: ``[origin, method or None]`` or ``None``."""
    found = _torchvision_origin(cls)
    return None if found is None else [found[0], found[1]]


def fail_copy(task: str, origin, name: str, what_key: str, *, built: bool = False) -> None:
    """Fail ``task`` for a class that is torchvision's (``origin`` from :func:`origin_of`)."""
    if origin is None:
        return
    where, method = origin
    what = t(what_key)
    if method is None:
        fail(task, t("lab1.copy_built" if built else "lab1.copy_class", name=name, origin=where, what=what))
    fail(task, t("lab1.copy_method", name=name, method=method, origin=where, what=what))


def _run_student(student, shapes: dict, seed: int, x) -> dict:
    """Probe helper: the student's module's state_dict shapes and, when they are the reference's, its
    output on ``x`` in eval mode with the case's weights (or the first line of its error)."""
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


def tolerance(want) -> float:
    """``TOL`` for outputs of size about 1, relative beyond: float32 rounds outputs of size 80 to ~1e-5."""
    return TOL * max(1.0, float(want.abs().max()))


def probe_configs(case: dict, build, describe) -> list[dict]:
    """Probe helper: for each configuration of the case, build the student's module, describe it, and run it
    with the case's weights (:func:`_run_student`); stops at the first copy of torchvision's class or failure."""
    runs = []
    for cfg in case["configs"]:
        student = build(cfg)
        run = {**describe(student, cfg), "built_origin": origin_of(type(student))}
        runs.append(run)
        if run["built_origin"] is not None:
            break
        run.update(_run_student(student, cfg["shapes"], cfg["seed"], case["x"]))
        if "out" not in run:
            break
    return runs


def judge_run(task: str, run: dict, reference, shapes: dict, seed: int, x, label: str, variants_fn=None,
               order_hint: str | None = None,
               downsample_hint: str = "lab1.downsample_hint_layer") -> tuple[float, float]:
    """Judge helper: compare one probed run with ``reference`` loaded with the same weights.

    Returns the max |diff| and the tolerance it passed (see :func:`tolerance`)."""
    what = t("lab1.reference", name=type(reference).__name__)
    fail_state(task, run["shapes"], shapes, what, downsample_hint)
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
    diff = max_diff(got.to(want.dtype), want)
    tol = tolerance(want)
    if diff <= tol or variants_fn is None:
        return diff, tol
    with torch.no_grad():
        variants = variants_fn(reference, x)
    for mistake, alt in variants.items():
        if alt.shape == got.shape and max_diff(got.to(alt.dtype), alt) <= tol:
            fail(task, t("lab1.mistake_found", label=label, diff=diff, mistake=t(f"lab1.mistake.{mistake}")))
    fail(task, t("lab1.block_differs", label=label, what=what, diff=diff, hint=t(order_hint)))
