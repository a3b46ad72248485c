"""Self-checks: each gives the student a one-line verdict naming what was expected and what came back.

A passing check prints ``✅ Task N.M ...: ok — <evidence>`` and returns a truthy :class:`Verdict`.
A failing one raises :class:`CheckFailed`, which Jupyter shows as the single verdict line
(``❌ Task N.M ...: expected ..., got ...``) instead of a long traceback; nbval and the grader see
it as an error. Exceptions raised by the student's own code (``NotImplementedError`` from an
unfilled TODO, a shape error) propagate unchanged so the traceback points at the student's line.

One module per lab (``lab1``, ``lab2``, ...); every check is re-exported here, so notebooks call
``checks.check_residual_block(...)``.
"""
from __future__ import annotations

from dataclasses import dataclass

TOL = 1e-5


class CheckFailed(AssertionError):
    """A self-check's negative verdict; shown in Jupyter as one line."""

    def _render_traceback_(self):  # IPython uses this instead of the traceback
        return [f"❌ {self}"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of a passing check: the task and the evidence, printed as one line."""

    task: str
    message: str
    ok: bool = True

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return f"✅ {self.task}: ok — {self.message}"

    def _ipython_display_(self):  # the verdict line is already printed; show nothing more in Jupyter
        pass


def passed(task: str, message: str) -> Verdict:
    """Print and return a positive verdict (used by every lab's checks)."""
    verdict = Verdict(task, message)
    print(verdict, flush=True)
    return verdict


def fail(task: str, message: str):
    """Raise the negative verdict for ``task``."""
    raise CheckFailed(f"{task}: {message}")
