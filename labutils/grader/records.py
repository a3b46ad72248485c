"""The course's persistent gradebook: ``<out>/gradebook.sqlite`` (instructor tooling, all four labs).

One row per submission (keyed by its resolved path) holds its latest report, the report file's name and
the student-written code the similarity scan reads; every grading of it is appended to a history (when,
which course version, the score before). Each submission is recorded in one SQLite transaction as it
finishes, so two runs writing into the same ``--out`` at once, or a run interrupted half-way, lose no
row. ``gradebook.csv`` is rewritten from the whole record (:mod:`.gradebook`); the similar-code pairs of
each lab are stored too, so a run compares again only the labs it graded.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import asdict
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from .. import __version__, course
from .report import Report

try:
    import fcntl
except ImportError:  # not POSIX: two runs into one --out still lose no record, but may race on the CSV files
    fcntl = None

SCHEMA_VERSION = 1
FILE_NAME = "gradebook.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS names (key TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS current (key TEXT PRIMARY KEY, report TEXT NOT NULL, code TEXT NOT NULL,
                                    graded_at TEXT NOT NULL, course_version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL,
                                    graded_at TEXT NOT NULL, course_version TEXT NOT NULL, lab TEXT,
                                    status TEXT NOT NULL, points INTEGER, previous_points INTEGER);
CREATE TABLE IF NOT EXISTS pairs (lab TEXT PRIMARY KEY, pairs TEXT NOT NULL);
"""


@contextlib.contextmanager
def locked(out: Path):
    """Hold ``out/.gradebook.lock`` (an exclusive ``flock``) while a run writes the record and the files
    made from it, so two runs into one ``--out`` cannot interleave a read of the record with a write of
    ``gradebook.csv``, ``term.csv`` or the summary. Not re-entrant."""
    with open(Path(out) / ".gradebook.lock", "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


class NewerSchemaError(RuntimeError):
    """The gradebook was written by a newer version of the grader."""


@lru_cache(maxsize=1)
def course_version() -> str:
    """``labutils`` version, plus ``+g<commit>`` when the course checkout is a git repository."""
    try:
        commit = subprocess.run(["git", "-C", str(course.ROOT), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+g{commit}" if commit else __version__


def key_of(submission: str) -> str:
    """The record's key for a submission: its resolved absolute path."""
    return str(Path(submission).resolve())


def connect(out: Path) -> sqlite3.Connection:
    """Open (creating when absent) ``out/gradebook.sqlite``; a file written by a newer schema raises
    :class:`NewerSchemaError` naming it, a file that is not a gradebook raises ``ValueError``."""
    path = Path(out) / FILE_NAME
    db = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout = 60000")
        meta = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if meta else None
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise NewerSchemaError(f"{path}: written by a newer grader (gradebook schema {row[0]}, this grader "
                                   f"reads up to {SCHEMA_VERSION}); update labutils, or grade into another --out")
        if row is None:
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    except sqlite3.DatabaseError as exc:
        db.close()
        raise ValueError(f"{path}: not a gradebook the grader can read ({exc}); move it away or choose "
                         "another --out") from None
    except BaseException:
        db.close()
        raise
    return db


def assign_names(out: Path, submissions: list[str], make_name) -> dict[str, str]:
    """Submission -> its report's file stem, stable across runs: a name already in the record is kept,
    a new one is ``make_name(submission, taken)`` and stored at once (so two runs cannot take the same)."""
    names = {}
    with closing(connect(out)) as db:
        db.execute("BEGIN IMMEDIATE")
        taken = {row[0] for row in db.execute("SELECT name FROM names")}
        for submission in submissions:
            row = db.execute("SELECT name FROM names WHERE key = ?", (key_of(submission),)).fetchone()
            if row is None:
                name = make_name(submission, taken)
                db.execute("INSERT INTO names VALUES (?, ?)", (key_of(submission), name))
                row = (name,)
            names[submission] = row[0]
        db.execute("COMMIT")
    return names


def record(out: Path, report: Report, code: list[tuple[int, str]] | None = None) -> None:
    """Store ``report`` as its submission's current row and append it to the history (one transaction)."""
    key, now = key_of(report.submission), datetime.now(timezone.utc).isoformat(timespec="seconds")
    with closing(connect(out)) as db:
        db.execute("BEGIN IMMEDIATE")
        old = db.execute("SELECT report FROM current WHERE key = ?", (key,)).fetchone()
        previous = _points(Report(**json.loads(old[0]))) if old else None
        db.execute("INSERT OR REPLACE INTO current VALUES (?, ?, ?, ?, ?)",
                   (key, json.dumps(asdict(report)), json.dumps(code or []), now, course_version()))
        db.execute("INSERT INTO history (key, graded_at, course_version, lab, status, points, previous_points) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (key, now, course_version(), report.lab, report.status, _points(report), previous))
        db.execute("COMMIT")


def _points(report: Report) -> int | None:
    return report.points if report.lab else None


def reports(out: Path) -> list[Report]:
    """Every submission's current report, sorted by submission."""
    with closing(connect(out)) as db:
        rows = db.execute("SELECT report FROM current").fetchall()
    return sorted((Report(**json.loads(r[0])) for r in rows), key=lambda r: r.submission)


def names(out: Path) -> dict[str, str]:
    """Submission (as recorded) -> its report's file stem, for every recorded submission."""
    with closing(connect(out)) as db:
        rows = db.execute("SELECT c.report, n.name FROM current c JOIN names n ON n.key = c.key").fetchall()
    return {json.loads(report)["submission"]: name for report, name in rows}


def code(out: Path) -> dict[str, list[tuple[int, str]]]:
    """Submission -> its student-written code cells ``(index, source)`` as recorded."""
    with closing(connect(out)) as db:
        rows = db.execute("SELECT report, code FROM current").fetchall()
    return {json.loads(r)["submission"]: [tuple(c) for c in json.loads(cells)] for r, cells in rows}


def history(out: Path, submission: str) -> list[dict]:
    """The gradings of ``submission``, oldest first: graded_at, course_version, lab, status, points,
    previous_points."""
    with closing(connect(out)) as db:
        rows = db.execute("SELECT graded_at, course_version, lab, status, points, previous_points FROM history "
                          "WHERE key = ? ORDER BY id", (key_of(submission),)).fetchall()
    fields = ("graded_at", "course_version", "lab", "status", "points", "previous_points")
    return [dict(zip(fields, row)) for row in rows]


def save_pairs(out: Path, lab: str, pairs: list[dict]) -> None:
    """Store the similar-code pairs of ``lab`` (computed again only for the labs a run grades)."""
    with closing(connect(out)) as db:
        db.execute("INSERT OR REPLACE INTO pairs VALUES (?, ?)", (lab, json.dumps(pairs)))


def load_pairs(out: Path) -> dict[str, list[dict]]:
    """Lab -> its stored similar-code pairs."""
    with closing(connect(out)) as db:
        return {lab: json.loads(pairs) for lab, pairs in db.execute("SELECT lab, pairs FROM pairs")}
