"""Performance plumbing: the device fast path and the benchmark pieces (behaviour only, no timing asserts)."""
import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from labutils import bench, fastpath
from labutils.training import fast_path, run_epoch


@pytest.mark.parametrize("native", [True, False])
def test_cpu_fast_path_follows_torchs_bf16_query(monkeypatch, native):
    monkeypatch.setattr(fastpath, "cpu_bf16_supported", lambda: native)
    monkeypatch.delenv("LABUTILS_FAST", raising=False)
    cfg = fast_path("cpu")
    assert cfg["amp"] is native and cfg["channels_last"] is True and cfg["grad_scaler"] is False
    assert cfg["dtype"] == (torch.bfloat16 if native else None)
    assert ("autocast bfloat16" in cfg.describe()) is native and "LABUTILS_FAST=0" in cfg.describe()


def test_fast_path_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setattr(fastpath, "cpu_bf16_supported", lambda: True)
    monkeypatch.setenv("LABUTILS_FAST", "0")
    for device in ("cpu", "cuda"):
        cfg = fast_path(device)
        assert not cfg["amp"] and not cfg["channels_last"]
    assert "LABUTILS_FAST=0" in fast_path("cpu").describe()
    monkeypatch.setenv("LABUTILS_FAST", "fast please")
    with pytest.raises(ValueError, match="LABUTILS_FAST"):
        fast_path("cpu")


def test_fast_path_helpers_wrap_a_plain_loop(monkeypatch):
    monkeypatch.setattr(fastpath, "cpu_bf16_supported", lambda: True)
    monkeypatch.delenv("LABUTILS_FAST", raising=False)
    cfg = fast_path("cpu")
    model = cfg.prepare(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(144, 2)))
    x = cfg.inputs(torch.randn(2, 3, 8, 8))
    assert x.is_contiguous(memory_format=torch.channels_last)
    with cfg.autocast():
        out = model(x)
    assert out.dtype == torch.bfloat16
    off = fast_path("cpu", amp=False, channels_last=False)
    with off.autocast():
        assert model(off.inputs(torch.randn(2, 3, 8, 8))).dtype == torch.float32


@pytest.mark.parametrize("bf16, dtype, scaler", [(True, torch.bfloat16, False), (False, torch.float16, True)])
def test_cuda_defaults_to_mixed_precision(monkeypatch, bf16, dtype, scaler):
    monkeypatch.setattr(fastpath, "cuda_bf16_native", lambda *a, **k: bf16)
    cfg = fast_path("cuda")
    assert cfg["amp"] and cfg["channels_last"] and cfg["dtype"] == dtype and cfg["grad_scaler"] is scaler
    off = fast_path("cuda", amp=False, channels_last=False)
    assert not off["amp"] and not off["channels_last"] and not off["grad_scaler"]


def test_forced_autocast_runs_on_cpu():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    loader = DataLoader(TensorDataset(torch.randn(16, 3, 8, 8), torch.randint(0, 2, (16,))), batch_size=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, acc, y_true, y_pred = run_epoch(model, loader, nn.CrossEntropyLoss(), "cpu", opt, progress=False,
                                          amp=True, channels_last=True)
    assert math.isfinite(loss) and 0 <= acc <= 1 and y_true.shape == y_pred.shape == (16,)


def test_fit_overhead_benchmark_reports_both_loops():
    r = bench.bench_fit_overhead("cpu", images=32, size=16, batch=16, reps=1)
    assert r["minimal_ips"] > 0 and r["labutils_ips"] > 0
    assert r["ratio"] == pytest.approx(r["labutils_ips"] / r["minimal_ips"])


def test_feature_cache_benchmark_trains_the_same_head():
    r = bench.bench_feature_cache("cpu", images=32, size=16, batch=16, epochs=3)
    assert r["head_max_diff"] < 1e-5
    assert r["cached_s"] > r["extract_s"] > 0 and r["direct_s"] > 0


def test_image_cache_benchmark_reads_every_image():
    r = bench.bench_image_cache(images=6, side=40, size=32)
    assert r["decode_ips"] > 0 and r["cached_ips"] > 0 and r["preload_s"] > 0


def test_budget_estimates_multiply_measured_step_costs(monkeypatch):
    from labutils import budgets

    calls = []

    def fake_measure(phase, device="cpu", steps=2):
        calls.append(phase.kind)
        return 0.5 if phase.train else 0.25

    monkeypatch.setattr(budgets, "measure", fake_measure)
    costs = {}
    for lab, phases in budgets.PHASES.items():
        e = budgets.estimate(lab, costs=costs)
        want = sum(p.steps * (0.5 if p.train else 0.25) for p in phases()) / 60
        assert e["minutes"] == pytest.approx(want) and len(e["phases"]) == len(phases())
    assert len(calls) == len(set(calls))  # each kind of step is timed once across the labs
    lab4 = {p.what: p for p in budgets.lab4_phases()}
    assert lab4["resnet50 full: training"].steps == budgets.LAB4_CPU["epochs"]["full"] * 18
    assert all(p.size == budgets.LAB4_CPU["image_size"] for p in lab4.values())


def test_bench_json_has_the_figures_the_course_reports(monkeypatch, capsys):
    import json

    from labutils import budgets

    monkeypatch.setattr(budgets, "measure", lambda phase, device="cpu", steps=2: 0.1)
    # the runner (labutils.bench.cli) calls the benchmarks by the names it imported: replaced there
    monkeypatch.setattr(bench.cli, "bench_fit_overhead", lambda *a, **k: {"ratio": 0.99})
    monkeypatch.setattr(bench.cli, "bench_feature_cache", lambda *a, **k: {"epoch_speedup": 40.0})
    monkeypatch.setattr(bench.cli, "bench_cpu_fast_path", lambda **k: {"speedup": 1.9, "fp32_ips": 10.0, "fast_ips": 19.0})
    monkeypatch.setattr(bench.cli, "bench_fast_path_agreement", lambda **k: {"fp32": {}, "fast": {}})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench.main(["--json", "--quick"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["cpu_fast_path_speedup"] == 1.9 and figures["fit_overhead_ratio"] == 0.99
    assert figures["feature_cache_speedup_per_epoch"] == 40.0
    assert figures["cuda_amp_speedup"] is None and figures["notebooks_total_s"] is None
    assert set(figures["full_mode_cpu_minutes"]) == {"01", "02", "03", "04"}
    steps = sum(p.steps for p in budgets.lab3_phases())
    assert figures["full_mode_cpu_minutes"]["03"] == pytest.approx(steps * 0.1 / 60, abs=0.01)


def test_the_fast_path_agreement_trains_both_ways():
    r = bench.bench_fast_path_agreement(epochs=1, images=32, size=16, batch=16, seeds=(0, 1))
    for name in ("fp32", "fast"):
        assert len(r[name]["final_train_loss"]) == len(r[name]["val_accuracy"]) == 2
        assert all(math.isfinite(v) for v in r[name]["final_train_loss"])
        assert all(0 <= v <= 1 for v in r[name]["val_accuracy"])


def test_checks_benchmark_prints_the_figures(capsys):
    """``python -m labutils.bench --only checks`` times Lab 2's Grad-CAM check on the solution (a figure, not a
    timed assertion: the figure is only required to be a measured, positive number)."""
    assert bench.main(["--only", "checks"]) == 0
    out = capsys.readouterr().out
    assert "self-check grad_cam" in out and "first call" in out and "rerun" in out and "target ≤ 5 s" in out
    figures = bench.bench_checks(reruns=1)
    assert figures["grad_cam_check_s"] > 0 and figures["grad_cam_check_rerun_s"] > 0
