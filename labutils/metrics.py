"""Classification metrics beyond accuracy, computed with scikit-learn (Lab 2 and later).

For a binary screening task "sick" is the positive class: sensitivity is the share of sick
patients the model catches, specificity the share of healthy ones it clears.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score, precision_score, roc_auc_score

from .messages import t


def binary_metrics(y_true, y_score, threshold: float = 0.5) -> dict[str, float]:
    """Sensitivity, specificity, precision, F1, accuracy and ROC-AUC for scores of the positive class (Lab 2).

    ``y_score`` is the predicted probability of class 1; a case is called positive when its score
    is at least ``threshold``. ROC-AUC does not depend on the threshold.
    """
    y_true = np.asarray(y_true).astype(int)
    y_score = np.asarray(y_score, dtype=float)
    y_pred = (y_score >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    return {
        "threshold": float(threshold),
        "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
        "specificity": tn / (tn + fp) if tn + fp else float("nan"),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "accuracy": float((y_pred == y_true).mean()),
        "roc_auc": float(roc_auc_score(y_true, y_score)) if len(set(y_true)) == 2 else float("nan"),
    }


def threshold_sweep(y_true, y_score, thresholds: Sequence[float] | None = None):
    """Sensitivity and specificity at each threshold, as a pandas DataFrame (Lab 2's slider and figure)."""
    thresholds = np.linspace(0.0, 1.0, 101) if thresholds is None else thresholds
    rows = [binary_metrics(y_true, y_score, t) for t in thresholds]
    return pd.DataFrame(rows)[["threshold", "sensitivity", "specificity", "precision", "f1", "accuracy"]]


def most_confused_pairs(cm, class_names: Sequence[str], k: int = 10):
    """The ``k`` largest off-diagonal cells of a confusion matrix as (true, predicted, count) (Lab 3).

    Rows are true classes and columns predictions, as scikit-learn's ``confusion_matrix`` lays them
    out. Ties keep the matrix order; pairs that never occurred are left out.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_names):
        raise ValueError(t("metrics.square", n=len(class_names), shape=cm.shape))
    off = cm.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:k]
    pairs = []
    for flat in order:
        i, j = divmod(int(flat), cm.shape[1])
        if off[i, j] == 0:
            break
        pairs.append((class_names[i], class_names[j], int(off[i, j])))
    return pairs


def aggregate_confusion(cm, group_of, n_groups: int):
    """Sum a class confusion matrix into groups, e.g. 100 CIFAR classes into 20 superclasses (Lab 3).

    ``group_of[c]`` is the group of class ``c``; entry (g, h) counts images of group g predicted as
    any class of group h.
    """
    cm = np.asarray(cm)
    onehot = np.zeros((len(group_of), n_groups), dtype=cm.dtype)
    onehot[np.arange(len(group_of)), np.asarray(group_of)] = 1
    return onehot.T @ cm @ onehot
