"""The roster (issue 26): submissions mapped to students by folder or file-name pattern, the unmatched and the
duplicates reported by name, bad rosters refused naming the file and the row; the term table from the record."""
import csv

import pytest

from labutils import course
from labutils.grader.roster import Student, match, read_roster
from labutils.grader.run import grade
from labutils.grader.term import build_term, header

from test_term_records import LAB, _class, stub


def _roster(tmp_path, text, name="roster.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


STUDENTS = [Student("anna", "Анна"), Student("boris", "Борис"), Student("clara", "Клара")]


def test_folders_name_the_students_and_the_rest_are_reported_by_name():
    subs = ["class/anna/01.ipynb", "class/boris/lab1/01.ipynb", "class/zoe/01.ipynb", "class/anna/01_again.ipynb"]
    m = match(subs, STUDENTS)
    assert m.owner == {"class/anna/01.ipynb": "anna", "class/boris/lab1/01.ipynb": "boris",
                       "class/anna/01_again.ipynb": "anna"}
    assert m.unmatched == ["class/zoe/01.ipynb"]


def test_a_file_name_pattern_maps_instead_of_folders():
    m = match(["in/anna_01_residual_networks.ipynb", "in/boris-01.ipynb", "in/clara_x.ipynb"], STUDENTS,
              pattern=r"^(?P<id>[a-z]+)_")
    assert m.owner == {"in/anna_01_residual_networks.ipynb": "anna", "in/clara_x.ipynb": "clara"}
    assert m.unmatched == ["in/boris-01.ipynb"]


@pytest.mark.parametrize("text, message", [
    ("id,name\nanna,Анна\nboris,Борис\nanna,Анна Б.\n", r"roster\.csv, row 4: id 'anna' is already used in row 2"),
    ("id,fullname\nanna,Анна\n", r"roster\.csv, row 1 \(header\): missing column\(s\) name"),
    ("id,name\n,Анна\n", r"roster\.csv, row 2: empty id"),
])
def test_a_bad_roster_is_refused_naming_the_file_and_row(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_roster(_roster(tmp_path, text))


def test_a_submission_that_matches_two_students_and_a_bad_pattern_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"class/anna/boris/01\.ipynb: matches more than one student.*anna, boris"):
        match(["class/anna/boris/01.ipynb"], STUDENTS)
    with pytest.raises(ValueError, match="named group id"):
        match(["x.ipynb"], STUDENTS, pattern=r"^(\w+)_")
    with pytest.raises(ValueError, match=r"--roster .*nowhere\.csv: no such file"):
        read_roster(tmp_path / "nowhere.csv")


def test_the_term_table_has_a_row_per_student_a_column_per_lab_and_the_total(tmp_path):
    _class(tmp_path, "anna", "boris", "zoe")
    extra = tmp_path / "class" / "anna" / "again"
    extra.mkdir()
    (extra / f"{LAB}.ipynb").write_bytes((tmp_path / "class" / "anna" / f"{LAB}.ipynb").read_bytes())
    roster = _roster(tmp_path, "id,name,email,group\nanna,Анна,a@u.ru,Б-1\nboris,Борис,,Б-2\nclara,Клара,,Б-1\n")
    out = tmp_path / "grades"
    grade([str(tmp_path / "class")], out, run_one=stub(lambda p: "boris" in p or "again" in p), roster=roster,
          sandbox_mode="none")
    rows = list(csv.DictReader(open(out / "term.csv", encoding="utf-8")))
    assert list(rows[0]) == header() == ["id", "name", "email", "group", *course.stems(), "total"]
    by_id = {row["id"]: row for row in rows}
    assert [row["id"] for row in rows] == ["anna", "boris", "clara"]
    assert by_id["boris"][LAB] == "8" and by_id["boris"]["total"] == "8"
    assert by_id["anna"][LAB] == "8"  # two submissions: the higher score, and both listed as duplicates
    assert by_id["clara"][LAB] == "" and by_id["clara"]["total"] == "0"  # nothing submitted: no grade
    term_md = (out / "term.md").read_text(encoding="utf-8")
    assert "Duplicates" in term_md and "anna, 01_residual_networks" in term_md and "again" in term_md
    assert "Unmatched" in term_md and "zoe" in term_md
    gradebook = list(csv.DictReader(open(out / "gradebook.csv", encoding="utf-8")))
    assert len(gradebook) == 4  # nothing dropped: the stranger and both of anna's files are graded


def test_build_term_skips_unknown_labs_by_name():
    from labutils.grader.report import Report
    from labutils.grader.roster import Matching
    term = build_term([Report("c/anna/x.ipynb", lab=None, status="unknown-lab")], STUDENTS,
                      Matching(owner={"c/anna/x.ipynb": "anna"}))
    assert term.unknown_lab == ["c/anna/x.ipynb"] and term.points == {}


def test_the_command_line_passes_the_term_options(tmp_path, monkeypatch, capsys):
    from labutils.grader import cli
    from labutils.grader import run as run_module
    _class(tmp_path, "anna", "boris")
    (tmp_path / "class" / "anna" / f"{LAB}.ipynb").rename(tmp_path / "class" / "anna" / f"anna_{LAB}.ipynb")
    roster = _roster(tmp_path, "id,name\nanna,Анна\nboris,Борис\n")
    seen = {}

    def stubbed(*args, **kwargs):
        seen.update(kwargs)
        return run_module.grade(*args, **kwargs, run_one=stub(lambda p: True))

    monkeypatch.setattr(cli, "grade", stubbed)
    monkeypatch.setenv("LABUTILS_LANG", "ru")  # restored after the test: --feedback-lang sets it for the run
    out = tmp_path / "grades"
    assert cli.main([str(tmp_path / "class"), "--out", str(out), "--roster", str(roster), "--match",
                     r"^(?P<id>[a-z]+)_", "--feedback-lang", "en", "--export", "moodle", "--export", "canvas",
                     "--sandbox", "none"]) == 0
    assert seen["feedback_lang"] == "en" and seen["exports"] == ("moodle", "canvas") and seen["pattern"]
    assert (out / "moodle.csv").is_file() and (out / "canvas.csv").is_file()
    term = {row["id"]: row for row in csv.DictReader(open(out / "term.csv", encoding="utf-8"))}
    assert term["anna"][LAB] == "8" and term["boris"][LAB] == ""  # boris's file name does not match the pattern
    assert "Unmatched" in (out / "term.md").read_text(encoding="utf-8")
    [page] = (out / "feedback" / "anna").glob("*.html")
    assert '<html lang="en">' in page.read_text(encoding="utf-8")
    assert "term table" in capsys.readouterr().out
    assert cli.main([str(tmp_path / "class"), "--out", str(out), "--export", "blackboard"]) == 2
    assert "--export 'blackboard'" in capsys.readouterr().err
