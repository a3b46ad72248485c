"""The files the grader and the probe cell exchange, written and read without following anything the
kernel planted (used by :mod:`labutils.grader.kernel` and :mod:`labutils.grader.judge`).

* The grader writes the secret cases into ``job/cases``, a folder the sandbox mounts read-only, so the
  kernel can read them but not plant anything there; :func:`write_private` creates the file with
  ``O_CREAT|O_EXCL|O_NOFOLLOW`` relative to a folder opened with ``O_NOFOLLOW``, so even without the
  sandbox a symlink, FIFO or device planted under that name is refused, never followed or opened.
* The probe cell writes its results into ``job/results`` (writable by the kernel) with ``O_EXCL`` too
  (:data:`PROBE_WRITE`); :func:`read_regular` reads them back with ``O_NOFOLLOW|O_NONBLOCK``, accepts
  only a regular file under :data:`MAX_RESULTS` bytes and reads at most that much, so a symlink, FIFO,
  device or oversized file is refused by name and never blocks the worker.
"""
from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import torch

MAX_RESULTS = 512 * 2**20  # bytes: a probe's results file larger than this is not read
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)

# the probe cell's own write: a new regular file or nothing (see labutils.grader.probe)
PROBE_WRITE = ("_fd = _os.open({path!r}, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL | "
               "getattr(_os, 'O_NOFOLLOW', 0), 0o600)")


class Refused(Exception):
    """A file of the exchange that is not what the grader wrote or expects; the message names it."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def _open_folder(folder: Path) -> int:
    try:
        return os.open(str(folder), os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    except OSError as exc:
        raise Refused(f"{folder} cannot be opened as a folder ({exc.strerror})") from None


def write_private(folder: Path, name: str, data: bytes) -> None:
    """Create ``folder/name`` (it must not exist) and write ``data``; anything already there is refused."""
    dir_fd = _open_folder(folder)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _NONBLOCK, 0o600, dir_fd=dir_fd)
    except FileExistsError:
        try:
            kind = _kind(os.lstat(name, dir_fd=dir_fd).st_mode)
        except OSError:
            kind = "something"
        raise Refused(f"{name} was already there ({kind}) before the grader wrote it") from None
    except OSError as exc:
        raise Refused(f"{name} cannot be created ({exc.strerror})") from None
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def save_cases(folder: Path, name: str, cases: dict) -> None:
    """``torch.save`` the cases into ``folder/name`` through :func:`write_private`."""
    buffer = io.BytesIO()
    torch.save(cases, buffer)
    write_private(folder, name, buffer.getvalue())


def read_regular(path: Path, limit: int = MAX_RESULTS) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes; else :class:`Refused`
    naming what it is. Raises ``FileNotFoundError`` when there is nothing (the probe did not run)."""
    try:
        fd = os.open(str(path), os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        try:
            kind = _kind(os.lstat(path).st_mode)
        except OSError:
            kind = exc.strerror
        raise Refused(f"{path.name} is {kind}, not a regular file: not read") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{path.name} is {_kind(info.st_mode)}, not a regular file: not read")
        if info.st_size > limit:
            raise Refused(f"{path.name} is {info.st_size / 2**20:.0f} MiB, over the {limit / 2**20:.0f} MiB limit")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise Refused(f"{path.name} grew past the {limit / 2**20:.0f} MiB limit while it was read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def load_results(path: Path, limit: int = MAX_RESULTS):
    """The probe's results loaded as plain data (``weights_only=True``) from :func:`read_regular`'s bytes."""
    return torch.load(io.BytesIO(read_regular(path, limit)), weights_only=True, map_location="cpu")
