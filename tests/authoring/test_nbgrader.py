"""The nbgrader export: the real nbgrader releases, autogrades and exports every lab like labutils.grade.

``python -m labutils.assignments export-nbgrader DIR`` writes a course directory; nbgrader then
generates the release (equal in code to ``notebooks/``, modulo nbgrader's one stub line), autogrades
a solution submission (full marks) and the released notebook (zero) in smoke mode, and exports the
CSV. Each task's nbgrader score equals ``labutils.grade``'s on the same two submissions.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from labutils import assignments, course as course_table
from labutils import grade as grader
from labutils.grade import LABS
from labutils.authoring import nbgrader as export

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
_STUB = re.compile(r"^(\s*)raise NotImplementedError\(.*\)\s*$")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nbgrader_course")
    assert assignments.main(["export-nbgrader", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    data = tmp_path_factory.mktemp("nbgrader_data")
    path = os.pathsep.join([str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
    return {**os.environ, "LABUTILS_SMOKE": "1", "LABUTILS_DATA": str(data), "PYTHONPATH": path,
            "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _nbgrader(course: Path, env: dict, *args: str) -> str:
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                         text=True, timeout=1800)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{output[-4000:]}"
    return output


def _code(cells) -> list[tuple[str, str]]:
    """(cell type, source) of each cell, every ``raise NotImplementedError(...)`` line made one token."""
    return [(c.cell_type, "\n".join(_STUB.sub(r"\1<stub>", line) for line in c.source.splitlines()))
            for c in cells]


def _tests(nb) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_")]


def test_checked_tasks_come_from_the_course_table():
    """A self-check call names its task: its ``task=`` argument, else the lab's row whose check it is."""
    assert export.checked_tasks("checks.check_train_loop(train_one_epoch)", course_table.lab(2)) == ["2.3"]
    assert export.checked_tasks("checks.check_train_loop(train_one_epoch)", course_table.lab(3)) == ["3.3"]
    assert export.checked_tasks('check_predict(predict, task="Задание 3.4 predict")', course_table.lab(1)) == ["3.4"]
    assert export.checked_tasks("checks.check_same_as_torchvision(a, b)\ncheck_head(f)", course_table.lab(2)) == ["2.1"]
    assert export.checked_tasks("%time checks.check_head(f)", course_table.lab(2)) == []


def test_grade_ids_and_test_cells_alone():
    unique = export._GradeIds()
    assert [unique("task_1_1"), unique("task_1_1"), unique("cell-x")] == ["task_1_1", "task_1_1-2", "cell-x"]
    assert export.id_part("test-2.3 é") == "test-2_3__"
    lab = course_table.lab(3)
    cells_of = {t.number: [i] for i, t in enumerate(lab.tasks)}
    # 3.1's check runs after its solution (cell 4); 3.2's runs before (cell 0, ignored) and after (cell 3)
    after = export.autograded_tests(Path("03.ipynb"), lab, export._GradeIds(), cells_of, {"3.1": [4], "3.2": [0, 3]})
    assert {i: [c.id for c in cells] for i, cells in after.items()} == {
        4: ["test-3_1", "test-3_5"], 3: ["test-3_2", "test-3_4"], 2: ["test-3_3"]}
    assert after[4][1].metadata["nbgrader"]["points"] == course_table.task("3.5").points


def test_authoring_does_not_import_the_grader():
    code = ("import sys, labutils.assignments, labutils.authoring.nbgrader; "
            "print(sorted(m for m in sys.modules if m.startswith(('labutils.grade', 'labutils.checks'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_export_metadata(course):
    """Every cell carries nbgrader metadata; ids are unique, stable and derived from the task ids."""
    assert (course / "nbgrader_config.py").is_file()
    config = (course / "nbgrader_config.py").read_text(encoding="utf-8")
    assert "ClearSolutions.code_stub" in config and "ExecutePreprocessor.timeout" in config
    for lab, items in LABS.items():
        path = course / "source" / lab / f"{lab}.ipynb"
        nb = nbformat.read(str(path), as_version=4)
        metas = [c.metadata["nbgrader"] for c in nb.cells]
        ids = [m["grade_id"] for m in metas]
        assert len(ids) == len(set(ids)), lab
        tests = {m["grade_id"]: m for m in metas if m["grade"] and not m["solution"]}
        assert {g: m["points"] for g, m in tests.items()} == {f"test_{i.task.replace('.', '_')}": i.points
                                                              for i in items}
        assert all(m["locked"] for m in tests.values())
        solutions = {m["grade_id"] for m, c in zip(metas, nb.cells) if m["solution"] and c.cell_type == "code"}
        assert {i.task for i in items} <= {t.replace("_", ".") for g in solutions
                                           for t in g.removeprefix("task_").split("-") if "_" in t}
        answers = [m for m, c in zip(metas, nb.cells) if c.cell_type == "markdown" and m["solution"]]
        assert answers and all(m["grade"] and m["points"] == 0 for m in answers)
        assert all(m["locked"] for m in metas if not m["grade"] and not m["solution"])
        # each test cell comes after the solution it tests and runs the grader's probe and judge
        for cell in _tests(nb):
            number = cell.metadata["nbgrader"]["grade_id"].removeprefix("test_").replace("_", ".")
            assert f'assert_task("{number}", globals())' in cell.source
        # a re-export gives the same ids
        again = assignments.nbgrader_notebook(SOLUTIONS / f"{lab}.ipynb")
        assert [c.metadata["nbgrader"]["grade_id"] for c in again.cells] == ids


@pytest.mark.parametrize("lab", list(LABS))
def test_nbgrader_grades_like_labutils(course, env, lab, tmp_path):
    from nbgrader.api import Gradebook

    items = LABS[lab]
    total = sum(i.points for i in items)
    _nbgrader(course, env, "generate_assignment", lab, "--force")
    release = course / "release" / lab / f"{lab}.ipynb"
    released = nbformat.read(str(release), as_version=4)
    student = nbformat.read(str(NOTEBOOKS / f"{lab}.ipynb"), as_version=4)
    tests = _tests(released)
    assert len(tests) == len(items)
    assert _code([c for c in released.cells if c not in tests]) == _code(student.cells)

    submissions = {"full": course / "source" / lab / f"{lab}.ipynb", "blank": release}
    for name, path in submissions.items():
        folder = course / "submitted" / name / lab
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / f"{lab}.ipynb")
    paths = {name: course / "submitted" / name / lab / f"{lab}.ipynb" for name in submissions}
    # labutils.grade judges the very same submissions, meanwhile (each run takes a kernel of its own)
    with ThreadPoolExecutor(max_workers=1) as pool:
        graded = pool.submit(grader.grade, [str(p) for p in paths.values()], tmp_path / "grades", workers=1)
        _nbgrader(course, env, "autograde", lab, "--create", "--force")
        reports = graded.result()
    _nbgrader(course, env, "export", "--to", str(course / "grades.csv"))
    with open(course / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f) if r["assignment"] == lab}
    assert float(rows["full"]["max_score"]) == total
    assert float(rows["full"]["score"]) == total, rows["full"]
    assert float(rows["blank"]["score"]) == 0, rows["blank"]

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nbgrader_scores = {name: {i.task: gb.find_grade(f"test_{i.task.replace('.', '_')}", lab, lab, name).score
                                  for i in items} for name in submissions}
    assert nbgrader_scores["full"] == {i.task: i.points for i in items}
    assert nbgrader_scores["blank"] == {i.task: 0 for i in items}

    # labutils.grade on the very same submissions agrees task by task
    by_path = {Path(r.submission).resolve(): r for r in reports}
    for name, path in paths.items():
        report = by_path[path.resolve()]
        assert report.lab == lab and report.status == "ok", (report.status, report.detail)
        ours = {t["task"]: t["points"] for t in report.tasks}
        assert ours == nbgrader_scores[name], (name, [t["message"] for t in report.tasks if not t["ok"]])
