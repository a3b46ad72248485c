"""The one cell the grader appends to a submission: each task's probe, its data saved for the judge.

The modules of :mod:`labutils.checks` it imports and reloads (so a notebook that patched them is
graded with fresh copies) are all of them, each after those it imports (:data:`labutils.checks.MODULES`;
each lab's check module of :mod:`labutils.course` is among them), then the package itself.
"""
from __future__ import annotations

from .. import checks
from .exchange import PROBE_WRITE


def check_modules() -> list[str]:
    """The modules the probe cell reloads, in reload order (a module after those it imports)."""
    return [f"labutils.checks.{name}" for name in checks.MODULES] + ["labutils.checks"]


def probe_cell(numbers: list[str], cases: str, results: str) -> str:
    """The one cell the grader adds: runs the tasks' probes on the notebook's names and saves their data.

    It computes no verdict and its output is not read: the grader loads ``results`` as data
    (``torch.load(weights_only=True)``) and judges it in its own process. It creates ``results`` with
    ``O_EXCL|O_NOFOLLOW``: a file, link or FIFO planted under that name makes it fail, never block.
    """
    modules = check_modules()
    write = PROBE_WRITE.format(path=results)
    return f'''
import importlib as _importlib, os as _os, torch as _torch
import {", ".join(modules)}
for _mod in ({", ".join(modules)}):
    _importlib.reload(_mod)
_cases = _torch.load({cases!r}, weights_only=True)
_results = {{_n: labutils.checks.protocol.probe_for_grader(_n, globals(), _cases[_n]) for _n in {numbers!r}}}
{write}
with _os.fdopen(_fd, "wb") as _f:
    _torch.save(_results, _f)
del _results, _cases, _fd, _f
'''
