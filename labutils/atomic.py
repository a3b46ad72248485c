"""Atomic file writes: readers, and a run that is interrupted, see the old file or the new one, never half.

Used by the grader (reports, gradebook, class summary, the worker's result) and by Lab 4's resumable
training (:mod:`labutils.training`: checkpoints and ``results.json``).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def replacing(path: Path):
    """Yield a temporary path in ``path``'s folder to write to; when the block ends, it replaces ``path``
    (``os.replace``). When the block raises, the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file in the same folder, flushed to
    disk, then ``os.replace``; the temporary file is removed when anything fails."""
    with replacing(path) as tmp, open(tmp, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
