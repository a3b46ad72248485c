"""A small class through the real grader twice (issue 26): three students on the roster, two submit Lab 1
(the solution, the untouched student notebook), then the second resubmits a corrected file and only it is
regraded; the gradebook, the term table, the feedback and the Moodle file follow. Costs three kernels."""
import csv
import shutil

from labutils import course
from labutils.grader import records
from labutils.grader.run import grade

from conftest import NOTEBOOKS, SOLUTIONS

LAB = course.lab(1)


def test_a_class_graded_twice_with_a_roster(tmp_path):
    anna, boris = tmp_path / "class" / "anna", tmp_path / "class" / "boris"
    anna.mkdir(parents=True)
    boris.mkdir()
    shutil.copy(SOLUTIONS / f"{LAB.stem}.ipynb", anna)
    shutil.copy(NOTEBOOKS / f"{LAB.stem}.ipynb", boris)
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email,group\nanna,Анна,anna@u.ru,Б-1\nboris,Борис,boris@u.ru,Б-1\n"
                      "clara,Клара,clara@u.ru,Б-2\n", encoding="utf-8")
    out = tmp_path / "grades"

    first = grade([str(tmp_path / "class")], out, roster=roster, exports=("moodle",))
    assert sorted(r.points for r in first) == [0, LAB.points]
    term = {row["id"]: row for row in csv.DictReader(open(out / "term.csv", encoding="utf-8"))}
    assert (term["anna"][LAB.stem], term["boris"][LAB.stem], term["clara"][LAB.stem]) == (str(LAB.points), "0", "")
    [feedback] = [p.read_text(encoding="utf-8") for p in (out / "feedback" / "boris").glob("*.md")]
    assert "Результаты проверки" in feedback and "ещё не выполнено" in feedback and "ячейка" in feedback

    shutil.copy(SOLUTIONS / f"{LAB.stem}.ipynb", boris)  # boris hands in a corrected notebook
    second = grade([str(boris / f"{LAB.stem}.ipynb")], out, roster=roster, exports=("moodle",))
    assert [r.points for r in second] == [LAB.points]
    term = {row["id"]: row for row in csv.DictReader(open(out / "term.csv", encoding="utf-8"))}
    assert term["anna"][LAB.stem] == term["boris"][LAB.stem] == str(LAB.points) and term["clara"]["total"] == "0"
    rows = list(csv.DictReader(open(out / "gradebook.csv", encoding="utf-8")))
    assert len(rows) == 2 and {row["points"] for row in rows} == {str(LAB.points)}
    assert [h["points"] for h in records.history(out, str(boris / f"{LAB.stem}.ipynb"))] == [0, LAB.points]
    moodle = list(csv.reader(open(out / "moodle.csv", encoding="utf-8")))
    assert moodle[2][:4] == ["boris", "boris@u.ru", "Борис", str(LAB.points)]
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "2 submission(s)" in summary and "Similar code between submissions" in summary
