import math

import numpy as np
import pytest

from labutils.metrics import binary_metrics, threshold_sweep


def test_binary_metrics_match_hand_counts():
    # 4 sick (1), 6 healthy (0); at threshold 0.5: TP=3, FN=1, TN=5, FP=1
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    s = [0.9, 0.8, 0.6, 0.2, 0.7, 0.4, 0.3, 0.2, 0.1, 0.05]
    m = binary_metrics(y, s)
    assert m["sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(5 / 6)
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(0.75)
    assert m["accuracy"] == pytest.approx(0.8)
    # ROC-AUC: share of (sick, healthy) pairs ranked correctly, ties count 1/2: 6 + 6 + 5 + 2.5 = 19.5 of 24
    assert m["roc_auc"] == pytest.approx(19.5 / 24)


def test_threshold_trades_sensitivity_for_specificity():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    s = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
    sweep = threshold_sweep(y, s)
    assert sweep["sensitivity"].is_monotonic_decreasing
    assert sweep["specificity"].is_monotonic_increasing
    assert sweep.iloc[0]["sensitivity"] == 1.0 and sweep.iloc[-1]["specificity"] == pytest.approx(1.0)


def test_single_class_gives_nan_auc_not_a_crash():
    m = binary_metrics([1, 1, 1], [0.2, 0.7, 0.9])
    assert math.isnan(m["roc_auc"]) and math.isnan(m["specificity"])
    assert m["sensitivity"] == pytest.approx(2 / 3)
