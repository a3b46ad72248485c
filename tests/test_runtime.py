import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import torch

import labutils
from labutils import runtime
from labutils.data import IMAGENET_MEAN, IMAGENET_STD, denormalize, imagenet_normalize, normalize
from labutils.runtime import data_root, file_lock, get_device, is_smoke, pick

ROOT = Path(__file__).resolve().parent.parent


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


_LOCK_WORKER = r"""
import sys, time
from pathlib import Path

from labutils.runtime import file_lock

lock, counter, go, rounds = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
while not go.exists():
    time.sleep(0.002)
for _ in range(rounds):
    with file_lock(lock, what="counter") as held:
        assert held
        value = int(counter.read_text())
        time.sleep(0.0005)  # a read-modify-write that loses counts unless the lock excludes
        counter.write_text(str(value + 1))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="flock exists only where fcntl does")
def test_file_lock_excludes_across_processes_and_leaves_no_lock_file(tmp_path):
    """Issue 21: hidden .lock files stayed beside the data. Removing them must not break the exclusion:
    six processes add 1 to a counter 40 times each under the lock, taking turns on freshly made lock files."""
    lock, counter, go = tmp_path / "data" / ".processed.lock", tmp_path / "counter", tmp_path / "go"
    counter.write_text("0")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _LOCK_WORKER, str(lock), str(counter), str(go), "40"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(6)]
    time.sleep(1.0)  # let them start and wait for the signal
    go.touch()
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outputs
    assert counter.read_text() == "240"  # no update lost: never two holders at once
    assert not lock.exists() and list(lock.parent.iterdir()) == []  # nothing left beside the data


def test_file_lock_says_once_that_it_waits_and_removes_its_file(tmp_path, capsys):
    import threading

    lock = tmp_path / ".raw.lock"
    order = []

    def second():
        with file_lock(lock, what="raw"):
            order.append("second")

    with file_lock(lock, what="raw") as held:
        assert held and lock.exists()
        worker = threading.Thread(target=second)
        worker.start()
        worker.join(timeout=0.5)  # blocked behind us
        order.append("first")
    worker.join(timeout=30)
    assert order == ["first", "second"] and not lock.exists()
    out = capsys.readouterr().out
    assert out.count("Другой процесс уже готовит raw") == 1


def test_derived_data_goes_to_labutils_derived_and_is_found_there(data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("LABUTILS_DERIVED", raising=False)
    extracted = data_dir / "chest_xray" / "extracted"
    assert runtime.derived_path(extracted) == extracted  # unset: the data folder, as before
    local = tmp_path / "local"
    monkeypatch.setenv("LABUTILS_DERIVED", str(local))
    moved = runtime.derived_path(extracted)
    assert moved == local / "chest_xray" / "extracted" and moved.parent.is_dir()
    assert runtime.derived_candidates(extracted)[:2] == (extracted, moved)


@pytest.mark.parametrize("platform, set_method, default, kernel, expected", [
    ("linux", None, "fork", True, 3),            # Python <= 3.13 on Linux
    ("linux", None, "forkserver", True, 0),      # Python 3.14's Linux default: DataLoader workers would spawn
    ("linux", "spawn", "fork", True, 0),         # set explicitly for this process
    ("linux", None, "forkserver", False, 3),     # a script, not a kernel: workers import the script's module
    ("darwin", None, "fork", True, 0),
    ("win32", None, "spawn", False, 0),
])
def test_default_workers_reads_the_start_method_a_dataloader_will_use(monkeypatch, platform, set_method, default,
                                                                       kernel, expected):
    import multiprocessing

    from labutils import imagefolder

    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    monkeypatch.setattr(imagefolder.sys, "platform", platform)
    monkeypatch.setattr(imagefolder.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: set_method)
    others = [m for m in ("fork", "spawn", "forkserver") if m != default]
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: [default, *others])
    if kernel:
        monkeypatch.setitem(sys.modules, "ipykernel", sys.modules.get("ipykernel") or types.ModuleType("ipykernel"))
    else:
        monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert imagefolder.default_workers() == expected


def test_start_method_does_not_fix_the_processes_start_method():
    import multiprocessing

    from labutils.imagefolder import start_method

    before = multiprocessing.get_start_method(allow_none=True)
    assert start_method() in multiprocessing.get_all_start_methods()
    assert multiprocessing.get_start_method(allow_none=True) == before
