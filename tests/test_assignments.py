import json
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from labutils import assignments
from labutils.assignments import (ANSWER_STUB, LANGUAGE_INFO, MAX_WIDTH, AssignmentError, answer_regions, build,
                                  build_notebook, check, clean, hint_problems, strip_solutions)

from conftest import NOTEBOOKS, ROOT, SOLUTIONS

SOLVED = '''def add(a, b):
    # TODO: Задание 9.1 (add) — верните сумму двух чисел,
    #   это понадобится дальше
    ### BEGIN SOLUTION
    total = a + b
    return total
    ### END SOLUTION'''


ANSWERED = """**Контрольный вопрос.** Зачем нужен shortcut?

**Ответ 1.**
### BEGIN SOLUTION
Чтобы градиент проходил к ранним слоям без затухания.
### END SOLUTION"""


def _write(folder, name, sources, kernel="python3", markdown="# Demo"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(markdown)] + [nbformat.v4.new_code_cell(s) for s in sources]
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
    assert "    # TODO: Задание 9.1 (add) — верните сумму двух чисел,\n    #   это понадобится дальше" in out
    assert '    raise NotImplementedError("Задание 9.1: впишите решение")' in out


def test_older_english_hints_still_build():
    out = strip_solutions("# TODO: Task 3.2 (x) — set x\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    assert out.endswith('raise NotImplementedError("Задание 3.2: впишите решение")')


@pytest.mark.parametrize("hint, gives_away", [
    ("# TODO: Задание 9.1 (add) — сложите: total = sum([a, b])", True),       # a whole solution line
    ("# TODO: Задание 9.1 (add) — сложите встроенной sum(), верните total", False),  # names, no expression
    ("# TODO: Задание 9.2 (head) — замените голову на nn.Linear(in_features, num_classes)", True),  # a right side
    ("# TODO: Задание 9.2 (head) — замените голову новым линейным слоем;\n#   в конце return model", False),
    ("# TODO: Задание 9.2 (head) — число входов возьмите из model.fc.in_features", False),  # a bare name
])
def test_hint_that_repeats_the_solution_is_named(hint, gives_away):
    body = ("total = sum([a, b])\nreturn total" if "9.1" in hint else
            "in_features = model.fc.in_features\nmodel.fc = nn.Linear(in_features, num_classes)\nreturn model")
    problems = hint_problems(f"{hint}\n### BEGIN SOLUTION\n{body}\n### END SOLUTION", "demo cell 1")
    assert bool(problems) == gives_away, problems
    if gives_away:
        assert "demo cell 1: the hint of Задание 9." in problems[0] and "gives away" in problems[0]


def test_answers_are_stripped_from_markdown():
    student, answers = answer_regions(ANSWERED)
    assert answers == [["Чтобы градиент проходил к ранним слоям без затухания."]]
    assert "затухания" not in student and "BEGIN" not in student
    assert student.endswith("**Ответ 1.**\n" + ANSWER_STUB)
    with pytest.raises(AssignmentError, match="never closed"):
        answer_regions("### BEGIN SOLUTION\nответ", "demo cell 0")


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "needs a '# TODO: Задание N.M"),
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
    assert student.metadata.language_info == LANGUAGE_INFO  # what JupyterLab writes: opening changes nothing
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


def test_leaked_answer_is_named(tmp_path):
    sol, stu = tmp_path / "solutions", tmp_path / "notebooks"
    _write(sol, "09_demo.ipynb", ["x = 1"], markdown=ANSWERED)
    build(sol, stu)
    assert check(sol, stu) == []
    nb = nbformat.read(str(stu / "09_demo.ipynb"), as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace(ANSWER_STUB, "Чтобы градиент проходил к ранним слоям без затухания.")
    nbformat.write(nb, str(stu / "09_demo.ipynb"))
    problems = check(sol, stu)
    assert any("cell 0, line 4: answer leaked" in p for p in problems), problems


def test_hint_giving_the_solution_away_fails_check(tmp_path):
    sol, stu = tmp_path / "solutions", tmp_path / "notebooks"
    _write(sol, "09_demo.ipynb", [SOLVED.replace("это понадобится дальше", "return total")
                                  .replace("total = a + b", "total = sum([a, b])")])
    build(sol, stu)
    assert check(sol, stu) == []  # naming the returned variable gives nothing away
    _write(sol, "09_demo.ipynb", [SOLVED.replace("это понадобится дальше", "total = sum([a, b])")
                                  .replace("total = a + b", "total = sum([a, b])")])
    build(sol, stu)
    assert any("the hint of Задание 9.1 gives away the solution 'total = sum([a, b])'" in p
               for p in check(sol, stu))


def test_wide_student_code_line_fails_check(tmp_path):
    sol, stu = tmp_path / "solutions", tmp_path / "notebooks"
    wide = "x = " + "1 + " * 30 + "1"
    _write(sol, "09_demo.ipynb", ["y = 2", "\n" + wide])
    build(sol, stu)
    assert len(wide) > MAX_WIDTH
    assert check(sol, stu) == [f"{stu / '09_demo.ipynb'} cell 2, line 2: {len(wide)} characters, "
                               f"more than {MAX_WIDTH}; wrap it"]


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


@pytest.mark.parametrize("name, task, in_a_check", [
    ("01_residual_networks.ipynb", "1.1", True),
    ("02_chest_xray_finetuning.ipynb", "2.1", True),
    ("03_resnext_cifar100.ipynb", "3.1", False),   # the manual's task 3.1 is top-level code: its own cell stops
    ("04_dog_breeds_strategies.ipynb", "4.1", True),
])
def test_student_notebook_stops_at_first_todo(name, task, in_a_check):
    nb = nbformat.read(str(NOTEBOOKS / name), as_version=4)
    solution = nbformat.read(str(SOLUTIONS / name), as_version=4)
    text = json.dumps(nb)
    assert "BEGIN SOLUTION" not in text
    first_solution_line = next(
        line.strip() for cell in solution.cells if cell.cell_type == "code"
        for _, body in assignments.solution_regions(cell.source) for line in body if line.strip())
    assert first_solution_line not in text
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    with pytest.raises(CellExecutionError):
        client.execute()
    failed = next(c for c in nb.cells if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs))
    error = next(o for o in failed.outputs if o.output_type == "error")
    if in_a_check:
        # What Jupyter shows: the self-check's single verdict line, in Russian, instead of a traceback.
        assert "checks.check_" in failed.source
        assert len(error.traceback) == 1, error.traceback
        assert error.traceback[0].startswith(f"❌ Задание {task}") and "ещё не выполнено" in error.traceback[0]
    else:
        assert error.ename == "NotImplementedError" and error.evalue == f"Задание {task}: впишите решение"
