"""Build the student notebooks from ``solutions/``: a list of named steps (instructor tooling, all labs).

``python -m labutils.assignments build`` runs, on a copy of each solution notebook, every cell step
of :data:`CELL_STEPS` on each cell in turn (so a malformed marker is reported at the first cell that
has one), then every step of :data:`NOTEBOOK_STEPS`:

* :func:`stub_answers` — a markdown cell's answer regions become ``ANSWER_STUB``;
* :func:`stub_solutions` — a code cell's solution regions become
  ``raise NotImplementedError("Задание N.M: впишите решение")``, keeping the hint above;
* :func:`clear_outputs` — a code cell loses its outputs, execution count and timing;
* :func:`set_kernel` — the kernelspec and language metadata that JupyterLab would write;
* :func:`record_lab` — the lab's stem, which lets the grader detect the lab of a submission.

Before that, :func:`build` gives each lab's solution notebook the generated badges and first code
cell (:mod:`.setupcell`), writing it only when they differ.

Each step takes the cell (or notebook) and the place to name in an error, and changes it in place.
:func:`clean` strips outputs from notebooks in place (``python -m labutils.assignments clean``).
"""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from . import setupcell
from .regions import AssignmentError, answer_regions, strip_solutions

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


def read_notebook(path: Path):
    """The notebook at ``path`` (an ``nbformat`` node); one that cannot be read raises ``AssignmentError``."""
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as exc:  # invalid JSON or not a notebook
        raise AssignmentError(f"{path}: cannot be read as a notebook ({exc})") from exc


# --- cell steps: (cell, where) -> None --------------------------------------------------------

def stub_answers(cell, where: str) -> None:
    """A markdown cell's answer regions become the placeholder ``ANSWER_STUB``."""
    if cell.cell_type == "markdown":
        cell.source = answer_regions(cell.source, where)[0]


def stub_solutions(cell, where: str) -> None:
    """A code cell's solution regions become one ``raise NotImplementedError(...)`` line each."""
    if cell.cell_type == "code":
        cell.source = strip_solutions(cell.source, where)


def clear_outputs(cell, where: str) -> None:
    """A code cell without outputs, execution count or execution timing."""
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)


# --- notebook steps: (notebook, solution path) -> None ----------------------------------------

def set_kernel(nb, solution_path: Path) -> None:
    """The kernelspec and language metadata JupyterLab's python3 kernel writes."""
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = copy.deepcopy(LANGUAGE_INFO)


def record_lab(nb, solution_path: Path) -> None:
    """The lab's notebook stem in ``metadata.labutils.lab``: lets the grader detect the lab."""
    nb.metadata["labutils"] = {"lab": Path(solution_path).stem}


CELL_STEPS = (stub_answers, stub_solutions, clear_outputs)
NOTEBOOK_STEPS = (set_kernel, record_lab)


def build_notebook(solution_path: Path):
    """The student notebook built from one solution notebook (an ``nbformat`` node)."""
    student = copy.deepcopy(read_notebook(solution_path))
    for idx, cell in enumerate(student.cells):
        for step in CELL_STEPS:
            step(cell, f"{solution_path} cell {idx}")
    for step in NOTEBOOK_STEPS:
        step(student, solution_path)
    return student


def pairs(solutions: Path, notebooks: Path) -> list[tuple[Path, Path]]:
    """(solution notebook, student notebook) for every notebook in ``solutions``."""
    return [(src, notebooks / src.name) for src in sorted(solutions.glob("*.ipynb"))]


def build(solutions: Path, notebooks: Path) -> list[Path]:
    """Write ``notebooks/NN_name.ipynb`` for every ``solutions/NN_name.ipynb``; returns the paths.

    A lab's solution notebook first gets the generated badges and setup cell where they differ
    (:func:`labutils.authoring.setupcell.sync`), so both notebooks start with them.
    """
    notebooks.mkdir(parents=True, exist_ok=True)
    written = []
    for src, dst in pairs(solutions, notebooks):
        setupcell.sync(src)
        nbformat.write(build_notebook(src), str(dst))
        written.append(dst)
    return written


def clean(folder: Path) -> list[Path]:
    """Remove outputs and execution counts from every notebook in ``folder`` (after running them)."""
    changed = []
    for path in sorted(folder.glob("*.ipynb")):
        nb = read_notebook(path)
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
