"""Safe extraction of downloaded archives (Lab 2: the chest X-ray zip; Lab 4: Stanford Dogs tar).

Every member is checked before anything is written: absolute paths, ``..`` components, links and
special files are refused with an error naming the member. A damaged archive (bad deflate data, a
failed CRC, a truncated gzip or tar) raises :class:`CorruptArchiveError` naming the archive and the
member, and leaves nothing behind. The archive itself is never deleted.

Concurrency (a classroom sharing one data folder): each extraction writes into its own folder
``<dest>.partial-<pid>-<random>``, renamed into place only when complete (an atomic rename). When
two processes extract the same archive at once, the first rename wins and the other process
discards its copy and returns ``dest``, which is complete because it appeared by a rename.

Leftovers: a ``.partial*`` folder (or a download's ``.part`` file, see :mod:`labutils.fetch`) is
held with an exclusive ``fcntl.flock`` by the process writing it; the kernel drops that lock when the
process dies, even by SIGKILL. A leftover is removed only when its lock can be taken, so a live
extraction or download in another process is never touched. Without ``fcntl`` (Windows) a
leftover is removed only when it has not changed for :data:`ABANDONED_AFTER_S` seconds.
"""
from __future__ import annotations

import os
import secrets
import shutil
import sys
import tarfile
import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable

from .messages import t

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; leftovers are judged by their age alone
    fcntl = None

ABANDONED_AFTER_S = 6 * 3600  # without fcntl: a leftover untouched this long belongs to no live process


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the target folder, or is a link or special file."""


class CorruptArchiveError(ValueError):
    """An archive is damaged (bad compressed data, failed CRC, cut off); the message names the member."""


def is_damage(exc: BaseException) -> bool:
    """True when ``exc`` says the archive's bytes are damaged, not that the disk or the system failed.

    Format errors (zip, tar, zlib, a gzip stream that ends early) count; an ``OSError`` counts only
    without an ``errno`` (``gzip.BadGzipFile``), so a full disk is never blamed on the archive.
    """
    if isinstance(exc, (zipfile.BadZipFile, tarfile.ReadError, zlib.error, EOFError)):
        return True
    return isinstance(exc, OSError) and exc.errno is None


# ---------------------------------------------------------------- leftovers of other processes

def _open_locked(path: Path, *, wait: bool) -> int | None:
    """Open ``path`` (file or folder) and take an exclusive flock; None when another process holds it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def claim_new(create: Callable[[], Path]) -> tuple[Path, int | None]:
    """Create a uniquely named work file or folder with ``create()`` and lock it for this process (all labs).

    Returns the path and the lock (an open descriptor, ``None`` without ``fcntl``); pass the lock to
    :func:`release` when done. Should a cleaner in another process have removed the path in the
    instant before it was locked, a new one is created.
    """
    while True:
        path = create()
        if fcntl is None:
            return path, None
        try:
            fd = _open_locked(path, wait=True)
        except FileNotFoundError:
            continue
        except OSError:  # no lock support on this file system: work without one
            return path, None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return path, fd
        except FileNotFoundError:
            pass
        os.close(fd)


def release(lock: int | None) -> None:
    """Drop a lock returned by :func:`claim_new`."""
    if lock is not None:
        os.close(lock)


def remove_if_abandoned(path: Path) -> bool:
    """Remove the leftover file or folder ``path`` when no live process works on it; True if removed.

    With ``fcntl``: removed when its lock can be taken (its writer is gone). Without, or where the
    file system refuses locks: removed when untouched for :data:`ABANDONED_AFTER_S` seconds.
    """
    fd = None
    try:
        if fcntl is not None:
            try:
                fd = _open_locked(path, wait=False)
                if fd is None:
                    return False
            except FileNotFoundError:
                return False
            except OSError:
                fd = None
        if fd is None and time.time() - path.stat().st_mtime < ABANDONED_AFTER_S:
            return False
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    except OSError:  # gone meanwhile, or a read-only folder: leave it
        return False
    finally:
        release(fd)


# ---------------------------------------------------------------- extraction

MACOS_JUNK_LISTED = 10  # skipped macOS members named one by one in the report; the rest are counted


def is_macos_junk(name: str) -> bool:
    """True for macOS metadata in an archive: ``.DS_Store``, AppleDouble ``._*`` files, anything under ``__MACOSX/``."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return "__MACOSX" in parts or (bool(parts) and (parts[-1] == ".DS_Store" or parts[-1].startswith("._")))


def _without_macos_junk(archive: Path, members: list, name_of: Callable) -> list:
    """``members`` less macOS metadata, which is never extracted; the skipped ones are reported by name."""
    junk = [name_of(m) for m in members if is_macos_junk(name_of(m))]
    if junk:
        listed = ", ".join(junk[:MACOS_JUNK_LISTED])
        more = t("archives.macos_more", n=len(junk) - MACOS_JUNK_LISTED) if len(junk) > MACOS_JUNK_LISTED else ""
        print(t("archives.macos_skipped", archive=archive, n=len(junk), names=listed, more=more), flush=True)
    return [m for m in members if not is_macos_junk(name_of(m))]


def _safe_relative(name: str, archive: Path) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise UnsafeArchiveError(t("archives.outside", archive=archive, name=name))
    return path


def _refuse_existing(dest: Path) -> None:
    if dest.exists():
        raise FileExistsError(t("archives.exists", dest=dest))


def _remove_old_partials(dest: Path) -> None:
    """Remove ``<dest>.partial`` / ``<dest>.partial-*`` folders left by interrupted extractions."""
    if not dest.parent.is_dir():
        return
    for entry in dest.parent.iterdir():
        if entry.name == dest.name + ".partial" or entry.name.startswith(dest.name + ".partial-"):
            if entry.is_dir() and remove_if_abandoned(entry):
                print(t("archives.leftover_removed", path=entry), file=sys.stderr)


def _fresh_partial(dest: Path) -> tuple[Path, int | None]:
    """A new folder of this process only, next to ``dest``, locked while this process extracts."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_old_partials(dest)

    def create() -> Path:
        partial = dest.with_name(f"{dest.name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
        partial.mkdir()  # not mkdtemp: the folder becomes dest and keeps the usual permissions
        return partial

    return claim_new(create)


def _finish(partial: Path, dest: Path) -> Path:
    """Rename the complete ``partial`` into place; if another process got there first, keep its copy."""
    try:
        os.rename(partial, dest)
    except OSError:
        if not dest.is_dir():
            raise
        shutil.rmtree(partial, ignore_errors=True)  # dest appeared by an atomic rename: it is complete
    return dest


def _extract_members(archive: Path, dest: Path, members: list, extract_one: Callable, name_of: Callable) -> Path:
    """Extract ``members`` one by one into a fresh partial folder, then rename it to ``dest``."""
    partial, lock = _fresh_partial(dest)
    try:
        for member in members:
            try:
                extract_one(member, partial)
            except Exception as exc:
                if is_damage(exc):
                    raise CorruptArchiveError(t("archives.damaged", archive=archive, name=name_of(member),
                                                error=exc)) from exc
                raise
        return _finish(partial, dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        release(lock)


def _open(archive: Path, opener):
    """``opener(archive)``; a file that is not a readable archive raises ``CorruptArchiveError`` naming it."""
    try:
        return opener(archive)
    except Exception as exc:
        if is_damage(exc):
            raise CorruptArchiveError(t("archives.unreadable", archive=archive, error=exc)) from exc
        raise


def extract_zip(archive, dest, *, keep: Callable[[str], bool] = lambda name: True) -> Path:
    """Extract the members of a zip file for which ``keep(name)`` is true into ``dest`` (Lab 2).

    A damaged member (bad deflate data, failed CRC) raises ``CorruptArchiveError`` naming the
    archive and the member; nothing is left behind. An existing ``dest`` raises ``FileExistsError``.
    macOS metadata (``.DS_Store``, ``._*``, ``__MACOSX/``) is never extracted; the skipped members
    are named in a printed line.
    """
    archive, dest = Path(archive), Path(dest)
    _refuse_existing(dest)
    with _open(archive, zipfile.ZipFile) as zf:
        members = _without_macos_junk(archive, [m for m in zf.infolist() if keep(m.filename)], lambda m: m.filename)
        for m in members:
            _safe_relative(m.filename, archive)
            if (m.external_attr >> 16) & 0o170000 == 0o120000:
                raise UnsafeArchiveError(t("archives.symlink", archive=archive, name=m.filename))
        return _extract_members(archive, dest, members, lambda m, folder: zf.extract(m, folder),
                                lambda m: m.filename)


def _tar_members(tf: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """All members of ``tf``; a cut-off or damaged archive names the last member read before the damage."""
    try:
        return tf.getmembers()
    except Exception as exc:
        if not is_damage(exc):
            raise
        if tf.members:
            raise CorruptArchiveError(t("archives.damaged", archive=archive, name=tf.members[-1].name,
                                        error=exc)) from exc
        raise CorruptArchiveError(t("archives.unreadable", archive=archive, error=exc)) from exc


def extract_tar(archive, dest, *, keep: Callable[[str], bool] = lambda name: True) -> Path:
    """Extract the members of a tar file for which ``keep(name)`` is true into ``dest`` (Lab 4).

    A damaged or truncated archive (also a truncated ``.tar.gz``) raises ``CorruptArchiveError``
    naming the archive and the member; nothing is left behind. macOS metadata is skipped and
    reported as by :func:`extract_zip`.
    """
    archive, dest = Path(archive), Path(dest)
    _refuse_existing(dest)
    with _open(archive, tarfile.open) as tf:
        members = _without_macos_junk(archive, [m for m in _tar_members(tf, archive) if keep(m.name)], lambda m: m.name)
        for m in members:
            _safe_relative(m.name, archive)
            if not (m.isfile() or m.isdir()):
                raise UnsafeArchiveError(t("archives.special", archive=archive, name=m.name))
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}

        def extract_one(member: tarfile.TarInfo, folder: Path) -> None:
            # Folder attributes are not applied: a read-only folder would refuse its own files.
            tf.extract(member, folder, set_attrs=not member.isdir(), **kwargs)

        return _extract_members(archive, dest, members, extract_one, lambda m: m.name)
