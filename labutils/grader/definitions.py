"""The definitions of a notebook's cells, without the rest (used by :mod:`labutils.grader.kernel` when a
kernel was killed before the grader's probes ran: a fresh kernel runs only these, then the probes).

A definition is a top-level ``import``, ``def``, ``class`` or an assignment whose value is a literal
(``NUM_CLASSES = 10``); everything else (training, plots, checks, the statement that hung) is left
out, so the tasks whose code ran are judged even when a later cell ran past the time limit.
"""
from __future__ import annotations

import ast

from IPython.core.inputtransformer2 import TransformerManager

_IPYTHON = TransformerManager()
_DEFS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _literal(node) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def is_definition(node) -> bool:
    """Whether a top-level statement only defines something (see the module's docstring)."""
    if isinstance(node, _DEFS):
        return True
    if isinstance(node, ast.Assign):
        return all(isinstance(t, ast.Name) for t in node.targets) and _literal(node.value)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.value is not None and _literal(node.value)
    return False


def cell_definitions(source: str) -> str:
    """The definitions of one cell, as IPython would run them (magics turned into Python first), in order."""
    try:
        code = _IPYTHON.transform_cell(source)
        tree = ast.parse(code)
    except (SyntaxError, ValueError, TypeError):
        return ""
    return "\n".join(ast.unparse(node) for node in tree.body if is_definition(node))


def definitions(nb, upto: int) -> list[tuple[int, str]]:
    """``(index, definitions)`` of the code cells ``0 .. upto`` (inclusive) that define anything."""
    found = []
    for index, cell in enumerate(nb.cells[:upto + 1]):
        if cell.cell_type == "code":
            code = cell_definitions(cell.source)
            if code:
                found.append((index, code))
    return found


def defined_names(found: list[tuple[int, str]]) -> set[str]:
    """The names the definitions of :func:`definitions` bind (functions, classes, constants, imports)."""
    names = set()
    for _, code in found:
        for node in ast.parse(code).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names
