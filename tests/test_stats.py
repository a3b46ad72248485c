"""The paired bootstrap behind every computed "which is better" verdict (Labs 2 and 4, issue 20)."""
import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from labutils.stats import bootstrap_difference, describe_difference, share_of_one


def _preds(n, acc_a, acc_b, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    a = np.where(rng.random(n) < acc_a, y, 1 - y)
    b = np.where(rng.random(n) < acc_b, y, 1 - y)
    return y, a, b


def test_a_clear_difference_is_named_with_its_winner(monkeypatch):
    monkeypatch.setenv("LABUTILS_LANG", "ru")
    y, a, b = _preds(400, 0.95, 0.70)
    d = bootstrap_difference(accuracy_score, y, a, b)
    assert d.diff == pytest.approx(accuracy_score(y, a) - accuracy_score(y, b))
    assert 0 < d.low < d.diff < d.high and not d.tie
    assert d.winner("A", "B") == "A" and bootstrap_difference(accuracy_score, y, b, a).winner("A", "B") == "B"
    text = describe_difference(d, "A", "B", "доля верных")
    assert "«A» лучше, чем «B»" in text and "ничья" not in text


def test_a_one_image_difference_is_a_tie(monkeypatch):
    monkeypatch.setenv("LABUTILS_LANG", "ru")
    y, a, _ = _preds(200, 0.9, 0.9)
    b = a.copy()
    b[np.flatnonzero(b == y)[0]] ^= 1        # B gets exactly one more image wrong
    d = bootstrap_difference(accuracy_score, y, a, b)
    assert d.diff == pytest.approx(share_of_one(200)) and d.tie and d.winner("A", "B") is None
    assert "ничья" in describe_difference(d, "A", "B", "доля верных")
    monkeypatch.setenv("LABUTILS_LANG", "en")
    assert "a tie" in describe_difference(d, "A", "B", "accuracy")


def test_resampling_whole_groups_widens_the_interval_of_correlated_examples():
    # 40 patients x 10 images each, every patient all right or all wrong: images are not independent
    rng = np.random.default_rng(1)
    patient_right_a, patient_right_b = rng.random(40) < 0.8, rng.random(40) < 0.6
    groups = np.repeat(np.arange(40), 10)
    y = np.zeros(400, dtype=int)
    a, b = (~np.repeat(patient_right_a, 10)).astype(int), (~np.repeat(patient_right_b, 10)).astype(int)
    per_image = bootstrap_difference(accuracy_score, y, a, b, seed=0)
    per_patient = bootstrap_difference(accuracy_score, y, a, b, groups=groups, seed=0)
    assert per_patient.n_groups == 40 and per_image.n_groups == 400
    assert (per_patient.high - per_patient.low) > 2 * (per_image.high - per_image.low)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="one entry per example"):
        bootstrap_difference(accuracy_score, [0, 1], [0, 1], [0])
    with pytest.raises(ValueError, match="level"):
        bootstrap_difference(accuracy_score, [0, 1], [0, 1], [0, 1], level=95)
    with pytest.raises(ValueError, match="positive"):
        share_of_one(0)


def test_for_a_loss_the_lower_side_wins(monkeypatch):
    monkeypatch.setenv("LABUTILS_LANG", "ru")
    y = np.zeros(300)
    low, high = np.full(300, 0.1), np.full(300, 0.9)   # per-example "losses" via the identity metric below

    def mean_loss(_, loss):
        return float(np.mean(loss))

    d = bootstrap_difference(mean_loss, y, high, low, higher_is_better=False)
    assert d.diff > 0 and not d.tie and d.winner("A", "B") == "B"
    assert "«B» лучше, чем «A»" in describe_difference(d, "A", "B", "потеря", points=False)
