"""Helpers Lab 3 adds: CIFAR-100 superclasses, the stand-in, most-confused pairs, aggregation, timing."""
import hashlib
import pickle
import shutil
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from torchvision import datasets as tv_datasets

from labutils import fetch, registry
from labutils.cifar100 import CIFAR100_CLASSES, CIFAR100_SUPERCLASSES, cifar100, cifar100_archive_superclasses, superclass_index
from labutils.imagefolder import stratified_indices
from labutils.metrics import aggregate_confusion, most_confused_pairs
from labutils.registry import Resource
from labutils.rehearse.cifar import py2_pickle  # the real files' Python 2 pickle format, shared with the rehearsal
from labutils.cifar100 import SyntheticCIFAR100
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


def make_mini_cifar100(folder, *, n_train=10, n_test=4):
    """A miniature ``cifar-100-python/`` laid out like the real archive: ``train``, ``test``, ``meta`` and the
    junk ``file.txt~``; the pickles are Python 2 style (protocol 2, byte-string keys, read with latin1)."""
    base = Path(folder) / "cifar-100-python"
    base.mkdir(parents=True)
    coarse_of = superclass_index(CIFAR100_CLASSES)
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        fine = [int(v) for v in rng.integers(0, 100, size=n)]
        batch = {"filenames": [f"{CIFAR100_CLASSES[f]}_s_{i:06d}.png" for i, f in enumerate(fine)],
                 "batch_label": f"{split}ing batch 1 of 1", "fine_labels": fine,
                 "coarse_labels": [int(coarse_of[f]) for f in fine],
                 "data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)}
        (base / split).write_bytes(py2_pickle(batch))
    (base / "meta").write_bytes(py2_pickle({"fine_label_names": CIFAR100_CLASSES,
                                             "coarse_label_names": list(CIFAR100_SUPERCLASSES)}))
    (base / "file.txt~").write_bytes(b"")  # the real archive carries this editor backup file
    return base


def make_mini_cifar100_archive(path):
    """``cifar-100-python.tar.gz`` holding the miniature folder, members named as in the real archive."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / ".staging"
    base = make_mini_cifar100(staging)
    with tarfile.open(path, "w:gz") as tf:
        tf.add(base, arcname="cifar-100-python")
    shutil.rmtree(staging)
    return path


def _md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def mini_cifar(tmp_path_factory, monkeypatch):
    """The miniature's files, with torchvision's recorded MD5s pointed at them.

    torchvision's CIFAR100 checks each extracted file against fixed MD5s of the real 161 MB files
    (``train_list``, ``test_list``, ``meta``); a miniature cannot match those, so this fixture
    replaces them with the miniature's own MD5s. torchvision's check itself runs unchanged: a
    byte changed in a file still fails it. The registry entry is pointed at the miniature archive
    (its MD5 and size), so ``fetch.download`` verifies it as it would the real one.
    """
    source = tmp_path_factory.mktemp("mini") / "cifar-100-python.tar.gz"
    make_mini_cifar100_archive(source)
    with tarfile.open(source) as tf:
        assert sorted(tf.getnames()) == ["cifar-100-python", "cifar-100-python/file.txt~", "cifar-100-python/meta",
                                         "cifar-100-python/test", "cifar-100-python/train"]
        md5 = {name: hashlib.md5(tf.extractfile(f"cifar-100-python/{name}").read()).hexdigest()
               for name in ("train", "test", "meta")}
    monkeypatch.setattr(tv_datasets.CIFAR100, "train_list", [["train", md5["train"]]])
    monkeypatch.setattr(tv_datasets.CIFAR100, "test_list", [["test", md5["test"]]])
    monkeypatch.setattr(tv_datasets.CIFAR100, "meta", {**tv_datasets.CIFAR100.meta, "md5": md5["meta"]})
    entry = registry.get("cifar100")
    fake = Resource(**{**entry.__dict__, "url": source.as_uri(), "md5": _md5(source), "size_bytes": source.stat().st_size})
    monkeypatch.setattr(registry, "get", lambda name: fake if name == "cifar100" else entry)
    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    return source


def _no_download(monkeypatch):
    calls = []

    def refuse(name, **kw):
        calls.append(name)
        raise fetch.DownloadError(f"test: no download of {name}")

    monkeypatch.setattr(fetch, "download", refuse)
    return calls


def test_the_miniature_is_written_like_the_real_pickles(tmp_path):
    base = make_mini_cifar100(tmp_path)
    raw = (base / "train").read_bytes()
    assert raw.startswith(b"\x80\x02}") and b"U\x0bfine_labels" in raw  # protocol 2, Python 2 byte-string keys
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(raw)  # the array's bytes are a Python 2 string: only encoding="latin1" reads them
    batch = pickle.loads(raw, encoding="latin1")
    assert batch["data"].shape == (10, 3072) and batch["data"].dtype == np.uint8


def test_cifar100_uses_an_intact_folder_without_the_archive(mini_cifar, data_dir, monkeypatch, capsys):
    """Case 1: only the extracted folder is there (the .tar.gz was deleted); torchvision reads it, so do we."""
    with tarfile.open(mini_cifar) as tf:
        tf.extractall(data_dir / "cifar100", filter="data")
    calls = _no_download(monkeypatch)
    train, test = cifar100(train=True, transform=None), cifar100(train=False, transform=None)
    assert calls == []
    assert isinstance(train, tv_datasets.CIFAR100) and train.classes == CIFAR100_CLASSES
    assert train.data.shape == (10, 32, 32, 3) and len(test) == 4
    assert "не прошла проверку" not in capsys.readouterr().out


def test_cifar100_extracts_the_archive_once_then_reuses_the_folder(mini_cifar, data_dir, monkeypatch):
    archive = data_dir / "cifar100" / "cifar-100-python.tar.gz"
    archive.parent.mkdir(parents=True)
    shutil.copy(mini_cifar, archive)
    ds = cifar100(train=True, transform=None)  # the real fetch.download verifies the archive, then we extract it
    assert len(ds) == 10 and (data_dir / "cifar100" / "cifar-100-python" / "file.txt~").is_file()
    assert archive.is_file()  # the archive is kept
    calls = _no_download(monkeypatch)
    assert len(cifar100(train=False, transform=None)) == 4 and calls == []  # the folder alone suffices now


def test_cifar100_sets_a_damaged_folder_aside_and_extracts_again(mini_cifar, data_dir, capsys):
    with tarfile.open(mini_cifar) as tf:
        tf.extractall(data_dir / "cifar100", filter="data")
    damaged = data_dir / "cifar100" / "cifar-100-python" / "test"
    damaged.write_bytes(damaged.read_bytes()[:-10])  # truncated: torchvision's MD5 check fails
    archive = data_dir / "cifar100" / "cifar-100-python.tar.gz"
    shutil.copy(mini_cifar, archive)
    assert len(cifar100(train=False, transform=None)) == 4
    out = capsys.readouterr().out
    assert "cifar-100-python не прошла проверку torchvision" in out and "переименована" in out
    aside = data_dir / "cifar100" / "cifar-100-python.corrupt"
    assert (aside / "test").stat().st_size == damaged.stat().st_size - 10  # kept, not deleted


def test_cifar100_downloads_only_when_neither_archive_nor_folder_is_there(mini_cifar, data_dir, monkeypatch):
    calls = _no_download(monkeypatch)
    with pytest.raises(fetch.DownloadError):
        cifar100(train=True, transform=None)
    assert calls == ["cifar100"]


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


# ---------------------------------------------------------------------------------------------
# What the Lab 3 notebook promises about its training loop (mixed precision, the mean over samples)

def _lab3_cells():
    import nbformat

    from conftest import SOLUTIONS

    return nbformat.read(str(SOLUTIONS / "03_resnext_cifar100.ipynb"), as_version=4).cells


def _cell_with(cells, text):
    return next(c.source for c in cells if c.cell_type == "code" and text in c.source)


def test_lab3_autocast_covers_only_the_forward_and_the_timing_times_the_training_step():
    import ast

    cells = _lab3_cells()
    setup = _cell_with(cells, "fast = fast_path(")
    assert "fast_path(device, scaler=False)" in setup   # the students' loop has no GradScaler
    launch = _cell_with(cells, "train_one_epoch(train_model,")
    timing = _cell_with(cells, "def one_step():")
    for source in (launch, timing):   # no autocast around backward() / optimizer.step()
        assert "fast.autocast()" not in source and "torch.autocast" not in source
        assert "fast.autocast_forward(" in source
    assert "train_model = fast.autocast_forward(model)" in launch
    step = next(n for n in ast.walk(ast.parse(timing)) if isinstance(n, ast.FunctionDef) and n.name == "one_step")
    calls = [ast.unparse(n.func) for n in ast.walk(step) if isinstance(n, ast.Call)]
    # the same step as the loop: batch to the device, zero_grad, wrapped forward, loss, backward, step
    for call in ("batch_x.to", "timing_opt.zero_grad", "timed", "criterion", "loss.backward", "timing_opt.step"):
        assert call in calls, (call, calls)


def test_lab3_train_one_epoch_divides_by_the_samples_seen():
    """Answer 5 of Lab 3: the mean over the samples seen holds with drop_last, where len(dataset) would not."""
    import ast

    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from labutils.assignments import BEGIN, END

    source = _cell_with(_lab3_cells(), "def train_one_epoch(")
    source = "\n".join(line for line in source.splitlines() if line.strip() not in (BEGIN, END))
    func = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))
    namespace = {"torch": torch, "tqdm": lambda it, **kw: it}
    exec(compile(ast.Module(body=[func], type_ignores=[]), "lab3", "exec"), namespace)
    torch.manual_seed(0)
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    loader = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)   # 8 of 10 samples seen
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)   # lr 0: the weights stay as they are
    loss, acc = namespace["train_one_epoch"](model, loader, nn.CrossEntropyLoss(), optimizer, torch.device("cpu"))
    with torch.no_grad():
        out = model(x[:8])
    assert loss == pytest.approx(nn.functional.cross_entropy(out, y[:8]).item(), rel=1e-5)
    assert acc == pytest.approx((out.argmax(1) == y[:8]).float().mean().item())
