"""The grader's rubric: each lab's graded items (task, title, points), read from :mod:`labutils.course`."""
from __future__ import annotations

from dataclasses import dataclass

from .. import course


@dataclass(frozen=True)
class Item:
    """One graded TODO: its task number, title and points. Its check is ``labutils.checks.protocol.TASKS[task]``."""

    task: str
    title: str
    points: int


# notebook stem -> its graded items, in notebook order
LABS: dict[str, list[Item]] = {lab.stem: [Item(t.number, t.title, t.points) for t in lab.tasks]
                               for lab in course.LABS}


def max_points(lab: str | None) -> int:
    """Full marks of ``lab`` (0 for an unknown or undetected lab)."""
    return sum(item.points for item in LABS.get(lab, []))
