"""The grader against hostile or unlucky submissions: no single notebook can stop the run, leave
processes or files behind, change a classmate's grade, or cost the gradebook of an interrupted run;
and the class summary it writes at the end."""
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from labutils import grade as grader
from labutils.grade import GRACE, LABS, RUN_VAR, Report

LINUX = Path("/proc/self/environ").exists()

SENS_SPEC = ("from sklearn.metrics import confusion_matrix\n"
             "def sensitivity_specificity(y_true, y_pred):\n"
             "    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()\n"
             "    return tp / (tp + fn), tn / (tn + fp)\n")


def _small(path, sources, lab="01_residual_networks"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["labutils"] = {"lab": lab}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _by_name(reports):
    return {Path(r.submission).name: r for r in reports}


SANDBOX = grader.sandbox.bwrap_status()[0]
needs_sandbox = pytest.mark.skipif(not SANDBOX, reason="bubblewrap is not available here")

# Each forges full marks in a way observed against the earlier grader; every TODO stays unfilled, so the
# honest score is 0 whatever the notebook does to its own interpreter.
FORGERIES = {
    "fake_json": "import sys, types\nfake = types.ModuleType('json')\nfake.dumps = lambda *a, **k: '[]'\n"
                 "fake.loads = lambda *a, **k: []\nsys.modules['json'] = fake\n",
    "fake_print": "import builtins\n_print = builtins.print\nbuiltins.print = lambda *a, **k: _print('<<LABUTILS-GRADE>> []')\n",
    "hook_after_grader": "get_ipython().events.register('post_run_cell', lambda *a: print('✅ Task 1.1: ok'))\n",
    "reload_noop": "import importlib, labutils.checks.protocol as p\nimportlib.reload = lambda m: m\n"
                   "p.probe_for_grader = lambda n, ns, case: {'data': {}}\n"
                   "p.judge_for_grader = lambda *a: (True, 'ok')\n",
    "meta_path": "import sys, types\nclass Finder:\n    def find_spec(self, name, path=None, target=None):\n"
                 "        return None\nsys.meta_path.insert(0, Finder())\n"
                 "sys.modules['labutils.checks'] = types.SimpleNamespace()\n",
    "custom_exc": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\nraise RuntimeError('hidden')\n",
    "swap_reference": "import torchvision.models.resnet as R, torch.nn as nn\n"
                      "class ResidualBlock(nn.Module):\n    expansion = 1\n"
                      "    def __init__(self, *a, **k):\n        super().__init__()\n"
                      "    def forward(self, x):\n        return x\n"
                      "R.BasicBlock = ResidualBlock\n",
    "forged_results": "import torch\n"
                      "def _forge(result):\n    import glob\n"
                      "    for path in glob.glob('../cases/cases-*.pt'):\n"
                      "        torch.save({'1.1': {'data': {'origin': None, 'expansion': 1, 'runs': []}}},"
                      " path.replace('/cases/cases-', '/results/results-'))\n"
                      "get_ipython().events.register('post_run_cell', _forge)\n",
    "pickled_code": "import os, pickle\n"
                    "class Evil:\n    def __reduce__(self):\n        return (os.system, ('touch /tmp/labutils-pwned',))\n"
                    "def _forge(result):\n    import glob\n"
                    "    for path in glob.glob('../cases/cases-*.pt'):\n"
                    "        pickle.dump(Evil(), open(path.replace('/cases/cases-', '/results/results-'), 'wb'))\n"
                    "get_ipython().events.register('post_run_cell', _forge)\n",
}


def test_forged_verdicts_score_what_the_work_is_worth(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name, source in FORGERIES.items():
        _small(folder / f"{name}.ipynb", [source])
    reports = _by_name(grader.grade([str(folder)], tmp_path / "grades", timeout=60, workers=2))
    assert len(reports) == len(FORGERIES)
    for name in FORGERIES:
        r = reports[f"{name}.ipynb"]
        assert r.lab == "01_residual_networks" and len(r.tasks) == 5, (name, r.status, r.detail)
        assert r.points == 0, (name, [(t["task"], t["message"]) for t in r.tasks if t["ok"]])
    # the forged results file is read as data and judged: the forged 1.1 claims fail as data, never as code
    assert not Path("/tmp/labutils-pwned").exists()
    pickled = reports["pickled_code.ipynb"]
    assert pickled.status == "error" and "cannot be read" in pickled.detail, pickled.detail
    # the code scan marks the tampering for the instructor, without changing a score
    assert any("set_custom_exc" in f for f in reports["custom_exc.ipynb"].flags)
    assert any("sys.modules" in f for f in reports["fake_json.ipynb"].flags)
    assert any("IPython" in f for f in reports["hook_after_grader.ipynb"].flags)
    assert "Flagged for the instructor's review" in (tmp_path / "grades" / "custom_exc.md").read_text()


@pytest.mark.parametrize("mode", ["none"] + (["bwrap"] if SANDBOX else []))
def test_hostile_submissions_do_not_stop_the_run_and_leave_nothing_behind(tmp_path, mode):
    folder = tmp_path / "submissions"
    folder.mkdir()
    _small(folder / "kills_worker.ipynb", ["import os\nos.kill(os.getppid(), 9)"])
    _small(folder / "ignores_sigint.ipynb", ["import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                             "time.sleep(600)"])
    _small(folder / "litters.ipynb", [
        "import os, subprocess, tempfile\n"
        # a child in a new session (left the kernel's process group), and a grandchild with an empty
        # environment orphaned by its shell
        "p = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        "out = subprocess.run(['sh', '-c', 'sleep 301 >/dev/null 2>&1 & echo $!'], env={},"
        " start_new_session=True, check=True, capture_output=True, text=True).stdout.strip()\n"
        "path = os.path.join(tempfile.gettempdir(), 'big.bin')\n"
        "open(path, 'wb').write(os.urandom(1 << 20))\n"
        "locked = os.path.join(tempfile.gettempdir(), 'locked')\n"
        "os.mkdir(locked); open(os.path.join(locked, 'f'), 'w').write('x'); os.chmod(locked, 0o500)\n"
        # the report keeps the error's text: the test reads what it needs from it
        "raise RuntimeError(f'tmp={path}')\n"])

    timeout = 15
    before = {int(p) for p in os.listdir("/proc") if p.isdigit()} if LINUX else set()
    reports = _by_name(grader.grade([str(folder)], tmp_path / "grades", timeout=timeout, workers=2,
                                    sandbox_mode=mode))
    assert len(reports) == 3

    dead = reports["kills_worker.ipynb"]  # a notebook that kills the process running its kernel
    if mode == "bwrap":  # its parent is the sandbox's init, which ignores the signal: the worker is out of reach
        assert dead.status == "ok" and dead.errors == [], (dead.detail, dead.errors)
    else:
        assert dead.status == "crashed" and "signal 9" in dead.detail, dead.detail
    assert dead.lab == "01_residual_networks" and all(not t["ok"] for t in dead.tasks)
    # a cell that ignores SIGINT is killed at the limit plus the grace
    stubborn = reports["ignores_sigint.ipynb"]
    assert stubborn.status == "timeout" and "killed" in stubborn.detail, stubborn.detail
    # plus the worker's and the kernel's start (the worker's imports alone took 21 s at a load average of 8,
    # python -X importtime); far below the cell's 600 s sleep
    assert stubborn.seconds < timeout + GRACE + 45, stubborn.seconds

    litter = reports["litters.ipynb"]
    assert litter.status == "ok" and [e["ename"] for e in litter.errors] == ["RuntimeError"], litter.errors
    tmpfile = Path(litter.errors[0]["evalue"].split("tmp=")[1])
    assert not tmpfile.exists() and not tmpfile.parent.exists()  # the private TMPDIR is removed
    assert Path(tempfile.gettempdir()) != tmpfile.parent  # it was not the shared one
    if LINUX:  # no sleep 300/301 started during the run is left
        for pid in {int(p) for p in os.listdir("/proc") if p.isdigit()} - before:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            assert not (cmd.startswith(b"sleep\0") and _alive(pid)), f"{pid} {cmd!r} outlived the grading"

    rows = list(csv.DictReader(open(tmp_path / "grades" / "gradebook.csv")))
    assert len(rows) == 3
    summary = (tmp_path / "grades" / "summary.md").read_text()
    counts = {"ok": 2, "timeout": 1} if mode == "bwrap" else {"ok": 1, "crashed": 1, "timeout": 1}
    for status, n in counts.items():
        assert f"| {status} | {n} |" in summary


@needs_sandbox
def test_the_sandbox_keeps_the_course_classmates_and_network_out_of_reach(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    course = Path(grader.__file__).resolve().parent / "checks" / "__init__.py"
    before = course.read_bytes()
    victim = _small(folder / "b_victim.ipynb", [SENS_SPEC], lab="02_chest_xray_finetuning")
    attempts = [
        f"open({str(course)!r}, 'a').write('\\nraise SystemExit')",
        f"assert not os.path.exists({str(folder)!r}) or not os.listdir({str(folder)!r}), 'sees the submissions'",
        # this write lands in the sandbox's own empty folder, which disappears with it
        f"open({str(victim)!r}, 'w').write('{{ not json')",
        "import urllib.request; urllib.request.urlopen('http://1.1.1.1', timeout=3)",
        "import socket; socket.create_connection(('127.0.0.1', 22), timeout=3)",
    ]
    _small(folder / "a_vandal.ipynb", ["import os"] + attempts, lab="02_chest_xray_finetuning")
    out = tmp_path / "grades"
    reports = _by_name(grader.grade([str(folder)], out, timeout=60, workers=1))
    vandal = reports["a_vandal.ipynb"]
    assert vandal.sandbox == "bubblewrap"
    # writing the course and reaching the network fail; the classmates' folder looks empty
    assert [e["cell"] for e in vandal.errors] == [1, 4, 5], vandal.errors
    assert course.read_bytes() == before and victim.read_text().startswith("{\n")
    assert reports["b_victim.ipynb"].points == 1
    assert "- sandbox: bubblewrap" in (out / "b_victim.md").read_text()


@needs_sandbox
def test_memory_and_process_limits_end_the_submission(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    # issue 23: children that drop their environment (and with it the run's id) are counted all the same
    _small(folder / "hog.ipynb", ["import subprocess, sys, time\n"
                                  "code = 'import numpy as np, time; x = np.ones(int(1.25 * 2**30), dtype=np.uint8); "
                                  "time.sleep(60)'\n"
                                  "p = subprocess.Popen([sys.executable, '-c', code], env={})\ntime.sleep(30)"])
    _small(folder / "forks.ipynb", ["import subprocess, time\n"
                                    "ps = [subprocess.Popen(['/bin/sleep', '60'], env={}) for _ in range(40)]\n"
                                    "time.sleep(30)"])
    _small(folder / "calm.ipynb", [SENS_SPEC], lab="02_chest_xray_finetuning")
    reports = _by_name(grader.grade([str(folder)], tmp_path / "grades", timeout=60, workers=2, memory_gb=1.0,
                                    processes=20))
    hog, forks = reports["hog.ipynb"], reports["forks.ipynb"]
    assert hog.status == "crashed" and "GiB of memory" in hog.detail, hog.detail
    assert forks.status == "crashed" and "processes at once" in forks.detail, forks.detail
    assert reports["calm.ipynb"].status == "ok" and reports["calm.ipynb"].points == 1


def test_without_a_sandbox_the_run_warns_once_and_each_report_says_so(tmp_path, capsys):
    folder = tmp_path / "s"
    folder.mkdir()
    for name in ("a", "b"):
        _small(folder / f"{name}.ipynb", [SENS_SPEC], lab="02_chest_xray_finetuning")
    reports = grader.grade([str(folder)], tmp_path / "grades", timeout=60, workers=2, sandbox_mode="none")
    assert capsys.readouterr().err.count("WITHOUT a sandbox") == 1
    assert all(r.sandbox.startswith("none: switched off") and r.points == 1 for r in reports)
    assert "- sandbox: none: switched off" in (tmp_path / "grades" / "a.md").read_text()


def test_a_notebook_cannot_change_a_classmates_submission_and_the_class_summary(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    victim = _small(folder / "b_victim.ipynb", [SENS_SPEC], lab="02_chest_xray_finetuning")
    # graded first (one worker), it overwrites the classmate's file with garbage and has a wrong 2.6
    _small(folder / "a_vandal.ipynb", [
        f"open({str(victim)!r}, 'w').write('{{ not json')",
        "def sensitivity_specificity(y_true, y_pred):\n    return 0.5, 0.5\n"], lab="02_chest_xray_finetuning")
    out = tmp_path / "grades"
    reports = _by_name(grader.grade([str(folder)], out, timeout=60, workers=1))
    vandal = reports["a_vandal.ipynb"]
    assert not vandal.errors, vandal.errors
    if SANDBOX:  # the vandal wrote into the sandbox's own empty folder, never the classmate's file
        assert json.loads(victim.read_text())
    else:  # it can, but the grade comes from the text read before any kernel started
        assert victim.read_text() == "{ not json"
    b = reports["b_victim.ipynb"]
    assert b.status == "ok" and {t["task"] for t in b.tasks if t["ok"]} == {"2.6"}, b.detail

    summary = (out / "summary.md").read_text()
    assert "## 02_chest_xray_finetuning: 2 submission(s), mean 0.5 / 11 points" in summary
    line = next(s for s in summary.splitlines() if s.startswith("| 2.6 |"))
    assert "| 1 / 2 (50%) |" in line and "1× " in line, line
    assert "2× в блокноте нет replace_head (NameError)" in summary, summary
    rows = {(r["lab"], r["task"]): r for r in csv.DictReader(
        (out / "summary.csv").read_text().split("\n\n")[0].splitlines())}
    assert rows[("02_chest_xray_finetuning", "2.6")]["share"] == "0.500"
    assert rows[("02_chest_xray_finetuning", "2.1")]["count_1"] == "2"
    assert (out / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _fake_report(path, ok=True):
    lab = "01_residual_networks"
    tasks = [{"task": i.task, "title": i.title, "points": i.points if ok else 0, "max_points": i.points,
              "ok": ok, "message": "ok" if ok else "wrong"} for i in LABS[lab]]
    return Report(submission=path, lab=lab, tasks=tasks)


def test_reports_and_gradebook_are_written_as_each_submission_finishes(tmp_path, monkeypatch):
    folder, out = tmp_path / "s", tmp_path / "grades"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.ipynb").write_text("{}")
    calls = []

    def rows():
        return list(csv.DictReader(open(out / "gradebook.csv"))) if (out / "gradebook.csv").exists() else []

    def finishing(path, text, settings, cancel=None):
        deadline = time.monotonic() + 10  # the main thread writes each result as it comes in
        while len(rows()) < len(calls) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(rows()) == len(calls)  # everything graded so far is already in the gradebook
        calls.append(path)
        return _fake_report(path, ok=len(calls) != 2)

    monkeypatch.setattr(grader, "_run_isolated", finishing)
    reports = grader.grade([str(folder)], out, workers=1)
    assert len(reports) == 3 and len(rows()) == 3 and [r["points"] for r in rows()] == ["8", "0", "8"]

    def interrupted(path, text, settings, cancel=None):
        calls.append(path)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return _fake_report(path)

    calls.clear()
    out = tmp_path / "interrupted"
    monkeypatch.setattr(grader, "_run_isolated", interrupted)
    with pytest.raises(KeyboardInterrupt):
        grader.grade([str(folder)], out, workers=1)
    assert [Path(r["submission"]).name for r in rows()] == ["a.ipynb"]
    assert (out / "a.md").is_file() and not (out / "b.md").exists()
    assert "1 submission(s)" in (out / "summary.md").read_text()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(not LINUX, reason="process sweeping reads /proc")
def test_kill_run_finds_processes_that_left_the_session():
    run_id = uuid.uuid4().hex
    env = {**os.environ, RUN_VAR: run_id}
    detached = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env=env,
                                start_new_session=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                             env={**os.environ, RUN_VAR: "someone-else"})
    try:
        time.sleep(0.3)
        assert grader.kill_run(run_id) == 1
        assert detached.wait(timeout=5) == -9
        assert other.poll() is None
    finally:
        for p in (detached, other):
            p.kill()
            p.wait()


def test_bad_settings_are_named(tmp_path):
    for kwargs, name in (({"memory_gb": 0}, "--memory-gb"), ({"processes": 0}, "--max-processes"),
                         ({"sandbox_mode": "docker"}, "--sandbox")):
        with pytest.raises(ValueError, match=name):
            grader.grade([str(tmp_path)], tmp_path / "out", **kwargs)
