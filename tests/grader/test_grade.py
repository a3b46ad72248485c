"""The grader, proved both ways: full marks, zero, each typical mistake loses exactly its own points,
and broken submissions are reported without stopping the others."""
import csv
import re
import subprocess
import sys

import nbformat
import pytest

import labutils.grader as grader_package
from labutils import grade as grader
from labutils.atomic import write_atomic
from labutils.grade import LABS, detect_lab
from labutils.grader.worker import WORKER_COMMAND

from conftest import NOTEBOOKS, SOLUTIONS

FULL = {stem: sum(i.points for i in items) for stem, items in LABS.items()}
POINTS = {i.task: i.points for items in LABS.values() for i in items}


def _by_name(reports):
    return {r.submission.split("/")[-1]: r for r in reports}


def test_solutions_score_full_marks_and_student_notebooks_zero(tmp_path):
    reports = grader.grade([str(SOLUTIONS), str(NOTEBOOKS)], tmp_path / "grades")
    assert len(reports) == 8
    for r in reports:
        assert r.status == "ok", (r.submission, r.detail)
        if "/solutions/" in r.submission:
            assert r.points == FULL[r.lab], [t for t in r.tasks if not t["ok"]]
            assert r.errors == []
        else:
            assert r.points == 0 and r.errors, r.submission
            # an unfilled TODO raises inside the checked function (the check's one-line verdict says the task,
            # or the earlier task it needs, is not done yet), or in the grader's own call that builds the
            # check's argument (e.g. replace_head(...)), or leaves its name undefined
            assert all(re.match(r"Задание \d+\.\d+[^:]*: (ещё не выполнено|сначала выполните задание \d)",
                                t["message"]) or t["message"].startswith(("NotImplementedError: Задание",
                                                                          "NotImplementedError: Task",
                                                                          "в блокноте нет "))
                       for t in r.tasks), \
                [t["message"] for t in r.tasks]
    rows = list(csv.DictReader(open(tmp_path / "grades" / "gradebook.csv")))
    assert len(rows) == 8 and {row["status"] for row in rows} == {"ok"}
    assert all((tmp_path / "grades" / row["report"]).is_file() for row in rows)


def _mutant(tmp_path, lab, name, cell_marker, old, new):
    """The solution notebook with ``old`` replaced by ``new`` in the first code line (not comment) holding it."""
    nb = nbformat.read(str(SOLUTIONS / f"{lab}.ipynb"), as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and cell_marker in c.source]
    assert len(cells) == 1, f"{cell_marker!r} should mark one cell"
    lines, done = [], False
    for line in cells[0].source.splitlines(keepends=True):
        if not done and not line.lstrip().startswith("#") and old in line + ("" if line.endswith("\n") else "\n"):
            line, done = (line + "\n").replace(old, new, 1).rstrip("\n") + ("\n" if line.endswith("\n") else ""), True
        lines.append(line)
    assert done, f"{old!r} not in the code (comments excluded) of the {cell_marker!r} cell"
    cells[0].source = "".join(lines)
    path = tmp_path / f"{lab}__{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


MISTAKES = [  # (lab, name, cell marker, old, new, task that must lose its points)
    ("01_residual_networks", "no_skip", "class ResidualBlock", "        out += identity\n", "", "1.1"),
    ("01_residual_networks", "relu_before_add", "class ResidualBlock",
     "out = self.bn2(self.conv2(out))", "out = self.relu(self.bn2(self.conv2(out)))", "1.1"),
    ("01_residual_networks", "downsample_stride", "class ResNet(",
     "kernel_size=1, stride=stride, bias=False", "kernel_size=1, stride=1, bias=False", "1.3"),
    ("01_residual_networks", "bottleneck_width", "class Bottleneck",
     "width = int(out_channels * (base_width / 64.0)) * groups", "width = out_channels", "1.2"),
    ("01_residual_networks", "in_channels_not_updated", "class ResNet(",
     "        self.in_channels = out_channels * block.expansion\n", "", "1.3"),
    ("01_residual_networks", "block_is_torchvision", "class ResidualBlock",
     "class ResidualBlock(nn.Module):",
     "from torchvision.models.resnet import BasicBlock as ResidualBlock\n\n\nclass _OwnBlock(nn.Module):", "1.1"),
    ("01_residual_networks", "groups_first_block_only", "class ResNet(",
     "groups=self.groups, base_width=self.base_width))", "))", "1.3"),
    ("02_chest_xray_finetuning", "head_outputs", "def replace_head",
     "model.fc = nn.Linear(in_features, num_classes)", "model.fc = nn.Linear(in_features, 3)", "2.1"),
    ("02_chest_xray_finetuning", "no_zero_grad", "def train_one_epoch", "        optimizer.zero_grad()\n", "", "2.3"),
    ("03_resnext_cifar100", "eval_in_train_mode", "def predict", "    model.eval()\n", "", "3.4"),
    ("03_resnext_cifar100", "denormalize_not_inverse", "def denormalize",
     "return tensor * std + mean", "return tensor * mean + std", "3.5"),
    ("04_dog_breeds_strategies", "freeze_leaves_backbone", "def apply_strategy",
     '    if strategy == "full":', '    if strategy in ("full", "freeze"):', "4.2"),
    # issue 21: mistakes the hints warn about, which the self-checks once let through
    ("02_chest_xray_finetuning", "confusion_matrix_without_labels", "def sensitivity_specificity",
     ", labels=[0, 1]).ravel()", ").ravel()", "2.6"),
    ("02_chest_xray_finetuning", "bincount_without_minlength", "def class_weights", ", minlength=num_classes", "",
     "2.7"),
    ("04_dog_breeds_strategies", "unknown_arch_accepted", "def make_model(", "raise ValueError(", "print(", "4.1"),
]


def test_each_typical_mistake_loses_exactly_its_own_points(tmp_path):
    paths = {name: _mutant(tmp_path, lab, name, marker, old, new) for lab, name, marker, old, new, _ in MISTAKES}
    reports = _by_name(grader.grade([str(p) for p in paths.values()], tmp_path / "grades"))
    for lab, name, _, _, _, task in MISTAKES:
        r = reports[paths[name].name]
        lost = {t["task"] for t in r.tasks if not t["ok"]}
        assert lost == {task}, (name, [(t["task"], t["message"]) for t in r.tasks if not t["ok"]])
        assert r.points == FULL[lab] - POINTS[task], name


def test_broken_submissions_are_reported_and_do_not_stop_the_others(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "garbage.ipynb").write_text("{ this is not json")

    def small(name, sources, lab=None):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        if lab:
            nb.metadata["labutils"] = {"lab": lab}
        nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
        nbformat.write(nb, str(folder / name))

    small("essay.ipynb", ["print('my holiday photos')"])
    small("hangs.ipynb", ["import time\ntime.sleep(600)"], lab="01_residual_networks")
    small("kills_kernel.ipynb", ["import os\nos._exit(1)"], lab="01_residual_networks")

    # A real submission that exits early, deletes every check cell, patches a check, and breaks Task 1.1.
    nb = nbformat.read(str(SOLUTIONS / "01_residual_networks.ipynb"), as_version=4)
    nb.cells = [c for c in nb.cells if "checks.check_" not in c.source]
    patch_at = 1 + next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "import torch" in c.source)
    nb.cells.insert(patch_at, nbformat.v4.new_code_cell(
        "checks.check_residual_block = lambda *a, **k: print('✅ trust me')\nimport sys\nsys.exit()"))
    block = next(c for c in nb.cells if "class ResidualBlock" in c.source)
    block.source = block.source.replace("        out += identity\n", "")
    nbformat.write(nb, str(folder / "sneaky.ipynb"))

    reports = _by_name(grader.grade([str(folder)], tmp_path / "grades", timeout=20))
    assert reports["garbage.ipynb"].status == "invalid"
    assert reports["essay.ipynb"].status == "unknown-lab"
    assert reports["hangs.ipynb"].status == "timeout" and "interrupted" in reports["hangs.ipynb"].detail
    assert reports["kills_kernel.ipynb"].status == "crashed"
    sneaky = reports["sneaky.ipynb"]
    assert sneaky.status == "ok"
    assert any(e["ename"] == "SystemExit" and e["cell"] == patch_at for e in sneaky.errors), sneaky.errors
    assert {t["task"] for t in sneaky.tasks if not t["ok"]} == {"1.1"}  # the patched check was reloaded
    assert sneaky.points == FULL["01_residual_networks"] - POINTS["1.1"]
    text = (tmp_path / "grades" / "sneaky.md").read_text()
    assert "нет skip-соединения" in text and f"cell {patch_at}: SystemExit" in text


def test_lab_detection_order(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("# TODO: Task 3.2 (transform) — ...\nraise NotImplementedError")]
    assert detect_lab(tmp_path / "ivanov.ipynb", nb) == "03_resnext_cifar100"
    assert detect_lab(tmp_path / "02_chest_xray_finetuning-petrov.ipynb", nb) == "02_chest_xray_finetuning"
    nb.metadata["labutils"] = {"lab": "04_dog_breeds_strategies"}
    assert detect_lab(tmp_path / "01_residual_networks.ipynb", nb) == "04_dog_breeds_strategies"
    assert detect_lab(tmp_path / "x.ipynb", nbformat.v4.new_notebook()) is None


def test_cli_reports_missing_path(capsys, tmp_path):
    assert grader.main([str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_facade_keeps_the_callers_names():
    """``labutils.grade`` re-exports what the tests and ``labutils.assignments`` import; the package is the grader."""
    for name in ("grade", "main", "LABS", "GRACE", "RUN_VAR", "Report", "Settings", "detect_lab", "kill_run",
                 "grade_one", "render", "write_reports", "summarize", "collect", "sandbox_setting"):
        assert hasattr(grader, name), name
        assert name == "grade" or getattr(grader, name) is getattr(grader_package, name), name
    assert grader.sandbox is grader_package.sandbox and callable(grader._run_isolated)


def test_the_worker_command_imports_the_worker():
    """The command each worker process runs (``python -c``) names a function that exists."""
    assert WORKER_COMMAND.endswith("; worker()")
    check = WORKER_COMMAND.removesuffix("; worker()") + "; assert callable(worker)"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, stdin=subprocess.DEVNULL, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-500:]


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "gradebook.csv"
    write_atomic(target, "old")
    write_atomic(target, b"new")
    assert target.read_text() == "new"
    with pytest.raises(TypeError):
        write_atomic(target, 42)  # neither text nor bytes: the old file stays
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["gradebook.csv"]
