"""How sure a comparison is: a paired bootstrap of a metric's difference (Labs 2 and 4).

Two models are compared on the same validation examples. Resampling those examples (or whole
groups of them, such as a patient's X-rays in Lab 2) with replacement, and recomputing the
metric of each model on every resample, gives an interval for the difference; when it contains
zero the data cannot tell the two apart, and the computed text calls it a tie.

    d = bootstrap_difference(accuracy_score, y_val, pred_a, pred_b, groups=patients)
    print(describe_difference(d, "fine-tuning", "feature extraction", "accuracy"))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .messages import t


@dataclass(frozen=True)
class Difference:
    """``metric(A) - metric(B)`` on the same examples with its bootstrap interval (Labs 2 and 4)."""

    diff: float
    low: float
    high: float
    level: float
    n: int
    n_groups: int
    higher_is_better: bool = True

    @property
    def tie(self) -> bool:
        """True when the interval contains zero: the data do not separate A from B."""
        return bool(self.low <= 0.0 <= self.high)

    def winner(self, name_a: str, name_b: str) -> str | None:
        """The name of the better side, or ``None`` for a tie."""
        if self.tie:
            return None
        return name_a if (self.diff > 0) == self.higher_is_better else name_b


def share_of_one(n: int) -> float:
    """What one example is worth in a share of ``n`` examples, ``1 / n`` (Labs 2 and 4)."""
    if n <= 0:
        raise ValueError(f"share_of_one needs a positive number of examples, got {n}")
    return 1.0 / n


def _resample_indices(n: int, groups, n_boot: int, rng: np.random.Generator):
    """Index arrays, one per resample: examples, or all examples of the resampled groups."""
    if groups is None:
        for _ in range(n_boot):
            yield rng.integers(0, n, size=n)
        return
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    members = [np.flatnonzero(codes == g) for g in range(codes.max() + 1)]
    for _ in range(n_boot):
        picked = rng.integers(0, len(members), size=len(members))
        yield np.concatenate([members[g] for g in picked])


def bootstrap_difference(metric: Callable, y_true, pred_a, pred_b, *, groups=None, n_boot: int = 1000,
                         level: float = 0.95, seed: int = 0, higher_is_better: bool = True) -> Difference:
    """``metric(y_true, pred_a) - metric(y_true, pred_b)`` with a paired percentile bootstrap interval.

    ``pred_a`` and ``pred_b`` are per-example predictions (labels or scores) on the same examples;
    ``groups`` (e.g. patient ids, Lab 2) resamples whole groups, so correlated examples move
    together. A resample on which the metric is undefined (NaN) is dropped. ``higher_is_better=False``
    for a loss: then the side with the lower metric wins. Labs 2 and 4.
    """
    y_true, pred_a, pred_b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    n = len(y_true)
    if not (len(pred_a) == len(pred_b) == n) or (groups is not None and len(groups) != n):
        raise ValueError(f"bootstrap_difference: y_true, pred_a, pred_b (and groups) must have one entry per "
                         f"example; got {n}, {len(pred_a)}, {len(pred_b)}"
                         + ("" if groups is None else f", {len(groups)}"))
    if n == 0:
        raise ValueError("bootstrap_difference: no examples to compare")
    if not 0 < level < 1:
        raise ValueError(f"bootstrap_difference: level must be between 0 and 1, got {level}")
    diff = float(metric(y_true, pred_a) - metric(y_true, pred_b))
    rng = np.random.default_rng(seed)
    diffs = []
    for idx in _resample_indices(n, groups, n_boot, rng):
        value = metric(y_true[idx], pred_a[idx]) - metric(y_true[idx], pred_b[idx])
        if np.isfinite(value):
            diffs.append(value)
    if not diffs:
        raise ValueError("bootstrap_difference: the metric was undefined on every resample")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    n_groups = n if groups is None else len(np.unique(np.asarray(groups)))
    return Difference(diff, float(low), float(high), level, n, n_groups, higher_is_better)


def describe_difference(d: Difference, name_a: str, name_b: str, metric_label: str, *,
                        points: bool = True) -> str:
    """One sentence in the current language: who is better and by how much, or a tie (Labs 2 and 4).

    ``points=True`` states shares in percentage points; ``False`` states the metric's own units.
    """
    scale, unit, spec = (100.0, t("stats.points"), ".2f") if points else (1.0, "", ".3g")
    fmt = {"metric": metric_label, "level": round(d.level * 100), "unit": unit,
           "diff": format(abs(d.diff) * scale, spec), "low": format(d.low * scale, "+" + spec),
           "high": format(d.high * scale, "+" + spec)}
    if d.tie:
        return t("stats.tie", a=name_a, b=name_b, signed=format(d.diff * scale, "+" + spec), **fmt)
    better = d.winner(name_a, name_b)
    worse = name_b if better == name_a else name_a
    return t("stats.better", better=better, worse=worse, **fmt)
