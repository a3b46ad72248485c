"""Issue 23, the parts that need no kernel: the exchange refuses what a kernel planted (links, FIFOs,
devices, oversized files) without blocking, data from a kernel is bounded before anything touches it,
limits hold for children that drop their environment, the thread cap, the definitions a fresh kernel
reruns, and the sandbox's command line hides the course's checkout."""
import inspect
import io
import os
import pickle
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import torchvision.models.resnet as tv_resnet

from labutils import course
from labutils.checks import protocol
from labutils.grader import definitions, exchange, integrity, judge, likeness, limits, sandbox

LINUX = sys.platform.startswith("linux")


def _nested(depth: int):
    value = []
    for _ in range(depth):
        value = [value, value]  # each level shared twice: 2**depth visits, a few bytes per level on disk
    return value


def test_a_planted_link_or_fifo_is_refused_when_the_grader_writes(tmp_path):
    canary = tmp_path / "canary.txt"
    canary.write_text("canary")
    folder = tmp_path / "cases"
    folder.mkdir()
    os.symlink(canary, folder / "cases.pt")
    with pytest.raises(exchange.Refused, match="cases.pt was already there \\(a symbolic link\\)"):
        exchange.save_cases(folder, "cases.pt", {"1.1": {"x": torch.ones(2)}})
    assert canary.read_text() == "canary"
    os.mkfifo(folder / "fifo.pt")
    start = time.monotonic()
    with pytest.raises(exchange.Refused, match="a FIFO"):
        exchange.write_private(folder, "fifo.pt", b"data")
    assert time.monotonic() - start < 2
    exchange.save_cases(folder, "fresh.pt", {"a": 1})  # a new name is written
    assert torch.load(folder / "fresh.pt", weights_only=True) == {"a": 1}
    assert (folder / "fresh.pt").stat().st_mode & 0o077 == 0


def test_results_that_are_not_a_regular_file_are_refused_by_name_without_blocking(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    os.symlink(secret, tmp_path / "link.pt")
    os.mkfifo(tmp_path / "fifo.pt")
    os.symlink("/dev/zero", tmp_path / "zero.pt")
    start = time.monotonic()
    for name, kind in (("link.pt", "a symbolic link"), ("fifo.pt", "a FIFO"), ("zero.pt", "a symbolic link")):
        results, problem = judge.load_results(tmp_path / name)
        assert results is None and f"{name} is {kind}, not a regular file" in problem, problem
    assert time.monotonic() - start < 5  # a FIFO with no writer does not hold the worker
    if LINUX and os.path.exists("/dev/null"):
        with pytest.raises(exchange.Refused, match="a character device"):
            exchange.read_regular(Path("/dev/null"))
    big = tmp_path / "big.pt"
    big.write_bytes(b"0" * 2048)
    with pytest.raises(exchange.Refused, match="over the"):
        exchange.read_regular(big, limit=1024)
    assert judge.load_results(tmp_path / "missing.pt") == (None, "")  # the probe did not run: no problem of its own


def test_a_small_deeply_nested_result_is_refused_fast(tmp_path):
    path = tmp_path / "nested.pt"
    torch.save({"1.1": {"data": _nested(200)}}, path)
    assert path.stat().st_size < 4096  # the attack: about 2 KB on disk
    start = time.monotonic()
    results, problem = judge.load_results(path)
    assert time.monotonic() - start < 5
    assert results is None and f"nested deeper than {protocol.MAX_DEPTH} levels" in problem, problem
    # shallow but shared: 2**30 visits, refused by the visit budget instead of being unfolded
    start = time.monotonic()
    with pytest.raises(ValueError, match=f"more than {protocol.MAX_NODES} values"):
        protocol.check_bounded({"1.1": {"data": _nested(30)}})
    assert time.monotonic() - start < 5
    assert protocol.MAX_DEPTH <= 64


@pytest.mark.parametrize("value, message", [
    ({1: "x"}, "not a string"),
    ([2 ** 200], "bits"),
    (["x" * (protocol.MAX_TEXT + 1)], "characters"),
    ([object()], "not plain data"),
    ([torch.zeros(1).expand(protocol.MAX_ELEMENTS + 1)], "elements"),
])
def test_what_plain_never_produces_is_refused(value, message):
    with pytest.raises(ValueError, match=message):
        protocol.check_bounded(value)


def test_plain_data_of_every_kind_passes():
    protocol.check_bounded({"data": {"out": torch.randn(2, 3), "names": ["a", "b"], "lr": 0.1, "n": 3, "ok": True,
                                     "none": None, "nested": [[{"k": [1, 2]}]], "view": torch.arange(6)[2:4]}})


@pytest.mark.skipif(not LINUX, reason="rlimits of the kernel's launcher are Linux-only here")
def test_a_child_that_drops_its_environment_keeps_the_hard_memory_limit():
    grab = ("import resource, sys\n"
            "try:\n    resource.setrlimit(resource.RLIMIT_DATA, (-1, -1))\n    sys.exit('raised the hard limit')\n"
            "except (ValueError, OSError):\n    pass\n"
            "try:\n    b = bytearray(3 * 2**30)\n    sys.exit('allocated 3 GiB')\n"
            "except MemoryError:\n    print('MemoryError')\n")
    # the launcher's limits reach a grandchild started with an empty environment
    child = f"import subprocess, sys; sys.exit(subprocess.run([sys.executable, '-c', {grab!r}], env={{}}).returncode)"
    memory = 2**30 - limits.DATA_HEADROOM + 2**29  # RLIMIT_DATA of 1.5 GiB
    argv = limits.launcher(max(memory, 2**28), None, [sys.executable, "-c", child])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env={})
    assert done.returncode == 0 and "MemoryError" in done.stdout, (done.stdout, done.stderr)


def test_the_thread_cap_holds_against_set_num_threads():
    arg = limits.thread_cap(2)[0]
    code = re.match(r'--IPKernelApp\.exec_lines=\["(.*)"\]$', arg).group(1)
    done = subprocess.run([sys.executable, "-c", code + "\nimport torch\ntorch.set_num_threads(512)\n"
                           "print(torch.get_num_threads())"], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "2", done.stderr


def test_the_sandbox_hides_the_checkout_but_mounts_the_package(tmp_path):
    argv = sandbox.bwrap_argv(tmp_path / "work", [tmp_path / "results"], [tmp_path / "cases"], [], ["true"])
    pairs = list(zip(argv, argv[1:]))
    root, package = str(course.ROOT.resolve()), str((course.ROOT / "labutils").resolve())
    assert ("--tmpfs", root) in pairs
    assert ("--ro-bind", package) in pairs and ("--ro-bind", root) not in pairs
    assert not [b for a, b in pairs if a in ("--ro-bind", "--bind") and b.startswith(root)
                and not b.startswith(package)]
    assert argv[argv.index(str(tmp_path / "cases")) - 1] == "--ro-bind"
    assert argv[argv.index(str(tmp_path / "results")) - 1] == "--bind"


def test_a_fresh_kernel_reruns_only_the_definitions():
    source = ("import torch\n%time x = 1\nN = 3\n@torch.no_grad()\ndef f(x):\n    return x\n"
              "f(2)\nwhile True:\n    pass\nclass A:\n    pass\ndevice = torch.device('cpu')\n")
    code = definitions.cell_definitions(source)
    assert code.splitlines() == ["import torch", "N = 3", "@torch.no_grad()", "def f(x):", "    return x",
                                 "class A:", "    pass"]


def test_a_pasted_and_renamed_library_class_is_recognised():
    source = inspect.getsource(tv_resnet.BasicBlock)
    for old, new in (("BasicBlock", "ResidualBlock"), ("conv1", "first"), ("bn1", "norm_a"), ("inplanes", "c_in"),
                     ("planes", "c_out"), ("identity", "skip")):
        source = source.replace(old, new)
    source = re.sub(r'""".*?"""', "", source, flags=re.S)
    nb = _nb("from typing import Callable, Optional\nimport torch.nn as nn\nfrom torch import Tensor\n"
             "from torchvision.models.resnet import conv1x1, conv3x3\n" + source)
    flags = integrity.pasted_library(nb, "01_residual_networks")
    assert len(flags) == 1 and "ResidualBlock" in flags[0] and "BasicBlock" in flags[0], flags
    assert integrity.pasted_library(nb, "04_dog_breeds_strategies") == []  # Lab 4 has no from-scratch tasks
    assert {"BasicBlock", "ResNet"} <= likeness.library_runs().keys() == likeness.classes()


def _nb(*sources):
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def test_the_probe_creates_its_results_exclusively(tmp_path):
    from labutils.grader.probe import probe_cell
    cell = probe_cell(["2.6"], str(tmp_path / "c.pt"), str(tmp_path / "r.pt"))
    assert "O_EXCL" in cell and "O_NOFOLLOW" in cell
    os.mkfifo(tmp_path / "r.pt")
    write = exchange.PROBE_WRITE.format(path=str(tmp_path / "r.pt")).replace("_os", "os")
    result = {}

    def attempt():
        try:
            exec(write, {"os": os})  # noqa: S102 (the probe's own line)
        except FileExistsError:
            result["refused"] = True

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(5)
    assert result == {"refused": True}
