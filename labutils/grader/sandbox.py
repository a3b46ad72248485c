"""Where a submission's kernel runs, and how everything it started is found and killed (used by the
grader's kernel and worker, :mod:`labutils.grader.kernel` and :mod:`labutils.grader.worker`).

* :func:`submission_processes`: every process of a submission, found through the process tree (the
  worker is a child subreaper) and, as before, ``LABUTILS_GRADE_RUN=<run id>`` in the environment;
  a child that drops its environment is still found.
* :class:`Watchdog` kills a kernel whose cell outlives its deadline (a cell may ignore SIGINT), and
  :class:`Limits` one whose processes together use more memory or processes than allowed; the kernel
  also starts under hard rlimits (:mod:`labutils.grader.limits`).
* On Linux with bubblewrap (``bwrap``, from the distribution: ``apt install bubblewrap``), the kernel
  runs in a sandbox (:func:`kernel_spec`): the whole file system read-only, ``/tmp`` empty, the
  course's checkout (solutions, tests, git history), the submissions' and the output folders hidden,
  no network, its own process namespace (so every process in it dies with it), and only its own work
  folder, its connection folder and the probe's results folder writable; the grader's cases are
  mounted read-only. The client talks to it over Unix sockets in a folder of the job.
  :func:`bwrap_status` says whether that works on this machine.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..course import ROOT
from . import limits

RUN_VAR = "LABUTILS_GRADE_RUN"  # in the environment of every process a submission starts (see kill_run)
POLL = 0.25  # seconds between two looks at a submission's processes (Limits)


# ---------------------------------------------------------------------------------------------
# process hygiene: every process a submission starts carries its run's id in its environment


def pids() -> list[int]:
    try:
        return [int(n) for n in os.listdir("/proc") if n.isdigit()]
    except OSError:  # no /proc (not Linux): nothing to sweep
        return []


def marked(run_id: str) -> list[int]:
    """Processes other than this one whose environment carries ``LABUTILS_GRADE_RUN=<run_id>``."""
    needle, me = f"\0{RUN_VAR}={run_id}\0".encode(), os.getpid()
    found = []
    for pid in pids():
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in b"\0" + f.read() + b"\0":
                    found.append(pid)
        except OSError:  # gone, or another user's process
            continue
    return found


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid in pids():
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill(pids) -> None:
    signals = [getattr(signal, name) for name in ("SIGSTOP", "SIGKILL") if hasattr(signal, name)]
    for sig in signals:  # freeze first, so nothing forks while we kill
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass


def kill_run(run_id: str, rounds: int = 20) -> int:
    """SIGKILL every process (but this one) started for ``run_id``, also those that left the kernel's
    session or process group; returns how many. Linux only (reads ``/proc``), a no-op elsewhere."""
    killed: set[int] = set()
    for _ in range(rounds):
        pids = marked(run_id)
        if not pids:
            break
        kill(pids)
        killed.update(pids)
        time.sleep(0.05)
    return len(killed)


def submission_processes(run_id: str) -> list[int]:
    """Every process of this worker's submission: all descendants of this process (the worker is a child
    subreaper, so orphans, ``setsid`` children and children with an empty environment stay under it; in
    the sandbox they also stay in its process namespace, under its init), plus any carrying the run id."""
    return sorted(set(descendants(os.getpid())) | set(marked(run_id)))


def remove_tree(path: Path) -> None:
    """Remove a folder however large, also where the notebook made parts of it read-only."""
    def retry(func, name, _exc):
        try:
            os.chmod(os.path.dirname(name), 0o700)
            os.chmod(name, 0o700)
            func(name)
        except OSError:
            pass

    for _ in range(3):
        shutil.rmtree(path, onerror=retry)
        if not path.exists():
            return


class Watchdog:
    """Kills the kernel hard when a cell outlives its deadline (a cell may ignore the interrupt)."""

    def __init__(self, kill):
        self._kill, self._lock, self._stop = kill, threading.Lock(), threading.Event()
        self._deadline: float | None = None
        self._reason, self.reason = "", ""
        threading.Thread(target=self._loop, daemon=True).start()

    def arm(self, seconds: float, reason: str) -> None:
        with self._lock:
            self._deadline, self._reason = time.monotonic() + seconds, reason

    def disarm(self) -> None:
        with self._lock:
            self._deadline = None

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                due = self._deadline is not None and time.monotonic() >= self._deadline
                if due:
                    self._deadline, self.reason = None, self._reason
            if due:
                self._kill()


class Limits:
    """Kills a submission's processes (:func:`submission_processes`, found by the process tree, not by
    their environment) when together they hold more than ``memory_bytes`` of resident memory or number
    more than ``processes``; polled every ``POLL`` seconds (Linux; a no-op elsewhere). Hard per-process
    limits that no child can leave are set by :func:`labutils.grader.limits.launcher`.

    A limit is enforced by polling, so a very fast allocation or fork burst can exceed it for a
    moment before it is killed. ``reason`` says which limit was hit, once it was.
    """

    def __init__(self, run_id: str, memory_bytes: int, processes: int, on_kill=None):
        self.run_id, self.memory_bytes, self.processes = run_id, memory_bytes, processes
        self.reason, self.peak_bytes = "", 0
        self._on_kill, self._stop = on_kill, threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        threading.Thread(target=self._loop, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _resident(self, pid: int) -> int:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                return int(f.read().split()[1]) * self._page
        except (OSError, ValueError, IndexError):
            return 0

    def _loop(self) -> None:
        while not self._stop.wait(POLL):
            found = submission_processes(self.run_id)
            used = sum(self._resident(pid) for pid in found)
            self.peak_bytes = max(self.peak_bytes, used)
            if used > self.memory_bytes:
                self.reason = (f"its processes used {used / 2**30:.1f} GiB of memory, over the limit of "
                               f"{self.memory_bytes / 2**30:.1f} GiB, and were killed")
            elif len(found) > self.processes:
                self.reason = (f"it ran {len(found)} processes at once, over the limit of {self.processes}, "
                               "and they were killed")
            if self.reason:
                if self._on_kill is not None:
                    self._on_kill()
                kill(submission_processes(self.run_id))
                kill_run(self.run_id)
                return


# ---------------------------------------------------------------------------------------------
# the bubblewrap sandbox

_BWRAP_STATUS: tuple[bool, str] | None = None


def bwrap_status() -> tuple[bool, str]:
    """``(True, "bubblewrap")`` when a bubblewrap sandbox can be started here, else ``(False, why)``."""
    global _BWRAP_STATUS
    if _BWRAP_STATUS is None:
        _BWRAP_STATUS = _probe_bwrap()
    return _BWRAP_STATUS


def _probe_bwrap() -> tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, f"no sandbox on {sys.platform} (bubblewrap is Linux only)"
    exe = shutil.which("bwrap")
    if exe is None:
        return False, "bubblewrap (bwrap) is not installed; on Debian/Ubuntu: apt install bubblewrap"
    try:
        done = subprocess.run([exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
                               "--die-with-parent", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap does not start here: {exc}"
    if done.returncode != 0:
        first = (done.stderr.decode(errors="replace").strip().splitlines() or ["exit code %d" % done.returncode])[0]
        return False, f"bubblewrap does not start here ({first[:160]}; user namespaces may be disabled)"
    return True, "bubblewrap"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def needed_folders() -> set[Path]:
    """Folders a kernel needs read-only: the Python installation, ``sys.path`` and the installed package
    (the course's ``labutils/``), but nothing else of the course's checkout (see :func:`bwrap_argv`)."""
    found = set()
    for p in [sys.prefix, sys.base_prefix, *[p for p in sys.path if p]]:
        path = Path(p).resolve()
        if not path.exists():
            continue
        if _inside(path, ROOT) and not _inside(path, ROOT / "labutils") and p not in (sys.prefix, sys.base_prefix):
            continue  # the checkout itself (its solutions, tests, .git) stays hidden
        found.add(path)
    return found | {(ROOT / "labutils").resolve()}


def bwrap_argv(work: Path, writable: list[Path], readonly: list[Path], hidden: list[Path],
               command: list[str]) -> list[str]:
    """The bubblewrap command line that runs ``command`` with only ``work`` and ``writable`` writable.

    Everything else is read-only; ``/tmp``, the temporary folder (other submissions' jobs), each folder
    of ``hidden`` (the submissions', the output) and the course's checkout (its ``solutions/``, tests,
    docs and git history) are empty; there is no network and a new process namespace. The folders the
    kernel needs (:func:`needed_folders`: the Python installation and the ``labutils`` package) are
    mounted back read-only where a hidden folder covers them, then ``readonly`` (the grader's cases)
    read-only and ``work`` and ``writable`` writable, last, so they are seen wherever they are.
    """
    covers = sorted({Path("/tmp"), Path(tempfile.gettempdir()).resolve(), ROOT.resolve(),
                     *[h.resolve() for h in hidden]} - {Path("/")})
    argv = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--new-session", "--unshare-all",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for folder in covers:
        argv += ["--tmpfs", str(folder)]
    for folder in sorted(needed_folders()):
        if any(_inside(folder, c) for c in covers):
            argv += ["--ro-bind", str(folder), str(folder)]
    for folder in readonly:
        argv += ["--ro-bind", str(folder), str(folder)]
    for folder in (*writable, work):
        argv += ["--bind", str(folder), str(folder)]
    # the kernel's parent is the sandbox's init (pid 1): ipykernel must not take that for a dead parent
    argv += ["--setenv", "JPY_PARENT_PID", "1", "--chdir", str(work)]
    return argv + command


@dataclass(frozen=True)
class KernelPlan:
    """What :func:`kernel_spec` needs to start one submission's kernel."""

    work: Path  # its working folder (writable)
    writable: tuple[Path, ...] = ()  # its connection files' folder, the probe's results folder
    readonly: tuple[Path, ...] = ()  # the grader's cases folder
    hidden: tuple[Path, ...] = ()  # the submissions' and output folders
    memory_bytes: int = 6 * 2**30
    processes: int = 256
    threads: int | None = None
    sandbox: bool = True


def kernel_spec(folder: Path, plan: KernelPlan) -> str:
    """Write a kernelspec into ``folder`` that starts an IPython kernel with hard resource limits
    (:func:`labutils.grader.limits.launcher`), its torch threads capped, in the sandbox when
    ``plan.sandbox``; returns its name."""
    name = "labutils-sandbox" if plan.sandbox else "labutils-limited"
    kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", *limits.thread_cap(plan.threads)]
    command = limits.launcher(plan.memory_bytes, plan.processes if plan.sandbox else None, kernel)
    argv = (bwrap_argv(plan.work, list(plan.writable), list(plan.readonly), list(plan.hidden), command)
            if plan.sandbox else command)
    spec = {"argv": argv, "display_name": "labutils grading kernel", "language": "python",
            "interrupt_mode": "message" if plan.sandbox else "signal"}
    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / name / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return name
