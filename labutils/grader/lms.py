"""Grade-import files for a learning management system, from the term table (``--export moodle|canvas``;
instructor tooling, all four labs). docs/instructors/term.md says which columns each file fills.

* Moodle ("Import grades: CSV file"): an identifier column per student (``ID number``, which the
  roster's ``id`` fills, and ``Email address``), the name, then one column per grade item (one per lab).
  On import, map ``ID number`` to the user field "ID number" (or ``Email address`` to "Email address")
  and each lab column to a grade item. No total: Moodle computes the course total itself.
* Canvas ("Import grades" in the Gradebook, the format of its Gradebook export): the columns
  ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per assignment,
  and a second row ``Points Possible`` with each assignment's full marks. ``ID`` is Canvas's internal
  number, which the roster does not have, so it is left empty; ``SIS User ID`` is the roster's ``id``,
  ``SIS Login ID`` its ``email``, ``Section`` its ``group``. No total (Canvas computes it).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from .. import course
from ..atomic import write_atomic
from .term import Term

FORMATS = ("moodle", "canvas")
MOODLE_IDENTITY = ["ID number", "Email address", "Full name"]
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def item_name(lab: course.Lab) -> str:
    """The grade item's column name of ``lab``: its id and title (``"01 Residual networks (ResNet)"``)."""
    return f"{lab.id} {lab.title}"


def moodle_rows(term: Term) -> list[list]:
    """The Moodle file's rows, header first."""
    rows = [MOODLE_IDENTITY + [item_name(lab) for lab in course.LABS]]
    for s in term.students:
        mine = term.points.get(s.id, {})
        rows.append([s.id, s.email, s.name, *[mine.get(lab.stem, "") for lab in course.LABS]])
    return rows


def canvas_rows(term: Term) -> list[list]:
    """The Canvas file's rows: header, ``Points Possible``, one per student."""
    rows = [CANVAS_IDENTITY + [item_name(lab) for lab in course.LABS],
            ["Points Possible", "", "", "", "", *[lab.points for lab in course.LABS]]]
    for s in term.students:
        mine = term.points.get(s.id, {})
        rows.append([s.name, "", s.id, s.email, s.group, *[mine.get(lab.stem, "") for lab in course.LABS]])
    return rows


def check_format(fmt: str) -> str:
    """``fmt`` when it is a known export format; else ``ValueError`` naming it and the known ones."""
    if fmt not in FORMATS:
        raise ValueError(f"--export {fmt!r}: no such LMS format; known: {', '.join(FORMATS)}")
    return fmt


def export(term: Term, fmt: str, out: Path) -> Path:
    """Write ``out/<fmt>.csv`` (UTF-8, comma-separated) from ``term``; returns its path."""
    rows = {"moodle": moodle_rows, "canvas": canvas_rows}[check_format(fmt)](term)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path = Path(out) / f"{fmt}.csv"
    write_atomic(path, buffer.getvalue())
    return path
