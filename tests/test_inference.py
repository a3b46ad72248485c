"""Lab 4, section 6: latency timing, ONNX Runtime runners and INT8 quantisation (labutils.inference)."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from labutils import inference
from labutils.export import export_onnx


def _tiny_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 256), nn.ReLU(),
                         nn.Linear(256, 5)).eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    model = _tiny_cnn()
    path = folder / "tiny.onnx"
    export_onnx(model, torch.randn(1, 3, 16, 16), path, single_file=True)
    return model, path


def test_latency_counts_only_the_timed_calls_and_reports_quartiles():
    calls = []

    def slow(x):
        calls.append(x)
        import time
        time.sleep(0.004)

    r = inference.latency_ms(slow, np.zeros(1), repeats=6, warmup=3)
    assert len(calls) == 9 and set(r) == {"median", "q1", "q3", "repeats"} and r["repeats"] == 6
    assert 4.0 <= r["q1"] <= r["median"] <= r["q3"] < 100  # milliseconds, not seconds
    with pytest.raises(ValueError, match="repeats"):
        inference.latency_ms(slow, np.zeros(1), repeats=0)


def test_same_speed_is_overlap_of_interquartile_ranges():
    a = {"q1": 10.0, "q3": 12.0}
    assert inference.same_speed(a, {"q1": 11.5, "q3": 13.0}) and inference.same_speed({"q1": 11.5, "q3": 13.0}, a)
    assert not inference.same_speed(a, {"q1": 12.5, "q3": 13.0})
    assert not inference.same_speed({"q1": 1.0, "q3": 2.0}, a)


def test_onnx_runner_matches_torch_on_other_batch_sizes(exported):
    model, path = exported
    batch = np.random.default_rng(0).standard_normal((3, 3, 16, 16)).astype(np.float32)
    ours = inference.onnx_runner(path, threads=1)(batch)
    ref = inference.torch_runner(model)(batch)
    assert ours.shape == (3, 5) and np.abs(ours - ref).max() < 1e-4


def test_int8_copy_is_smaller_and_close(exported, tmp_path):
    model, path = exported
    size = inference.quantize_int8(path, tmp_path / "tiny_int8.onnx")
    assert size == (tmp_path / "tiny_int8.onnx").stat().st_size
    assert size < 0.5 * inference.file_bytes(path)  # 8-bit weights: far under the float32 file
    batch = np.random.default_rng(1).standard_normal((4, 3, 16, 16)).astype(np.float32)
    ref = inference.torch_runner(model)(batch)
    out = inference.onnx_runner(tmp_path / "tiny_int8.onnx", threads=1)(batch)
    assert out.shape == ref.shape and not np.array_equal(out, ref)  # it really is another model
    assert np.abs(out - ref).max() < 0.1 * np.abs(ref).max() + 1e-3
    with pytest.raises(FileNotFoundError, match="export it first"):
        inference.quantize_int8(tmp_path / "missing.onnx", tmp_path / "x.onnx")


def test_predict_onnx_gives_labels_and_argmax(exported):
    model, path = exported
    x = torch.randn(10, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    y = torch.arange(10) % 5
    labels, preds = inference.predict_onnx(inference.onnx_runner(path, threads=1),
                                           DataLoader(TensorDataset(x, y), batch_size=4))
    with torch.no_grad():
        want = model(x).argmax(1).numpy()
    assert labels.tolist() == y.tolist() and preds.tolist() == want.tolist()
    with pytest.raises(ValueError, match="no batches"):
        inference.predict_onnx(lambda b: b, [])


def test_latency_verdict_names_the_faster_or_a_tie():
    fast, slow = {"median": 10.0, "q1": 9.0, "q3": 11.0}, {"median": 30.0, "q1": 28.0, "q3": 33.0}
    text = inference.latency_verdict("ONNX", fast, "PyTorch", slow)
    assert text.startswith("ONNX быстрее, чем PyTorch, в 3.0 раза")
    assert inference.latency_verdict("PyTorch", slow, "ONNX", fast).startswith("ONNX быстрее")
    assert "ничья" in inference.latency_verdict("A", fast, "B", {"median": 11.5, "q1": 10.5, "q3": 12.0})


def test_measure_versions_rows(exported):
    model, path = exported
    x = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    loader = DataLoader(TensorDataset(x, torch.arange(6) % 5), batch_size=4)
    rows = inference.measure_versions({"PyTorch": (inference.torch_runner(model), 1),
                                       "ONNX": (inference.onnx_runner(path, threads=1), 2)},
                                      x[:1].numpy(), loader, repeats=2, warmup=0)
    assert list(rows) == ["PyTorch", "ONNX"] and rows["ONNX"]["bytes"] == 2
    assert rows["PyTorch"]["pred"].tolist() == rows["ONNX"]["pred"].tolist()
    assert rows["ONNX"]["accuracy"] == pytest.approx(float((rows["ONNX"]["pred"] == rows["ONNX"]["true"]).mean()))
    assert rows["ONNX"]["latency"]["repeats"] == 2


def test_cpu_threads_sets_and_restores_and_onnx_follows(exported):
    _, path = exported
    before = torch.get_num_threads()
    with inference.cpu_threads(1):
        assert torch.get_num_threads() == 1
        run = inference.onnx_runner(path)
        assert run(np.zeros((1, 3, 16, 16), np.float32)).shape == (1, 5)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="at least one thread"):
        with inference.cpu_threads(0):
            pass
