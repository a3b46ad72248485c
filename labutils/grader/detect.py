"""Which lab a submission is: its metadata, else its file name, else the task numbers of its TODO hints."""
from __future__ import annotations

import re
from pathlib import Path

from .. import course

_HINT = re.compile(r"# TODO: (?:Task|Задание) (\d+)\.")


def detect_lab(path: Path, nb) -> str | None:
    """The lab's notebook stem (e.g. ``01_residual_networks``), or None when it cannot be told.

    In order: the lab ``labutils.assignments build`` records in the notebook's metadata, a lab's stem
    in the file name, the lab most of the code's ``# TODO: Задание N.M`` (or older ``Task N.M``) hints name.
    """
    stems = course.stems()
    stamped = nb.metadata.get("labutils", {}).get("lab")
    if stamped in stems:
        return stamped
    for stem in stems:
        if path.stem.startswith(stem) or stem in path.stem:
            return stem
    numbers = _HINT.findall("\n".join(c.source for c in nb.cells if c.cell_type == "code"))
    if numbers:
        most = max(set(numbers), key=numbers.count)
        matches = [lab.stem for lab in course.LABS if lab.id == f"{int(most):02d}"]
        if matches:
            return matches[0]
    return None
