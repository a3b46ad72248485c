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
from labutils.authoring import build as build_steps
from labutils.authoring import lint
from labutils.authoring.regions import Region, scan

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


# --- the authoring pipeline, one step at a time (labutils.authoring) ---------------------------

TWO_REGIONS = """x = 0
    # TODO: Задание 9.1 (a) — первое
    ### BEGIN SOLUTION
    a = 1
    ### END SOLUTION
# комментарий
# TODO: Задание 9.2 (b) — второе,
#   на двух строках
### BEGIN SOLUTION
b = 2
### END SOLUTION
y = 3"""


def test_scanner_finds_each_region_with_its_hint_indent_and_lines():
    first, second = scan(TWO_REGIONS, "demo cell 0")
    assert first == Region(2, 4, "    ", ["    a = 1"], "Задание 9.1 (a) — первое")
    assert second == Region(8, 10, "", ["b = 2"], "Задание 9.2 (b) — второе, на двух строках")
    out = strip_solutions(TWO_REGIONS)
    assert out.splitlines() == ["x = 0", "    # TODO: Задание 9.1 (a) — первое",
                                '    raise NotImplementedError("Задание 9.1: впишите решение")', "# комментарий",
                                "# TODO: Задание 9.2 (b) — второе,", "#   на двух строках",
                                'raise NotImplementedError("Задание 9.2: впишите решение")', "y = 3"]


def test_scanner_stops_a_hint_at_the_previous_region():
    """A region right after another has no hint of its own, even though the END marker is a comment."""
    source = ("# TODO: Задание 9.1 x\n### BEGIN SOLUTION\na = 1\n### END SOLUTION\n"
              "### BEGIN SOLUTION\nb = 2\n### END SOLUTION")
    with pytest.raises(AssignmentError, match="line 5: '### BEGIN SOLUTION' needs a '# TODO"):
        scan(source, "demo cell 0")


def test_scanner_words_a_nested_begin_by_kind():
    nested = "# TODO: Задание 9.1 x\n### BEGIN SOLUTION\na\n### BEGIN SOLUTION\nb\n### END SOLUTION"
    with pytest.raises(AssignmentError, match="line 4: nested"):
        scan(nested, "demo cell 0", "solution")
    with pytest.raises(AssignmentError, match="line 2: '### BEGIN SOLUTION' is never closed"):
        scan(nested, "demo cell 0", "answer")
    answer = ["Чтобы градиент проходил к ранним слоям без затухания."]
    assert [r.body for r in scan(ANSWERED, kind="answer")] == [answer]
    assert scan(ANSWERED, kind="answer")[0].hint is None


@pytest.mark.parametrize("step, cell_type, changed", [
    (build_steps.stub_answers, "markdown", True), (build_steps.stub_answers, "code", False),
    (build_steps.stub_solutions, "code", True), (build_steps.stub_solutions, "markdown", False),
    (build_steps.clear_outputs, "code", True), (build_steps.clear_outputs, "markdown", False),
])
def test_each_cell_step_changes_only_its_own_cells(step, cell_type, changed):
    source = ANSWERED if cell_type == "markdown" else SOLVED
    make = nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_code_cell
    cell = make(source)
    if cell_type == "code":
        cell.outputs, cell.execution_count = [nbformat.v4.new_output("stream", text="3")], 1
        cell.metadata["execution"] = {"iopub.status.busy": "2024-01-01"}
    before = json.dumps(cell, sort_keys=True)
    step(cell, "demo cell 0")
    assert (json.dumps(cell, sort_keys=True) != before) == changed
    if changed and step is build_steps.stub_answers:
        assert cell.source.endswith(ANSWER_STUB) and "затухания" not in cell.source
    if changed and step is build_steps.stub_solutions:
        assert "total = a + b" not in cell.source and cell.outputs  # outputs are another step's concern
    if changed and step is build_steps.clear_outputs:
        assert cell.outputs == [] and cell.execution_count is None and "execution" not in cell.metadata
        assert cell.source == SOLVED


def test_notebook_steps_write_kernel_and_lab():
    nb = nbformat.v4.new_notebook()
    for step in build_steps.NOTEBOOK_STEPS:
        step(nb, "solutions/09_demo.ipynb")
    assert nb.metadata.kernelspec == build_steps.KERNELSPEC and nb.metadata.language_info == LANGUAGE_INFO
    assert nb.metadata.labutils == {"lab": "09_demo"}
    assert build_steps.CELL_STEPS == (build_steps.stub_answers, build_steps.stub_solutions, build_steps.clear_outputs)


def test_build_reports_the_first_bad_cell_in_notebook_order(tmp_path):
    """Cell steps run cell by cell, so a bad answer in cell 0 is named before a bad region in cell 1."""
    path = _write(tmp_path, "09_demo.ipynb", ["# TODO: Задание 9.1 x\n### BEGIN SOLUTION\nx = 1"],
                  markdown="### BEGIN SOLUTION\nответ")
    with pytest.raises(AssignmentError, match="cell 0, line 1"):
        build_notebook(path)


def test_lint_rules_alone(tmp_path):
    wide = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1\n" + "y" * (MAX_WIDTH + 1))])
    assert lint.too_wide("demo.ipynb", wide) == [f"demo.ipynb cell 0, line 2: {MAX_WIDTH + 1} characters, "
                                                 f"more than {MAX_WIDTH}; wrap it"]
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 2")])
    assert lint.stale("s.ipynb", "n.ipynb", wide, wide) == []
    assert lint.stale("s.ipynb", "n.ipynb", other, wide) == [
        "n.ipynb cell 0: stale, differs from what s.ipynb builds; run python -m labutils.assignments build"]
    assert lint.hygiene("n.ipynb", wide) == ["n.ipynb: kernelspec is None, expected 'python3'"]


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


# ---------------------------------------------------------------------------------------------
# Hints that give the answer away (labutils.hintlint), in the TODO comment and in <details>

def _task_notebook(folder, statement, code):
    """A one-task solution notebook: the task's markdown (with its <details>) and its code cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(statement), nbformat.v4.new_code_cell(code)]
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, str(folder / "09_demo.ipynb"))
    return nb


def _details(text):
    return f"**Задание 9.1.** Напишите функцию.\n\n<details><summary>Подсказка</summary>\n\n{text}\n\n</details>"


PICK = '''def pick_best(results):
    # TODO: Задание 9.1 (pick_best) — верните запись с наибольшей точностью на валидации,
    #   при равной точности — с меньшим числом обучаемых параметров
    ### BEGIN SOLUTION
    return max(results, key=lambda r: (r["best_val_acc"], -r["params"]["trainable"]))
    ### END SOLUTION'''

SENS = '''def sens_spec(y_true, y_pred):
    # TODO: Задание 9.1 (sens_spec) — получите из матрицы ошибок четыре её числа и верните пару
    #   (чувствительность, специфичность)
    ### BEGIN SOLUTION
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    return tp / (tp + fn), tn / (tn + fp)
    ### END SOLUTION'''

DENORM = '''def denormalize(tensor, mean, std):
    # TODO: Задание 9.1 (denormalize) — обратите нормализацию по каналам
    ### BEGIN SOLUTION
    mean = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device).view(3, 1, 1)
    std = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device).view(3, 1, 1)
    return tensor * std + mean
    ### END SOLUTION'''

PARITY = '''def parity(onnx_path, model, batch):
    # TODO: Задание 9.1 (parity) — наибольшее расхождение выходов onnxruntime и PyTorch
    ### BEGIN SOLUTION
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: batch.numpy().astype(np.float32)}
    onnx_out = session.run(None, feed)[0]
    model.eval()
    with torch.no_grad():
        torch_out = model(batch).numpy()
    return float(np.abs(onnx_out - torch_out).max())
    ### END SOLUTION'''


def test_details_hint_repeating_a_solution_line_is_named(tmp_path):
    bad = _details("Внутри блока `with torch.no_grad():` градиенты не считаются.")
    nb = _task_notebook(tmp_path, bad, PARITY)
    problems = assignments.details_problems(nb, "demo.ipynb")
    assert problems == ["demo.ipynb cell 0: the <details> hint of Задание 9.1 gives away the solution "
                        "'with torch.no_grad():'; say what to build and why, not the code"]
    good = _details("Градиенты для сравнения не нужны: отключите их (контекст `torch.no_grad`).")
    assert assignments.details_problems(_task_notebook(tmp_path, good, PARITY), "demo.ipynb") == []


def test_details_hint_near_verbatim_solution_line_is_named(tmp_path):
    # the solution line with the variables renamed: still the answer
    bad = _details("```python\na, b, c, d = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()\n```")
    problems = assignments.details_problems(_task_notebook(tmp_path, bad, SENS), "demo.ipynb")
    assert any("gives away the solution" in p and "nearly verbatim as 'a, b, c, d = confusion_matrix" in p
               for p in problems), problems


def test_spelled_out_expression_is_named(tmp_path):
    # Lab 4's old hint 4.4: the sort key, key by key
    bad = _details("Точность лежит в `r[\"best_val_acc\"]`, число параметров — в `r[\"params\"][\"trainable\"]`.")
    problems = assignments.details_problems(_task_notebook(tmp_path, bad, PICK), "demo.ipynb")
    assert [p.split(" spells out the solution's expression ")[1].split(";")[0] for p in problems] == [
        "\"r['best_val_acc']\"", "\"r['params']['trainable']\""], problems
    good = _details("Встроенная `max` принимает функцию-ключ; кортежи сравниваются поэлементно. "
                    "Что лежит в записи, посмотрите в `results.json` (ключи `best_val_acc` и `params`).")
    assert assignments.details_problems(_task_notebook(tmp_path, good, PICK), "demo.ipynb") == []


def test_spelled_out_shape_is_named():
    # Lab 3's old hint 3.5: the shape of the broadcast tensors written out
    bad = DENORM.replace("по каналам", "по каналам: тензоры формы (3, 1, 1)")
    problems = hint_problems(bad, "demo cell 1")
    assert problems == ["demo cell 1: the hint of Задание 9.1 spells out the solution's expression '(3, 1, 1)'; "
                        "name the idea or the function, and let the student write the expression"]
    assert hint_problems(DENORM.replace("по каналам", "по каналам: форма, которую broadcasting "
                                        "сопоставит с осью каналов"), "demo cell 1") == []


def test_path_into_a_given_object_is_not_a_giveaway():
    code = '''def head(model, num_classes):
    # TODO: Задание 9.1 (head) — замените последний слой model.classifier[1] новым линейным слоем
    ### BEGIN SOLUTION
    model.classifier[1] = nn.Linear(model.classifier[1].in_features, num_classes)
    ### END SOLUTION
    return model'''
    assert hint_problems(code, "demo cell 1") == []


def test_unpacking_order_is_named(tmp_path):
    # Lab 2's old hint 2.6: the matrix layout gives the order ravel() returns
    bad = _details("Матрица устроена как `[[TN, FP], [FN, TP]]`; `.ravel()` даёт четыре числа в этом порядке.")
    problems = assignments.details_problems(_task_notebook(tmp_path, bad, SENS), "demo.ipynb")
    assert problems == ["demo.ipynb cell 0: the <details> hint of Задание 9.1 gives away the order of tn, fp, fn, tp "
                        "that 'tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()' unpacks; "
                        "let the student find the order (from the documentation or a small example)"]
    assert any("order of tn, fp, fn, tp" in p
               for p in hint_problems(SENS.replace("четыре её числа", "четыре числа TN, FP, FN, TP")))
    good = _details("Строки матрицы — истинный класс, столбцы — прогноз; в каком порядке `.ravel()` отдаёт "
                    "четыре числа, проверьте на маленьком примере.")
    assert assignments.details_problems(_task_notebook(tmp_path, good, SENS), "demo.ipynb") == []


def test_step_by_step_walkthrough_is_named(tmp_path):
    # Lab 4's old hint 4.5: five numbered steps, one per line of the solution
    bad = _details("1. `ort.InferenceSession` принимает путь и список провайдеров.\n"
                   "2. Вход — словарь: имя из `get_inputs`, массив — `.numpy()` с типом `np.float32`.\n"
                   "3. `session.run` возвращает список выходов.\n"
                   "4. Модель в `eval`, прогон внутри `torch.no_grad()`.\n"
                   "5. Расхождение — `np.abs`, затем `.max()`, приведённое к `float`.")
    problems = assignments.details_problems(_task_notebook(tmp_path, bad, PARITY), "demo.ipynb")
    assert any("walks through the solution: its 5 numbered steps name the calls of" in p for p in problems), problems
    good = _details("1. Обе модели должны получить один и тот же батч в одном и том же виде.\n"
                    "2. onnxruntime работает с массивами NumPy, а не с тензорами.\n"
                    "3. Режим модели должен быть тем же, что при экспорте.")
    assert assignments.details_problems(_task_notebook(tmp_path, good, PARITY), "demo.ipynb") == []


def test_details_hint_belongs_to_the_last_task_named_before_it(tmp_path):
    statement = ("**Задание 9.2.** Другое задание.\n\n<details>`with torch.no_grad():`</details>\n\n"
                 + _details("Ничего лишнего."))
    # the first <details> follows task 9.2, which has no solution here: nothing to judge it against
    assert assignments.details_problems(_task_notebook(tmp_path, statement, PARITY), "demo.ipynb") == []


def test_course_hints_pass_the_giveaway_rules():
    """The real solutions: no TODO or <details> hint gives its solution away."""
    problems = []
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        problems += assignments.details_problems(nb, path.name)
        for idx, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                problems += hint_problems(cell.source, f"{path.name} cell {idx}")
    assert problems == [], "\n".join(problems)


def test_lab1_promise_of_embedding_clustering_is_kept_in_lab2():
    """Lab 1 (section 9) promises Lab 2's section 11: a 2-d projection and a k-means clustering of embeddings."""
    lab1 = nbformat.read(str(SOLUTIONS / "01_residual_networks.ipynb"), as_version=4)
    lab2 = nbformat.read(str(SOLUTIONS / "02_chest_xray_finetuning.ipynb"), as_version=4)
    promise = next(c.source for c in lab1.cells if "Задание 1.5: эмбеддинг" in c.source)
    assert "лабораторной 2 (раздел 11 «Эмбеддинги»)" in promise and "k-средних" in promise
    markdown = [c.source for c in lab2.cells if c.cell_type == "markdown"]
    code = "\n".join(c.source for c in lab2.cells if c.cell_type == "code")
    assert any(s.startswith("## 11. Эмбеддинги") for s in markdown)
    for used in ("PCA(", "TSNE(", "KMeans(", "adjusted_rand_score("):
        assert used in code, used


# --- the generated first cells: badges and the setup cell (issue 24) ----------------------------

def _lab_course(tmp_path, stem="01_residual_networks"):
    """A course folder whose one notebook has a lab's name but no badges or setup cell yet."""
    sol, stu = tmp_path / "solutions", tmp_path / "notebooks"
    _write(sol, f"{stem}.ipynb", ["import math", SOLVED], markdown="# Лабораторная работа 1")
    return sol, stu


def test_build_gives_a_lab_its_badges_and_setup_cell_once(tmp_path):
    from labutils import course
    from labutils.authoring import setupcell

    sol, stu = _lab_course(tmp_path)
    build(sol, stu)
    for folder in (sol, stu):
        nb = nbformat.read(str(folder / "01_residual_networks.ipynb"), as_version=4)
        assert nb.cells[0].source.startswith(course.badges("01_residual_networks") + "\n\n# Лабораторная работа 1")
        assert nb.cells[1].id == "setup" and nb.cells[1].source == setupcell.setup_source("01_residual_networks")
    before = (sol / "01_residual_networks.ipynb").read_bytes()
    build(sol, stu)  # a second build changes nothing
    assert (sol / "01_residual_networks.ipynb").read_bytes() == before
    assert check(sol, stu) == []


def test_check_names_a_changed_setup_cell_or_missing_badges(tmp_path):
    sol, stu = _lab_course(tmp_path)
    build(sol, stu)
    path = sol / "01_residual_networks.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("SMOKE = False", "SMOKE = True")
    nbformat.write(nb, str(path))
    problems = check(sol, stu)
    assert any("setup cell" in p and "run python -m labutils.assignments build" in p for p in problems), problems
    nb.cells[1].source = nb.cells[1].source.replace("SMOKE = True", "SMOKE = False")
    nb.cells[0].source = nb.cells[0].source.split("\n\n", 1)[1]  # badges removed
    nbformat.write(nb, str(path))
    assert any("badges" in p for p in check(sol, stu))


def test_setup_cell_is_short_valid_and_reads_the_one_install_setting():
    from labutils import course
    from labutils.authoring import setupcell

    source = setupcell.setup_source("02_chest_xray_finetuning")
    compile(source, "setup", "exec")
    assert f'COURSE_PACKAGE = "{course.INSTALL_SOURCE}"' in source
    assert course.INSTALL_SOURCE.startswith(course.DISTRIBUTION + "[labs]")
    assert "SMOKE = False" in source and "USE_DRIVE = False" in source
    assert max(map(len, source.splitlines())) <= MAX_WIDTH and len(source.splitlines()) <= 25
    for stem in course.stems():
        assert course.RELEASE_TAG in course.colab_url(stem) and stem in course.kaggle_url(stem)


def test_every_released_notebook_starts_with_the_generated_cells():
    from labutils import course
    from labutils.authoring import setupcell

    for stem in course.stems():
        for folder in (SOLUTIONS, NOTEBOOKS):
            nb = nbformat.read(str(folder / f"{stem}.ipynb"), as_version=4)
            assert nb.cells[0].source.startswith(course.badges(stem)), (folder, stem)
            assert nb.cells[1].source == setupcell.setup_source(stem), (folder, stem)


def test_setup_cell_is_a_no_op_in_the_checkout_and_never_runs_pip(tmp_path):
    """A `pip` that fails, first on PATH, and a failing `pip` module first on the path: neither runs."""
    from labutils.authoring import setupcell

    marker = tmp_path / "pip-ran"
    fake_bin, fake_module = tmp_path / "bin", tmp_path / "modules" / "pip"
    fake_bin.mkdir()
    fake_module.mkdir(parents=True)
    for name in ("pip", "pip3"):
        (fake_bin / name).write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
        (fake_bin / name).chmod(0o755)
    (fake_module / "__init__.py").write_text("")
    (fake_module / "__main__.py").write_text(f"import pathlib, sys\npathlib.Path({str(marker)!r}).touch()\nsys.exit(1)\n")
    env = {**__import__("os").environ, "PATH": f"{fake_bin}:{__import__('os').environ['PATH']}",
           "PYTHONPATH": str(fake_module.parent)}
    source = setupcell.setup_source("01_residual_networks")
    for _ in range(2):  # safe to run twice
        out = subprocess.run([sys.executable, "-c", source], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
    assert not marker.exists()
    assert "Папка данных" in out.stdout and "Устройство" in out.stdout
    # the same cell where labutils does not import reaches pip (here the failing one) and stops there
    hide = "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
    out = subprocess.run([sys.executable, "-c", hide + source], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode != 0 and marker.exists() and "CalledProcessError" in out.stderr
