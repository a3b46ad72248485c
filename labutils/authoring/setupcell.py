"""The first cells of every lab notebook, generated from :mod:`labutils.course` (instructor tooling, all labs).

* The first markdown cell starts with the "Open in Colab" and "Open in Kaggle" badges
  (:func:`labutils.course.badges`).
* The first code cell (id ``setup``) prepares the session: where ``labutils`` does not import (a
  lone notebook on Colab, Kaggle or a laptop) it installs the course package from
  :data:`labutils.course.INSTALL_SOURCE`; in a checkout it installs nothing. Then it calls
  :func:`labutils.hosted.setup_environment` with the notebook's ``SMOKE`` and ``USE_DRIVE``.

``python -m labutils.assignments build`` writes both into the solution notebooks (only when they
differ) and so into the student notebooks; ``check`` fails when a solution's first cells are not
what this module generates. Notebooks that are not a lab of :data:`labutils.course.LABS` are left alone.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

from .. import course

SETUP_ID = "setup"
BADGE_PREFIX = "[![Open In Colab]"

SETUP_TEMPLATE = '''\
# Подготовка среды. Запускайте эту ячейку первой; повторный запуск ничего не ломает.
# В копии репозитория курса она ничего не устанавливает; на Colab, Kaggle или своём компьютере
# ставит пакет курса (labutils) и выбирает, где хранить данные.
SMOKE = False      # True: быстрый демо-прогон на CPU (синтетические данные, случайные веса)
USE_DRIVE = False  # Colab: True — хранить данные на Google Диске (Colab спросит разрешение)
COURSE_PACKAGE = {source}

import importlib
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("labutils") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", COURSE_PACKAGE], check=True)
    importlib.invalidate_caches()

from labutils.hosted import setup_environment

setup_environment(smoke=SMOKE, use_drive=USE_DRIVE)'''


def is_lab(stem: str) -> bool:
    """True when ``stem`` names a lab of the course (the first cells are generated only for those)."""
    try:
        course.lab(stem)
    except KeyError:
        return False
    return True


def setup_source(stem: str) -> str:
    """The setup cell of lab ``stem`` (the same for every lab today; the stem keeps the door open)."""
    return SETUP_TEMPLATE.format(source=json.dumps(course.INSTALL_SOURCE))


def with_badges(markdown: str, stem: str) -> str:
    """``markdown`` whose first line is the lab's badges (an older badge line is replaced)."""
    lines = markdown.split("\n")
    if lines and lines[0].startswith(BADGE_PREFIX):
        lines = lines[2:] if len(lines) > 1 and not lines[1].strip() else lines[1:]
    return "\n".join([course.badges(stem), "", *lines])


def apply(nb, stem: str) -> bool:
    """Give notebook ``nb`` of lab ``stem`` its badges and setup cell, in place; True when it changed."""
    if not is_lab(stem) or not nb.cells or nb.cells[0].cell_type != "markdown":
        return False
    changed = False
    badged = with_badges(nb.cells[0].source, stem)
    if badged != nb.cells[0].source:
        nb.cells[0].source, changed = badged, True
    found = [i for i, cell in enumerate(nb.cells) if cell.get("id") == SETUP_ID]
    if found:
        cell = nb.cells.pop(found[0])
        changed |= found[0] != 1
    else:
        cell, changed = nbformat.v4.new_code_cell(), True
        cell.id = SETUP_ID
    if cell.cell_type != "code" or cell.source != setup_source(stem):
        cell = nbformat.v4.new_code_cell(setup_source(stem))
        cell.id, changed = SETUP_ID, True
    nb.cells.insert(1, cell)
    return changed


def sync(path: Path) -> bool:
    """Write the badges and the setup cell into the notebook at ``path`` when they differ; True when written."""
    nb = nbformat.read(str(path), as_version=4)
    if not apply(nb, Path(path).stem):
        return False
    nbformat.write(nb, str(path))
    return True


def problems(path: Path, nb) -> list[str]:
    """Why the first cells of the notebook ``nb`` (read from ``path``) are not the generated ones."""
    stem = Path(path).stem
    if not is_lab(stem):
        return []
    if apply(copy.deepcopy(nb), stem):
        return [f"{path}: the badges or the setup cell (cell 1, id {SETUP_ID!r}) differ from what "
                "labutils.course generates; run python -m labutils.assignments build"]
    return []
