"""Lab 4: data preparation, strategies, the six-run comparison, ONNX export and parity."""
import hashlib
import io
import tarfile

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from labutils import checks, registry
from labutils.archives import UnsafeArchiveError
from labutils.dogs import DOG_BREEDS, dogs_raw_images, prepare_dogs
from labutils.export import export_onnx
from labutils.registry import Resource
from labutils.standins import make_image_folder
from labutils.training import fit, load_results, run_epoch, save_results


def _tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def raw(tmp_path):
    images = make_image_folder(tmp_path / "raw" / "Images", {f: 20 for f in DOG_BREEDS}, size_range=(70, 90), seed=9)
    (images / "n02108089-boxer" / "cut.jpg").write_bytes((images / "n02108089-boxer" / "n02108089-boxer_0000.jpg").read_bytes()[:300])
    from PIL import Image
    Image.new("RGB", (63, 200)).save(images / "n02113799-standard_poodle" / "narrow.jpg")
    (images / "n02113799-standard_poodle" / "README.txt").write_text("not an image")
    return images


def test_prepare_dogs_skips_splits_and_keeps_raw(raw, tmp_path):
    before = _tree_digest(raw)
    prep = prepare_dogs(raw, tmp_path / "processed")
    reasons = {p.split("/")[-1]: r for p, r in prep.skipped}
    assert "обрезан" in reasons["cut.jpg"] and "слишком маленькое (63×200" in reasons["narrow.jpg"]
    assert "не файл изображения" in reasons["README.txt"]
    assert prep.total == 100
    sizes = {split: sum(c.values()) for split, c in prep.counts.items()}
    assert sizes == {"train": 70, "val": 15, "test": 15}
    for split, per_class in prep.counts.items():
        assert set(per_class.values()) == {sizes[split] // 5}, per_class  # stratified: equal per breed
    assert sorted(p.name for p in (tmp_path / "processed" / "train").iterdir()) == sorted(DOG_BREEDS.values())
    assert _tree_digest(raw) == before  # nothing moved, deleted or changed
    again = prepare_dogs(raw, tmp_path / "processed")
    assert again.counts == prep.counts
    with pytest.raises(FileExistsError, match="содержит другое разбиение"):
        prepare_dogs(raw, tmp_path / "processed", seed=7)


def test_smoke_archive_goes_through_safe_extraction(data_dir, monkeypatch, capsys):
    monkeypatch.setattr("labutils.runtime._announced", set())
    images = dogs_raw_images()
    assert sorted(p.name for p in images.iterdir()) == sorted(DOG_BREEDS)  # the distractor breed stays packed
    assert "[РЕЖИМ SMOKE] Stanford Dogs: СИНТЕТИЧЕСКИЙ" in capsys.readouterr().out
    prep = prepare_dogs(images, data_dir / "processed")
    assert {p.split("/")[-1] for p, _ in prep.skipped} == {"n02088364_broken.jpg", "n02088364_tiny.jpg"}


def test_full_mode_refuses_a_tar_with_escaping_member(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    archive = tmp_path / "images.tar"
    with tarfile.open(archive, "w") as tf:
        for name in ("Images/n02088364-beagle/a.jpg", "Images/n02088364-beagle/../../../evil.jpg"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tf.addfile(info, io.BytesIO(b"abc"))
    data = archive.read_bytes()
    entry = registry.get("stanford_dogs")
    fake = Resource(**{**entry.__dict__, "url": archive.as_uri(), "sha256": hashlib.sha256(data).hexdigest(),
                       "size_bytes": len(data)})
    monkeypatch.setattr(registry, "get", lambda name: fake)
    with pytest.raises(UnsafeArchiveError, match="evil.jpg"):
        dogs_raw_images(progress=False)
    assert not (data_dir / "evil.jpg").exists() and not (data_dir / "stanford_dogs" / "raw").exists()
    assert (data_dir / "stanford_dogs" / "images.tar").exists()  # the download is kept


def test_solution_passes_lab4_checks(lab4, capsys):
    ns = lab4
    assert checks.check_make_model(ns["make_model"])
    assert checks.check_strategies(ns["apply_strategy"], ns["make_model"])
    assert checks.check_optimizer(ns["make_optimizer"], ns["make_model"], ns["apply_strategy"])
    assert checks.check_pick_best(ns["pick_best"])
    assert checks.check_onnx_parity(ns["onnx_max_abs_diff"])
    assert capsys.readouterr().out.count("✅") == 5


def _verdict(fn, *args):
    with pytest.raises(checks.CheckFailed) as info:
        fn(*args)
    return str(info.value)


def test_freeze_that_leaves_the_backbone_trainable(lab4):
    def leaky(model, arch, strategy):
        model = lab4["apply_strategy"](model, arch, strategy)
        if strategy == "freeze":
            for p in model.parameters():
                p.requires_grad = True  # forgot to freeze
        return model

    msg = _verdict(checks.check_strategies, leaky, lab4["make_model"])
    assert msg.startswith("Задание 4.2 apply_strategy (resnet50, freeze): ожидалось, что обучаются только fc")


def test_efficientnet_partial_without_final_conv(lab4):
    def no_head_conv(model, arch, strategy):
        model = lab4["apply_strategy"](model, arch, strategy)
        if arch == "efficientnet_b0" and strategy == "partial":
            for p in model.features[8].parameters():
                p.requires_grad = False
        return model

    assert "features.8" in _verdict(checks.check_strategies, no_head_conv, lab4["make_model"])


def test_optimizer_over_frozen_parameters(lab4):
    def all_params(model, lr, epochs):
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)

    msg = _verdict(checks.check_optimizer, all_params, lab4["make_model"], lab4["apply_strategy"])
    assert "ровно обучаемые тензоры модели" in msg


def test_picking_by_test_accuracy_is_named():
    by_test = lambda runs: max(runs, key=lambda r: r["test"]["acc"])  # noqa: E731
    assert "выбран запуск с лучшей accuracy на тесте" in _verdict(checks.check_pick_best, by_test)


def test_onnx_parity_that_ignores_the_model():
    # Returning ~0 matches the true difference of a faithful export, but not for a changed model.
    assert "сравнивайте выход onnxruntime с выходом переданной модели" in _verdict(
        checks.check_onnx_parity, lambda path, model, batch: 0.0)
    assert "ожидалось max |ONNX − PyTorch|" in _verdict(checks.check_onnx_parity, lambda path, model, batch: 0.5)


def test_six_run_comparison(tmp_path, lab4):
    """Six tiny runs through fit/save_results; the comparison loads all six and picks by validation."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 6, generator=g)
    y = (x[:, 0] > 0).long()
    train = DataLoader(TensorDataset(x[:40], y[:40]), batch_size=8, shuffle=True, generator=torch.Generator())
    val = DataLoader(TensorDataset(x[40:50], y[40:50]), batch_size=8)
    test = DataLoader(TensorDataset(x[50:], y[50:]), batch_size=8)
    for arch, width in (("resnet50", 16), ("efficientnet_b0", 4)):
        for strategy, lr in (("freeze", 1e-3), ("partial", 1e-2), ("full", 5e-2)):
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(6, width), nn.ReLU(), nn.Linear(width, 2))
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            hist = fit(model, train, val, criterion=nn.CrossEntropyLoss(), optimizer=opt, epochs=4, device="cpu",
                       run_dir=tmp_path / f"{arch}_{strategy}", progress=False)
            loss, acc, _, _ = run_epoch(model, test, nn.CrossEntropyLoss(), "cpu", progress=False)
            save_results(tmp_path / f"{arch}_{strategy}", {
                "run": f"{arch}_{strategy}", "model": arch, "strategy": strategy, "history": hist,
                "best_val_acc": hist["best_val_acc"], "test": {"acc": acc, "loss": loss},
                "params": {"trainable": sum(p.numel() for p in model.parameters()), "total": 0}})
    results = load_results(tmp_path)
    assert len(results) == 6 and {r["strategy"] for r in results} == {"freeze", "partial", "full"}
    best = lab4["pick_best"](results)
    top = max(r["best_val_acc"] for r in results)
    assert best["best_val_acc"] == top
    assert best["params"]["trainable"] == min(r["params"]["trainable"] for r in results if r["best_val_acc"] == top)


def test_onnx_export_sizes_and_parity(tmp_path, lab4):
    from torchvision.models import resnet18

    model = resnet18(num_classes=5).eval()
    example = torch.randn(1, 3, 64, 64)
    split = export_onnx(model, example, tmp_path / "m.onnx")
    assert split["data_bytes"] > 40e6 and split["graph_bytes"] < 1e6  # weights live in m.onnx.data
    single = export_onnx(model, example, tmp_path / "m.onnx", single_file=True)
    assert single["data_bytes"] == 0 and single["graph_bytes"] > 40e6
    assert not (tmp_path / "m.onnx.data").exists()  # the stale external file was removed
    batch = torch.randn(4, 3, 64, 64)  # another batch size than the example: the batch axis is dynamic
    assert lab4["onnx_max_abs_diff"](tmp_path / "m.onnx", model, batch) < 1e-4


@pytest.mark.parametrize("dynamo", [True, False])
def test_onnx_layout_is_the_same_with_either_exporter(tmp_path, monkeypatch, dynamo):
    """Issue 20: the split/one-file layout the notebook describes holds whether this torch has the dynamo
    exporter or only the TorchScript one (torch>=2.2 in requirements.txt)."""
    import numpy as np
    import onnxruntime as ort

    from labutils import export

    monkeypatch.setattr(export, "dynamo_exporter_available", lambda: dynamo)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 5)).eval()
    weights = 4 * sum(p.numel() for p in model.parameters())
    split = export_onnx(model, torch.randn(1, 3, 16, 16), tmp_path / "m.onnx")
    assert split["data_bytes"] >= 0.9 * weights and split["graph_bytes"] < weights / 4
    batch = torch.randn(3, 3, 16, 16)  # the batch axis is dynamic with either exporter
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    with torch.no_grad():
        assert np.abs(session.run(["logits"], {"images": batch.numpy()})[0] - model(batch).numpy()).max() < 1e-4
    single = export_onnx(model, torch.randn(1, 3, 16, 16), tmp_path / "m.onnx", single_file=True)
    assert single["data_bytes"] == 0 and single["graph_bytes"] >= 0.9 * weights


@pytest.mark.parametrize("arch", ["resnet50", "efficientnet_b0"])
def test_partial_strategy_keeps_frozen_batchnorm_statistics(arch, lab4):
    """Issue 10: under partial, the loop of Lab 4 leaves the BatchNorms of the frozen stages as pretrained."""
    from torch.nn.modules.batchnorm import _BatchNorm

    from labutils.training import frozen_batchnorms

    model = lab4["apply_strategy"](lab4["make_model"](arch), arch, "partial")
    trainable_prefixes = tuple(f"{m}." for m in lab4["PARTIAL_MODULES"][arch])
    bns = {name: m for name, m in model.named_modules() if isinstance(m, _BatchNorm)}
    frozen = {name for name in bns if not name.startswith(trainable_prefixes)}
    assert set(frozen_batchnorms(model)) == frozen and 0 < len(frozen) < len(bns)
    before = {name: (m.running_mean.clone(), m.running_var.clone(), int(m.num_batches_tracked)) for name, m in bns.items()}
    g = torch.Generator().manual_seed(0)
    loader = DataLoader(TensorDataset(torch.randn(8, 3, 64, 64, generator=g), torch.arange(8) % 5), batch_size=4)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    run_epoch(model, loader, nn.CrossEntropyLoss(), "cpu", opt, progress=False)
    for name, m in bns.items():
        mean, var, count = before[name]
        if name in frozen:
            assert torch.equal(m.running_mean, mean) and torch.equal(m.running_var, var), name
            assert int(m.num_batches_tracked) == count, name
        else:
            assert int(m.num_batches_tracked) == count + 2 and not torch.equal(m.running_mean, mean), name
