"""Probe and judge helpers that several labs' checks share (Labs 1-4); one copy each.

* :class:`Raw` and :func:`repr_of`: a student's value as a verdict shows it (Labs 2, 4);
* :func:`max_diff`, :func:`max_param_diff`: the largest difference of two tensors or state_dicts (Labs 1-3);
* :func:`as_array`: a student's array-like as plain data (Lab 2);
* :func:`fail_trainable`: exactly the parameters with given name prefixes train (Labs 2, 4);
* :func:`fail_state`: state_dict names and shapes against a reference's (Labs 1, 3).
"""
from __future__ import annotations

import numpy as np
import torch

from ..messages import t
from .core import fail


class Raw:
    """A text that shows as itself in ``{got!r}``: the ``repr`` a probe took of a student's value."""

    def __init__(self, text):
        self.text = str(text)

    def __repr__(self) -> str:
        return self.text


def repr_of(value, limit: int = 200) -> str:
    """``repr(value)`` cut to ``limit`` characters; a broken ``__repr__`` gives ``<type name>``."""
    try:
        return repr(value)[:limit]
    except Exception:  # noqa: BLE001 (a student's object with a broken __repr__)
        return f"<{type(value).__name__}>"


def max_diff(a, b) -> float:
    """max |a - b| of two tensors of the same shape."""
    return float((a - b).abs().max())


def max_param_diff(got: dict, want: dict) -> float:
    """max |got - want| over the tensors of ``want`` (a state_dict), in float64; inf for a shape or NaN."""
    worst = 0.0
    for name, value in want.items():
        other = got[name]
        if tuple(other.shape) != tuple(value.shape):
            return float("inf")
        diff = float((other.double() - value.double()).abs().max()) if value.numel() else 0.0
        worst = max(worst, diff if diff == diff else float("inf"))
    return worst


def as_array(value):
    """A student's array-like as ``(shape, float64 tensor or None)``; None when it is not numeric."""
    try:
        if isinstance(value, torch.Tensor):
            array = value.detach().cpu().double().numpy()
        else:
            array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        try:
            shape = np.asarray(value, dtype=object).shape
        except Exception:  # noqa: BLE001
            shape = ()
        return [int(s) for s in shape], None
    return [int(s) for s in array.shape], torch.from_numpy(np.array(array, copy=True))


def fail_trainable(task: str, rows, prefixes) -> None:
    """Fail unless exactly the parameters named with one of ``prefixes`` have requires_grad=True.

    ``rows`` are ``(name, requires_grad, ...)`` per parameter (further items are ignored); the prefix
    ``""`` means every parameter (Lab 4's "full" strategy), with its own verdict for a frozen one.
    """
    prefixes = tuple(prefixes)
    names = ", ".join(p.rstrip(".") for p in prefixes)
    wrong = [str(row[0]) for row in rows if row[1] and not str(row[0]).startswith(prefixes)]
    frozen = [str(row[0]) for row in rows if str(row[0]).startswith(prefixes) and not row[1]]
    if frozen and "" in prefixes:  # "full": every parameter trains
        fail(task, t("lab4.all_train", first=frozen[0], count=len(frozen)))
    if wrong:
        fail(task, t("lab2.only_these_train", names=names, count=len(wrong), first=wrong[0]))
    if frozen:
        fail(task, t("lab2.frozen_wrong", names=names, first=frozen[0]))


def _is_downsample(name: str) -> bool:
    return name.startswith("downsample.") or ".downsample." in name


def fail_state(task: str, got: dict, want: dict, what: str,
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
