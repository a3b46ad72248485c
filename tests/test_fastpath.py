"""Mixed precision done right (issue 20): native bfloat16 only, never float16 without a GradScaler,
autocast around the forward pass only. GPUs are mocked through torch's device queries."""
import pytest
import torch
from torch import nn

from labutils import fastpath
from labutils.fastpath import AutocastForward, cuda_bf16_native, fast_path


@pytest.fixture(autouse=True)
def _fast_on(monkeypatch):
    monkeypatch.delenv("LABUTILS_FAST", raising=False)


def _gpu(monkeypatch, capability, emulated_bf16=True):
    """Pretend the current CUDA device has ``capability``; torch's own bf16 query says ``emulated_bf16``."""
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: emulated_bf16)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


@pytest.mark.parametrize("capability, native", [((7, 5), False), ((7, 0), False), ((8, 0), True), ((9, 0), True)])
def test_native_bf16_is_read_from_the_capability_not_the_emulating_query(monkeypatch, capability, native):
    _gpu(monkeypatch, capability, emulated_bf16=True)   # torch says "supported" even on a T4 (emulation)
    assert cuda_bf16_native() is native


def test_a_t4_never_trains_in_emulated_bf16(monkeypatch):
    _gpu(monkeypatch, (7, 5), emulated_bf16=True)
    with_scaler = fast_path("cuda")
    assert with_scaler["dtype"] == torch.float16 and with_scaler["grad_scaler"] is True


@pytest.mark.parametrize("capability", [(7, 5), (7, 0)])
def test_a_loop_without_a_scaler_never_runs_float16(monkeypatch, capability):
    _gpu(monkeypatch, capability)
    own = fast_path("cuda", scaler=False)
    assert own["amp"] is False and own["dtype"] is None and own["grad_scaler"] is False
    assert "GradScaler" in own.describe()
    model = nn.Linear(3, 2)
    assert own.autocast_forward(model) is model   # the student's loop gets the plain model: float32
    with pytest.raises(ValueError, match="GradScaler"):
        fast_path("cuda", amp=True, scaler=False)   # forcing float16 into such a loop is refused


def test_an_ampere_gpu_gives_the_students_loop_bf16_without_a_scaler(monkeypatch):
    _gpu(monkeypatch, (8, 6))
    own = fast_path("cuda", scaler=False)
    assert own["amp"] and own["dtype"] == torch.bfloat16 and not own["grad_scaler"]


@pytest.mark.parametrize("native", [True, False])
def test_cpu_loop_without_a_scaler_follows_native_bf16(monkeypatch, native):
    monkeypatch.setattr(fastpath, "cpu_bf16_supported", lambda: native)
    own = fast_path("cpu", scaler=False)
    assert own["amp"] is native and own["grad_scaler"] is False
    assert own["dtype"] == (torch.bfloat16 if native else None)


def test_autocast_forward_wraps_only_the_forward_pass(monkeypatch):
    monkeypatch.setattr(fastpath, "cpu_bf16_supported", lambda: True)
    fast = fast_path("cpu", scaler=False)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    seen = {}

    def record(module, inputs, output):
        seen["forward"] = (output.dtype, torch.is_autocast_enabled("cpu"))

    model[0].register_forward_hook(record)
    wrapped = fast.autocast_forward(model)
    assert isinstance(wrapped, AutocastForward) and list(wrapped.parameters()) == list(model.parameters())
    out = wrapped(torch.randn(4, 8))
    assert seen["forward"] == (torch.bfloat16, True)            # forward ran under autocast
    assert out.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")   # the loop is outside it
    loss = nn.functional.cross_entropy(out, torch.tensor([0, 1, 0, 1]))
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())
    wrapped.eval()
    assert not model.training
    wrapped.train()
    assert model.training


@pytest.mark.parametrize("onednn, avx512_bf16, amx, native", [
    (True, True, False, True), (True, False, True, True),
    (True, False, False, False),   # Skylake / Cascade Lake: oneDNN says yes, but it only emulates bf16
    (False, True, True, False)])
def test_cpu_bf16_counts_only_native_instructions_on_x86(monkeypatch, onednn, avx512_bf16, amx, native):
    monkeypatch.setattr(fastpath.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: onednn, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    assert fastpath.cpu_bf16_supported() is native
    assert fast_path("cpu")["amp"] is native


def test_budgets_time_the_students_loops_as_they_run(monkeypatch):
    """Labs 2 and 3's budgets time their training steps without a GradScaler, as the notebooks run them."""
    from labutils import budgets

    loops = [p for lab in ("02", "03") for p in budgets.PHASES[lab]() if p.train is not None]
    assert loops and all(p.scaler is False for p in loops)
    assert all(p.scaler for p in budgets.PHASES["04"]() if p.train is not None)   # fit has its GradScaler
