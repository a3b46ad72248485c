import pytest
import torch

import labutils
from labutils.data import IMAGENET_MEAN, IMAGENET_STD, denormalize, imagenet_normalize, normalize
from labutils.runtime import data_root, get_device, is_smoke, pick


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("0", False), ("", False), ("off", False)])
def test_smoke_flag_values(monkeypatch, value, expected):
    monkeypatch.setenv("LABUTILS_SMOKE", value)
    assert is_smoke() is expected
    assert pick(real="real", smoke="smoke") == ("smoke" if expected else "real")


def test_unknown_smoke_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("LABUTILS_SMOKE", "maybe")
    with pytest.raises(ValueError, match="LABUTILS_SMOKE='maybe'"):
        is_smoke()


def test_describe_mode_says_smoke_loudly(monkeypatch, capsys):
    monkeypatch.setenv("LABUTILS_SMOKE", "1")
    assert labutils.describe_mode().startswith("РЕЖИМ SMOKE (LABUTILS_SMOKE=1)")
    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    assert labutils.describe_mode().startswith("Полный режим")
    labutils.smoke_notice("demo")
    assert capsys.readouterr().out == "[РЕЖИМ SMOKE] demo\n"
    monkeypatch.setenv("LABUTILS_LANG", "en")
    assert labutils.describe_mode().startswith("Full mode")
    monkeypatch.setenv("LABUTILS_SMOKE", "1")
    assert "SMOKE MODE" in labutils.describe_mode()
    labutils.smoke_notice("demo")
    assert capsys.readouterr().out == "[SMOKE MODE] demo\n"


def test_device_falls_back_to_cpu_and_rejects_missing_cuda(monkeypatch):
    monkeypatch.delenv("LABUTILS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device().type == "cpu"
    with pytest.raises(RuntimeError, match="CUDA недоступна"):
        get_device("cuda")


def test_data_root_honours_override(data_dir):
    assert data_root() == data_dir
    assert data_dir.is_dir()


def test_seed_everything_repeats_random_draws():
    labutils.seed_everything(7)
    a = torch.randn(3)
    labutils.seed_everything(7)
    assert torch.equal(a, torch.randn(3))


def test_denormalize_inverts_normalize_for_images_and_batches():
    x = torch.rand(2, 3, 5, 5)
    assert torch.allclose(denormalize(normalize(x)), x, atol=1e-6)
    assert torch.allclose(denormalize(normalize(x[0])), x[0], atol=1e-6)
    assert torch.allclose(normalize(x), imagenet_normalize()(x), atol=1e-6)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert torch.allclose(normalize(x[0]), (x[0] - mean) / std)


def test_normalize_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match="C=3"):
        normalize(torch.rand(1, 8, 8))
