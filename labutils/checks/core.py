"""Self-checks: each gives the student a one-line verdict naming what was expected and what came back.

A passing check prints ``✅ Задание N.M ...: верно — <evidence>`` (``✅ Task N.M ...: ok — ...``
with ``LABUTILS_LANG=en``) and returns a truthy :class:`Verdict`. A failing one raises
:class:`CheckFailed`, which Jupyter shows as the single verdict line (``❌ Задание N.M ...:
ожидалось ..., получено ...``) instead of a long traceback; nbval and the grader see it as an error.

Every public check is wrapped by :func:`student_check`:

* a ``NotImplementedError`` raised by the student's code (an unfilled TODO) becomes a one-line
  :class:`CheckFailed` saying the task is not done yet, or, when the message names another task
  (``"Задание N.M: ..."``), that the other task must be done first;
* any other exception from the student's code (a shape error, a typo) propagates unchanged in
  type and message, but Jupyter shows its traceback without the frames inside labutils, so it
  points at the student's line.

One module per lab (``lab1``, ``lab2``, ...); every check is re-exported here, so notebooks call
``checks.check_residual_block(...)``.
"""
from __future__ import annotations

import functools
import inspect
import os
import sys
import sysconfig
import traceback
import types
from dataclasses import dataclass

from ..messages import t, task_label, task_number, task_title

TOL = 1e-5

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../labutils


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
        return "✅ " + t("check.passed", task=task_label(self.task), message=self.message)

    def _ipython_display_(self):  # the verdict line is already printed; show nothing more in Jupyter
        pass


def passed(task: str, message: str) -> Verdict:
    """Print and return a positive verdict (used by every lab's checks)."""
    verdict = Verdict(task, message)
    print(verdict, flush=True)
    return verdict


def fail(task: str, message: str):
    """Raise the negative verdict for ``task`` (its label is rendered in the current language)."""
    raise CheckFailed(t("check.failed", task=task_label(task), message=message))


# ---------------------------------------------------------------------------------------------
# student exceptions: unfilled TODOs become one line, other errors point at the student's line


def _is_inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), folder]) == folder
    except ValueError:  # another drive on Windows, or a pseudo-file name
        return False


def _library_dirs() -> list[str]:
    dirs = []
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.append(os.path.abspath(path))
    return dirs


def _is_student_file(path: str) -> bool:
    """True for code that is neither labutils nor an installed library (a notebook cell, a test, a script)."""
    if _is_inside(path, _PACKAGE_DIR):
        return False
    parts = set(os.path.abspath(path).split(os.sep))
    if parts & {"site-packages", "dist-packages"}:
        return False
    return not any(_is_inside(path, d) for d in _library_dirs())


def _innermost_frame(exc: BaseException):
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame


def _where(frame) -> str:
    """The raising function's qualified name (``ResidualBlock.__init__``), or '' at module level."""
    if frame is None:
        return ""
    code = frame.f_code
    name = getattr(code, "co_qualname", code.co_name)
    return "" if name.startswith("<") else name


def _task_argument(signature: inspect.Signature, args, kwargs) -> str:
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return ""
    bound.apply_defaults()
    return str(bound.arguments.get("task") or "")


def unfinished_verdict(task: str, exc: NotImplementedError) -> CheckFailed:
    """The one-line verdict for a ``NotImplementedError`` from the student's unfilled TODO.

    When its message names another task than ``task`` ("Задание N.M: впишите решение" seen by
    the check of ``TASK_FACTORIES``), the verdict says that task must be done first.
    """
    label = task_label(task) if task else t("check.this_task")
    where = _where(_innermost_frame(exc))
    own, other = task_number(task), task_number(str(exc))
    if other and other != own:
        key = "check.todo_other_where" if where else "check.todo_other"
        return CheckFailed(t(key, task=label, other=other, where=where))
    where = where or task_title(task)
    key = "check.todo_where" if where else "check.todo"
    return CheckFailed(t(key, task=label, where=where))


def _hidden_frame(filename: str) -> bool:
    """Frames left out of a student's traceback: labutils' own, and IPython's cell runner."""
    if _is_inside(filename, _PACKAGE_DIR):
        return True
    ipython = sys.modules.get("IPython")
    ipython_dir = os.path.dirname(os.path.abspath(getattr(ipython, "__file__", "") or "")) if ipython else ""
    return bool(ipython_dir) and _is_inside(filename, ipython_dir)


def _filtered_tb(tb):
    """A copy of the traceback chain ``tb`` without labutils' (and IPython's) frames.

    If nothing would be left, the traceback is kept whole.
    """
    entries = []
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    kept = [e for e in entries if not _hidden_frame(e.tb_frame.f_code.co_filename)] or entries
    new = None
    for entry in reversed(kept):
        new = types.TracebackType(new, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return new


def student_traceback(exc: BaseException) -> list[str]:
    """The lines Jupyter shows for ``exc``: its traceback without labutils' frames.

    Inside IPython the lines are formatted by IPython itself (with "Cell In[n]" headers and
    colours); elsewhere by :mod:`traceback`. The exception's type and message are unchanged.
    """
    tb = _filtered_tb(exc.__traceback__)
    shell = None
    ipython = sys.modules.get("IPython")
    if ipython is not None:
        try:
            shell = ipython.get_ipython()
        except Exception:  # pragma: no cover - a half-initialised IPython
            shell = None
    if shell is not None:
        try:
            return list(shell.InteractiveTB.structured_traceback(type(exc), exc, tb, tb_offset=0))
        except Exception:  # fall back to the plain formatting below
            pass
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return text.rstrip("\n").split("\n")


def _point_at_student(exc: BaseException) -> None:
    """Make Jupyter render ``exc`` with :func:`student_traceback` (unless it renders itself)."""
    if hasattr(type(exc), "_render_traceback_") or "_render_traceback_" in getattr(exc, "__dict__", {}):
        return
    try:
        exc._render_traceback_ = functools.partial(student_traceback, exc)
    except (AttributeError, TypeError):  # an exception type without instance attributes
        pass


def student_check(fn):
    """Decorator for every public check: student exceptions become readable (see the module docstring)."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except CheckFailed:
            raise
        except NotImplementedError as exc:
            frame = _innermost_frame(exc)
            if frame is not None and _is_student_file(frame.f_code.co_filename):
                raise unfinished_verdict(_task_argument(signature, args, kwargs), exc) from None
            _point_at_student(exc)
            raise
        except Exception as exc:
            _point_at_student(exc)
            raise

    return wrapper
