"""Helpers Lab 3 adds: CIFAR-100 superclasses, the stand-in, most-confused pairs, aggregation, timing."""
import pickle
import time

import numpy as np
import pytest
from torchvision import datasets as tv_datasets

from labutils import fetch
from labutils.datasets import (CIFAR100_CLASSES, CIFAR100_SUPERCLASSES, cifar100, cifar100_archive_superclasses,
                               stratified_indices, superclass_index)
from labutils.metrics import aggregate_confusion, most_confused_pairs
from labutils.standins import SyntheticCIFAR100
from labutils.training import format_duration, time_steps


def test_superclass_mapping_covers_every_class_once():
    members = [c for names in CIFAR100_SUPERCLASSES.values() for c in names]
    assert len(CIFAR100_SUPERCLASSES) == 20
    assert all(len(names) == 5 for names in CIFAR100_SUPERCLASSES.values())
    assert sorted(members) == CIFAR100_CLASSES and len(set(members)) == 100
    idx = superclass_index(CIFAR100_CLASSES)
    assert np.bincount(idx).tolist() == [5] * 20
    assert list(CIFAR100_SUPERCLASSES)[idx[CIFAR100_CLASSES.index("whale")]] == "aquatic_mammals"
    assert list(CIFAR100_SUPERCLASSES)[idx[CIFAR100_CLASSES.index("tractor")]] == "vehicles_2"
    with pytest.raises(KeyError, match="unicorn"):
        superclass_index(["unicorn"])


def test_archive_reader_rebuilds_the_mapping(tmp_path):
    """The full-mode notebook checks the mapping against the archive's coarse labels; test that reader."""
    coarse_names = list(CIFAR100_SUPERCLASSES)
    fine_labels, coarse_labels = [], []
    for ci, names in enumerate(CIFAR100_SUPERCLASSES.values()):
        for name in names:
            fine_labels.append(CIFAR100_CLASSES.index(name))
            coarse_labels.append(ci)
    base = tmp_path / "cifar-100-python"
    base.mkdir()
    (base / "meta").write_bytes(pickle.dumps({"fine_label_names": CIFAR100_CLASSES, "coarse_label_names": coarse_names}))
    (base / "train").write_bytes(pickle.dumps({"fine_labels": fine_labels, "coarse_labels": coarse_labels}))
    assert cifar100_archive_superclasses(tmp_path) == {k: sorted(v) for k, v in CIFAR100_SUPERCLASSES.items()}


def test_standin_has_torchvision_interface():
    ds = SyntheticCIFAR100(train=True)
    assert ds.classes == CIFAR100_CLASSES
    assert ds.data.shape == (600, 32, 32, 3) and ds.data.dtype == np.uint8
    assert len(ds.targets) == 600 and np.bincount(ds.targets).tolist() == [6] * 100
    image, label = ds[7]
    assert image.size == (32, 32) and image.mode == "RGB" and label == ds.targets[7]
    assert np.array_equal(SyntheticCIFAR100(train=True).data, ds.data)
    assert not np.array_equal(SyntheticCIFAR100(train=False).data[:2], ds.data[:2])


def test_cifar100_full_mode_goes_through_the_registry(monkeypatch, data_dir):
    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    archive = data_dir / "cifar100" / "cifar-100-python.tar.gz"
    fetched, built = [], {}
    monkeypatch.setattr(fetch, "download", lambda name, **kw: fetched.append(name) or archive)

    class FakeCIFAR100:
        def __init__(self, root, train, download, transform):
            built.update(root=root, train=train, download=download, transform=transform)

    monkeypatch.setattr(tv_datasets, "CIFAR100", FakeCIFAR100)
    cifar100(train=False, transform="tf")
    assert fetched == ["cifar100"]  # the registry fetches and MD5-checks the archive first
    assert built == {"root": str(archive.parent), "train": False, "download": True, "transform": "tf"}


def test_cifar100_smoke_mode_is_announced(monkeypatch, capsys):
    monkeypatch.setenv("LABUTILS_SMOKE", "1")
    monkeypatch.setattr("labutils.runtime._announced", set())
    ds = cifar100(train=False)
    assert isinstance(ds, SyntheticCIFAR100) and len(ds) == 200
    assert "[РЕЖИМ SMOKE] CIFAR-100: СИНТЕТИЧЕСКАЯ замена" in capsys.readouterr().out


def test_stratified_indices_keep_class_balance():
    targets = [i % 100 for i in range(50_000)]
    idx = stratified_indices(targets, 5000, seed=42)
    assert len(idx) == 5000 and len(set(idx)) == 5000
    assert np.bincount([targets[i] for i in idx]).tolist() == [50] * 100
    assert stratified_indices(targets, 5000, seed=42) == idx
    assert stratified_indices(targets[:10], 50) == list(range(10))


def test_most_confused_pairs_reads_off_diagonal():
    cm = np.array([[9, 3, 0], [1, 7, 5], [0, 3, 8]])
    assert most_confused_pairs(cm, ["cat", "dog", "fox"], k=3) == [("dog", "fox", 5), ("cat", "dog", 3), ("fox", "dog", 3)]
    assert most_confused_pairs(np.eye(3, dtype=int), ["a", "b", "c"]) == []
    with pytest.raises(ValueError, match=r"квадратная матрица по числу классов \(2\)"):
        most_confused_pairs(cm, ["a", "b"])


def test_aggregate_confusion_sums_groups():
    cm = np.arange(16).reshape(4, 4)
    agg = aggregate_confusion(cm, [0, 0, 1, 1], 2)
    assert agg.tolist() == [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]]
    assert agg.sum() == cm.sum()


def test_time_steps_measures_the_median_and_warms_up():
    calls = []

    def step():
        calls.append(1)
        time.sleep(0.02 if len(calls) > 1 else 0.3)  # a slow first (warm-up) call must not count

    t = time_steps(step, n_steps=3, warmup=1)
    assert len(calls) == 4 and 0.015 < t < 0.2
    synced = []
    time_steps(lambda: None, n_steps=2, warmup=0, sync=lambda: synced.append(1))
    assert len(synced) == 4
    with pytest.raises(ValueError):
        time_steps(lambda: None, n_steps=0)


@pytest.mark.parametrize("seconds, ru, en", [
    (7260, "2 ч 01 мин", "2 h 01 min"),
    (7500, "2 ч 05 мин", "2 h 05 min"),
    (200, "3 мин 20 с", "3 min 20 s"),
    (12.46, "12.5 с", "12.5 s"),
    (0.4, "0.4 с", "0.4 s"),
    (0.04, "40 мс", "40 ms"),
    (0.0015, "1.5 мс", "1.5 ms"),
    (0, "0.0 с", "0.0 s"),
    (59.96, "1 мин 00 с", "1 min 00 s"),  # rounds up to a minute: never "60.0 s"
    (3599.7, "1 ч 00 мин", "1 h 00 min"),  # never "60 min 00 s"
    (1_000_000, "277 ч 46 мин", "277 h 46 min"),
])
def test_format_duration_in_both_languages(monkeypatch, seconds, ru, en):
    monkeypatch.delenv("LABUTILS_LANG", raising=False)
    assert format_duration(seconds) == ru
    monkeypatch.setenv("LABUTILS_LANG", "en")
    assert format_duration(seconds) == en
