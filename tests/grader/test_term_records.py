"""The persistent gradebook (issue 26): a regrade replaces one row and keeps the history, concurrent and
interrupted runs lose nothing, a gradebook of a newer grader is refused by name. No kernels: a stub runner."""
import csv
import multiprocessing
import sqlite3

import pytest

from labutils.grader import records
from labutils.grader.report import Report
from labutils.grader.rubric import LABS
from labutils.grader.run import grade
from labutils.grader.worker import report_without_result

from conftest import NOTEBOOKS

LAB = "01_residual_networks"


def stub(points_of):
    """A runner that gives each task of ``LAB`` full marks when ``points_of(path)`` is true, else 0."""
    def run(path, text, settings, cancel):
        report = report_without_result(path, text)
        ok = points_of(path)
        report.tasks = [dict(task=i.task, title=i.title, points=i.points if ok else 0, max_points=i.points, ok=ok,
                             message="✅ ok" if ok else "❌ not done") for i in LABS[report.lab]]
        return report
    return run


def _class(tmp_path, *ids):
    paths = []
    for sid in ids:
        folder = tmp_path / "class" / sid
        folder.mkdir(parents=True)
        (folder / f"{LAB}.ipynb").write_bytes((NOTEBOOKS / f"{LAB}.ipynb").read_bytes())
        paths.append(folder / f"{LAB}.ipynb")
    return paths


def _rows(out):
    return {row["submission"]: row for row in csv.DictReader(open(out / "gradebook.csv", encoding="utf-8"))}


def test_regrading_one_submission_keeps_every_other_row_and_records_history(tmp_path):
    a, b, c = _class(tmp_path, "anna", "boris", "clara")
    out = tmp_path / "grades"
    grade([str(tmp_path / "class")], out, run_one=stub(lambda p: False), sandbox_mode="none")
    assert {row["points"] for row in _rows(out).values()} == {"0"} and len(_rows(out)) == 3
    grade([str(b)], out, run_one=stub(lambda p: True), sandbox_mode="none")  # boris resubmitted, regraded alone
    rows = _rows(out)
    assert len(rows) == 3, rows.keys()
    assert rows[str(b)]["points"] == "8" and rows[str(a)]["points"] == rows[str(c)]["points"] == "0"
    history = records.history(out, str(b))
    assert [h["points"] for h in history] == [0, 8] and [h["previous_points"] for h in history] == [None, 0]
    assert all(h["graded_at"] and h["course_version"].startswith(records.__version__) for h in history)
    assert len(records.history(out, str(a))) == 1
    assert (out / "anna__" f"{LAB}.md").exists() or (out / f"{LAB}.md").exists()
    names = records.names(out)
    assert len(set(names.values())) == 3  # the report names stay distinct and stable across runs


def _write_many(out, who):
    for i in range(25):
        records.record(out, Report(submission=f"/class/{who}/{i}.ipynb", lab=LAB))


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    out = tmp_path / "grades"
    out.mkdir()
    context = multiprocessing.get_context("fork")  # forked: no second import of the grader
    procs = [context.Process(target=_write_many, args=(out, who)) for who in ("one", "two")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]
    reports = records.reports(out)
    assert len(reports) == 50 and len({r.submission for r in reports}) == 50


def test_an_interrupted_run_keeps_what_it_graded_and_the_earlier_record(tmp_path):
    paths = _class(tmp_path, "anna", "boris", "clara")
    out = tmp_path / "grades"
    grade([str(paths[0])], out, run_one=stub(lambda p: True), sandbox_mode="none")
    seen = []

    def interrupted(path, text, settings, cancel):
        seen.append(path)
        if len(seen) == 2:
            raise KeyboardInterrupt
        return stub(lambda p: False)(path, text, settings, cancel)

    with pytest.raises(KeyboardInterrupt):
        grade([str(p) for p in paths[1:]] + [str(paths[0])], out, run_one=interrupted, workers=1, sandbox_mode="none")
    rows = _rows(out)
    assert rows[str(paths[0])]["points"] == "8"  # the earlier run's row, not regraded before the interruption
    assert rows[str(paths[1])]["points"] == "0"  # graded before the interruption
    assert str(paths[2]) not in rows and (out / "summary.md").exists()


def test_a_gradebook_of_a_newer_grader_is_refused_by_name(tmp_path, capsys):
    paths = _class(tmp_path, "anna")
    out = tmp_path / "grades"
    grade([str(paths[0])], out, run_one=stub(lambda p: True), sandbox_mode="none")
    with sqlite3.connect(out / records.FILE_NAME) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(records.NewerSchemaError, match=r"gradebook\.sqlite.*newer"):
        grade([str(paths[0])], out, run_one=stub(lambda p: True), sandbox_mode="none")
    from labutils.grader.cli import main
    assert main([str(paths[0]), "--out", str(out)]) == 2
    assert "gradebook.sqlite" in capsys.readouterr().err


def test_a_file_that_is_not_a_gradebook_is_named(tmp_path):
    (tmp_path / records.FILE_NAME).write_text("not a database, just text " * 100)
    with pytest.raises(ValueError, match=r"gradebook\.sqlite: not a gradebook"):
        records.reports(tmp_path)


def _grade_in_child(paths, out):
    grade([str(p) for p in paths], out, run_one=stub(lambda p: True), sandbox_mode="none")


def test_two_grading_runs_into_one_out_at_once_keep_every_row(tmp_path):
    paths = _class(tmp_path, *[f"s{i}" for i in range(8)])
    out = tmp_path / "grades"
    out.mkdir()
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_grade_in_child, args=(half, out)) for half in (paths[::2], paths[1::2])]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
    assert [p.exitcode for p in procs] == [0, 0]
    assert set(_rows(out)) == {str(p) for p in paths}  # the CSV written last was written from the whole record
    assert len(set(records.names(out).values())) == 8
