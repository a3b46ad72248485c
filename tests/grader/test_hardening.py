"""Issue 23 against the whole grader: each attack of the issue graded with the sandbox on, with the
honest outcome (the score the notebook's own work deserves, an `error` naming what was refused, or
a flag for review)."""
import os
import time
from pathlib import Path

import pytest

from labutils import course
from labutils import grade as grader

from test_grade_robustness import SENS_SPEC, _small  # the same small notebooks

SANDBOX = grader.sandbox.bwrap_status()[0]
needs_sandbox = pytest.mark.skipif(not SANDBOX, reason="bubblewrap is not available here")


def _planter(canary: Path, how: str) -> str:
    """A cell that plants links to ``canary`` wherever it can in the job, and a thread that plants a link
    or FIFO under the results' name as soon as the grader's cases appear (the issue's attack)."""
    make = f"os.symlink({str(canary)!r}, p)" if how == "link" else "os.mkfifo(p)"
    return (
        "import os, glob, threading, time\n"
        "job = os.path.dirname(os.getcwd())\n"
        "planted = []\n"
        "for sub in ('cases', 'results', 'kernel'):\n"
        "    for name in ('cases.pt', 'results.pt'):\n"
        "        try:\n"
        f"            os.symlink({str(canary)!r}, os.path.join(job, sub, name)); planted.append(sub)\n"
        "        except OSError:\n"
        "            pass\n"
        "assert 'cases' not in planted, 'the cases folder is writable'\n"
        "def plant():\n"
        "    while True:\n"
        "        for c in glob.glob(os.path.join(job, 'cases', 'cases-*.pt')):\n"
        "            p = c.replace('/cases/cases-', '/results/results-')\n"
        "            try:\n"
        f"                {make}\n"
        "            except OSError:\n"
        "                pass\n"
        "            return\n"
        "        time.sleep(0.001)\n"
        "threading.Thread(target=plant, daemon=True).start()\n")


@needs_sandbox
def test_planted_files_hidden_solutions_thread_cap_and_timeouts(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    canary = tmp_path / "canary.txt"
    canary.write_text("canary")
    _small(folder / "plants_links.ipynb", [_planter(canary, "link")])
    _small(folder / "plants_fifo.ipynb", [_planter(canary, "fifo")])
    solution = course.ROOT / "solutions" / "01_residual_networks.ipynb"
    _small(folder / "reads_solutions.ipynb", [
        "import json, os\n"
        f"print(sorted(os.listdir({str(course.ROOT)!r})))\n"
        f"assert sorted(os.listdir({str(course.ROOT)!r})) == ['labutils'], 'sees the checkout'",
        f"for cell in json.load(open({str(solution)!r}))['cells']:\n"
        "    if cell['cell_type'] == 'code':\n"
        "        exec(''.join(cell['source']))",
        "import subprocess\n"
        f"subprocess.run(['git', '-C', {str(course.ROOT)!r}, 'show', 'HEAD:solutions/01_residual_networks.ipynb'],"
        " check=True, capture_output=True)"])
    share = max(1, (os.cpu_count() or 1) // 2)  # two workers: each kernel's share of the CPU threads
    _small(folder / "threads512.ipynb", [
        SENS_SPEC, f"import torch\ntorch.set_num_threads(512)\nassert torch.get_num_threads() == {share}, "
                   "torch.get_num_threads()"], lab="02_chest_xray_finetuning")
    # right work, then a cell that ignores the interrupt: its kernel is killed, the definitions rerun
    _small(folder / "then_hangs.ipynb", [
        SENS_SPEC, "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(600)"],
        lab="02_chest_xray_finetuning")
    timeout = 20
    reports = {Path(r.submission).name: r for r in grader.grade([str(folder)], tmp_path / "grades",
                                                                  timeout=timeout, workers=2)}
    assert canary.read_text() == "canary"  # nothing the kernel planted was followed
    for name in ("plants_links.ipynb", "plants_fifo.ipynb"):
        r = reports[name]
        assert r.errors == [], (name, r.errors)  # it could not write into the cases' folder
        assert r.status == "error" and "FileExistsError" in r.detail, (name, r.status, r.detail)
        assert r.points == 0 and r.seconds < timeout + 120, (name, r.points, r.seconds)
        assert any("потоки" in f for f in r.flags), r.flags

    spy = reports["reads_solutions.ipynb"]  # nothing of the checkout but the package, no git history
    assert [(e["cell"], e["ename"]) for e in spy.errors] == [(1, "FileNotFoundError"), (2, "CalledProcessError")], \
        spy.errors
    assert spy.status == "ok" and spy.points == 0
    assert any("из строки" in f for f in spy.flags), spy.flags

    capped = reports["threads512.ipynb"]  # the grader's share of threads stays, whatever the notebook asks
    assert capped.errors == [] and capped.points == 1, (capped.errors, capped.detail)

    hung = reports["then_hangs.ipynb"]
    assert hung.status == "timeout" and "killed" in hung.detail, hung.detail
    assert "fresh kernel that ran only the definitions of cells 0, 1" in hung.detail, hung.detail
    assert hung.points == 1 and {t["task"] for t in hung.tasks if t["ok"]} == {"2.6"}
    assert "fresh kernel" in (tmp_path / "grades" / "then_hangs.md").read_text()


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="rlimits as set here are Linux-only")
def test_a_kernel_with_no_sandbox_still_has_its_limits_and_thread_cap(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    _small(folder / "a.ipynb", [SENS_SPEC, "import os, resource, torch\ntorch.set_num_threads(64)\n"
                                           "assert torch.get_num_threads() <= os.cpu_count()\n"
                                           "soft, hard = resource.getrlimit(resource.RLIMIT_DATA)\n"
                                           "assert 0 < hard <= 4 * 2**30, hard"],
           lab="02_chest_xray_finetuning")
    start = time.monotonic()
    reports = grader.grade([str(folder)], tmp_path / "g", timeout=60, workers=1, sandbox_mode="none", memory_gb=1.5)
    assert reports[0].errors == [] and reports[0].points == 1, (reports[0].errors, reports[0].detail)
    assert time.monotonic() - start < 300
