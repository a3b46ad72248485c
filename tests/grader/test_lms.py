"""LMS grade-import files (issue 26): Moodle's and Canvas's documented columns, from the term table."""
import csv

import pytest

from labutils import course
from labutils.grader import lms
from labutils.grader.roster import Student
from labutils.grader.run import grade
from labutils.grader.term import Term

TERM = Term(students=[Student("anna", "Анна Андреева", "anna@u.ru", "Б-1"), Student("boris", "Борис Борисов")],
            points={"anna": {course.LABS[0].stem: 7, course.LABS[1].stem: 11}})


def _read(path):
    return list(csv.reader(open(path, encoding="utf-8", newline="")))


def test_moodle_file_has_identifier_columns_and_one_column_per_lab(tmp_path):
    rows = _read(lms.export(TERM, "moodle", tmp_path))
    assert rows[0] == ["ID number", "Email address", "Full name", *[lms.item_name(lab) for lab in course.LABS]]
    assert rows[1][:5] == ["anna", "anna@u.ru", "Анна Андреева", "7", "11"] and rows[1][5:] == ["", ""]
    assert rows[2] == ["boris", "", "Борис Борисов", "", "", "", ""]


def test_canvas_file_has_its_columns_and_a_points_possible_row(tmp_path):
    rows = _read(lms.export(TERM, "canvas", tmp_path))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[0][5:] == [lms.item_name(lab) for lab in course.LABS]
    assert rows[1] == ["Points Possible", "", "", "", "", *[str(lab.points) for lab in course.LABS]]
    assert rows[2][:7] == ["Анна Андреева", "", "anna", "anna@u.ru", "Б-1", "7", "11"]


def test_an_unknown_format_and_an_export_without_roster_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"--export 'blackboard': no such LMS format; known: moodle, canvas"):
        lms.export(TERM, "blackboard", tmp_path)
    with pytest.raises(ValueError, match="needs --roster"):
        grade(["nowhere"], tmp_path, exports=("moodle",))
    from labutils.grader.cli import main
    assert main(["nowhere", "--export", "sakai"]) == 2
