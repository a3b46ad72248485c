"""export-nbgrader: the same single source as an nbgrader course (instructor tooling, all labs).

``python -m labutils.assignments export-nbgrader DIR`` writes ``DIR/nbgrader_config.py`` and
``DIR/source/<lab>/<lab>.ipynb`` for every notebook in ``solutions/``, with nbgrader's cell metadata
(schema version 3):

* a code cell with ``### BEGIN SOLUTION`` regions is an autograded answer cell (``solution``), its
  ``grade_id`` derived from the task ids of its hints: ``task_1_1``; a task that spans several cells
  gets ``task_2_3``, ``task_2_3-2``, ... in notebook order;
* after the cell where a task's self-check runs (else after the task's last solution cell) comes a
  locked autograded test cell ``test_1_1`` worth the task's points in :data:`labutils.course.LABS`;
  it runs :func:`labutils.checks.protocol.assert_task`, the very probe and judge of ``labutils.grade``;
* a markdown cell with answer regions (the control questions) is a manually graded answer cell
  ``answers-<cell id>``, worth ``answer_points`` (0 by default, so nbgrader's automatic total is
  ``labutils.grade``'s; the formgrader still shows the answers to the grader);
* every other cell is locked read-only (``cell-<cell id>``).

Grade ids come from task ids and the notebooks' own cell ids, never from positions, so a re-export
after an edit elsewhere does not orphan grades in nbgrader's database. ``nbgrader_config.py`` sets
the stubs that ``nbgrader generate_assignment`` writes (``ClearSolutions.code_stub``: one line for
every task, since nbgrader cannot vary it per task; ``text_stub``: the placeholder of
``python -m labutils.assignments build``) and the execution time limit of ``nbgrader autograde``.
The course table is read from :mod:`labutils.course`; the grader is not imported.
"""
from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import nbformat

from .. import course
from ..messages import task_number
from .build import KERNELSPEC, LANGUAGE_INFO, read_notebook
from .regions import ANSWER_STUB, AssignmentError, answer_regions, solution_regions, task_id

NBGRADER_SCHEMA = 3
NBGRADER_CODE_STUB = 'raise NotImplementedError("Впишите решение")'
NBGRADER_TIMEOUT = 600  # seconds per cell when nbgrader executes a notebook (autograde, validate)
NBGRADER_TEST_CELL = '''# Автоматическая проверка задания {number} для nbgrader ({points} б.), ячейка заблокирована:
# проверяет ваш код на случайных входных данных, как итоговая оценка курса.
from labutils.checks.protocol import assert_task
assert_task("{number}", globals())'''

NBGRADER_CONFIG = '''\
"""nbgrader configuration of the course, written by `python -m labutils.assignments export-nbgrader`.

Regenerate it with the notebooks in source/ rather than editing it by hand.
"""
c = get_config()  # noqa: F821 (nbgrader provides it)

# What `nbgrader generate_assignment` writes in place of a solution region: nbgrader cannot vary it
# per task, so it is one line for all (`python -m labutils.assignments build` names the task).
c.ClearSolutions.code_stub = {{"python": {code_stub!r}}}
c.ClearSolutions.text_stub = {text_stub!r}

# `nbgrader autograde` runs each notebook's cells with this limit (seconds per cell).
c.ExecutePreprocessor.timeout = {timeout}
c.Execute.timeout = {timeout}

# c.CourseDirectory.course_id = "resnet-labs"  # set it for JupyterHub's exchange (release/collect)
'''


def nbgrader_meta(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
                  points: float | None = None) -> dict:
    """One cell's ``metadata.nbgrader``."""
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": NBGRADER_SCHEMA,
            "solution": solution}
    if grade:
        meta["points"] = points
    return meta


def id_part(text: str) -> str:
    """``text`` with every character nbgrader's ``grade_id`` pattern (``[a-zA-Z0-9_-]``) forbids replaced."""
    return re.sub(r"[^a-zA-Z0-9_\-]", "_", text)


def checked_tasks(source: str, lab: course.Lab) -> list[str]:
    """Task numbers whose self-checks (``checks.check_...(...)``) a code cell of ``lab`` calls.

    A call's ``task="Task N.M ..."`` argument names its task, else the course table's task of ``lab``
    whose check the called function is.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: such a cell is not a self-check cell
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if not name.startswith("check_"):
            continue
        label = next((kw.value.value for kw in node.keywords if kw.arg == "task"
                      and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)), None)
        task = lab.checked_by(name)
        number = task_number(label) if label else task.number if task is not None else None
        if number and number not in found:
            found.append(number)
    return found


def lab_of(solution_path: Path) -> course.Lab:
    """The course table's lab of a solution notebook, by its stem; raises ``AssignmentError`` if none."""
    lab = next((one for one in course.LABS if one.stem == solution_path.stem), None)
    if lab is None:
        raise AssignmentError(f"{solution_path}: no lab {solution_path.stem!r} in labutils.course.LABS")
    return lab


class _GradeIds:
    """Hands out grade ids, each once: a taken id gets ``-2``, ``-3``, ... appended."""

    def __init__(self):
        self.taken: set[str] = set()

    def __call__(self, grade_id: str) -> str:
        base, n = grade_id, 1
        while grade_id in self.taken:
            n += 1
            grade_id = f"{base}-{n}"
        self.taken.add(grade_id)
        return grade_id


def mark_cells(nb, solution_path: Path, lab: course.Lab, unique, answer_points: float):
    """Give every cell its nbgrader metadata (and clear code outputs); returns (task -> its solution
    cells, task -> cells that run its self-check), both in notebook order."""
    known = {task.number for task in lab.tasks}
    cells_of: dict[str, list[int]] = {}
    checks_at: dict[str, list[int]] = {}
    for idx, cell in enumerate(nb.cells):
        where = f"{solution_path} cell {idx}"
        cell_key = id_part(str(cell.get("id") or f"{idx:03d}"))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
            tasks = list(dict.fromkeys(task_id(hint) for hint, _ in solution_regions(cell.source, where)))
            for number in checked_tasks(cell.source, lab):
                checks_at.setdefault(number, []).append(idx)
            if tasks:
                unknown = [n for n in tasks if n not in known]
                if unknown:
                    raise AssignmentError(f"{where}: task {unknown[0]} has no points in "
                                          f"labutils.course (lab {lab.stem!r})")
                for number in tasks:
                    cells_of.setdefault(number, []).append(idx)
                grade_id = unique("task_" + "-".join(id_part(n) for n in tasks))
                cell.metadata["nbgrader"] = nbgrader_meta(grade_id, solution=True)
                continue
        elif cell.cell_type == "markdown" and answer_regions(cell.source, where)[1]:
            cell.metadata["nbgrader"] = nbgrader_meta(unique(f"answers-{cell_key}"), grade=True,
                                                      solution=True, points=answer_points)
            continue
        cell.metadata["nbgrader"] = nbgrader_meta(unique(f"cell-{cell_key}"), locked=True)
    return cells_of, checks_at


def autograded_tests(solution_path: Path, lab: course.Lab, unique, cells_of, checks_at) -> dict[int, list]:
    """cell index -> the locked test cells to insert after it: one per task of ``lab``, after the
    first cell running its self-check at or after its last solution cell (else after that cell)."""
    after: dict[int, list] = {}
    for task in lab.tasks:
        if task.number not in cells_of:
            raise AssignmentError(f"{solution_path}: task {task.number} of labutils.course "
                                  "has no solution region")
        last = cells_of[task.number][-1]
        place = next((i for i in checks_at.get(task.number, []) if i >= last), last)
        test = nbformat.v4.new_code_cell(NBGRADER_TEST_CELL.format(number=task.number, points=task.points))
        test.id = id_part(f"test-{task.number}")
        test.metadata["nbgrader"] = nbgrader_meta(unique(f"test_{id_part(task.number)}"), grade=True,
                                                  locked=True, points=task.points)
        after.setdefault(place, []).append(test)
    return after


def nbgrader_notebook(solution_path: Path, answer_points: float = 0):
    """The nbgrader source notebook of one solution notebook (an ``nbformat`` node)."""
    solution_path = Path(solution_path)
    lab = lab_of(solution_path)
    source = copy.deepcopy(read_notebook(solution_path))
    unique = _GradeIds()
    cells_of, checks_at = mark_cells(source, solution_path, lab, unique, answer_points)
    after = autograded_tests(solution_path, lab, unique, cells_of, checks_at)
    source.cells = [one for idx, cell in enumerate(source.cells) for one in [cell] + after.get(idx, [])]
    source.metadata["kernelspec"] = dict(KERNELSPEC)
    source.metadata["language_info"] = copy.deepcopy(LANGUAGE_INFO)
    source.metadata["labutils"] = {"lab": lab.stem}  # lets labutils.grade detect the lab of a submission
    nbformat.validate(source)
    return source


def export_nbgrader(solutions: Path, dest: Path, answer_points: float = 0) -> list[Path]:
    """Write the nbgrader course directory ``dest`` from ``solutions/``; returns the files written."""
    sources = sorted(Path(solutions).glob("*.ipynb"))
    if not sources:
        raise AssignmentError(f"{solutions}: no solution notebooks found")
    if answer_points < 0:
        raise AssignmentError(f"--answer-points {answer_points}: expected 0 or more")
    notebooks = [(src, nbgrader_notebook(src, answer_points)) for src in sources]  # all or nothing
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    config = dest / "nbgrader_config.py"
    config.write_text(NBGRADER_CONFIG.format(code_stub=NBGRADER_CODE_STUB, text_stub=ANSWER_STUB,
                                             timeout=NBGRADER_TIMEOUT), encoding="utf-8")
    written = [config]
    for src, nb in notebooks:
        folder = dest / "source" / src.stem
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{src.stem}.ipynb"
        nbformat.write(nb, str(path))
        written.append(path)
    return written
