import json
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from labutils import assignments
from labutils.assignments import AssignmentError, build, check, clean, strip_solutions

from conftest import NOTEBOOKS, ROOT, SOLUTIONS

SOLVED = '''def add(a, b):
    # TODO: Task 9.1 (add) — return the sum
    ### BEGIN SOLUTION
    total = a + b
    return total
    ### END SOLUTION'''


def _write(folder, name, sources, kernel="python3"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Demo")] + [nbformat.v4.new_code_cell(s) for s in sources]
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, str(folder / name))
    return folder / name


@pytest.fixture
def course(tmp_path):
    sol, stu = tmp_path / "solutions", tmp_path / "notebooks"
    _write(sol, "09_demo.ipynb", ["import math", SOLVED, "add(1, 2)"])
    build(sol, stu)
    return sol, stu


def test_region_becomes_hint_and_named_raise():
    out = strip_solutions(SOLVED)
    assert "total = a + b" not in out
    assert "    # TODO: Task 9.1 (add) — return the sum" in out
    assert "    raise NotImplementedError('Task 9.1 (add) — return the sum')" in out


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "needs a '# TODO: Task N.M"),
    ("# TODO: fill this\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "must name its task"),
    ("# TODO: Task 1 x\n### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without a matching"),
    ("# TODO: Task 1 x\n### BEGIN SOLUTION\n\n### END SOLUTION", "empty solution region"),
])
def test_malformed_markers_are_named(source, message):
    with pytest.raises(AssignmentError, match=message):
        strip_solutions(source, "demo.ipynb cell 3")


def test_fresh_build_passes_check(course):
    sol, stu = course
    assert check(sol, stu) == []
    student = nbformat.read(str(stu / "09_demo.ipynb"), as_version=4)
    assert student.metadata.kernelspec.name == "python3"
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")


def test_stale_student_notebook_is_named(course):
    sol, stu = course
    _write(sol, "09_demo.ipynb", ["import math", SOLVED, "add(2, 2)"])
    problems = check(sol, stu)
    assert any("09_demo.ipynb cell 3: stale" in p for p in problems), problems


def test_leaked_solution_is_named(course):
    sol, stu = course
    nb = nbformat.read(str(stu / "09_demo.ipynb"), as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace("raise NotImplementedError", "total = a + b  #")
    nbformat.write(nb, str(stu / "09_demo.ipynb"))
    problems = check(sol, stu)
    assert any("cell 2" in p and "solution code leaked" in p for p in problems), problems


def test_outputs_and_kernelspec_are_named(course, tmp_path):
    sol, stu = course
    nb = nbformat.read(str(sol / "09_demo.ipynb"), as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hi")]
    nb.metadata.kernelspec.name = "conda-env"
    nbformat.write(nb, str(sol / "09_demo.ipynb"))
    problems = check(sol, stu)
    assert any("cell 1: has outputs" in p for p in problems), problems
    assert any("kernelspec is 'conda-env'" in p for p in problems), problems
    assert clean(sol) == [sol / "09_demo.ipynb"]
    assert check(sol, stu) == []


def test_missing_and_orphan_notebooks_are_named(course):
    sol, stu = course
    (stu / "09_demo.ipynb").rename(stu / "10_extra.ipynb")
    problems = check(sol, stu)
    assert any("09_demo.ipynb: missing" in p for p in problems)
    assert any("10_extra.ipynb: has no source" in p for p in problems)


def test_invalid_json_is_reported_not_crashing(course):
    sol, stu = course
    (stu / "09_demo.ipynb").write_text("{ not json")
    assert any("cannot be read as a notebook" in p for p in check(sol, stu))


def test_repository_notebooks_are_in_sync():
    result = subprocess.run([sys.executable, "-m", "labutils.assignments", "check"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))


@pytest.mark.parametrize("name, first_task", [
    ("01_residual_networks.ipynb", "Task 1.1 (ResidualBlock.__init__)"),
    ("02_chest_xray_finetuning.ipynb", "Task 2.1 (replace_head)"),
    ("03_resnext_cifar100.ipynb", "Task 3.1 (import the model)"),
    ("04_dog_breeds_strategies.ipynb", "Task 4.1 (make_model)"),
])
def test_student_notebook_stops_at_first_todo(name, first_task):
    nb = nbformat.read(str(NOTEBOOKS / name), as_version=4)
    solution = nbformat.read(str(SOLUTIONS / name), as_version=4)
    text = json.dumps(nb)
    assert "BEGIN SOLUTION" not in text
    first_solution_line = next(
        line.strip() for cell in solution.cells if cell.cell_type == "code"
        for _, body in assignments.solution_regions(cell.source) for line in body if line.strip())
    assert first_solution_line not in text
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert "NotImplementedError" in str(info.value)
    assert first_task in str(info.value)
