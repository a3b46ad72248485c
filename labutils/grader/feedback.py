"""Feedback a student can read: one HTML page and one Markdown file per submission (instructor tooling,
all four labs), Russian by default (``--feedback-lang en`` for English).

It holds the lab, the points per task with each task's one-line verdict, and the execution errors
the student can act on (cell, error, its message). Nothing meant only for the instructor: no review
flags, no sandbox, memory or timing figures, no grader-side details of a failure and no paths of the
grader's machine (a path in an error message keeps only its file name).
"""
from __future__ import annotations

import html
import re
from pathlib import Path

from .. import course
from ..atomic import write_atomic
from ..messages import LANGUAGES, table
from .report import Report

# an absolute path (POSIX or Windows) inside a message: only its last part is kept
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][^\s/\\'\"()<>:,;]+){2,}")
_MARKS = ("✅ ", "❌ ", "✅", "❌")


def check_language(lang: str) -> str:
    """``lang`` when feedback can be written in it; else ``ValueError`` naming the known ones."""
    if lang not in LANGUAGES:
        raise ValueError(f"--feedback-lang {lang!r}: expected one of {', '.join(LANGUAGES)}")
    return lang


def _m(lang: str, key: str, **kwargs) -> str:
    return table(lang)[key].format(**kwargs)


def scrub(text: str) -> str:
    """``text`` with every absolute path shortened to its file name."""
    return _PATH.sub(lambda m: re.split(r"[/\\]", m.group(0))[-1], str(text))


def _verdict(message: str) -> str:
    text = " ".join(str(message).split())
    for mark in _MARKS:
        text = text.removeprefix(mark)
    return scrub(text)


def _task_label(lang: str, number: str, title: str) -> str:
    title = table(lang).get(f"title.{title}", title)
    return _m(lang, "task.label", number=number, title=title)


def content(report: Report, lang: str = "ru") -> dict:
    """What a student may read of ``report``, as plain data (both renderings use it)."""
    check_language(lang)
    lab = next((one for one in course.LABS if one.stem == report.lab), None)
    title = _m(lang, f"feedback.lab.{lab.id}") if lab else _m(lang, "feedback.lab_unknown")
    status = _m(lang, f"feedback.status.{report.status}") if report.status != "ok" and table(lang).get(
        f"feedback.status.{report.status}") else ""
    tasks = [{"label": _task_label(lang, t["task"], t["title"]), "points": t["points"],
              "max_points": t["max_points"], "ok": bool(t["ok"]), "verdict": _verdict(t["message"])}
             for t in report.tasks]
    errors = [_m(lang, "feedback.error_line", cell=e["cell"] + 1, ename=e["ename"], evalue=scrub(e["evalue"]))
              for e in report.errors]
    return {"lang": lang, "title": _m(lang, "feedback.title", lab=title), "file": Path(report.submission).name,
            "points": _m(lang, "feedback.points", points=report.points, max_points=report.max_points)
            if lab else "", "status": status, "tasks": tasks, "errors": errors}


def render_markdown(report: Report, lang: str = "ru") -> str:
    """The student's feedback as Markdown."""
    c = content(report, lang)
    lines = [f"# {c['title']}", "", _m(lang, "feedback.file", file=c["file"]), ""]
    if c["points"]:
        lines += [f"**{c['points']}**", ""]
    if c["status"]:
        lines += [c["status"], ""]
    if c["tasks"]:
        lines += [f"| {_m(lang, 'feedback.col_task')} | {_m(lang, 'feedback.col_points')} | "
                  f"{_m(lang, 'feedback.col_verdict')} |", "|---|---|---|"]
        for t in c["tasks"]:
            verdict = t["verdict"].replace("|", "\\|")
            lines.append(f"| {t['label']} | {t['points']} / {t['max_points']} | {'✅' if t['ok'] else '❌'} "
                         f"{verdict} |")
        lines.append("")
    lines += [f"## {_m(lang, 'feedback.errors')}", ""]
    lines += [f"- {e}" for e in c["errors"]] or [_m(lang, "feedback.no_errors")]
    return "\n".join(lines) + "\n"


def render_html(report: Report, lang: str = "ru") -> str:
    """The student's feedback as one self-contained HTML page."""
    c = content(report, lang)
    e = html.escape
    parts = [f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n<title>{e(c["title"])}</title>',
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
             "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em .6em;text-align:left}"
             "</style>\n</head>\n<body>", f"<h1>{e(c['title'])}</h1>",
             f"<p>{e(_m(lang, 'feedback.file', file=c['file']))}</p>"]
    if c["points"]:
        parts.append(f"<p><strong>{e(c['points'])}</strong></p>")
    if c["status"]:
        parts.append(f"<p>{e(c['status'])}</p>")
    if c["tasks"]:
        parts.append(f"<table>\n<tr><th>{e(_m(lang, 'feedback.col_task'))}</th><th>"
                     f"{e(_m(lang, 'feedback.col_points'))}</th><th>{e(_m(lang, 'feedback.col_verdict'))}</th></tr>")
        parts += [f"<tr><td>{e(t['label'])}</td><td>{t['points']} / {t['max_points']}</td>"
                  f"<td>{'✅' if t['ok'] else '❌'} {e(t['verdict'])}</td></tr>" for t in c["tasks"]]
        parts.append("</table>")
    parts.append(f"<h2>{e(_m(lang, 'feedback.errors'))}</h2>")
    if c["errors"]:
        parts.append("<ul>\n" + "\n".join(f"<li>{e(line)}</li>" for line in c["errors"]) + "\n</ul>")
    else:
        parts.append(f"<p>{e(_m(lang, 'feedback.no_errors'))}</p>")
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)


def write_feedback(report: Report, name: str, folder: Path, lang: str = "ru") -> tuple[Path, Path]:
    """``folder/<name>.html`` and ``folder/<name>.md``; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    page, text = folder / f"{name}.html", folder / f"{name}.md"
    write_atomic(page, render_html(report, lang))
    write_atomic(text, render_markdown(report, lang))
    return page, text
