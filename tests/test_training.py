"""labutils.training.fit: resume equals an uninterrupted run, early stopping, best weights, results files."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from labutils.training import BEST, CHECKPOINT, fit, load_results, run_epoch, save_results


class NoisyShapes(Dataset):
    """Learnable 3-class images; random flips make the data order and augmentation RNG matter."""

    def __init__(self, n=60, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.arange(n) % 3
        self.x = torch.randn(n, 1, 8, 8, generator=g) * 0.5
        self.x[self.y == 0, :, :4] += 1.0
        self.x[self.y == 1, :, 4:] += 1.0

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        x = self.x[i]
        if torch.rand(()) < 0.5:  # augmentation drawn from the global RNG
            x = x.flip(-1)
        return x, self.y[i]


def _setup(tmp_path, name="run"):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Dropout(0.3), nn.Flatten(), nn.Linear(256, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    train = DataLoader(NoisyShapes(), batch_size=16, shuffle=True, generator=torch.Generator())
    val = DataLoader(NoisyShapes(n=30, seed=1), batch_size=16)
    kwargs = dict(criterion=nn.CrossEntropyLoss(), optimizer=opt, scheduler=sched, epochs=10, device="cpu",
                  run_dir=tmp_path / name, patience=None, checkpoint_every=5, progress=False)
    return model, train, val, kwargs


def _history(h):
    return {k: v for k, v in h.items() if k != "epoch_time_s" and k != "resumed_from"}


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path):
    model_a, train, val, kw = _setup(tmp_path, "straight")
    full = fit(model_a, train, val, **kw)

    model_b, train, val, kw = _setup(tmp_path, "interrupted")

    def crash(epoch, history):
        if epoch == 7:
            raise KeyboardInterrupt("power cut")

    with pytest.raises(KeyboardInterrupt):
        fit(model_b, train, val, on_epoch_end=crash, **kw)
    saved = torch.load(tmp_path / "interrupted" / CHECKPOINT, weights_only=False)
    assert saved["state"]["epoch"] == 5  # the last checkpoint before the crash

    model_c, train, val, kw = _setup(tmp_path, "interrupted")  # a fresh process would rebuild everything
    resumed = fit(model_c, train, val, **kw)
    assert resumed["resumed_from"] == 5
    assert _history(resumed) == _history(full)
    for key, value in model_a.state_dict().items():
        assert torch.equal(model_c.state_dict()[key], value), key


def test_model_ends_with_best_weights_and_early_stopping(tmp_path):
    model, train, val, kw = _setup(tmp_path)
    kw.update(patience=2, epochs=30)
    result = fit(model, train, val, **kw)
    assert result["stopped_early"] and result["epochs_run"] < 30
    assert result["epochs_run"] - result["best_epoch"] == 2
    assert result["best_val_acc"] == max(result["val_acc"])
    best = torch.load(tmp_path / "run" / BEST, weights_only=True)
    for key, value in best.items():
        assert torch.equal(model.state_dict()[key], value)
    val_loss, val_acc, _, _ = run_epoch(model, val, kw["criterion"], "cpu", progress=False)
    assert val_acc == pytest.approx(result["best_val_acc"])
    assert result["train_loss"][-1] < result["train_loss"][0]


def test_finished_run_is_not_retrained(tmp_path):
    model, train, val, kw = _setup(tmp_path)
    fit(model, train, val, **kw)
    model2, train, val, kw = _setup(tmp_path)
    again = fit(model2, train, val, **kw)
    assert again["resumed_from"] == 10 and again["epochs_run"] == 10
    for key, value in model.state_dict().items():
        assert torch.equal(model2.state_dict()[key], value)


def test_results_round_trip(tmp_path):
    import numpy as np

    save_results(tmp_path / "b_run", {"run": "b", "cm": np.eye(2, dtype=int), "acc": np.float32(0.5)})
    save_results(tmp_path / "a_run", {"run": "a"})
    records = load_results(tmp_path)
    assert [r["run"] for r in records] == ["a", "b"]
    assert records[1]["cm"] == [[1, 0], [0, 1]] and records[1]["acc"] == 0.5
    (tmp_path / "c_run").mkdir()
    (tmp_path / "c_run" / "results.json").write_text("{broken")
    with pytest.raises(ValueError, match="c_run"):
        load_results(tmp_path)


def test_empty_loader_is_named():
    empty = DataLoader(NoisyShapes(n=0), batch_size=4)
    with pytest.raises(ValueError, match="val yielded no batches"):
        run_epoch(nn.Linear(1, 1), empty, nn.CrossEntropyLoss(), "cpu", desc="val", progress=False)
