"""The one scanner of solution and answer regions in a solution notebook's cells (instructor tooling).

In a solution notebook, code the student writes sits between two marker lines, under a hint (a
comment block that starts with ``# TODO: Задание N.M`` and may go on over several comment lines)::

    # TODO: Задание N.M (ResidualBlock.forward) — соедините основной путь с обходным,
    #   чтобы блок учил поправку к входу
    ### BEGIN SOLUTION
    out = out + identity
    ### END SOLUTION

Answers to control questions sit between the same two markers in a markdown cell. :func:`scan`
finds the regions of one cell (a code cell's ``"solution"`` regions, with their hints, or a markdown
cell's ``"answer"`` regions) and raises :class:`AssignmentError`, naming the cell and line, on
malformed markers; :func:`replace` writes a cell's student version. Every authoring step (build,
lint, nbgrader export) reads regions through this module.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
ANSWER_STUB = "*Ваш ответ:* …"
TODO = re.compile(r"^\s*# TODO:\s*(?P<hint>.*\S)\s*$")
TASK = re.compile(r"\b(?:Задание|Task) (?P<id>\d+(\.\d+)*)\b")


class AssignmentError(ValueError):
    """A solution notebook's markers are malformed; the message names the notebook and cell."""


@dataclass(frozen=True)
class Region:
    """One region of a cell: lines ``start`` (the BEGIN marker) to ``end`` (the END marker), 0-based."""

    start: int
    end: int
    indent: str       # the BEGIN marker's indentation
    body: list[str]   # the lines between the markers
    hint: str | None  # a solution region's ``# TODO:`` hint, as one text; None for an answer


def task_id(hint: str) -> str:
    """The task number a hint names: ``"# TODO: Задание N.M (...)"`` -> ``"N.M"``."""
    return TASK.search(hint).group("id")


def hint_above(lines: list[str], where: str, lineno: int) -> str:
    """The hint for a region: the ``# TODO:`` line and the comment lines after it, up to BEGIN, as
    one text. ``lines``: the cell's lines above the BEGIN marker, from the end of the previous region."""
    block: list[str] = []
    for line in reversed(lines):
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        match = TODO.match(line)
        if match:
            hint = " ".join([match.group("hint")] + [b.lstrip("#").strip() for b in reversed(block)]).strip()
            if not TASK.search(hint):
                raise AssignmentError(f"{where}, line {lineno}: the TODO hint must name its task "
                                      f"(e.g. '# TODO: Задание N.M (...) ...'), got {hint!r}")
            return hint
        block.append(stripped)
    raise AssignmentError(f"{where}, line {lineno}: '{BEGIN}' needs a '# TODO: Задание N.M ...' hint "
                          "in the comment lines directly above it")


def scan(source: str, where: str = "cell", kind: str = "solution") -> list[Region]:
    """The regions of one cell's ``source``: ``kind`` ``"solution"`` (a code cell: each region needs a
    hint; a BEGIN inside a region is reported as nested) or ``"answer"`` (a markdown cell: no hint; a
    BEGIN inside a region leaves the first one unclosed). Raises ``AssignmentError`` on bad markers."""
    if kind not in ("solution", "answer"):
        raise ValueError(f"kind {kind!r}: expected 'solution' or 'answer'")
    lines = source.splitlines()
    regions: list[Region] = []
    after = 0  # first line after the previous region
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped == END:
            raise AssignmentError(f"{where}, line {i + 1}: '{END}' without a matching '{BEGIN}'")
        if stripped != BEGIN:
            i += 1
            continue
        hint = hint_above(lines[after:i], where, i + 1) if kind == "solution" else None
        j = i + 1
        while j < len(lines) and lines[j].strip() not in (BEGIN, END):
            j += 1
        if j < len(lines) and lines[j].strip() == BEGIN and kind == "solution":
            raise AssignmentError(f"{where}, line {j + 1}: nested '{BEGIN}'")
        if j == len(lines) or lines[j].strip() == BEGIN:
            raise AssignmentError(f"{where}, line {i + 1}: '{BEGIN}' is never closed by '{END}'")
        body = lines[i + 1 : j]
        if not any(b.strip() for b in body):
            raise AssignmentError(f"{where}, line {i + 1}: empty {kind} region")
        regions.append(Region(i, j, lines[i][: len(lines[i]) - len(lines[i].lstrip())], body, hint))
        after = i = j + 1
    return regions


def code_stub(hint: str) -> str:
    """The line that replaces a code region in the student notebook (short, so it fits the lint's width)."""
    return f'raise NotImplementedError("Задание {task_id(hint)}: впишите решение")'


def replace(source: str, regions: list[Region], stub) -> str:
    """``source`` with each region (markers included) replaced by the one line ``stub(region)``."""
    lines = source.splitlines()
    out: list[str] = []
    last = 0
    for region in regions:
        out += lines[last : region.start] + [stub(region)]
        last = region.end + 1
    return "\n".join(out + lines[last:])


def solution_regions(source: str, where: str = "cell") -> list[tuple[str, list[str]]]:
    """The (hint, solution lines) pairs of one code cell; raises ``AssignmentError`` on bad markers."""
    return [(region.hint, region.body) for region in scan(source, where, "solution")]


def strip_solutions(source: str, where: str = "cell") -> str:
    """The student version of one code cell's source: each region becomes :func:`code_stub`, indented."""
    return replace(source, scan(source, where, "solution"), lambda r: f"{r.indent}{code_stub(r.hint)}")


def answer_regions(source: str, where: str = "cell") -> tuple[str, list[list[str]]]:
    """A markdown cell's student version (each answer region replaced by ``ANSWER_STUB``) and the answers."""
    regions = scan(source, where, "answer")
    return replace(source, regions, lambda r: ANSWER_STUB), [region.body for region in regions]
