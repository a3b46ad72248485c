"""Performance plumbing: the device fast path and the benchmark pieces (behaviour only, no timing asserts)."""
import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from labutils import bench
from labutils.training import fast_path, run_epoch


def test_cpu_takes_the_safe_path():
    cfg = fast_path("cpu")
    assert cfg["amp"] is False and cfg["channels_last"] is False and cfg["grad_scaler"] is False


@pytest.mark.parametrize("bf16, dtype, scaler", [(True, torch.bfloat16, False), (False, torch.float16, True)])
def test_cuda_defaults_to_mixed_precision(monkeypatch, bf16, dtype, scaler):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
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
