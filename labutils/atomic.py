"""Atomic file writes: readers, and a run that is interrupted, see the old file or the new one, never half.

Used by the grader (reports, gradebook, class summary, the worker's result). ``labutils.training``
still has its own copy for checkpoints (``_atomic_save``); it can move here.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file in the same folder, flushed to
    disk, then ``os.replace``; the temporary file is removed when anything fails."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
