"""The notebook lint of ``python -m labutils.assignments check`` (instructor tooling, all labs).

:func:`check` fails, naming notebook and cell, when a student notebook is missing or stale, when
solution code or an answer leaked into it, when a hint (the ``# TODO:`` comment or the task's
``<details>`` block) gives the solution away (:mod:`.hintlint`: a repeated solution line, a
spelled-out expression, an unpacking order, a step-by-step walk-through), when a student-facing code
line is wider than ``MAX_WIDTH`` characters, when any notebook has outputs or another kernelspec, or
when a lab's badges or setup cell are not the ones :mod:`.setupcell` generates.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from . import hintlint, setupcell
from .build import build_notebook, pairs, read_notebook
from .regions import BEGIN, END, TASK, AssignmentError, answer_regions, solution_regions, strip_solutions, task_id

MAX_WIDTH = 100  # characters per student-facing code line: wider lines make students scroll sideways
MIN_SECRET = 12  # characters: a shorter solution or answer line found in a student notebook is not a leak


def hint_problems(source: str, where: str = "cell") -> list[str]:
    """A message for each ``# TODO:`` hint that gives its own solution away (see :mod:`.hintlint`)."""
    problems = []
    given = hintlint.given_names(strip_solutions(source, where))
    for hint, body in solution_regions(source, where):
        task = TASK.search(hint).group(0)
        tree = hintlint.parse_region(body)
        problems += hintlint.region_problems(f"{where}: the hint", task, hint, body, tree, given, inline_steps=True)
    return problems


def details_by_task(nb) -> dict[str, list[tuple[int, str]]]:
    """task id -> ``(cell index, <details> block)``: a block belongs to the last task its cell names before it."""
    found: dict[str, list[tuple[int, str]]] = {}
    for idx, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for match in re.finditer(r"<details>.*?</details>", cell.source, re.S):
            named = [m.group("id") for m in TASK.finditer(cell.source[: match.start()])]
            if named:
                found.setdefault(named[-1], []).append((idx, match.group(0)))
    return found


def details_problems(nb, path) -> list[str]:
    """A message for each ``<details>`` hint of a task that gives the task's solution away, judged
    against all the task's solution regions (see :mod:`.hintlint`)."""
    bodies: dict[str, list[list[str]]] = {}
    given: dict[str, set[str]] = {}
    for idx, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"{path} cell {idx}"
        for hint, body in solution_regions(cell.source, where):
            task = task_id(hint)
            bodies.setdefault(task, []).append(body)
            given.setdefault(task, set()).update(hintlint.given_names(strip_solutions(cell.source, where)))
    problems = []
    for task, blocks in details_by_task(nb).items():
        if task not in bodies:
            continue
        lines = [line for body in bodies[task] for line in body]
        trees = [hintlint.parse_region(body) for body in bodies[task]]
        tree = ast.Module(body=[n for t in trees if t is not None for n in t.body], type_ignores=[])
        for idx, block in blocks:
            problems += hintlint.region_problems(f"{path} cell {idx}: the <details> hint", f"Задание {task}", block,
                                                 lines, tree, given[task], spans=hintlint.code_spans(block))
    return problems


def hygiene(path: Path, nb) -> list[str]:
    """Code cells with outputs, and a kernelspec other than python3."""
    problems = []
    for idx, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"{path} cell {idx}: has outputs; commit notebooks without outputs "
                            "(python -m labutils.assignments clean)")
    name = nb.metadata.get("kernelspec", {}).get("name")
    if name != "python3":
        problems.append(f"{path}: kernelspec is {name!r}, expected 'python3'")
    return problems


def secrets(solution, src: Path) -> tuple[set[str], set[str]]:
    """The solution notebook's solution-code lines and answer lines long enough to count as leaked."""
    code = {b.strip() for idx, cell in enumerate(solution.cells) if cell.cell_type == "code"
            for _, body in solution_regions(cell.source, f"{src} cell {idx}")
            for b in body if len(b.strip()) >= MIN_SECRET and not b.strip().startswith("#")}
    answers = {b.strip() for idx, cell in enumerate(solution.cells) if cell.cell_type == "markdown"
               for body in answer_regions(cell.source, f"{src} cell {idx}")[1]
               for b in body if len(b.strip()) >= MIN_SECRET}
    return code, answers


def leaks(path: Path, student, solution_lines: set[str], answer_lines: set[str], allowed: set[str]) -> list[str]:
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


def too_wide(path: Path, student) -> list[str]:
    """Student-facing code lines wider than ``MAX_WIDTH`` characters."""
    return [f"{path} cell {idx}, line {lineno}: {len(line)} characters, more than {MAX_WIDTH}; wrap it"
            for idx, cell in enumerate(student.cells) if cell.cell_type == "code"
            for lineno, line in enumerate(cell.source.splitlines(), 1) if len(line) > MAX_WIDTH]


def stale(src: Path, dst: Path, actual, expected) -> list[str]:
    """The first way the student notebook differs from what its solution builds (cell count, a cell)."""
    if len(actual.cells) != len(expected.cells):
        return [f"{dst}: stale, has {len(actual.cells)} cells but {src} builds {len(expected.cells)}; "
                "run python -m labutils.assignments build"]
    for idx, (a, e) in enumerate(zip(actual.cells, expected.cells)):
        if a.cell_type != e.cell_type or a.source != e.source:
            return [f"{dst} cell {idx}: stale, differs from what {src} builds; "
                    "run python -m labutils.assignments build"]
    return []


def check_pair(src: Path, dst: Path) -> list[str]:
    """Every problem of one solution notebook and the student notebook built from it."""
    try:
        sol = read_notebook(src)
        expected = build_notebook(src)
    except AssignmentError as exc:
        return [str(exc)]
    problems = hygiene(src, sol) + setupcell.problems(src, sol)
    if not dst.exists():
        return problems + [f"{dst}: missing; run python -m labutils.assignments build"]
    try:
        actual = read_notebook(dst)
    except AssignmentError as exc:
        return problems + [str(exc)]
    problems += hygiene(dst, actual)
    solution_lines, answer_lines = secrets(sol, src)
    for idx, cell in enumerate(sol.cells):
        if cell.cell_type == "code":
            problems += hint_problems(cell.source, f"{src} cell {idx}")
    problems += details_problems(sol, src)
    allowed = {line.strip() for cell in expected.cells for line in cell.source.splitlines()}
    problems += leaks(dst, actual, solution_lines, answer_lines, allowed)
    problems += too_wide(dst, actual)
    return problems + stale(src, dst, actual, expected)


def check(solutions: Path, notebooks: Path) -> list[str]:
    """All problems found, each naming notebook and cell; an empty list means everything is in sync."""
    problems: list[str] = []
    sources = sorted(solutions.glob("*.ipynb"))
    if not sources:
        problems.append(f"{solutions}: no solution notebooks found")
    for src, dst in pairs(solutions, notebooks):
        problems += check_pair(src, dst)
    known = {src.name for src in sources}
    for extra in sorted(notebooks.glob("*.ipynb")):
        if extra.name not in known:
            problems.append(f"{extra}: has no source in {solutions}; "
                            "student notebooks are generated, never hand-written")
    return problems
