"""Memory and disk of a rehearsal run: the kernel's process tree sampled from /proc, folder sizes (rehearsal).

Memory is the sum over the kernel and all its descendants (DataLoader workers, ONNX export
subprocesses) of the proportional set size (PSS, ``/proc/<pid>/smaps_rollup``): a page shared by
forked workers counts once in total, so the sum is what the tree really occupies. The resident set
sum (RSS, which counts shared pages once per process: an upper bound) is kept beside it. Where
``/proc`` is missing (macOS, Windows) both stay 0 and the report says "not measured".
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

PROC = Path("/proc")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name in (...) may hold spaces
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that exist now."""
    children, tree, todo = _children_map(), [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def _kib(path: Path, field: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_memory(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of ``pid``'s process tree in bytes; (0, 0) without /proc."""
    if not PROC.is_dir():
        return 0, 0
    pss = rss = 0
    for member in process_tree(pid):
        pss += _kib(PROC / str(member) / "smaps_rollup", "Pss:") * 1024
        rss += _kib(PROC / str(member) / "status", "VmRSS:") * 1024
    return pss, rss


class PeakSampler:
    """Samples :func:`tree_memory` of ``pid`` every ``interval`` seconds in a thread; keeps the peaks
    of the whole run and of the current window (:meth:`window` returns and restarts it: one per cell)."""

    def __init__(self, pid: int, interval: float = 0.25):
        self.pid, self.interval = pid, interval
        self.peak = [0, 0]
        self._window = [0, 0]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        pss, rss = tree_memory(self.pid)
        with self._lock:
            for target in (self.peak, self._window):
                target[0], target[1] = max(target[0], pss), max(target[1], rss)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def window(self) -> tuple[int, int]:
        """The peaks (PSS, RSS) since the previous call, sampling once more now."""
        self._sample()
        with self._lock:
            peaks = tuple(self._window)
            self._window = [0, 0]
        return peaks

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def folder_bytes(*folders: Path) -> int:
    """Bytes the files under ``folders`` take on disk (allocated blocks; a missing folder is 0)."""
    total = 0
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                try:
                    stat = os.lstat(os.path.join(root, name))
                except OSError:
                    continue
                total += getattr(stat, "st_blocks", 0) * 512 or stat.st_size
    return total


def now() -> float:
    """Monotonic seconds (one clock for every duration the report states)."""
    return time.perf_counter()
