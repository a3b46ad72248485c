"""Feedback a student can read (issue 26): Russian by default, English on request, the lab, points and
verdicts per task and the execution errors, and never the instructor-only parts of a report."""
import re

import pytest

from labutils import course
from labutils.grader.feedback import content, render_html, render_markdown, write_feedback
from labutils.grader.report import Report, render

LAB = course.LABS[1]


def _report():
    tasks = [dict(task=t.number, title=t.title, points=t.points if i else 0, max_points=t.points, ok=bool(i),
                  message="✅ верно" if i else "❌ сумма весов <не> та: ожидалось 2, получено 3 | см. подсказку")
             for i, t in enumerate(LAB.tasks)]
    return Report(submission="/srv/grading/incoming/ivanov/02.ipynb", lab=LAB.stem, status="ok",
                  detail="the grading process was killed by signal 9 (/tmp/labutils-grade-1234/work)",
                  tasks=tasks, seconds=41.3, sandbox="none: bwrap is not installed", peak_memory_gb=1.93,
                  errors=[{"cell": 7, "ename": "FileNotFoundError",
                           "evalue": "[Errno 2] No such file: '/tmp/labutils-grade-abcd/work/data/x.png'"}],
                  flags=["cell 4, line 2: imports ctypes (SECRET-FLAG)"])


# what only the instructor reads: the review flags, the sandbox, memory and time figures, the grader's paths
INSTRUCTOR_ONLY = ["SECRET-FLAG", "ctypes", "sandbox", "песочниц", "bwrap", "1.93", "GiB", "памят", "41.3",
                   "signal 9", "/tmp/", "labutils-grade", "/srv/grading", "incoming", "Flagged", "review"]


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_feedback_never_shows_instructor_only_text(lang):
    report = _report()
    assert all(s in render(report) for s in ("SECRET-FLAG", "sandbox", "1.93"))  # the instructor's report has them
    for text in (render_markdown(report, lang), render_html(report, lang)):
        assert not [s for s in INSTRUCTOR_ONLY if s.lower() in text.lower()], lang


def test_feedback_is_russian_with_the_lab_points_verdicts_and_errors():
    text = render_markdown(_report())
    assert "Результаты проверки: Лабораторная работа 2" in text
    assert f"Баллы: {LAB.points - LAB.tasks[0].points} из {LAB.points}" in text
    for task in LAB.tasks:
        assert f"Задание {task.number} " in text
    assert "❌ сумма весов <не> та: ожидалось 2, получено 3 \\| см. подсказку" in text
    assert "ячейка 8 (считая сверху с 1): FileNotFoundError: [Errno 2] No such file: 'x.png'" in text
    assert not re.search(r"\b(Task|Points|Verdict|Errors)\b", text)


def test_english_feedback_and_html_escaping(tmp_path):
    text = render_markdown(_report(), "en")
    assert "Grading results: Lab 2" in text and "| Task | Points | Verdict |" in text
    assert f"Task {LAB.tasks[0].number} " in text and "Ошибки" not in text and "Баллы" not in text
    page, md = write_feedback(_report(), "ivanov_02", tmp_path / "feedback", "ru")
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="ru">' in html and "&lt;не&gt;" in html
    assert md.read_text(encoding="utf-8") == render_markdown(_report(), "ru")
    with pytest.raises(ValueError, match="--feedback-lang 'de'"):
        content(_report(), "de")


@pytest.mark.parametrize("status", ["timeout", "crashed", "invalid", "unknown-lab", "error"])
def test_each_failed_status_tells_the_student_what_to_do(status):
    report = Report(submission="x.ipynb", lab=None if status in ("invalid", "unknown-lab") else LAB.stem,
                    status=status, detail="grader internals /opt/course")
    text = render_markdown(report)
    assert content(report)["status"] and "/opt/course" not in text and "internals" not in text
