"""The term table: one row per student of the roster, one column per lab, and the total (instructor
tooling, all four labs). Written as ``term.csv`` and ``term.md`` from the whole persistent gradebook.

A lab a student has not submitted is empty (no grade, not 0). Two submissions of one student for one
lab are both kept in the gradebook and listed as duplicates; the term table takes the higher score
and says so in ``term.md``. Submissions that belong to nobody on the roster, and those whose lab
could not be told, are listed by name.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from .. import course
from ..atomic import write_atomic
from .report import Report
from .roster import Matching, Student


@dataclass
class Term:
    """The term table and what did not fit in it."""

    students: list[Student]
    points: dict[str, dict[str, int]]  # student id -> lab stem -> points
    duplicates: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (id, lab, submissions)
    unmatched: list[str] = field(default_factory=list)
    unknown_lab: list[str] = field(default_factory=list)

    def total(self, student_id: str) -> int:
        """The student's points over all labs."""
        return sum(self.points.get(student_id, {}).values())


def build_term(reports: list[Report], students: list[Student], matching: Matching) -> Term:
    """The term table of ``students`` from ``reports`` mapped by ``matching``."""
    stems = set(course.stems())
    term = Term(students=students, points={}, unmatched=sorted(matching.unmatched))
    by_cell: dict[tuple[str, str], list[Report]] = {}
    for r in reports:
        owner = matching.owner.get(r.submission)
        if owner is None:
            continue
        if r.lab not in stems:
            term.unknown_lab.append(r.submission)
            continue
        by_cell.setdefault((owner, r.lab), []).append(r)
    for (owner, lab), mine in sorted(by_cell.items()):
        term.points.setdefault(owner, {})[lab] = max(r.points for r in mine)
        if len(mine) > 1:
            term.duplicates.append((owner, lab, sorted(r.submission for r in mine)))
    return term


def header() -> list[str]:
    """``term.csv``'s columns: the student's fields, one per lab (its notebook stem), ``total``."""
    return ["id", "name", "email", "group", *course.stems(), "total"]


def write_term(term: Term, out: Path) -> Path:
    """``out/term.csv`` (the table) and ``out/term.md`` (the table with full marks, then the duplicates,
    unmatched submissions and unknown labs); returns the CSV's path."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header())
    for s in term.students:
        mine = term.points.get(s.id, {})
        writer.writerow([s.id, s.name, s.email, s.group, *[mine.get(stem, "") for stem in course.stems()],
                         term.total(s.id)])
    write_atomic(out / "term.csv", buffer.getvalue())
    full = sum(lab.points for lab in course.LABS)
    lines = ["# Term", "", f"{len(term.students)} student(s) on the roster; an empty cell is a lab not submitted.",
             "", "| id | name | group | " + " | ".join(f"{lab.stem} (/{lab.points})" for lab in course.LABS)
             + f" | total (/{full}) |", "|---" * (len(course.LABS) + 4) + "|"]
    for s in term.students:
        mine = term.points.get(s.id, {})
        cells = [str(mine.get(stem, "")) for stem in course.stems()]
        lines.append(f"| {s.id} | {s.name} | {s.group} | " + " | ".join(cells) + f" | {term.total(s.id)} |")
    if term.duplicates:
        lines += ["", "Duplicates (more than one submission of a student for a lab; all are in the gradebook, "
                      "the higher score is in the table):", ""]
        lines += [f"- {sid}, {lab}: " + ", ".join(f"`{p}`" for p in paths) for sid, lab, paths in term.duplicates]
    if term.unmatched:
        lines += ["", "Unmatched (no student of the roster; graded, in the gradebook, not in the table):", ""]
        lines += [f"- `{p}`" for p in term.unmatched]
    if term.unknown_lab:
        lines += ["", "Lab not recognised (in the gradebook, not in the table):", ""]
        lines += [f"- `{p}`" for p in term.unknown_lab]
    write_atomic(out / "term.md", "\n".join(lines) + "\n")
    return out / "term.csv"
