"""Lab 2 self-checks of the medical metrics: ``sensitivity_specificity`` (``TASK_SENS_SPEC``) and ``class_weights``
(``TASK_CLASS_WEIGHTS``),
judged against scikit-learn's confusion matrix and its 'balanced' rule."""
from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.metrics import confusion_matrix

from ..messages import t
from .common import Raw, as_array, repr_of
from .core import Verdict, fail, student_check
from .protocol import register, self_check


# ---------------------------------------------------------------------------------------------
# TASK_SENS_SPEC: sensitivity_specificity


def _case_sens_spec(seed: int) -> dict:
    """The hand-made case first, then three random label vectors with about 20 % of predictions wrong."""
    rng = np.random.default_rng(seed)
    cases = [[torch.tensor([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]), torch.tensor([1, 1, 1, 0, 1, 0, 0, 0, 0, 0])]]
    for _ in range(3):
        y = rng.integers(0, 2, 50)
        y[:2] = [0, 1]  # both classes present, so both ratios are defined
        p = np.where(rng.random(50) < 0.8, y, 1 - y)
        cases.append([torch.from_numpy(y.astype(np.int64)), torch.from_numpy(p.astype(np.int64))])
    ones = torch.ones(int(rng.integers(4, 9)), dtype=torch.int64)
    return {"cases": cases, "one_class": [ones, ones.clone()]}  # only "sick", all found: no TN, FP


def _probe_sens_spec(sens_spec, case: dict) -> dict:
    """Probe of ``TASK_SENS_SPEC``: the student's pair for each case (or the ``repr`` of what was not a pair)."""
    pairs = []
    for y, p in case["cases"]:
        got = sens_spec(y.numpy(), p.numpy())
        if not (isinstance(got, tuple) and len(got) == 2):
            return {"pairs": pairs, "bad_return": repr_of(got)}
        pairs.append([float(got[0]), float(got[1])])
    return {"pairs": pairs, "one_class": _one_class_pair(sens_spec, case["one_class"])}


def _one_class_pair(sens_spec, one_class) -> dict:
    """The student's pair on labels and predictions of one class only (what a small batch can be), or the
    error it raised there: without ``labels=[0, 1]`` the confusion matrix is 1 × 1. The ratio of the absent
    class is 0 / 0; the warnings about it (NumPy's, scikit-learn's) are not shown, the verdict names the cause."""
    y, p = one_class
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NumPy's 0/0, scikit-learn's 1 × 1 matrix: the verdict says it
            got = sens_spec(y.numpy(), p.numpy())
    except Exception as exc:  # noqa: BLE001 (the error is the result: it is named in the verdict)
        text = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        return {"error": f"{type(exc).__name__}: {text}".rstrip(": ")}
    if not (isinstance(got, tuple) and len(got) == 2):
        return {"bad_return": repr_of(got)}
    try:
        return {"pair": [float(got[0]), float(got[1])]}
    except (TypeError, ValueError):
        return {"bad_return": repr_of(got)}


def _judge_sens_spec(data: dict, case: dict, task: str) -> str:
    pairs = data["pairs"]
    for i, (y, p) in enumerate(case["cases"]):
        if i == len(pairs) and "bad_return" in data:
            fail(task, t("lab2.pair", got=Raw(data["bad_return"])))
        tn, fp, fn, tp = (int(v) for v in confusion_matrix(y.numpy(), p.numpy(), labels=[0, 1]).ravel())
        sens, spec = tp / (tp + fn), tn / (tn + fp)
        got_sens, got_spec = (float(v) for v in pairs[i])
        if not (abs(got_sens - sens) <= 1e-9 and abs(got_spec - spec) <= 1e-9):
            fail(task, t("lab2.sens_spec", y=[int(v) for v in y[:10]], p=[int(v) for v in p[:10]],
                         sens=sens, spec=spec, got_sens=got_sens, got_spec=got_spec))
    y, _ = case["one_class"]
    one = data["one_class"]
    shown = [int(v) for v in y]
    if "error" in one:
        fail(task, t("lab2.sens_one_class_error", y=shown, error=str(one["error"])[:160]))
    if "bad_return" in one:
        fail(task, t("lab2.pair", got=Raw(one["bad_return"])))
    got_sens = float(one["pair"][0])
    if not abs(got_sens - 1.0) <= 1e-9:  # every sick child found; the specificity is 0/0 here
        fail(task, t("lab2.sens_one_class", y=shown, got=got_sens))
    return t("lab2.sens_ok", n=len(case["cases"]) + 1)


TASK_SENS_SPEC = register(2, "check_sensitivity_specificity", _case_sens_spec, _probe_sens_spec, _judge_sens_spec)


@student_check
def check_sensitivity_specificity(sens_spec, task: str = TASK_SENS_SPEC.label) -> Verdict:
    """Lab 2: sensitivity = TP / (TP + FN) and specificity = TN / (TN + FP) for several label vectors."""
    return self_check(TASK_SENS_SPEC, (sens_spec,), task)


# ---------------------------------------------------------------------------------------------
# TASK_CLASS_WEIGHTS: class_weights


def _case_class_weights(seed: int) -> dict:
    """Today's two fixed target lists, then three random ones (2-5 classes, each present, skewed counts)."""
    rng = np.random.default_rng(seed)
    targets = [[0] * 10 + [1] * 30, [0, 1, 1, 2, 2, 2]]
    for _ in range(3):
        k, n = int(rng.integers(2, 6)), int(rng.integers(20, 61))
        rest = rng.choice(k, size=n - k, p=rng.dirichlet(np.ones(k)))
        targets.append([int(v) for v in rng.permutation(np.concatenate([np.arange(k), rest]))])
    classes = [len(set(ts)) for ts in targets]
    absent = [int(v) for v in rng.permutation([0] * 5 + [1] * int(rng.integers(6, 16)))]
    return {"targets": targets + [absent], "classes": classes + [3]}  # the last: class 2 never occurs


def _probe_class_weights(fn, case: dict) -> dict:
    """Probe of ``TASK_CLASS_WEIGHTS``: the student's weights for each target list and number of classes (the last list
    lacks its highest class), and whether each result is a floating-point tensor."""
    results = []
    for targets, k in zip(case["targets"], case["classes"]):
        got = fn(list(targets), int(k))
        shape, values = as_array(got)
        results.append({"shape": shape, "values": values, "text": None if values is not None else repr_of(got, 100),
                        "float_tensor": isinstance(got, torch.Tensor) and got.is_floating_point(),
                        "type": f"{type(got).__name__}" + (f" {got.dtype}" if isinstance(got, torch.Tensor) else "")})
    return {"results": results}


def _judge_class_weights(data: dict, case: dict, task: str) -> str:
    for targets, k, got in zip(case["targets"], case["classes"], data["results"], strict=True):
        y, k = np.asarray(targets), int(k)
        counts = np.bincount(y, minlength=k)
        present = counts > 0
        want = np.full(k, np.inf)
        want[present] = len(y) / (k * counts[present])  # an absent class: N / 0, its weight is never used
        values = got["values"]
        if values is None:
            shown = Raw(got["text"])
        else:
            values = values.numpy()
            shown = np.round(values, 4).tolist() if values.size else values.tolist()
        if not present.all() and (values is None or list(got["shape"]) != [k]):
            fail(task, t("lab2.weights_absent", k=k, absent=int(np.flatnonzero(~present)[0]),
                         counts=counts.tolist(), got=tuple(got["shape"]) if values is not None else shown))
        if values is None or list(got["shape"]) != [k] or not np.allclose(values[present], want[present], atol=1e-6):
            fail(task, t("lab2.weights", counts=counts.tolist(), want=np.round(want, 4).tolist(), got=shown))
        if not got["float_tensor"]:
            fail(task, t("lab2.weights_type", got=str(got["type"])[:60]))
    return t("lab2.weights_ok")


TASK_CLASS_WEIGHTS = register(2, "check_class_weights", 
                              _case_class_weights, _probe_class_weights, _judge_class_weights)


@student_check
def check_class_weights(fn, task: str = TASK_CLASS_WEIGHTS.label) -> Verdict:
    """Lab 2: weights n_samples / (n_classes · count_c), as scikit-learn's 'balanced' rule."""
    return self_check(TASK_CLASS_WEIGHTS, (fn,), task)
