"""Single-source assignments: build the student notebooks from ``solutions/`` and check them.

In a solution notebook, code the student writes sits between two marker lines, under a hint (a
comment block that starts with ``# TODO: Задание N.M`` and may go on over several comment lines)::

    # TODO: Задание 1.1 (ResidualBlock.forward) — соедините основной путь с обходным,
    #   чтобы блок учил поправку к входу
    ### BEGIN SOLUTION
    out = out + identity
    ### END SOLUTION

Answers to control questions sit between the same two markers in a markdown cell.

``build`` replaces each code region by ``raise NotImplementedError("Задание N.M: впишите решение")``
(keeping the hint) and each markdown region by a placeholder, clears outputs and writes the
kernelspec and language metadata that Jupyter would write. ``check`` fails, naming notebook and
cell, when a student notebook is missing or stale, when solution code or an answer leaked into
it, when a hint (the ``# TODO:`` comment or the task's ``<details>`` block) gives the solution away
(:mod:`labutils.hintlint`: a repeated solution line, a spelled-out expression, an unpacking order,
a step-by-step walk-through), when a student-facing code line is wider than
``MAX_WIDTH`` characters, or when any notebook has outputs or another kernelspec. ``clean``
strips outputs from the solutions. ``export-nbgrader DIR`` writes an nbgrader course directory
from the solutions (see ``export_nbgrader``).

    python -m labutils.assignments build
    python -m labutils.assignments check
    python -m labutils.assignments clean
    python -m labutils.assignments export-nbgrader DIR [--answer-points N]
"""
from __future__ import annotations

import argparse
import ast
import copy
import inspect
import re
import sys
from pathlib import Path

from . import hintlint
from .runtime import project_root

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_TODO = re.compile(r"^\s*# TODO:\s*(?P<hint>.*\S)\s*$")
_TASK = re.compile(r"\b(?:Задание|Task) (?P<id>\d+(\.\d+)*)\b")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# What JupyterLab writes into a notebook when its python3 kernel starts (JupyterLab marks the notebook
# modified unless the stored values are equal). Only the Python version can differ on a student's machine.
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": "3.11.7",
}
MAX_WIDTH = 100  # characters per student-facing code line: wider lines make students scroll sideways
ANSWER_STUB = "*Ваш ответ:* …"
_MIN_REPEAT = hintlint.MIN_REPEAT  # non-space characters: a shorter solution piece in a hint is not a give-away


class AssignmentError(ValueError):
    """A solution notebook's markers are malformed; the message names the notebook and cell."""


def _hint_above(out_lines: list[str], where: str, lineno: int) -> str:
    """The hint for a region: the ``# TODO:`` line and the comment lines after it, up to BEGIN, as one text."""
    block: list[str] = []
    for line in reversed(out_lines):
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        match = _TODO.match(line)
        if match:
            hint = " ".join([match.group("hint")] + [b.lstrip("#").strip() for b in reversed(block)]).strip()
            if not _TASK.search(hint):
                raise AssignmentError(f"{where}, line {lineno}: the TODO hint must name its task "
                                      f"(e.g. '# TODO: Задание 1.1 (...) ...'), got {hint!r}")
            return hint
        block.append(stripped)
    raise AssignmentError(f"{where}, line {lineno}: '{BEGIN}' needs a '# TODO: Задание N.M ...' hint "
                          "in the comment lines directly above it")


def _stub(hint: str) -> str:
    """The line that replaces a code region in the student notebook (short, so it fits MAX_WIDTH)."""
    return f'raise NotImplementedError("Задание {_TASK.search(hint).group("id")}: впишите решение")'


def solution_regions(source: str, where: str = "cell") -> list[tuple[str, list[str]]]:
    """The (hint, solution lines) pairs of one cell; raises ``AssignmentError`` on bad markers."""
    return _split(source, where)[1]


def _split(source: str, where: str):
    out: list[str] = []
    regions: list[tuple[str, list[str]]] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == END:
            raise AssignmentError(f"{where}, line {i + 1}: '{END}' without a matching '{BEGIN}'")
        if line.strip() != BEGIN:
            out.append(line)
            i += 1
            continue
        hint = _hint_above(out, where, i + 1)
        indent = line[: len(line) - len(line.lstrip())]
        j = i + 1
        while j < len(lines) and lines[j].strip() != END:
            if lines[j].strip() == BEGIN:
                raise AssignmentError(f"{where}, line {j + 1}: nested '{BEGIN}'")
            j += 1
        if j == len(lines):
            raise AssignmentError(f"{where}, line {i + 1}: '{BEGIN}' is never closed by '{END}'")
        body = lines[i + 1 : j]
        if not any(b.strip() for b in body):
            raise AssignmentError(f"{where}, line {i + 1}: empty solution region")
        regions.append((hint, body))
        out.append(f"{indent}{_stub(hint)}")
        i = j + 1
    return "\n".join(out), regions


def strip_solutions(source: str, where: str = "cell") -> str:
    """The student version of one code cell's source."""
    return _split(source, where)[0]


def answer_regions(source: str, where: str = "cell") -> tuple[str, list[list[str]]]:
    """A markdown cell's student version (each answer region replaced by ``ANSWER_STUB``) and the answers."""
    out: list[str] = []
    answers: list[list[str]] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped == END:
            raise AssignmentError(f"{where}, line {i + 1}: '{END}' without a matching '{BEGIN}'")
        if stripped != BEGIN:
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() not in (BEGIN, END):
            j += 1
        if j == len(lines) or lines[j].strip() == BEGIN:
            raise AssignmentError(f"{where}, line {i + 1}: '{BEGIN}' is never closed by '{END}'")
        body = lines[i + 1 : j]
        if not any(b.strip() for b in body):
            raise AssignmentError(f"{where}, line {i + 1}: empty answer region")
        answers.append(body)
        out.append(ANSWER_STUB)
        i = j + 1
    return "\n".join(out), answers


def _normalized(text: str) -> str:
    return re.sub(r"\s+", "", text)


_giveaways = hintlint.giveaways  # kept for older imports


def hint_problems(source: str, where: str = "cell") -> list[str]:
    """A message for each ``# TODO:`` hint that gives its own solution away (see :mod:`labutils.hintlint`)."""
    problems = []
    given = hintlint.given_names(strip_solutions(source, where))
    for hint, body in solution_regions(source, where):
        task = _TASK.search(hint).group(0)
        tree = hintlint.parse_region(body)
        problems += hintlint.region_problems(f"{where}: the hint", task, hint, body, tree, given, inline_steps=True)
    return problems


def _details_by_task(nb) -> dict[str, list[tuple[int, str]]]:
    """task id -> ``(cell index, <details> block)``: a block belongs to the last task its cell names before it."""
    found: dict[str, list[tuple[int, str]]] = {}
    for idx, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for match in re.finditer(r"<details>.*?</details>", cell.source, re.S):
            named = [m.group("id") for m in _TASK.finditer(cell.source[: match.start()])]
            if named:
                found.setdefault(named[-1], []).append((idx, match.group(0)))
    return found


def details_problems(nb, path) -> list[str]:
    """A message for each ``<details>`` hint of a task that gives the task's solution away, judged
    against all the task's solution regions (see :mod:`labutils.hintlint`)."""
    bodies: dict[str, list[list[str]]] = {}
    given: dict[str, set[str]] = {}
    for idx, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"{path} cell {idx}"
        for hint, body in solution_regions(cell.source, where):
            task = _TASK.search(hint).group("id")
            bodies.setdefault(task, []).append(body)
            given.setdefault(task, set()).update(hintlint.given_names(strip_solutions(cell.source, where)))
    problems = []
    for task, blocks in _details_by_task(nb).items():
        if task not in bodies:
            continue
        lines = [line for body in bodies[task] for line in body]
        trees = [hintlint.parse_region(body) for body in bodies[task]]
        tree = ast.Module(body=[n for t in trees if t is not None for n in t.body], type_ignores=[])
        for idx, block in blocks:
            problems += hintlint.region_problems(f"{path} cell {idx}: the <details> hint", f"Задание {task}", block,
                                         lines, tree, given[task], spans=hintlint.code_spans(block))
    return problems


def _read(path: Path):
    import nbformat

    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as exc:  # invalid JSON or not a notebook
        raise AssignmentError(f"{path}: cannot be read as a notebook ({exc})") from exc


def build_notebook(solution_path: Path):
    """The student notebook built from one solution notebook (an ``nbformat`` node)."""
    nb = _read(solution_path)
    student = copy.deepcopy(nb)
    for idx, cell in enumerate(student.cells):
        where = f"{solution_path} cell {idx}"
        if cell.cell_type == "markdown":
            cell.source = answer_regions(cell.source, where)[0]
            continue
        if cell.cell_type != "code":
            continue
        cell.source = strip_solutions(cell.source, where)
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)
    student.metadata["kernelspec"] = dict(KERNELSPEC)
    student.metadata["language_info"] = copy.deepcopy(LANGUAGE_INFO)
    student.metadata["labutils"] = {"lab": Path(solution_path).stem}  # lets the grader detect the lab
    return student


def _pairs(solutions: Path, notebooks: Path):
    return [(src, notebooks / src.name) for src in sorted(solutions.glob("*.ipynb"))]


def build(solutions: Path, notebooks: Path) -> list[Path]:
    """Write ``notebooks/NN_name.ipynb`` for every ``solutions/NN_name.ipynb``; returns the paths."""
    import nbformat

    notebooks.mkdir(parents=True, exist_ok=True)
    written = []
    for src, dst in _pairs(solutions, notebooks):
        nbformat.write(build_notebook(src), str(dst))
        written.append(dst)
    return written


def _hygiene(path: Path, nb) -> list[str]:
    problems = []
    for idx, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"{path} cell {idx}: has outputs; commit notebooks without outputs "
                            "(python -m labutils.assignments clean)")
    name = nb.metadata.get("kernelspec", {}).get("name")
    if name != "python3":
        problems.append(f"{path}: kernelspec is {name!r}, expected 'python3'")
    return problems


def _leaks(path: Path, student, solution_lines: set[str], answer_lines: set[str], allowed: set[str]) -> list[str]:
    """Marker lines, or lines found only inside solution or answer regions, that appear in a student notebook."""
    problems = []
    for idx, cell in enumerate(student.cells):
        if cell.cell_type not in ("code", "markdown"):
            continue
        secret, what = (solution_lines, "solution code") if cell.cell_type == "code" else (answer_lines, "answer")
        for lineno, line in enumerate(cell.source.splitlines(), 1):
            stripped = line.strip()
            if stripped in (BEGIN, END):
                problems.append(f"{path} cell {idx}, line {lineno}: solution marker {stripped!r} leaked")
            elif stripped not in allowed:
                leaked = next((s for s in secret if s in stripped), None)
                if leaked is not None:
                    problems.append(f"{path} cell {idx}, line {lineno}: {what} leaked: {leaked!r}")
    return problems


def _too_wide(path: Path, student) -> list[str]:
    """Student-facing code lines wider than ``MAX_WIDTH`` characters."""
    return [f"{path} cell {idx}, line {lineno}: {len(line)} characters, more than {MAX_WIDTH}; wrap it"
            for idx, cell in enumerate(student.cells) if cell.cell_type == "code"
            for lineno, line in enumerate(cell.source.splitlines(), 1) if len(line) > MAX_WIDTH]


def check(solutions: Path, notebooks: Path) -> list[str]:
    """All problems found, each naming notebook and cell; an empty list means everything is in sync."""
    problems: list[str] = []
    sources = sorted(solutions.glob("*.ipynb"))
    if not sources:
        problems.append(f"{solutions}: no solution notebooks found")
    for src, dst in _pairs(solutions, notebooks):
        try:
            sol = _read(src)
            expected = build_notebook(src)
        except AssignmentError as exc:
            problems.append(str(exc))
            continue
        problems += _hygiene(src, sol)
        if not dst.exists():
            problems.append(f"{dst}: missing; run python -m labutils.assignments build")
            continue
        try:
            actual = _read(dst)
        except AssignmentError as exc:
            problems.append(str(exc))
            continue
        problems += _hygiene(dst, actual)
        solution_lines = {
            b.strip()
            for idx, cell in enumerate(sol.cells) if cell.cell_type == "code"
            for _, body in solution_regions(cell.source, f"{src} cell {idx}")
            for b in body if len(b.strip()) >= 12 and not b.strip().startswith("#")
        }
        answer_lines = {
            b.strip()
            for idx, cell in enumerate(sol.cells) if cell.cell_type == "markdown"
            for body in answer_regions(cell.source, f"{src} cell {idx}")[1]
            for b in body if len(b.strip()) >= 12
        }
        for idx, cell in enumerate(sol.cells):
            if cell.cell_type == "code":
                problems += hint_problems(cell.source, f"{src} cell {idx}")
        problems += details_problems(sol, src)
        allowed = {line.strip() for cell in expected.cells for line in cell.source.splitlines()}
        problems += _leaks(dst, actual, solution_lines, answer_lines, allowed)
        problems += _too_wide(dst, actual)
        if len(actual.cells) != len(expected.cells):
            problems.append(f"{dst}: stale, has {len(actual.cells)} cells but {src} builds {len(expected.cells)}; "
                            "run python -m labutils.assignments build")
            continue
        for idx, (a, e) in enumerate(zip(actual.cells, expected.cells)):
            if a.cell_type != e.cell_type or a.source != e.source:
                problems.append(f"{dst} cell {idx}: stale, differs from what {src} builds; "
                                "run python -m labutils.assignments build")
                break
    known = {src.name for src in sources}
    for extra in sorted(notebooks.glob("*.ipynb")):
        if extra.name not in known:
            problems.append(f"{extra}: has no source in {solutions}; student notebooks are generated, never hand-written")
    return problems


def clean(folder: Path) -> list[Path]:
    """Remove outputs and execution counts from every notebook in ``folder`` (after running them)."""
    import nbformat

    changed = []
    for path in sorted(folder.glob("*.ipynb")):
        nb = _read(path)
        dirty = False
        for cell in nb.cells:
            if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
                cell.outputs, cell.execution_count, dirty = [], None, True
        if nb.metadata.get("kernelspec", {}).get("name") != "python3":
            nb.metadata["kernelspec"] = dict(KERNELSPEC)
            dirty = True
        if dirty:
            nbformat.write(nb, str(path))
            changed.append(path)
    return changed


# ---------------------------------------------------------------------------------------------
# export-nbgrader: the same single source as an nbgrader course
#
# ``python -m labutils.assignments export-nbgrader DIR`` writes ``DIR/nbgrader_config.py`` and ``DIR/source/<lab>/<lab>.ipynb`` for every notebook in
# ``solutions/``, with nbgrader's cell metadata (schema version 3):
#
# * a code cell with ``### BEGIN SOLUTION`` regions is an autograded answer cell (``solution``), its
#   ``grade_id`` derived from the task ids of its hints: ``task_1_1``; a task that spans several cells
#   gets ``task_2_3``, ``task_2_3-2``, ... in notebook order;
# * after the cell where a task's self-check runs (else after the task's last solution cell) comes a
#   locked autograded test cell ``test_1_1`` worth the task's points in :data:`labutils.grade.LABS`;
#   it runs :func:`labutils.checks.protocol.assert_task`, the very probe and judge of ``labutils.grade``;
# * a markdown cell with answer regions (the control questions) is a manually graded answer cell
#   ``answers-<cell id>``, worth ``answer_points`` (0 by default, so nbgrader's automatic total is
#   ``labutils.grade``'s; the formgrader still shows the answers to the grader);
# * every other cell is locked read-only (``cell-<cell id>``).
#
# Grade ids come from task ids and the notebooks' own cell ids, never from positions, so a re-export
# after an edit elsewhere does not orphan grades in nbgrader's database. ``nbgrader_config.py`` sets
# the stubs that ``nbgrader generate_assignment`` writes (``ClearSolutions.code_stub``: one line for
# every task, since nbgrader cannot vary it per task; ``text_stub``: the placeholder of
# ``python -m labutils.assignments build``) and the execution time limit of ``nbgrader autograde``.

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


def _nbgrader_meta(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
          points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": NBGRADER_SCHEMA,
            "solution": solution}
    if grade:
        meta["points"] = points
    return meta


def _id_part(text: str) -> str:
    """``text`` with every character nbgrader's ``grade_id`` pattern (``[a-zA-Z0-9_-]``) forbids replaced."""
    return re.sub(r"[^a-zA-Z0-9_\-]", "_", text)


def _checked_tasks(source: str) -> list[str]:
    """Task numbers whose self-checks (``checks.check_...(...)``) a code cell calls.

    A call's ``task="Task N.M ..."`` argument names its task, else the check function's default label.
    """
    from . import checks
    from .messages import task_number

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
        if label is None and callable(getattr(checks, name, None)):
            param = inspect.signature(getattr(checks, name)).parameters.get("task")
            label = param.default if param is not None and isinstance(param.default, str) else None
        number = task_number(label) if label else None
        if number and number not in found:
            found.append(number)
    return found


def nbgrader_notebook(solution_path: Path, answer_points: float = 0):
    """The nbgrader source notebook of one solution notebook (an ``nbformat`` node)."""
    import nbformat

    from .grade import LABS

    solution_path = Path(solution_path)
    lab = solution_path.stem
    if lab not in LABS:
        raise AssignmentError(f"{solution_path}: no lab {lab!r} in labutils.grade.LABS")
    nb = _read(solution_path)
    source = copy.deepcopy(nb)
    items = LABS[lab]
    known = {item.task for item in items}
    cells_of: dict[str, list[int]] = {}   # task -> its solution cells, in order
    checks_at: dict[str, list[int]] = {}  # task -> cells that run its self-check
    taken: set[str] = set()

    def unique(grade_id: str) -> str:
        base, n = grade_id, 1
        while grade_id in taken:
            n += 1
            grade_id = f"{base}-{n}"
        taken.add(grade_id)
        return grade_id

    for idx, cell in enumerate(source.cells):
        where = f"{solution_path} cell {idx}"
        cell_key = _id_part(str(cell.get("id") or f"{idx:03d}"))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
            tasks = []
            for hint, _ in solution_regions(cell.source, where):
                number = _TASK.search(hint).group("id")
                if number not in tasks:
                    tasks.append(number)
            for number in _checked_tasks(cell.source):
                checks_at.setdefault(number, []).append(idx)
            if tasks:
                unknown = [n for n in tasks if n not in known]
                if unknown:
                    raise AssignmentError(f"{where}: task {unknown[0]} has no points in "
                                          f"labutils.grade.LABS[{lab!r}]")
                for number in tasks:
                    cells_of.setdefault(number, []).append(idx)
                grade_id = unique("task_" + "-".join(_id_part(n) for n in tasks))
                cell.metadata["nbgrader"] = _nbgrader_meta(grade_id, solution=True)
                continue
        elif cell.cell_type == "markdown" and answer_regions(cell.source, where)[1]:
            cell.metadata["nbgrader"] = _nbgrader_meta(unique(f"answers-{cell_key}"), grade=True,
                                                       solution=True, points=answer_points)
            continue
        cell.metadata["nbgrader"] = _nbgrader_meta(unique(f"cell-{cell_key}"), locked=True)

    after: dict[int, list] = {}
    for item in items:
        if item.task not in cells_of:
            raise AssignmentError(f"{solution_path}: task {item.task} of labutils.grade.LABS "
                                  "has no solution region")
        last = cells_of[item.task][-1]
        place = next((i for i in checks_at.get(item.task, []) if i >= last), last)
        test = nbformat.v4.new_code_cell(NBGRADER_TEST_CELL.format(number=item.task, points=item.points))
        test.id = _id_part(f"test-{item.task}")
        test.metadata["nbgrader"] = _nbgrader_meta(unique(f"test_{_id_part(item.task)}"), grade=True,
                                                   locked=True, points=item.points)
        after.setdefault(place, []).append(test)
    cells = []
    for idx, cell in enumerate(source.cells):
        cells.append(cell)
        cells.extend(after.get(idx, []))
    source.cells = cells
    source.metadata["kernelspec"] = dict(KERNELSPEC)
    source.metadata["language_info"] = copy.deepcopy(LANGUAGE_INFO)
    source.metadata["labutils"] = {"lab": lab}  # lets labutils.grade detect the lab of a submission
    nbformat.validate(source)
    return source


def export_nbgrader(solutions: Path, dest: Path, answer_points: float = 0) -> list[Path]:
    """Write the nbgrader course directory ``dest`` from ``solutions/``; returns the files written."""
    import nbformat

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


def main(argv: list[str] | None = None) -> int:
    root = project_root()
    parser = argparse.ArgumentParser(prog="python -m labutils.assignments", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "check", "clean", "export-nbgrader"])
    parser.add_argument("dir", nargs="?", type=Path,
                        help="export-nbgrader: the nbgrader course directory to write")
    parser.add_argument("--answer-points", type=float, default=0,
                        help="export-nbgrader: points of each manually graded answer cell (default 0)")
    parser.add_argument("--solutions", type=Path, default=root / "solutions")
    parser.add_argument("--notebooks", type=Path, default=root / "notebooks")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            for path in build(args.solutions, args.notebooks):
                print(f"wrote {path}")
            return 0
        if args.command == "clean":
            changed = clean(args.solutions)
            for path in changed:
                print(f"cleaned {path}")
            print(f"{len(changed)} notebook(s) cleaned")
            return 0
        if args.command == "export-nbgrader":
            if args.dir is None:
                parser.error("export-nbgrader needs the course directory: export-nbgrader DIR")
            for path in export_nbgrader(args.solutions, args.dir, args.answer_points):
                print(f"wrote {path}")
            return 0
    except AssignmentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    problems = check(args.solutions, args.notebooks)
    for line in problems:
        print(f"FAIL: {line}", file=sys.stderr)
    if problems:
        return 1
    print(f"ok: {len(list(args.solutions.glob('*.ipynb')))} student notebook(s) in sync with {args.solutions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
