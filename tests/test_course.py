"""The table of the course (labutils.course): well-formed, in agreement with the registered checks and the
notebooks, and the one source the grader's rubric, lab detection, probe cell and code scan read."""
import ast
import importlib
import re
from pathlib import Path

import nbformat
import pytest

from labutils import checks, course
from labutils.checks import protocol
from labutils.grader import integrity
from labutils.grader.probe import check_modules, probe_cell
from labutils.grader.rubric import LABS

from conftest import NOTEBOOKS, SOLUTIONS


def test_numbers_ids_and_stems_are_unique_and_well_formed():
    numbers = [t.number for t in course.tasks()]
    assert len(numbers) == len(set(numbers))
    assert len({lab.id for lab in course.LABS}) == len({lab.stem for lab in course.LABS}) == len(course.LABS)
    for lab in course.LABS:
        assert re.fullmatch(r"\d\d", lab.id) and lab.stem.startswith(f"{lab.id}_") and lab.tasks
        assert lab.checks == f"lab{int(lab.id)}"
        # tasks are numbered 1, 2, ... within their lab, in notebook order
        assert [t.number for t in lab.tasks] == [f"{int(lab.id)}.{k}" for k in range(1, len(lab.tasks) + 1)]
        assert all(t.lab_id == lab.id for t in lab.tasks)


def test_points_are_positive_integers_and_titles_and_names_are_given():
    for t in course.tasks():
        assert isinstance(t.points, int) and t.points > 0, t
        assert t.title.strip() and t.names and all(n.isidentifier() for n in t.names), t
        assert t.label == f"Task {t.number} {t.title}"


def test_every_task_has_its_registered_check_with_the_same_graded_names():
    assert set(protocol.TASKS) == {t.number for t in course.tasks()}
    for t in course.tasks():
        registered = protocol.TASKS[t.number]
        assert registered.names == t.names, t.number
        # the lab's check module registers it (it holds the registered task)
        module = importlib.import_module(f"labutils.checks.{course.lab_of(t.number).checks}")
        assert any(value is registered for value in vars(module).values()), t.number
        assert registered.label == t.label, t.number


def _bound(code: str) -> set[str]:
    """Names a notebook's code binds at the top level of its cells (definitions and assignments)."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines()]
    names = set()
    for node in ast.parse("\n".join(lines)).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


@pytest.mark.parametrize("lab", course.LABS, ids=lambda lab: lab.stem)
def test_each_tasks_self_check_exists_and_its_notebook_calls_it(lab):
    assert (SOLUTIONS / f"{lab.stem}.ipynb").is_file() and (NOTEBOOKS / f"{lab.stem}.ipynb").is_file()
    nb = nbformat.read(str(SOLUTIONS / f"{lab.stem}.ipynb"), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for t in lab.tasks:
        assert callable(getattr(checks, t.check, None)), t.check
        assert f"checks.{t.check}(" in code, (lab.stem, t.check)
        assert set(t.names) <= _bound(code), t.number  # the notebook defines every name the probe reads


def test_accessors_and_their_errors():
    first = course.LABS[0]
    assert course.lab(first.stem) is course.lab(first.id) is course.lab(int(first.id)) is first
    assert course.task(first.tasks[0].number) is first.tasks[0]
    assert course.lab_of(course.LABS[-1].tasks[-1].number) is course.LABS[-1]
    assert course.stems() == tuple(lab.stem for lab in course.LABS)
    assert course.check_modules() == tuple(lab.checks for lab in course.LABS)
    assert all(lab.checked_by(t.check) is t for lab in course.LABS for t in lab.tasks)  # one check per task
    assert first.checked_by("check_same_as_torchvision") is None  # a self-check that grades nothing
    with pytest.raises(KeyError, match="known: 01_residual_networks"):
        course.lab("05_transformers")
    with pytest.raises(KeyError, match="known: 1.1"):
        course.task("9.9")


def test_the_grader_reads_the_table():
    assert list(LABS) == list(course.stems())
    for lab in course.LABS:
        assert [(i.task, i.title, i.points) for i in LABS[lab.stem]] == [(t.number, t.title, t.points)
                                                                          for t in lab.tasks]
    cell = probe_cell(["1.1"], "cases.pt", "results.pt")
    assert all(f"labutils.checks.{lab.checks}" in cell for lab in course.LABS)
    assert check_modules()[-1] == "labutils.checks"
    # every module of labutils.checks is reloaded, so a notebook that patched one is graded with a fresh copy
    package = Path(checks.__file__).parent
    assert set(check_modules()) == {f"labutils.checks.{p.stem}" for p in package.glob("*.py")
                                    if p.stem != "__init__"} | {"labutils.checks"}
    # the code scan: Lab 1's from-scratch names, nothing in the labs that build on torchvision
    assert integrity.scratch_names("01_residual_networks") == {
        "ResidualBlock": "1.1", "Bottleneck": "1.2", "ResNet": "1.3", "ResNet18": "1.4", "ResNet34": "1.4",
        "ResNet50": "1.4", "ResNeXt50_32x4d": "1.4"}
    assert all(not integrity.scratch_names(stem) for stem in course.stems()[1:])


def test_a_check_registers_its_task_by_its_own_name_only():
    """register() takes the lab and the self-check's name; the number, label and names come from the table."""
    row = course.LABS[0].tasks[0]
    before = dict(protocol.TASKS)
    try:
        task = protocol.register(int(course.LABS[0].id), row.check, dict, dict, dict)
        assert (task.number, task.label, task.names) == (row.number, row.label, row.names)
        with pytest.raises(KeyError, match="check_nothing"):
            protocol.register(int(course.LABS[0].id), "check_nothing", dict, dict, dict)
    finally:
        protocol.TASKS.clear()
        protocol.TASKS.update(before)
