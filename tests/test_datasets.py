"""Image-folder scanning, bad inputs, the Lab 2 split, and the chest X-ray locator."""
import io
import re
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from labutils import fetch, registry
from labutils.chest_xray import (chest_xray_patient, chest_xray_patients, chest_xray_root, describe_unnamed,
                                 make_chest_xray_folder)
from labutils.imagefolder import ImageListDataset, ImageReadError, grouped_split, scan_image_folder, stratified_split
from labutils.registry import Resource
from labutils.standins import make_image_folder


def _png_bytes(size=(2, 2)):
    buf = io.BytesIO()
    Image.new("L", size, 128).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def kaggle_train(tmp_path_factory):
    """5,216 tiny files laid out like the Kaggle train folder: 1,341 NORMAL, 3,875 PNEUMONIA."""
    root = tmp_path_factory.mktemp("kaggle") / "train"
    blob = _png_bytes()
    for name, n in {"NORMAL": 1341, "PNEUMONIA": 3875}.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            (root / name / f"{name}-{i:05d}.png").write_bytes(blob)
    return root


def test_lab2_split_counts_are_stratified_and_deterministic(kaggle_train):
    scan = scan_image_folder(kaggle_train, ["NORMAL", "PNEUMONIA"])
    assert len(scan.samples) == 5216 and scan.counts() == {"NORMAL": 1341, "PNEUMONIA": 3875}
    train, test = stratified_split(scan.samples, test_size=0.2, seed=42)
    assert (len(train), len(test)) == (4172, 1044)
    assert not set(train) & set(test)
    for part in (train, test):
        share = Counter(label for _, label in part)[0] / len(part)
        assert abs(share - 1341 / 5216) < 0.002
    assert stratified_split(scan.samples, 0.2, 42) == (train, test)
    assert stratified_split(scan.samples, 0.2, 7)[1] != test


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        scan_image_folder(tmp_path / "nowhere")
    (tmp_path / "train" / "NORMAL").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"папки класса \S*train/PNEUMONIA нет"):
        scan_image_folder(tmp_path / "train", ["NORMAL", "PNEUMONIA"])


def test_empty_class_folder_is_named(tmp_path):
    make_image_folder(tmp_path / "train", {"NORMAL": 2, "PNEUMONIA": 2}, mode="L")
    for f in (tmp_path / "train" / "NORMAL").iterdir():
        f.rename(tmp_path / f.name)  # the user's files are moved aside by the test, not by labutils
    with pytest.raises(ValueError, match=r"в папке класса \S*train/NORMAL нет читаемых изображений"):
        scan_image_folder(tmp_path / "train", ["NORMAL", "PNEUMONIA"])


def test_non_image_corrupt_and_truncated_files_are_listed_not_deleted(tmp_path):
    root = make_image_folder(tmp_path / "train", {"NORMAL": 3, "PNEUMONIA": 3}, mode="L", size_range=(64, 96),
                             ext=".jpeg")
    sick = root / "PNEUMONIA"
    (sick / "notes.txt").write_text("radiologist notes")
    (sick / "garbage.jpeg").write_bytes(b"\x00not a jpeg at all")
    whole = (sick / "PNEUMONIA_0000.jpeg").read_bytes()
    (sick / "cut.jpeg").write_bytes(whole[: len(whole) // 2])
    before = sorted(p.name for p in sick.iterdir())

    quick = scan_image_folder(root, ["NORMAL", "PNEUMONIA"], decode=False)  # headers only
    reasons = dict(quick.skipped)
    assert "не файл изображения" in reasons[str(sick / "notes.txt")]
    assert "не читается как изображение" in reasons[str(sick / "garbage.jpeg")]
    assert str(sick / "cut.jpeg") in dict(quick.samples)  # the header alone is intact

    full = scan_image_folder(root, ["NORMAL", "PNEUMONIA"], decode=True)
    assert "обрезан" in dict(full.skipped)[str(sick / "cut.jpeg")]
    assert len(full.samples) == 6
    assert "cut.jpeg" in full.report() and "пропущено файлов: 3; ничего не удалено" in full.report()
    assert sorted(p.name for p in sick.iterdir()) == before

    ds = ImageListDataset([(str(sick / "cut.jpeg"), 1)], ["NORMAL", "PNEUMONIA"], mode="L")
    with pytest.raises(ImageReadError, match="cut.jpeg"):
        ds[0]


def test_dataset_exposes_imagefolder_fields(tmp_path):
    root = make_image_folder(tmp_path / "t", {"a": 2, "b": 3}, mode="L")
    scan = scan_image_folder(root)
    ds = ImageListDataset(scan.samples, scan.classes, mode="L")
    assert ds.classes == ["a", "b"] and ds.targets == [0, 0, 1, 1, 1] and len(ds) == 5
    image, label = ds[4]
    assert image.mode == "L" and label == 1


def test_chest_xray_root_prefers_the_users_folder(tmp_path, monkeypatch):
    mine = tmp_path / "chest_xray"
    for split in ("train", "test"):
        make_image_folder(mine / split, {"NORMAL": 1, "PNEUMONIA": 1}, mode="L")
    monkeypatch.setenv("LABUTILS_CHEST_XRAY", str(mine))
    assert chest_xray_root() == mine
    with pytest.raises(FileNotFoundError, match="не папка с рентгеновскими снимками: ожидались .*train/NORMAL"):
        chest_xray_root(tmp_path)


def test_chest_xray_smoke_standin_is_announced(data_dir, monkeypatch, capsys):
    monkeypatch.delenv("LABUTILS_CHEST_XRAY", raising=False)
    monkeypatch.setattr("labutils.runtime._announced", set())
    root = chest_xray_root()
    assert "[РЕЖИМ SMOKE] рентгеновские снимки: СИНТЕТИЧЕСКИЕ" in capsys.readouterr().out
    for split in ("train", "test"):
        scan = scan_image_folder(root / split, ["NORMAL", "PNEUMONIA"])
        groups, unnamed = chest_xray_patients(scan.samples)
        assert not unnamed  # every stand-in file is named like Kermany's
        per_patient = Counter(groups)
        assert max(per_patient.values()) > 1  # several X-rays of one patient, as in the real set
        names = [Path(path).name for path, _ in scan.samples]
        views = [n for n in names if re.fullmatch(r"(NORMAL2-)?IM-\d{4}-0001-\d{4}\.jpeg", n)]
        assert views and any(n.startswith("NORMAL2-") for n in views)  # second views, as in the real set
        for view in views:  # ... grouped with the patient's first image
            assert view.rsplit("-", 1)[0] + ".jpeg" in names
        counts = scan.counts()
        assert 1.3 <= counts["PNEUMONIA"] / counts["NORMAL"] <= 5  # imbalanced like the real set (1:2.9, 1:1.7)
    with Image.open(scan.samples[0][0]) as img:
        assert img.mode == "L"


# Names as they occur in the real set, one or more per naming scheme. Checked against public listings:
# the Coronahack metadata CSV (Chest_xray_Corona_Metadata.csv, e.g. github.com/piotr-druzdzel/
# Deep-Learning-CNN-COVID-19), which names every ChestXRay2017 file: all 5,840 Kermany names there match
# one of the schemes below (144 of them did not before: 84 IM-…-0001-000k, 59 NORMAL2-IM-…-0001-000k and
# person447_virus_921_1), and a listing of Mendeley version 3's test/ folder (github.com/mariakang/
# clever-cat, ai-assignment/data/dataset.js: NORMAL-/BACTERIA-/VIRUS-<patient>-<image>.jpeg).
KERMANY_NAMES = [
    ("person1_bacteria_1.jpeg", "person1"),
    ("person1_virus_6.jpeg", "person1"),
    ("person1000_bacteria_2931.jpeg", "person1000"),
    ("person1946_bacteria_4875.jpeg", "person1946"),  # Kaggle's val/
    ("person447_virus_921_1.jpeg", "person447"),  # the one name with an extra "_1"
    ("IM-0115-0001.jpeg", "IM-0115"),
    ("IM-0011-0001-0001.jpeg", "IM-0011"),  # further views of one patient (test/NORMAL)
    ("IM-0011-0001-0002.jpeg", "IM-0011"),
    ("IM-0523-0001-0003.jpeg", "IM-0523"),
    ("NORMAL2-IM-1427-0001.jpeg", "NORMAL2-IM-1427"),
    ("NORMAL2-IM-0927-0001-0002.jpeg", "NORMAL2-IM-0927"),
    ("NORMAL2-IM-1345-0001-0002.jpeg", "NORMAL2-IM-1345"),
    ("NORMAL2-IM-0651-0004.jpeg", "NORMAL2-IM-0651"),
    ("NORMAL-1049278-0001.jpeg", "1049278"),  # Mendeley version 3 (CellData/chest_xray)
    ("BACTERIA-7257218-0005.jpeg", "7257218"),
    ("VIRUS-1352878-0007.jpeg", "1352878"),
]


@pytest.mark.parametrize("name, patient", KERMANY_NAMES + [
    ("scan.jpeg", None),
    ("IM-0115.jpeg", None),
    ("NORMAL2-IM-1345-0001-0002 copy.jpeg", None),  # a user's copy: reported, not guessed
    ("person1_virus_6_extra.jpeg", None),
])
def test_chest_xray_patient_ids_from_kermany_names(name, patient):
    assert chest_xray_patient(f"/data/chest_xray/train/X/{name}") == patient


def test_second_views_share_their_patient_with_the_first_image():
    """The bug of issue 21: NORMAL2-IM-0927-0001-0002.jpeg was a patient of its own, so one child could
    land on both sides of the split while the lab's own check, using the same parser, saw no overlap."""
    samples = [("NORMAL/NORMAL2-IM-0927-0001.jpeg", 0), ("NORMAL/NORMAL2-IM-0927-0001-0001.jpeg", 0),
               ("NORMAL/NORMAL2-IM-0927-0001-0002.jpeg", 0), ("NORMAL/IM-0011-0001-0002.jpeg", 0),
               ("NORMAL/IM-0011-0001.jpeg", 0)]
    groups, unnamed = chest_xray_patients(samples)
    assert groups == ["NORMAL2-IM-0927"] * 3 + ["IM-0011"] * 2 and unnamed == []


def test_files_without_a_patient_id_become_their_own_patient(capsys):
    samples = [("a/person1_virus_2.jpeg", 1), ("a/odd.jpeg", 1), ("b/odd.jpeg", 0)]
    groups, unnamed = chest_xray_patients(samples)
    assert groups == ["person1", "file:odd.jpeg", "file:odd.jpeg"] and unnamed == ["a/odd.jpeg", "b/odd.jpeg"]
    out = capsys.readouterr().out  # every caller reports them: counted and named, in Russian
    assert "Файлов без номера пациента в имени: 2" in out and "a/odd.jpeg" in out and "b/odd.jpeg" in out


def test_the_unnamed_report_names_the_first_files_and_counts_the_rest(capsys, monkeypatch):
    unnamed = [f"x/copy{i}.jpeg" for i in range(13)]
    text = describe_unnamed(unnamed, limit=10)
    assert "x/copy9.jpeg" in text and "x/copy10.jpeg" not in text and "… и ещё 3" in text
    assert chest_xray_patients([("IM-0001-0001.jpeg", 0)]) == (["IM-0001"], [])
    chest_xray_patients([("odd.jpeg", 0)], report=False)
    assert capsys.readouterr().out == ""  # nothing to report, or asked not to
    monkeypatch.setenv("LABUTILS_LANG", "en")
    assert "Files without a patient number in their name: 13" in describe_unnamed(unnamed)


@pytest.fixture(scope="module")
def kermany_like_train(tmp_path_factory):
    """A train/ folder with real-style names: 30 healthy and 60 sick patients, 1-6 X-rays each."""
    root = tmp_path_factory.mktemp("kermany") / "train"
    return make_chest_xray_folder(root, {"NORMAL": 30, "PNEUMONIA": 60}, images_per_patient=(1, 6),
                                  size_range=(8, 12), seed=5)


def test_grouped_split_never_puts_a_patient_on_both_sides(kermany_like_train):
    scan = scan_image_folder(kermany_like_train, ["NORMAL", "PNEUMONIA"])
    groups, _ = chest_xray_patients(scan.samples)
    assert len(set(groups)) == 90 and len(groups) > 200  # several images per patient
    patient_of = dict(zip((p for p, _ in scan.samples), groups))
    train, val = grouped_split(scan.samples, groups, val_fraction=0.2, seed=42)
    assert sorted(train + val) == sorted(scan.samples)
    assert not {patient_of[p] for p, _ in train} & {patient_of[p] for p, _ in val}
    assert 0.1 < len(val) / len(scan.samples) < 0.3
    share_sick = [sum(label for _, label in part) / len(part) for part in (train, val)]
    assert abs(share_sick[0] - share_sick[1]) < 0.1  # stratified as far as whole patients allow
    assert grouped_split(scan.samples, groups, 0.2, 42) == (train, val)  # deterministic
    assert grouped_split(scan.samples, groups, 0.2, 7)[1] != val


def test_per_image_split_does_leak_patients(kermany_like_train):
    """The article's per-image split puts images of one patient on both sides; that is what Lab 2 fixes."""
    scan = scan_image_folder(kermany_like_train, ["NORMAL", "PNEUMONIA"])
    groups, _ = chest_xray_patients(scan.samples)
    patient_of = dict(zip((p for p, _ in scan.samples), groups))
    train, val = stratified_split(scan.samples, test_size=0.2, seed=42)
    assert {patient_of[p] for p, _ in train} & {patient_of[p] for p, _ in val}


def test_grouped_split_rejects_bad_settings():
    samples = [(f"person{i}_virus_{i}.jpeg", i % 2) for i in range(10)]
    groups = [f"person{i}" for i in range(10)]
    with pytest.raises(ValueError, match="нужна одна группа на каждый пример"):
        grouped_split(samples, groups[:-1])
    with pytest.raises(ValueError, match="val_fraction"):
        grouped_split(samples, groups, val_fraction=0.9)
    with pytest.raises(ValueError, match="нужно больше пациентов"):
        grouped_split(samples[:3], groups[:3], val_fraction=0.2)


def test_chest_xray_full_mode_downloads_and_extracts(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    monkeypatch.delenv("LABUTILS_CHEST_XRAY", raising=False)
    archive = tmp_path / "ChestXRay2017.zip"
    blob = _png_bytes()
    with zipfile.ZipFile(archive, "w") as zf:
        for split in ("train", "test"):
            for cls in ("NORMAL", "PNEUMONIA"):
                zf.writestr(f"chest_xray/{split}/{cls}/{cls}-1.jpeg", blob)
        zf.writestr("__MACOSX/chest_xray/._junk", b"")
        zf.writestr("chest_xray/train/NORMAL/.DS_Store", b"\0\0\0\1Bud1")  # extracted before issue 21
    entry = registry.get("chest_xray")
    monkeypatch.setattr(registry, "get", lambda name: Resource(**{**entry.__dict__, "url": archive.as_uri()}))
    root = chest_xray_root()
    assert root == data_dir / "chest_xray" / "extracted" / "chest_xray"
    assert (root / "test" / "PNEUMONIA" / "PNEUMONIA-1.jpeg").is_file()
    assert not (data_dir / "chest_xray" / "extracted" / "__MACOSX").exists()
    assert not list(root.rglob(".DS_Store"))
    assert (data_dir / "chest_xray" / "ChestXRay2017.zip").is_file()  # the archive is kept
    assert chest_xray_root() == root  # second call reuses the extracted tree


def test_preload_gives_the_same_samples_as_decoding(tmp_path):
    import torch
    from torchvision import transforms

    root = make_image_folder(tmp_path / "x", {"NORMAL": 3, "PNEUMONIA": 5}, mode="L", size_range=(40, 70))
    scan = scan_image_folder(root)
    tf = transforms.Compose([transforms.Grayscale(3), transforms.Resize((32, 32)), transforms.ToTensor()])
    plain = ImageListDataset(scan.samples, scan.classes, tf, mode="L")
    cached = ImageListDataset(scan.samples, scan.classes, tf, mode="L")
    assert cached.preload((32, 32), progress=False)
    for i in range(len(plain)):
        a, la = plain[i]
        b, lb = cached[i]
        assert la == lb and a.shape == b.shape == (3, 32, 32)
        assert torch.allclose(a, b, atol=1 / 255 + 1e-6)  # one resize instead of one: at most one grey level
    (root / "NORMAL" / "NORMAL_0000.jpg").unlink()  # the cache no longer reads the files
    assert cached[0][1] == 0


def test_preload_respects_the_memory_budget(tmp_path, capsys):
    root = make_image_folder(tmp_path / "x", {"a": 2, "b": 2})
    ds = ImageListDataset(scan_image_folder(root).samples, ["a", "b"])
    assert not ds.preload(224, budget_bytes=1000, progress=False)
    assert "Изображения (4 шт.) не кешируются в памяти" in capsys.readouterr().out
    assert ds[0][0].mode == "RGB"  # still works, decoding each time
    assert ds.preload(64, progress=False)
    assert min(ds[0][0].size) == 64


def _kaggle_input(tmp_path, monkeypatch):
    from labutils import hosted

    inputs = tmp_path / "kaggle" / "input"
    inputs.mkdir(parents=True)
    monkeypatch.setattr(hosted, "KAGGLE_INPUT", inputs)
    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    monkeypatch.setenv("LABUTILS_OFFLINE", "1")  # any download attempt fails the test
    return inputs


def _tree(folder):
    return sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_kaggle_chest_xray_copy_is_checked_and_read_in_place(tmp_path, data_dir, monkeypatch, capsys):
    from labutils.chest_xray import make_chest_xray_folder

    monkeypatch.delenv("LABUTILS_CHEST_XRAY", raising=False)
    inputs = _kaggle_input(tmp_path, monkeypatch)
    copy = inputs / "chest-xray-pneumonia" / "chest_xray"  # paultimothymooney/chest-xray-pneumonia
    for split in ("train", "test", "val"):
        make_chest_xray_folder(copy / split, {"NORMAL": 2, "PNEUMONIA": 3}, seed=1)
    (copy / "__MACOSX").mkdir()
    before = _tree(inputs)
    assert chest_xray_root() == copy
    assert _tree(inputs) == before
    assert str(copy) in capsys.readouterr().out


def test_kaggle_chest_xray_copy_without_patient_names_is_skipped(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.delenv("LABUTILS_CHEST_XRAY", raising=False)
    inputs = _kaggle_input(tmp_path, monkeypatch)
    copy = inputs / "renamed" / "chest_xray"
    for split in ("train", "test"):
        for cls in ("NORMAL", "PNEUMONIA"):
            (copy / split / cls).mkdir(parents=True)
            (copy / split / cls / "image_001.jpeg").write_bytes(_png_bytes())
    with pytest.raises(fetch.DownloadError, match="LABUTILS_OFFLINE"):
        chest_xray_root()
    assert str(copy) in capsys.readouterr().out  # named as skipped, with the reason


def test_kaggle_stanford_dogs_copy_is_linked_breed_by_breed(tmp_path, data_dir, monkeypatch):
    from labutils import dogs

    inputs = _kaggle_input(tmp_path, monkeypatch)
    monkeypatch.setattr(dogs, "MIN_BREED_IMAGES", 2)
    images = inputs / "stanford-dogs-dataset" / "images" / "Images"  # jessicali9530/stanford-dogs-dataset
    for folder in [*dogs.DOG_BREEDS, "n02085620-Chihuahua"]:
        (images / folder).mkdir(parents=True)
        for n in range(2):
            (images / folder / f"{folder.split('-')[0]}_{n}.jpg").write_bytes(_png_bytes((80, 80)))
    before = _tree(inputs)
    raw = dogs.dogs_raw_images(progress=False)
    assert raw == data_dir / "stanford_dogs" / "raw" / "Images"
    assert sorted(p.name for p in raw.iterdir()) == sorted(dogs.DOG_BREEDS)
    assert (raw / "n02088364-beagle").resolve() == images / "n02088364-beagle"
    assert _tree(inputs) == before
    assert dogs.dogs_raw_images(progress=False) == raw  # a second call reuses the links


def test_kaggle_stanford_dogs_copy_that_is_too_small_is_skipped(tmp_path, data_dir, monkeypatch):
    from labutils import dogs

    images = _kaggle_input(tmp_path, monkeypatch) / "dogs" / "Images"
    for folder in dogs.DOG_BREEDS:
        (images / folder).mkdir(parents=True)
    with pytest.raises(ValueError, match="n02088364-beagle"):
        dogs.check_dogs_images(images)
    with pytest.raises(fetch.DownloadError, match="python -m labutils.fetch stanford_dogs"):
        dogs.dogs_raw_images(progress=False)
