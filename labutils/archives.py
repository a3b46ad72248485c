"""Safe extraction of downloaded archives (Lab 2: the chest X-ray zip; Lab 4: Stanford Dogs tar).

Every member is checked before anything is written: absolute paths, ``..`` components, links and
special files are refused with an error naming the member. Extraction goes to a ``.partial``
folder that is renamed into place only when complete, so an interrupted run leaves no half tree.
The archive itself is never deleted.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable

from .messages import t


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the target folder, or is a link or special file."""


def _safe_relative(name: str, archive: Path) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise UnsafeArchiveError(t("archives.outside", archive=archive, name=name))
    return path


def _finish(partial: Path, dest: Path) -> Path:
    if dest.exists():
        raise FileExistsError(t("archives.exists", dest=dest))
    os.replace(partial, dest)
    return dest


def _fresh_partial(dest: Path) -> Path:
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)  # our own leftover from an interrupted extraction
    partial.mkdir(parents=True)
    return partial


def extract_zip(archive, dest, *, keep: Callable[[str], bool] = lambda name: True) -> Path:
    """Extract the members of a zip file for which ``keep(name)`` is true into ``dest`` (Lab 2).

    A corrupt member fails its CRC check and raises ``zipfile.BadZipFile`` naming the archive.
    """
    archive, dest = Path(archive), Path(dest)
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if keep(m.filename)]
        for m in members:
            _safe_relative(m.filename, archive)
            if (m.external_attr >> 16) & 0o170000 == 0o120000:
                raise UnsafeArchiveError(t("archives.symlink", archive=archive, name=m.filename))
        partial = _fresh_partial(dest)
        try:
            for m in members:
                zf.extract(m, partial)
        except zipfile.BadZipFile as exc:
            shutil.rmtree(partial)
            raise zipfile.BadZipFile(t("archives.bad_zip", archive=archive, error=exc)) from exc
    return _finish(partial, dest)


def extract_tar(archive, dest, *, keep: Callable[[str], bool] = lambda name: True) -> Path:
    """Extract the members of a tar file for which ``keep(name)`` is true into ``dest`` (Lab 4)."""
    archive, dest = Path(archive), Path(dest)
    with tarfile.open(archive) as tf:
        members = [m for m in tf.getmembers() if keep(m.name)]
        for m in members:
            _safe_relative(m.name, archive)
            if not (m.isfile() or m.isdir()):
                raise UnsafeArchiveError(t("archives.special", archive=archive, name=m.name))
        partial = _fresh_partial(dest)
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tf.extractall(partial, members=members, **kwargs)
    return _finish(partial, dest)
