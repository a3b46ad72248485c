"""Shared fixtures: the repository layout and the code of the solution notebooks."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"


def solution_namespace(name: str) -> dict:
    """The imports, functions and classes that a solution notebook defines, without running its experiments.

    Runs the first code cell after the setup cell (imports) and, from every cell with a solution region, only its
    import statements, UPPER_CASE constants and ``def``/``class`` definitions: the very code the
    instructor's notebook uses.
    """
    nb = nbformat.read(str(SOLUTIONS / name), as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code" and c.get("id") != "setup"]  # not the setup cell
    ns: dict = {}
    exec(compile(code[0], f"{name}:imports", "exec"), ns)
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)

    def is_constant(node):  # UPPER_CASE = ... module constants the functions use
        return isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets)

    for i, src in enumerate(code):
        if "### BEGIN SOLUTION" in src:
            tree = ast.parse(src)
            tree.body = [node for node in tree.body if isinstance(node, keep) or is_constant(node)]
            exec(compile(tree, f"{name}:cell{i}", "exec"), ns)
    return ns


@pytest.fixture(scope="session")
def lab1():
    return solution_namespace("01_residual_networks.ipynb")


@pytest.fixture(scope="session")
def lab4():
    return solution_namespace("04_dog_breeds_strategies.ipynb")


@pytest.fixture(scope="session")
def lab3():
    return solution_namespace("03_resnext_cifar100.ipynb")


@pytest.fixture(scope="session")
def lab2():
    return solution_namespace("02_chest_xray_finetuning.ipynb")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty LABUTILS_DATA folder for one test."""
    folder = tmp_path / "data"
    monkeypatch.setenv("LABUTILS_DATA", str(folder))
    return folder
