"""Shared fixtures: the repository layout and the code of the solution notebooks."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"


def solution_namespace(name: str) -> dict:
    """Execute the first code cell (imports) and every cell with a solution region of a notebook.

    Gives tests the very classes and functions the instructor's notebook defines.
    """
    nb = nbformat.read(str(SOLUTIONS / name), as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    ns: dict = {}
    exec(compile(code[0], f"{name}:imports", "exec"), ns)
    for i, src in enumerate(code):
        if "### BEGIN SOLUTION" in src:
            exec(compile(src, f"{name}:cell{i}", "exec"), ns)
    return ns


@pytest.fixture(scope="session")
def lab1():
    return solution_namespace("01_residual_networks.ipynb")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty LABUTILS_DATA folder for one test."""
    folder = tmp_path / "data"
    monkeypatch.setenv("LABUTILS_DATA", str(folder))
    return folder
