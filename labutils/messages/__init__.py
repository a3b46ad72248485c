"""Every message labutils shows a student, in one table per language (issue 11, "Feedback").

``ru.py`` and ``en.py`` each hold one dict ``MESSAGES = {key: template}``; templates use
``str.format`` placeholders, and both tables have the same keys and the same placeholders.
:func:`t` looks a key up in the current language and fills it in::

    from labutils.messages import t
    raise FileNotFoundError(t("imagefolder.folder_missing", root=root))

The language is read from ``LABUTILS_LANG`` at every call: ``ru`` (the default) or ``en``; any
other value raises ``ValueError`` naming the variable. Thousands separators requested with ``,``
in a format spec (``{count:,}``) become spaces in Russian (``11 689 512``); decimals always use
a dot. Task labels such as ``"Task N.M ResidualBlock"`` are rendered by :func:`task_label`.
"""
from __future__ import annotations

import os
import re
import string

LANG_ENV = "LABUTILS_LANG"
LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"

# "Task N.M ResidualBlock", "Задание N.M training loop": the number and the title after it.
_TASK_LABEL = re.compile(r"^\s*(?:Task|Задание)\s+(?P<number>\d+(?:\.\d+)*)\b\s*(?P<title>.*)$", re.S | re.I)
# A task number anywhere in a text, e.g. in NotImplementedError("Задание N.M: впишите решение").
_TASK_MENTION = re.compile(r"\b(?:Task|Задание)\s+(\d+(?:\.\d+)*)", re.I)


def language() -> str:
    """The current language: ``LABUTILS_LANG`` (``ru`` or ``en``, case-insensitive), ``ru`` when unset or empty."""
    raw = os.environ.get(LANG_ENV, "").strip().lower()
    if not raw:
        return DEFAULT_LANGUAGE
    if raw in LANGUAGES:
        return raw
    raise ValueError(
        f"{LANG_ENV}={os.environ[LANG_ENV]!r} is not understood: use {LANG_ENV}=ru (the default, Russian) "
        f"or {LANG_ENV}=en (English). / {LANG_ENV}={os.environ[LANG_ENV]!r} не распознано: "
        f"{LANG_ENV}=ru (по умолчанию, русский) или {LANG_ENV}=en (английский)."
    )


def table(lang: str | None = None) -> dict[str, str]:
    """The message table of ``lang`` (default: the current language)."""
    lang = lang or language()
    if lang == "ru":  # only the current language's table is loaded
        from .ru import MESSAGES
    elif lang == "en":
        from .en import MESSAGES
    else:
        raise ValueError(f"no message table for language {lang!r}; known: {', '.join(LANGUAGES)}")
    return MESSAGES


class _Formatter(string.Formatter):
    """``str.format`` with the language's thousands separator (a space in Russian)."""

    def __init__(self, lang: str):
        super().__init__()
        self.lang = lang

    def format_field(self, value, format_spec):
        text = format(value, format_spec)
        if self.lang == "ru" and "," in format_spec:
            text = text.replace(",", " ")
        return text


def t(key: str, **kwargs) -> str:
    """The message ``key`` in the current language, formatted with ``kwargs``.

    An unknown key raises ``KeyError`` naming it (a programming error, not a student's).
    """
    lang = language()
    messages = table(lang)
    try:
        template = messages[key]
    except KeyError:
        raise KeyError(f"labutils.messages: no message {key!r} in the {lang!r} table") from None
    return _Formatter(lang).format(template, **kwargs)


def has(key: str) -> bool:
    """True when ``key`` is in the current language's table."""
    return key in table()


def task_number(text: str) -> str | None:
    """The first task number mentioned in ``text`` ("Task N.M ...", "Задание N.M: ..."), or None."""
    match = _TASK_MENTION.search(str(text))
    return match.group(1) if match else None


def task_label(task: str) -> str:
    """A check's task label in the current language.

    ``"Task N.M ResidualBlock"`` (or ``"Задание N.M ResidualBlock"``) becomes
    ``"Задание N.M ResidualBlock"`` in Russian and ``"Task N.M ResidualBlock"`` in English. A
    title with an entry ``title.<title>`` in the tables (``"training loop"``) is translated;
    identifiers and anything else are kept as given. A label without a leading task word is
    returned unchanged.
    """
    match = _TASK_LABEL.match(str(task))
    if not match:
        return str(task)
    number, title = match.group("number"), match.group("title").strip()
    if title and has(f"title.{title}"):
        title = t(f"title.{title}")
    if not title:
        return t("task.number", number=number)
    return t("task.label", number=number, title=title)


def task_title(task: str) -> str:
    """The title part of a task label (``"ResidualBlock"`` for ``"Task N.M ResidualBlock"``), translated."""
    match = _TASK_LABEL.match(str(task))
    title = match.group("title").strip() if match else ""
    if title and has(f"title.{title}"):
        return t(f"title.{title}")
    return title


def placeholders(template: str) -> set[tuple[str, str, str]]:
    """The ``(field, conversion, format spec)`` triples of a template (used by the parity test)."""
    found = set()
    for _, field, spec, conversion in string.Formatter().parse(template):
        if field is not None:
            found.add((field, conversion or "", spec or ""))
    return found


__all__ = ["LANG_ENV", "LANGUAGES", "DEFAULT_LANGUAGE", "language", "table", "t", "has", "task_label",
           "task_title", "task_number", "placeholders"]
