"""The rehearsal's bookkeeping: phases of cells, memory of a process tree, disk, the report, the CLI's guards."""
import os
import subprocess
import sys
import time

import pytest

from labutils.messages import t
from labutils.rehearse import cli, monitor, phases, report


@pytest.mark.parametrize("source,phase", [
    ("feats = extract_features(backbone, loader, device)", "caching"),
    ("splits[s].preload(256)", "caching"),
    ("for epoch in range(FT_EPOCHS):\n    train_one_epoch(model, loader)", "training"),
    ("history = fit(model, loaders['train'], loaders['val'])", "training"),
    ("feats = extract_features(backbone, loader, device)\nhistory = fit(head, feats)", "training"),
    ("root = chest_xray_root()", "preparation"),
    ("model = load_pretrained('resnet18')", "preparation"),
    ("cm = confusion_matrix(y, p)", "evaluation"),
    ("fig, ax = plt.subplots()\nax.plot(x, y)", "analysis"),
    ("export_onnx(best_model, example, path)", "analysis"),
])
def test_phase_rule(source, phase):
    assert phases.phase_of(source) == phase


def test_phase_totals_cover_every_phase():
    cells = [{"phase": "training", "seconds": 2.0}, {"phase": "training", "seconds": 1.5},
             {"phase": "analysis", "seconds": 0.5}]
    assert phases.totals(cells) == {"preparation": 0.0, "caching": 0.0, "training": 3.5, "evaluation": 0.0,
                                    "analysis": 0.5}


@pytest.mark.skipif(not monitor.PROC.is_dir(), reason="needs /proc")
def test_tree_memory_counts_a_child_process():
    child = subprocess.Popen([sys.executable, "-c", "b = bytearray(300 << 20); import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if child.pid in monitor.process_tree(os.getpid()) and monitor.tree_memory(child.pid)[0] > 250 << 20:
                break
            time.sleep(0.2)
        pss, rss = monitor.tree_memory(os.getpid())
        assert pss > 250 << 20 and rss >= pss  # the child's 300 MiB are counted in its parent's tree
    finally:
        child.kill()
        child.wait()


def test_sampler_keeps_the_peak(tmp_path):
    with monitor.PeakSampler(os.getpid(), interval=0.05) as sampler:
        time.sleep(0.2)
        first = sampler.window()
    assert (first[0] > 0) == monitor.PROC.is_dir() and sampler.peak[0] >= first[0]


def test_folder_bytes_and_reset_keep_only_the_stand_ins(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    keep = data / "weights" / "resnet18-f37072fd.pth"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"x" * 10_000)
    (data / "chest_xray" / "extracted" / "chest_xray").mkdir(parents=True)
    (data / "chest_xray" / "extracted" / "chest_xray" / "a.jpeg").write_bytes(b"y" * 50_000)
    (data / "weights" / "other.pth").write_bytes(b"z")
    (cache / "runs").mkdir(parents=True)
    (cache / "runs" / "r.json").write_text("{}")
    assert monitor.folder_bytes(data, cache) >= 60_000
    cli.reset_derived(data, cache, {str(keep.resolve()): "sha"})
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "cache", "data", "data/weights", "data/weights/resnet18-f37072fd.pth"]


def test_cli_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mine.txt").write_text("a student's file")
    assert cli.main(["--out", str(tmp_path), "--lab", "02"]) == 2
    assert (tmp_path / "data" / "mine.txt").is_file()
    assert str(tmp_path / "data") in capsys.readouterr().err


def test_table_and_json(tmp_path):
    cells = [{"index": 3, "phase": "training", "seconds": 61.0, "first_line": "fit(model)"}]
    lab = {"status": "ok", "wall_s": 75.0, "phases_s": phases.totals(cells), "peak_pss_mib": 2048.0,
           "disk_written_mib": 12.0, "cells": cells}
    result = {"labs": {"02": lab, "04": {**lab, "status": "failed", "failed_cell": 7}}}
    text = report.table(result)
    assert "1:15" in text and "1:01" in text and "2.00" in text
    assert t("rehearse.failed", cell=7) in text and "[3] 61.0 s fit(model)" in text
    path = report.write_json({**result, "machine": report.machine()}, tmp_path / "r" / "report.json")
    assert '"02"' in path.read_text(encoding="utf-8")


def test_stand_ins_of_other_counts_are_not_reused(tmp_path):
    (tmp_path / cli.STANDINS).write_text(__import__("json").dumps(
        {"scale": "tiny", "labs": ["02"], "layout": {"chest": {"train": {"NORMAL": 1}}}, "manifest": {}}))
    assert cli._reusable(tmp_path, "tiny", ["02"]) is None  # built with other counts: built again
    (tmp_path / cli.STANDINS).write_text(__import__("json").dumps(
        {"scale": "tiny", "labs": ["02"], "layout": cli.layout("tiny"), "manifest": {}}))
    assert cli._reusable(tmp_path, "tiny", ["02"]) is not None
    assert cli._reusable(tmp_path, "tiny", ["02", "03"]) is None and cli._reusable(tmp_path, "full", ["02"]) is None


def test_run_notebook_times_every_cell_and_stops_at_the_failing_one(tmp_path, capsys):
    import nbformat

    from labutils.rehearse.run import kernel_env, run_notebook
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("import os\nprint(os.environ['LABUTILS_SMOKE'], SETUP)"),
        nbformat.v4.new_code_cell("raise ValueError('broken on purpose')"),
        nbformat.v4.new_code_cell("print('never')"),
    ])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    record = run_notebook(path, "SETUP = 'set up'", kernel_env(tmp_path / "data", tmp_path / "cache"),
                          executed=tmp_path / "out" / "nb.ipynb", cell_timeout=120)
    assert record["status"] == "failed" and record["failed_cell"] == 2 and "broken on purpose" in record["error"]
    assert [c["index"] for c in record["cells"]] == [1, 2] and record["code_cells"] == 3
    assert "0 set up" in "".join(o.get("text", "") for o in nbformat.read(tmp_path / "out" / "nb.ipynb", 4)
                                 .cells[1].outputs)
    assert "[1]" in capsys.readouterr().out  # one progress line per finished cell
