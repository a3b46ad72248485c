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
from labutils.grade import GRACE, LABS, MARKER, RUN_VAR, Report

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


def test_hostile_submissions_do_not_stop_the_run_and_leave_nothing_behind(tmp_path):
    folder, probe = tmp_path / "submissions", tmp_path / "probe"
    folder.mkdir()
    probe.mkdir()
    _small(folder / "forged_in_own_cell.ipynb", [f"print({MARKER!r} + '{{ not json')"])
    _small(folder / "forged_in_grader_cell.ipynb", [
        f"get_ipython().events.register('post_run_cell', lambda *a: print({MARKER!r} + 'garbage'))"])
    _small(folder / "kills_worker.ipynb", ["import os\nos.kill(os.getppid(), 9)"])
    _small(folder / "ignores_sigint.ipynb", ["import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                             "time.sleep(600)"])
    _small(folder / "litters.ipynb", [
        "import os, subprocess, tempfile\n"
        f"probe = {str(probe)!r}\n"
        # a child in a new session (left the kernel's process group), and a grandchild with an empty
        # environment orphaned by its shell
        "p = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        "open(os.path.join(probe, 'child'), 'w').write(str(p.pid))\n"
        "subprocess.run(['sh', '-c', f'sleep 300 >/dev/null 2>&1 & echo $! > {probe}/orphan'],"
        " env={}, start_new_session=True, check=True)\n"
        "path = os.path.join(tempfile.gettempdir(), 'big.bin')\n"
        "open(path, 'wb').write(os.urandom(1 << 20))\n"
        "locked = os.path.join(tempfile.gettempdir(), 'locked')\n"
        "os.mkdir(locked); open(os.path.join(locked, 'f'), 'w').write('x'); os.chmod(locked, 0o500)\n"
        "open(os.path.join(probe, 'tmpfile'), 'w').write(path)\n"])

    timeout = 15
    reports = _by_name(grader.grade([str(folder)], tmp_path / "grades", timeout=timeout, workers=2))
    assert len(reports) == 5

    # a marker line printed by the student's own cell is not the grader's: graded as usual
    assert reports["forged_in_own_cell.ipynb"].status == "ok"
    # garbage in the grader cell's output costs that submission only, with a clear detail
    forged = reports["forged_in_grader_cell.ipynb"]
    assert forged.status == "error" and "forged or corrupted" in forged.detail, forged.detail
    assert all(not t["ok"] and t["message"].startswith("not graded") for t in forged.tasks)
    assert len(forged.tasks) == len(LABS["01_residual_networks"])
    # a notebook that kills the process running its kernel
    dead = reports["kills_worker.ipynb"]
    assert dead.status == "crashed" and "signal 9" in dead.detail, dead.detail
    assert dead.lab == "01_residual_networks" and all(not t["ok"] for t in dead.tasks)
    # a cell that ignores SIGINT is killed at the limit plus the grace
    stubborn = reports["ignores_sigint.ipynb"]
    assert stubborn.status == "timeout" and "killed" in stubborn.detail, stubborn.detail
    assert stubborn.seconds < timeout + GRACE + 20, stubborn.seconds

    litter = reports["litters.ipynb"]
    assert litter.status == "ok" and not litter.errors, (litter.detail, litter.errors)
    tmpfile = Path((probe / "tmpfile").read_text())
    assert not tmpfile.exists() and not tmpfile.parent.exists()  # the private TMPDIR is removed
    assert Path(tempfile.gettempdir()) != tmpfile.parent  # it was not the shared one
    if LINUX:
        for name in ("child", "orphan"):
            pid = int((probe / name).read_text())
            assert not _alive(pid), f"{name} {pid} outlived the grading"

    rows = list(csv.DictReader(open(tmp_path / "grades" / "gradebook.csv")))
    assert len(rows) == 5
    summary = (tmp_path / "grades" / "summary.md").read_text()
    for status, n in {"ok": 2, "error": 1, "crashed": 1, "timeout": 1}.items():
        assert f"| {status} | {n} |" in summary


def test_a_notebook_cannot_change_a_classmates_submission_and_the_class_summary(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    victim = _small(folder / "b_victim.ipynb", [SENS_SPEC], lab="02_chest_xray_finetuning")
    # graded first (one worker), it overwrites the classmate's file with garbage and has a wrong 2.6
    _small(folder / "a_vandal.ipynb", [
        f"open({str(victim)!r}, 'w').write('{{ not json')\n"
        "def sensitivity_specificity(y_true, y_pred):\n    return 0.5, 0.5\n"], lab="02_chest_xray_finetuning")
    out = tmp_path / "grades"
    reports = _by_name(grader.grade([str(folder)], out, timeout=60, workers=1))
    assert victim.read_text() == "{ not json"  # the vandal did run
    b = reports["b_victim.ipynb"]
    assert b.status == "ok" and {t["task"] for t in b.tasks if t["ok"]} == {"2.6"}, b.detail

    summary = (out / "summary.md").read_text()
    assert "## 02_chest_xray_finetuning: 2 submission(s), mean 0.5 / 9 points" in summary
    line = next(s for s in summary.splitlines() if s.startswith("| 2.6 |"))
    assert "| 1 / 2 (50%) |" in line and "1× " in line, line
    assert "2× NameError: name 'replace_head' is not defined" in summary
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

    def finishing(path, text, timeout, threads, cancel=None):
        deadline = time.monotonic() + 10  # the main thread writes each result as it comes in
        while len(rows()) < len(calls) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(rows()) == len(calls)  # everything graded so far is already in the gradebook
        calls.append(path)
        return _fake_report(path, ok=len(calls) != 2)

    monkeypatch.setattr(grader, "_run_isolated", finishing)
    reports = grader.grade([str(folder)], out, workers=1)
    assert len(reports) == 3 and len(rows()) == 3 and [r["points"] for r in rows()] == ["8", "0", "8"]

    def interrupted(path, text, timeout, threads, cancel=None):
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


def test_verdict_line_is_checked():
    items = LABS["04_dog_breeds_strategies"]
    good = [{"task": i.task, "ok": True, "message": "✅"} for i in items]

    def cell(*lines):
        return {"outputs": [{"output_type": "stream", "name": "stdout", "text": "".join(l + "\n" for l in lines)}]}

    verdicts, problem = grader._read_verdicts(cell(f"{MARKER}n1 {json.dumps(good)}"), "n1", items)
    assert problem == "" and set(verdicts) == {i.task for i in items}
    assert grader._read_verdicts(cell("hello"), "n1", items) == (None, "")
    for forged in ([f"{MARKER}n1 {{ not json"], [f"{MARKER}n0 {json.dumps(good)}"], [f"{MARKER}garbage"],
                   [f"{MARKER}n1 {json.dumps(good)}", f"{MARKER}n1 {json.dumps(good)}"],
                   [f"{MARKER}n1 " + json.dumps([{"task": "9.9", "ok": True, "message": ""}])],
                   [f"{MARKER}n1 " + json.dumps({"4.1": True})]):
        verdicts, problem = grader._read_verdicts(cell(*forged), "n1", items)
        assert verdicts is None and "forged or corrupted" in problem, forged


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
