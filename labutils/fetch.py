"""Download registry files with a progress bar, a checksum check and an atomic write (all labs).

Command line, for preparing a classroom without internet::

    python -m labutils.fetch --list          # what can be fetched, with sizes
    python -m labutils.fetch resnet18        # one entry
    python -m labutils.fetch --all           # everything the course uses

Files land under ``data/`` (or ``$LABUTILS_DATA``); copy that folder to the offline machines.

Each download writes its own hidden ``.<file>.<random>.part`` next to the target and moves it into
place with ``os.replace`` once checked, so two processes fetching the same file (a classroom
sharing ``data/``) never mix their bytes: the last complete copy wins. The ``.part`` is locked
(``fcntl.flock``) while its download runs; a ``.part`` whose lock is free was left by a killed
run and is removed before the next download of that file (see :mod:`labutils.archives`).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from . import hosted
from . import registry as _registry
from . import runtime as _runtime
from .archives import claim_new, release, remove_if_abandoned
from .messages import has, t
from .registry import Resource
from .runtime import SMOKE_ENV, cache_counterpart, data_root, writable_path

CHUNK = 1 << 20
OFFLINE_ENV = "LABUTILS_OFFLINE"


def offline() -> bool:
    """True when ``LABUTILS_OFFLINE`` forbids downloads (a classroom or Kaggle without internet);
    a value that is neither a yes nor a no raises ``ValueError`` naming the variable."""
    raw = os.environ.get(OFFLINE_ENV, "").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(t("fetch.offline_value", var=OFFLINE_ENV, value=os.environ[OFFLINE_ENV]))


class DownloadError(RuntimeError):
    """A registry file could not be fetched; the message says how to get it by hand."""


class ChecksumError(RuntimeError):
    """A file does not match the checksum or size recorded in the registry."""


def destination(resource: Resource, root: Path | None = None) -> Path:
    """Where ``resource`` lives on disk: ``<data root>/<subdir>/<filename>``."""
    return Path(root or data_root()) / resource.subdir / resource.filename


def _digests(resource: Resource):
    algos = {}
    if resource.sha256:
        algos["sha256"] = hashlib.sha256()
    if resource.md5:
        algos["md5"] = hashlib.md5()
    return algos


def _compare(resource: Resource, path: Path, algos: dict, size: int) -> None:
    if resource.size_bytes is not None and size != resource.size_bytes:
        raise ChecksumError(t("fetch.size_mismatch", path=path, size=size, want=resource.size_bytes,
                                name=resource.name))
    for algo, h in algos.items():
        expected = getattr(resource, algo)
        got = h.hexdigest()
        if not got.startswith(expected):
            raise ChecksumError(t("fetch.checksum_mismatch", path=path, algo=algo, got=got[:len(expected)],
                                    want=expected, name=resource.name))


def _inspect(resource: Resource, path: Path, shown: Path) -> None:
    """Run the resource's content check on ``path``; report problems under the name ``shown``."""
    if resource.content_check is None:
        return
    try:
        resource.content_check(path)
    except ValueError as exc:
        raise ChecksumError(t("fetch.content", path=shown, error=exc, name=resource.name)) from exc


_verified: set[tuple] = set()  # (path, size, mtime, checksums) already checked in this process
_rejected: dict[tuple, "ChecksumError"] = {}  # files that failed, left in place (a read-only folder)


def _stamp(path: Path, resource: Resource) -> tuple:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns, resource.sha256, resource.md5, resource.name)


def verify(path: Path, resource: Resource) -> Path:
    """Check ``path`` against the registry's checksum and size; raise ``ChecksumError`` naming it.

    A file already verified in this process, unchanged since (same size and modification time),
    is not hashed again: Lab 4 loads the same 100 MB weight file a dozen times.
    """
    path = Path(path)
    stamp = _stamp(path, resource)
    if stamp in _verified:
        return path
    if stamp in _rejected:  # unchanged since it failed: the same verdict without reading it again
        raise _rejected[stamp]
    algos = _digests(resource)
    size = 0 if algos else path.stat().st_size  # no digest to compute: the content check reads the file
    with open(path, "rb") as f:
        while algos and (chunk := f.read(CHUNK)):
            size += len(chunk)
            for h in algos.values():
                h.update(chunk)
    try:
        _compare(resource, path, algos, size)
        _inspect(resource, path, path)
    except ChecksumError as exc:
        _rejected[stamp] = exc
        raise
    _verified.add(stamp)
    return path


def _manual_help(resource: Resource, dest: Path) -> str:
    return t("fetch.manual_help", name=resource.name, dest=dest, subdir=resource.subdir, url=resource.url,
             smoke=SMOKE_ENV)


def _move_aside(path: Path) -> Path:
    """Rename ``path`` to ``*.corrupt`` (``*.corrupt1``, ... when taken) instead of deleting it."""
    aside = path.with_name(path.name + ".corrupt")
    n = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt{n}")
        n += 1
    os.replace(path, aside)
    return aside


def _set_aside(path: Path, reason: Exception) -> Path:
    """Rename a file that failed its check to ``*.corrupt`` and say that a fresh copy comes next."""
    aside = _move_aside(path)
    print(t("fetch.set_aside", reason=reason, aside=aside), file=sys.stderr)
    return aside


def _reject(path: Path, reason: ChecksumError) -> bool:
    """Deal with a file of the data folder that failed its check; True when it had to stay in place.

    Where its folder can be written the file is renamed ``*.corrupt`` (see :func:`_set_aside`). A
    read-only folder (a classroom's shared copy; :func:`labutils.runtime.is_writable` says so, or
    the rename is refused) is never touched: the caller reports it and fetches into the cache.
    """
    if _runtime.is_writable(path.parent):
        try:
            _set_aside(path, reason)
            return False
        except FileNotFoundError:
            return False  # another process set it aside first
        except OSError:
            pass  # refused after all (a read-only mount, no permission): leave it where it is
    return True


def _shared_bad(resource: Resource, path: Path, reason: Exception, then: str) -> str:
    return t("fetch.shared_bad", reason=reason, folder=path.parent, name=resource.name, then=then)


def set_aside_damaged(path: Path, name: str) -> Path | None:
    """Set aside a downloaded archive that turned out damaged on extraction (Lab 2), so the next run
    (or ``python -m labutils.fetch <name>``) downloads it again; None where it cannot be moved
    (a read-only shared folder)."""
    try:
        aside = _move_aside(Path(path))
    except OSError:
        return None
    print(t("fetch.kept_aside", aside=aside, name=name), file=sys.stderr)
    return aside


def _new_part(dest: Path) -> Path:
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    return Path(name)


def _remove_stale_parts(dest: Path) -> None:
    """Remove ``.part`` files of ``dest`` left by killed downloads; those of live downloads stay."""
    pattern = re.compile(rf"\.{re.escape(dest.name)}\.[A-Za-z0-9_]+\.part")
    for entry in dest.parent.iterdir():
        if not (pattern.fullmatch(entry.name) and entry.is_file()):
            continue
        try:
            size = entry.stat().st_size
        except OSError:
            continue
        if remove_if_abandoned(entry):
            print(t("fetch.stale_part", path=entry, mb=size / 1e6), file=sys.stderr)


def _stream(resource: Resource, dest: Path, progress: bool, timeout: float) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(dest)
    tmp, lock = claim_new(lambda: _new_part(dest))  # locked until placed: never taken for a leftover
    placed = False
    try:
        try:
            response = urllib.request.urlopen(resource.url, timeout=timeout)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DownloadError(t("fetch.cannot_download", name=resource.name, size=resource.size_text(),
                                  url=resource.url, error=exc, help=_manual_help(resource, dest))) from exc
        algos = _digests(resource)
        size = 0
        with response, open(tmp, "wb") as out:
            total = response.headers.get("Content-Length")
            bar = tqdm(
                total=int(total) if total and total.isdigit() else None,
                unit="B", unit_scale=True, unit_divisor=1024,
                desc=resource.filename, disable=not progress,
            )
            with bar:
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except OSError as exc:
                        raise DownloadError(t("fetch.broke_off", name=resource.name, url=resource.url, size=size,
                                              error=exc, help=_manual_help(resource, dest))) from exc
                    if not chunk:
                        break
                    out.write(chunk)
                    size += len(chunk)
                    for h in algos.values():
                        h.update(chunk)
                    bar.update(len(chunk))
        _compare(resource, Path(resource.url), algos, size)
        _inspect(resource, tmp, Path(resource.url))
        os.replace(tmp, dest)
        placed = True
        _verified.add(_stamp(dest, resource))  # just checked: not read again in this process
    finally:
        if not placed:
            tmp.unlink(missing_ok=True)
        release(lock)


def download(resource: Resource | str, root: Path | None = None, *, progress: bool = True,
             extra_locations: tuple[Path, ...] = (), timeout: float = 60.0) -> Path:
    """Return a verified local copy of ``resource``, downloading it if needed (all labs).

    An existing copy under ``root`` (default ``data/``), in ``extra_locations`` or among the
    attached datasets (Kaggle's ``/kaggle/input``: a file of the same name, see
    :func:`labutils.hosted.input_files`) is reused after its checksum passes. With
    ``LABUTILS_OFFLINE=1`` a missing file raises ``DownloadError`` naming it and the
    ``python -m labutils.fetch NAME`` command instead of being downloaded. A copy that fails is
    renamed ``*.corrupt`` (never deleted) and fetched again. The download goes to a temporary file in the target folder and is moved into place
    only after the checksum matches, so an interrupted download never leaves a half file behind;
    the ``.part`` file of a killed download is removed before the next download of the same file.

    A classroom's shared read-only data folder: a missing file is fetched into the per-user cache
    (:func:`labutils.runtime.writable_path`). A file there that fails its check is left untouched;
    the message names it, says why it failed, that the folder is read-only and that the instructor
    or administrator should replace it, and a verified copy in the cache is used, or a fresh one
    is downloaded there. When that download fails too, ``DownloadError`` says both.
    """
    if isinstance(resource, str):
        resource = _registry.get(resource)
    dest = destination(resource, root)
    # a classroom's shared read-only data folder: a missing file goes to the per-user cache instead
    cached = cache_counterpart(dest)
    shared_bad = None  # why the shared folder's own copy was rejected, when it had to stay there
    attached = tuple(hosted.input_files(resource.filename))  # Kaggle's /kaggle/input, read-only
    for candidate in (dest, *([cached] if cached != dest else []), *extra_locations, *attached):
        if not candidate.is_file():
            continue
        try:
            found = verify(candidate, resource)
        except ChecksumError as exc:
            if candidate != dest:
                print(t("fetch.ignoring", error=exc), file=sys.stderr)
            elif _reject(candidate, exc):
                shared_bad = exc
            continue
        if shared_bad is not None:
            print(_shared_bad(resource, dest, shared_bad, t("fetch.shared_using", path=found)), file=sys.stderr)
        return found
    if offline():
        raise DownloadError(t("fetch.offline", name=resource.name, size=resource.size_text(), var=OFFLINE_ENV,
                              dest=dest, subdir=resource.subdir, url=resource.url))
    try:
        target = writable_path(dest)
    except PermissionError as exc:
        if shared_bad is None:
            raise
        raise PermissionError(_shared_bad(resource, dest, shared_bad, str(exc))) from exc
    if shared_bad is not None:
        print(_shared_bad(resource, dest, shared_bad, t("fetch.shared_fetching", path=target)), file=sys.stderr,
              flush=True)
    try:
        _stream(resource, target, progress, timeout)
    except DownloadError as exc:
        if shared_bad is None:
            raise
        raise DownloadError(_shared_bad(resource, dest, shared_bad, t("fetch.shared_failed", error=exc))) from exc
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m labutils.fetch",
        description=t("fetch.cli_description"),
    )
    parser.add_argument("names", nargs="*", help=t("fetch.cli_names"))
    parser.add_argument("--all", action="store_true", help=t("fetch.cli_all"))
    parser.add_argument("--list", action="store_true", help=t("fetch.cli_list"))
    parser.add_argument("--dest", type=Path, default=None, help=t("fetch.cli_dest"))
    args = parser.parse_args(argv)

    entries = _registry.registry()
    if args.list or not (args.names or args.all):
        for r in entries.values():
            labs = ",".join(map(str, r.labs)) or "-"
            key = f"registry.description.{r.name}"
            description = t(key) if has(key) else r.description
            print(t("fetch.cli_entry", name=r.name, kind=r.kind, labs=labs, size=r.size_text(),
                    description=description))
        return 0 if args.list else 2
    unknown = [n for n in args.names if n not in entries]
    if unknown:
        parser.error(t("fetch.cli_unknown", names=", ".join(unknown), known=", ".join(entries)))
    chosen = list(entries.values()) if args.all else [entries[n] for n in args.names]
    failed = []
    for r in chosen:
        try:
            path = download(r, args.dest)
            print(t("fetch.cli_ok", name=r.name, path=path))
        except (DownloadError, ChecksumError) as exc:
            failed.append(r.name)
            print(t("fetch.cli_fail", name=r.name, error=exc), file=sys.stderr)
    if failed:
        print(t("fetch.cli_summary_names", ok=len(chosen) - len(failed), failed=len(failed), names=", ".join(failed)))
    else:
        print(t("fetch.cli_summary", ok=len(chosen), failed=0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
