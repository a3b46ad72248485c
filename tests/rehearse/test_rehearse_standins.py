"""The rehearsal's stand-ins have the real archives' structure, and at full scale their counts (labutils.rehearse)."""
import hashlib
import pickle
import tarfile
import zipfile
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import datasets as tv_datasets
from torchvision.models import get_model

from labutils import fetch, registry
from labutils.budgets import LAB4_IMAGES
from labutils.chest_xray import chest_xray_patient
from labutils.cifar100 import CIFAR100_CLASSES, CIFAR100_SUPERCLASSES, cifar100_archive_superclasses
from labutils.dogs import DOG_BREEDS
from labutils.rehearse import chest, cifar, dogs, weights


def test_chest_plan_has_the_real_counts_and_kermany_names():
    rows = chest.plan("full")
    counts = Counter((split, name) for split, name, _, _ in rows)
    assert counts == {("train", "NORMAL"): 1349, ("train", "PNEUMONIA"): 3883,
                      ("test", "NORMAL"): 234, ("test", "PNEUMONIA"): 390}
    assert len(rows) == 5232 + 624
    assert all(chest_xray_patient(filename) for _, _, filename, _ in rows)
    names = [(split, name, filename) for split, name, filename, _ in rows]
    assert len(set(names)) == len(names)
    patients = {split: {chest_xray_patient(f) for s, _, f, _ in rows if s == split} for split in ("train", "test")}
    assert patients["train"] & patients["test"] == {"person1"}  # the lab's overlap check has one to find
    per_patient = Counter(chest_xray_patient(f) for s, _, f, _ in rows if s == "train")
    assert max(per_patient.values()) > 1 and min(per_patient.values()) == 1
    modes = Counter(chest._mode(seed) for *_, seed in rows)
    assert modes["L"] > 0.95 * len(rows) and modes["RGB"] > 10 and modes["CMYK"] > 3


def test_chest_images_have_real_sizes_and_modes():
    for seed in (0, chest.RGB_EVERY - 1, chest.CMYK_EVERY - 1):
        image = Image.open(__import__("io").BytesIO(chest.render(1, seed, chest.LONG_SIDE["full"])))
        assert image.format == "JPEG" and image.mode == chest._mode(seed)
        assert 1000 <= max(image.size) <= 2900 and min(image.size) >= 700


def test_chest_zip_passes_the_registry_check_and_names_parse(tmp_path):
    archive = chest.build(tmp_path, "tiny", workers=1)
    assert archive == fetch.destination(registry.get("chest_xray"), tmp_path)
    registry.check_chest_xray_zip(archive)  # the structural check the real download passes
    with zipfile.ZipFile(archive) as zf:
        jpegs = [n for n in zf.namelist() if n.endswith(".jpeg")]
    assert len(jpegs) == sum(sum(c.values()) for c in chest.COUNTS["tiny"].values())
    assert all(n.split("/")[:2] == ["chest_xray", n.split("/")[1]] and chest_xray_patient(n) for n in jpegs)


def test_cifar_full_counts_are_the_real_ones():
    assert {s: 100 * n for s, n in cifar.PER_CLASS["full"].items()} == {"train": 50_000, "test": 10_000}


def test_cifar_archive_is_the_real_format_and_torchvision_reads_it(tmp_path, monkeypatch):
    archive, md5 = cifar.build(tmp_path, "tiny")
    assert archive == fetch.destination(registry.get("cifar100"), tmp_path)
    with tarfile.open(archive) as tf:
        assert sorted(tf.getnames()) == ["cifar-100-python", "cifar-100-python/file.txt~", "cifar-100-python/meta",
                                         "cifar-100-python/test", "cifar-100-python/train"]
        tf.extractall(tmp_path / "x", filter="data")
        raw = (tmp_path / "x" / "cifar-100-python" / "train").read_bytes()
    assert raw.startswith(b"\x80\x02}") and b"U\x0bfine_labels" in raw  # Python 2 byte-string keys
    batch = pickle.loads(raw, encoding="latin1")
    assert batch["data"].shape == (500, 3072) and batch["data"].dtype == np.uint8
    assert Counter(batch["fine_labels"]) == dict.fromkeys(range(100), 5)
    assert hashlib.md5(raw).hexdigest() == md5["train"]
    monkeypatch.setattr(tv_datasets.CIFAR100, "train_list", [["train", md5["train"]]])
    monkeypatch.setattr(tv_datasets.CIFAR100, "test_list", [["test", md5["test"]]])
    monkeypatch.setattr(tv_datasets.CIFAR100, "meta", {**tv_datasets.CIFAR100.meta, "md5": md5["meta"]})
    ds = tv_datasets.CIFAR100(root=str(tmp_path / "x"), train=False)
    assert len(ds) == 200 and ds.classes == CIFAR100_CLASSES and ds[0][0].size == (32, 32)
    assert cifar100_archive_superclasses(tmp_path / "x") == {k: sorted(v) for k, v in CIFAR100_SUPERCLASSES.items()}


def test_dogs_tar_has_the_real_layout_and_counts(tmp_path):
    assert sum(dogs.counts("full")[b] for b in DOG_BREEDS) == sum(LAB4_IMAGES.values()) == 807
    archive = dogs.build(tmp_path, "tiny", workers=1)
    assert archive == fetch.destination(registry.get("stanford_dogs"), tmp_path)
    with tarfile.open(archive) as tf:
        files = [m.name for m in tf.getmembers() if m.isfile()]
        first = Image.open(tf.extractfile(files[0]))
        assert first.format == "JPEG" and first.mode == "RGB" and 160 <= min(first.size)
    per_folder = Counter(name.split("/")[1] for name in files)
    assert per_folder == {**dict.fromkeys(DOG_BREEDS, 12), dogs.OTHER_BREED: 6}
    assert all(name.split("/")[2].startswith(name.split("/")[1].split("-")[0] + "_") for name in files)


def test_weights_are_random_state_dicts_under_the_registry_names(tmp_path):
    written = weights.build(tmp_path, [2])
    assert [p.name for p in written] == [registry.get("resnet18").filename]
    state = torch.load(written[0], weights_only=True)
    model = get_model("resnet18", weights=None, num_classes=1000)
    model.load_state_dict(state, strict=True)
    with pytest.raises(fetch.ChecksumError):  # random weights: the real check rejects them
        fetch.verify(written[0], registry.get("resnet18"))
    assert {r.name for r in weights.needed([4])} == {"resnet50", "efficientnet_b0"}
