"""labutils.training.fit: resume equals an uninterrupted run, early stopping, best weights, results files, frozen BatchNorm."""

import copy

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from labutils.training import (BEST, CHECKPOINT, fit, frozen_batchnorms, keep_frozen_bn_eval, load_results, run_epoch,
                               save_results)


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
    return {k: v for k, v in h.items() if k not in ("epoch_time_s", "resumed_from", "wall_time_s")}


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


def test_empty_loader_is_named(monkeypatch):
    empty = DataLoader(NoisyShapes(n=0), batch_size=4)
    with pytest.raises(ValueError, match="«val»: DataLoader не выдал ни одного батча"):
        run_epoch(nn.Linear(1, 1), empty, nn.CrossEntropyLoss(), "cpu", desc="val", progress=False)
    monkeypatch.setenv("LABUTILS_LANG", "en")
    with pytest.raises(ValueError, match="val yielded no batches"):
        run_epoch(nn.Linear(1, 1), empty, nn.CrossEntropyLoss(), "cpu", desc="val", progress=False)


# --- frozen BatchNorm (issue 10): frozen stages keep their running statistics --------------------------


def _partly_frozen_cnn():
    """Two conv+BN stages, the first frozen (like a pretrained stem), the second and the head trainable."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()),   # "0": frozen
        nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()),   # "1": trains
        nn.Flatten(), nn.Linear(256, 3))
    for p in model[0].parameters():
        p.requires_grad = False
    return model


def _bn_stats(bn):
    return [bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone()]


def _one_epoch(model, frozen_bn="eval"):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loader = DataLoader(NoisyShapes(n=32), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0))
    return run_epoch(model, loader, nn.CrossEntropyLoss(), "cpu", opt, progress=False, frozen_bn=frozen_bn)


def test_frozen_batchnorm_keeps_its_running_statistics():
    model = _partly_frozen_cnn()
    frozen_before, trainable_before = _bn_stats(model[0][1]), _bn_stats(model[1][1])
    weights_before = model[0][0].weight.clone()
    _one_epoch(model)
    for before, after in zip(frozen_before, _bn_stats(model[0][1])):
        assert torch.equal(before, after)
    assert torch.equal(model[0][0].weight, weights_before)
    assert not torch.equal(trainable_before[0], model[1][1].running_mean)
    assert not torch.equal(trainable_before[1], model[1][1].running_var)
    assert int(model[1][1].num_batches_tracked) == 4  # 32 images in batches of 8
    assert not model[0][1].training and model[1][1].training  # left as the loop set them


def test_frozen_batchnorm_train_mode_is_pytorch_default():
    model = _partly_frozen_cnn()
    before = _bn_stats(model[0][1])
    _one_epoch(model, frozen_bn="train")
    after = _bn_stats(model[0][1])
    assert not torch.equal(before[0], after[0]) and not torch.equal(before[1], after[1])
    assert int(after[2]) == 4


def test_fully_trainable_model_is_unaffected():
    runs = []
    for mode in ("eval", "train"):
        model = _partly_frozen_cnn()
        for p in model.parameters():
            p.requires_grad = True
        assert keep_frozen_bn_eval(copy.deepcopy(model).train()) == 0
        loss, acc, _, _ = _one_epoch(model, frozen_bn=mode)
        runs.append((loss, acc, model.state_dict()))
    assert runs[0][:2] == runs[1][:2]
    for key, value in runs[0][2].items():
        assert torch.equal(runs[1][2][key], value), key


def test_keep_frozen_bn_eval_counts_and_affine_less_batchnorm():
    model = _partly_frozen_cnn().train()
    assert keep_frozen_bn_eval(model) == 1 and not model[0][1].training
    assert keep_frozen_bn_eval(model) == 0  # already in eval mode: nothing switched
    # An affine-less BatchNorm follows the innermost enclosing module that has parameters.
    block = lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, affine=False))  # noqa: E731
    net = nn.Sequential(block(), block())
    for p in net[0].parameters():
        p.requires_grad = False
    assert frozen_batchnorms(net) == ["0.1"]
    assert keep_frozen_bn_eval(net.train()) == 1 and not net[0][1].training and net[1][1].training
    assert frozen_batchnorms(nn.BatchNorm2d(3, affine=False)) == []  # nothing encloses it: not frozen


@pytest.mark.parametrize("bad", ["Eval", "freeze", None, True])
def test_bad_frozen_bn_value_is_named(tmp_path, bad):
    model = _partly_frozen_cnn()
    with pytest.raises(ValueError, match="frozen_bn должен быть 'eval'"):
        _one_epoch(model, frozen_bn=bad)
    _, train, val, kw = _setup(tmp_path)
    with pytest.raises(ValueError, match="frozen_bn"):
        fit(model, train, val, **{**kw, "optimizer": torch.optim.SGD(model[1].parameters(), lr=0.1)}, frozen_bn=bad)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_fit_keeps_frozen_bn_and_resumes_bit_exactly(tmp_path):
    def setup(name):
        model = _partly_frozen_cnn()
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        train = DataLoader(NoisyShapes(), batch_size=16, shuffle=True, generator=torch.Generator())
        val = DataLoader(NoisyShapes(n=30, seed=1), batch_size=16)
        return model, train, val, dict(criterion=nn.CrossEntropyLoss(), optimizer=opt, epochs=6, device="cpu",
                                       run_dir=tmp_path / name, patience=None, checkpoint_every=3, progress=False)

    model, train, val, kw = setup("straight")
    frozen = _bn_stats(model[0][1])
    straight = fit(model, train, val, **kw)
    assert straight["frozen_bn"] == "eval"
    for before, after in zip(frozen, _bn_stats(model[0][1])):
        assert torch.equal(before, after)

    def crash(epoch, history):
        if epoch == 4:
            raise KeyboardInterrupt

    model_b, train, val, kw = setup("resumed")
    with pytest.raises(KeyboardInterrupt):
        fit(model_b, train, val, on_epoch_end=crash, **kw)
    model_b, train, val, kw = setup("resumed")
    with pytest.raises(ValueError, match="frozen_bn='eval'"):  # the checkpoint says how it was trained
        fit(model_b, train, val, frozen_bn="train", **kw)
    resumed = fit(model_b, train, val, **kw)
    assert resumed["resumed_from"] == 3 and _history(resumed) == _history(straight)
    for key, value in model.state_dict().items():
        assert torch.equal(model_b.state_dict()[key], value), key


class SlowShapes(NoisyShapes):
    """NoisyShapes that take ``delay`` seconds per image, so an epoch has a known minimum duration."""

    def __init__(self, n, seed=0, delay=0.03):
        super().__init__(n=n, seed=seed)
        self.delay = delay

    def __getitem__(self, i):
        import time

        time.sleep(self.delay)
        return super().__getitem__(i)


def test_wall_time_counts_the_whole_run_across_a_resume(tmp_path):
    """Issue 20: after a resume the training time is that of the whole run, not of the resumed part."""
    import time

    def setup():
        model, _, _, kw = _setup(tmp_path, "slow")
        train = DataLoader(SlowShapes(4), batch_size=4, shuffle=True, generator=torch.Generator())
        val = DataLoader(SlowShapes(4, seed=1), batch_size=4)
        kw.update(epochs=4, checkpoint_every=2)
        return model, train, val, kw

    def crash(epoch, history):
        if epoch == 3:
            raise KeyboardInterrupt("power cut")

    model, train, val, kw = setup()
    with pytest.raises(KeyboardInterrupt):
        fit(model, train, val, on_epoch_end=crash, **kw)
    saved = torch.load(tmp_path / "slow" / CHECKPOINT, weights_only=False)
    assert saved["state"]["epoch"] == 2 and saved["state"]["wall_time_s"] >= 2 * 8 * 0.03

    model, train, val, kw = setup()
    start = time.perf_counter()
    resumed = fit(model, train, val, **kw)
    this_call = time.perf_counter() - start
    assert resumed["resumed_from"] == 2 and resumed["epochs_run"] == 4
    # each epoch reads 8 images at 0.03 s: the two epochs saved before the crash are counted too
    assert resumed["wall_time_s"] >= sum(resumed["epoch_time_s"]) >= 4 * 8 * 0.03
    assert resumed["wall_time_s"] > this_call + 1.5 * 8 * 0.03
    saved = torch.load(tmp_path / "slow" / CHECKPOINT, weights_only=False)
    assert saved["state"]["wall_time_s"] == resumed["wall_time_s"]


def test_fit_returns_the_best_epochs_validation_predictions(tmp_path):
    model, train, val, kw = _setup(tmp_path)
    kw.update(epochs=3)
    h = fit(model, train, val, **kw)
    true, pred = torch.tensor(h["best_val_true"]), torch.tensor(h["best_val_pred"])
    assert true.tolist() == NoisyShapes(n=30, seed=1).y.tolist()  # the loader's order
    assert (true == pred).float().mean().item() == pytest.approx(h["best_val_acc"])


def _float16_path(monkeypatch):
    from labutils import training
    from labutils.fastpath import FastPath

    fake = FastPath(device=torch.device("cpu"), amp=True, dtype=torch.float16, channels_last=False,
                    grad_scaler=True, own_loop_fp32=False)
    monkeypatch.setattr(training, "fast_path", lambda *a, **k: fake)


def test_run_epoch_refuses_float16_training_without_a_scaler(monkeypatch, tmp_path):
    """Issue 20: where the fast path chose float16 (a GPU without native bfloat16), no GradScaler is refused."""
    _float16_path(monkeypatch)
    model, train, val, _ = _setup(tmp_path)
    before = copy.deepcopy(model.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scaler"):
        run_epoch(model, train, nn.CrossEntropyLoss(), "cpu", opt, progress=False)
    for key, value in before.items():  # refused before any step
        assert torch.equal(model.state_dict()[key], value), key
    loss, acc, _, _ = run_epoch(model, val, nn.CrossEntropyLoss(), "cpu", progress=False)  # evaluation needs none
    assert 0 <= acc <= 1


def test_run_epoch_trains_in_float16_when_given_a_scaler(monkeypatch, tmp_path):
    _float16_path(monkeypatch)
    model, train, _, _ = _setup(tmp_path)
    before = copy.deepcopy(model.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run_epoch(model, train, nn.CrossEntropyLoss(), "cpu", opt, progress=False, scaler=torch.amp.GradScaler("cpu"))
    assert any(not torch.equal(model.state_dict()[k], v) for k, v in before.items())
