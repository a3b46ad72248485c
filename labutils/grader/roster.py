"""The class roster (``--roster FILE``) and which submission is whose (instructor tooling, all four labs).

A roster is a CSV file with the header columns ``id`` and ``name`` and optionally ``email`` and
``group``. By default a submission belongs to the student whose ``id`` names one of its folders (a
folder per student, as nbgrader collects them: ``submitted/<id>/.../lab.ipynb``); with ``--match
PATTERN`` a regular expression with a named group ``id`` is searched in the file name instead.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED = ("id", "name")
OPTIONAL = ("email", "group")


@dataclass(frozen=True)
class Student:
    """One row of the roster."""

    id: str
    name: str
    email: str = ""
    group: str = ""


@dataclass
class Matching:
    """Which submissions are whose: ``owner`` (submission -> student id) and those that are nobody's."""

    owner: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)


def read_roster(path: Path) -> list[Student]:
    """The students of the roster CSV ``path``, in file order. A missing file or column, an empty or
    duplicate id raises ``ValueError`` naming the file and the row (the header is row 1)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--roster {path}: no such file (a CSV with the columns id, name[, email, group])")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise ValueError(f"{path}, row 1 (header): missing column(s) {', '.join(missing)}; found "
                             f"{', '.join(header) or 'nothing'} (required: id, name; optional: email, group)")
        students, seen = [], {}
        for number, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
            if not any(row.values()):
                continue
            if not row["id"]:
                raise ValueError(f"{path}, row {number}: empty id (every student needs one)")
            if row["id"] in seen:
                raise ValueError(f"{path}, row {number}: id {row['id']!r} is already used in row {seen[row['id']]}")
            seen[row["id"]] = number
            students.append(Student(row["id"], row["name"], row.get("email", ""), row.get("group", "")))
    return students


def compile_pattern(pattern: str | None) -> re.Pattern | None:
    """``--match PATTERN`` compiled; one without a named group ``id`` raises ``ValueError``."""
    if pattern is None:
        return None
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"--match {pattern!r}: not a regular expression ({exc})") from None
    if "id" not in regex.groupindex:
        raise ValueError(f"--match {pattern!r}: needs a named group id, e.g. --match '^(?P<id>[^_]+)_'")
    return regex


def _candidates(submission: str, ids: set[str], regex: re.Pattern | None) -> set[str]:
    path = Path(submission)
    if regex is None:
        return {part for part in path.parent.parts if part in ids}
    return {m.group("id") for m in regex.finditer(path.name) if m.group("id")}


def match(submissions: list[str], students: list[Student], pattern: str | None = None) -> Matching:
    """Map each submission to its student (see the module docstring). A submission naming no student of
    the roster is unmatched; one that names two raises ``ValueError`` naming it and both ids."""
    ids = {s.id for s in students}
    regex = compile_pattern(pattern)
    result = Matching()
    for submission in submissions:
        found = _candidates(submission, ids, regex) & ids
        if len(found) > 1:
            raise ValueError(f"{submission}: matches more than one student of the roster "
                             f"({', '.join(sorted(found))}); rename the file or folder, or use --match")
        if found:
            result.owner[submission] = found.pop()
        else:
            result.unmatched.append(submission)
    return result
