"""Limits a submission's kernel cannot leave (used by :mod:`labutils.grader.sandbox` and
:mod:`labutils.grader.worker`).

* :func:`launcher`: the command that sets hard resource limits (``setrlimit``, soft = hard) and then
  becomes the kernel: ``RLIMIT_DATA`` per process, and in the sandbox ``RLIMIT_NPROC`` (threads and
  processes of its user, counted by Linux per user namespace). Every child inherits them whatever
  environment it is given, and an unprivileged process cannot raise a hard limit. Linux does not
  apply ``RLIMIT_NPROC`` to root, so when the grader runs as root the process count is held by the
  sampler (:class:`labutils.grader.sandbox.Limits`) alone.
* :func:`thread_cap`: IPython start-up code that keeps ``torch.set_num_threads`` within the grader's
  share of CPU threads, whatever the notebook asks for.
* :func:`cap_worker_memory`: the worker's own memory limit while it judges what the kernel returned.
"""
from __future__ import annotations

import resource
import sys

DATA_HEADROOM = 2 * 2**30  # bytes of RLIMIT_DATA above the memory limit: mapped but untouched memory counts there
TASKS_PER_PROCESS = 4  # RLIMIT_NPROC counts threads too: the hard cap is this many per allowed process, plus
TASKS_BASE = 256  # threads of the kernel and its libraries themselves

_EXEC = ("import os, resource, sys\n"
         "data, nproc = int(sys.argv[1]), int(sys.argv[2])\n"
         "resource.setrlimit(resource.RLIMIT_DATA, (data, data))\n"
         "if nproc > 0:\n"
         "    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))\n"
         "os.execv(sys.argv[3], sys.argv[3:])\n")


def data_limit(memory_bytes: int) -> int:
    """``RLIMIT_DATA`` of each process of a submission whose processes may hold ``memory_bytes`` together."""
    return int(memory_bytes) + DATA_HEADROOM


def task_limit(processes: int) -> int:
    """``RLIMIT_NPROC`` (threads and processes) of a submission allowed ``processes`` processes."""
    return int(processes) * TASKS_PER_PROCESS + TASKS_BASE


def launcher(memory_bytes: int, processes: int | None, command: list[str]) -> list[str]:
    """``command`` run with ``RLIMIT_DATA`` (see :func:`data_limit`) and, when ``processes`` is given,
    ``RLIMIT_NPROC`` (see :func:`task_limit`) set hard before it starts."""
    nproc = task_limit(processes) if processes else 0
    return [sys.executable, "-S", "-c", _EXEC, str(data_limit(memory_bytes)), str(nproc), *command]


def thread_cap(threads: int | None) -> list[str]:
    """ipykernel arguments that make ``torch.set_num_threads(n)`` use at most ``threads`` threads."""
    if not threads:
        return []
    code = ("import torch as _t; _s = _t.set_num_threads; "
            f"_t.set_num_threads = lambda n, _s=_s: _s(max(1, min(int(n), {int(threads)}))); "
            f"_s({int(threads)}); del _t, _s")
    return [f"--IPKernelApp.exec_lines={[code]!r}".replace("'", '"')]


def cap_worker_memory(memory_bytes: int) -> None:
    """Lower this process's soft ``RLIMIT_DATA`` to ``memory_bytes`` above what it already holds (the
    worker, before it loads and judges what the kernel returned): a result that unfolds in memory ends in
    ``MemoryError``, not in the machine's memory."""
    try:
        with open("/proc/self/statm", "rb") as f:
            held = int(f.read().split()[5]) * resource.getpagesize()  # data + stack
    except (OSError, ValueError, IndexError):
        held = 0
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    wanted = held + int(memory_bytes)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (wanted, hard))
    except (ValueError, OSError):
        pass
