"""Runtime settings shared by every lab: smoke mode, device choice, seeding and the data folder.

Smoke mode (``LABUTILS_SMOKE=1``) runs the same notebook cells on a CPU in seconds: synthetic
stand-in data, random weights instead of ImageNet weights, and fewer epochs and batches. It is
opt-in and always announced; without it the labs use real data and real pretrained weights.
"""
from __future__ import annotations

import hashlib
import os
import random
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TypeVar

from .messages import t

SMOKE_ENV = "LABUTILS_SMOKE"
DATA_ENV = "LABUTILS_DATA"
DEVICE_ENV = "LABUTILS_DEVICE"
CACHE_ENV = "LABUTILS_CACHE"
DERIVED_ENV = "LABUTILS_DERIVED"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

T = TypeVar("T")


def is_smoke() -> bool:
    """True when ``LABUTILS_SMOKE`` asks for the quick demo run (all labs).

    Raises ``ValueError`` naming the variable when its value is neither a yes nor a no, so a typo
    never silently switches real training to fake data or the other way round.
    """
    raw = os.environ.get(SMOKE_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(t("runtime.smoke_value", var=SMOKE_ENV, value=os.environ[SMOKE_ENV]))


def pick(real: T, smoke: T) -> T:
    """Return ``smoke`` in smoke mode and ``real`` otherwise (all labs: epochs, steps, sizes).

    >>> EPOCHS = pick(real=10, smoke=1)
    """
    return smoke if is_smoke() else real


_announced: set[str] = set()


def smoke_notice(message: str, *, once_key: str | None = None) -> None:
    """Print a loud one-line banner about something smoke mode replaced (all labs).

    Smoke mode must never be silent: every stand-in dataset and every random-weight model says so.
    The line starts with ``[РЕЖИМ SMOKE]`` (``[SMOKE MODE]`` with ``LABUTILS_LANG=en``).
    ``once_key`` prints a given notice only once per session.
    """
    if once_key is not None:
        if once_key in _announced:
            return
        _announced.add(once_key)
    print(t("runtime.smoke_notice", message=message), file=sys.stdout, flush=True)


def describe_mode() -> str:
    """One line saying which mode the notebook runs in (printed at the top of every lab)."""
    if is_smoke():
        return t("runtime.mode_smoke", var=SMOKE_ENV)
    return t("runtime.mode_full", var=SMOKE_ENV)


def get_device(preferred: str | None = None):
    """Pick the fastest available device: CUDA, then Apple MPS, then CPU (all labs).

    ``preferred`` (or the ``LABUTILS_DEVICE`` variable) forces a device such as ``"cpu"``; asking
    for one that is not available raises ``RuntimeError`` naming it.
    """
    import torch  # lazy: ``import labutils`` loads only this module, and the tooling must not pay for torch

    wanted = preferred or os.environ.get(DEVICE_ENV) or None
    if wanted:
        device = torch.device(wanted)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(t("runtime.no_cuda", device=wanted, var=DEVICE_ENV))
        if device.type == "mps" and not _mps_available():
            raise RuntimeError(t("runtime.no_mps", device=wanted, var=DEVICE_ENV))
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    import torch  # lazy, as in get_device

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed_everything(seed: int = 42, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and PyTorch (CPU and all GPUs) so runs repeat (all labs).

    ``deterministic=True`` also asks PyTorch for deterministic kernels, which can be slower.
    """
    import numpy as np  # lazy, as in get_device
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def project_root() -> Path:
    """The course checkout: the folder holding ``pyproject.toml`` next to this package, else the cwd."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file():
        return here
    return Path.cwd()


def data_root() -> Path:
    """Folder for downloaded and generated data: ``$LABUTILS_DATA`` or ``<checkout>/data`` (all labs).

    The folder is created when it can be; a folder that cannot be created or written (a classroom's
    shared read-only copy) is still returned: the labs only read from it, and everything they
    derive goes where :func:`writable_path` says.
    """
    override = os.environ.get(DATA_ENV)
    root = Path(override).expanduser() if override else project_root() / "data"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # read-only: writable_path() sends derived data elsewhere
    return root


def cache_root() -> Path:
    """Per-user folder for derived data when the data folder is read-only (all labs).

    ``$LABUTILS_CACHE``, else ``$XDG_CACHE_HOME/labutils``, else ``~/.cache/labutils``.
    """
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "labutils"


def is_writable(folder: Path) -> bool:
    """True when files can be created in ``folder`` (created if missing): a real attempt, not ``os.access``.

    ``os.access`` says yes to root on a read-only copy and knows nothing of read-only mounts, so
    the folder is created and a temporary file is made and removed in it.
    """
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def cache_counterpart(path) -> Path:
    """Where :func:`writable_path` puts ``path`` when its folder is read-only (all labs).

    A path inside the data folder keeps its place relative to it (``<data>/stanford_dogs/raw`` →
    ``<cache>/stanford_dogs/raw``); any other path goes to ``<cache>/other/<hash of its folder>/<name>``.
    """
    return _counterpart(path, cache_root())


def _counterpart(path, target: Path) -> Path:
    path, root = Path(path), data_root()
    for base, full in ((root, path), (root.resolve(), path.resolve())):
        try:
            return target / full.relative_to(base)
        except ValueError:
            continue
    digest = hashlib.sha1(str(path.resolve().parent).encode()).hexdigest()[:12]
    return target / "other" / digest / path.name


def derived_root() -> Path | None:
    """``$LABUTILS_DERIVED``: where derived data goes when the data folder is slow storage, or None (all labs).

    Set by :func:`labutils.hosted.setup_environment` on Colab with Google Drive: downloads and run
    results stay on Drive, while extracted archives, splits and smoke stand-ins go to the fast local disk.
    """
    value = os.environ.get(DERIVED_ENV)
    return Path(value).expanduser() if value else None


def derived_candidates(path) -> tuple[Path, ...]:
    """Where derived data for ``path`` may already be: ``path``, its ``$LABUTILS_DERIVED`` counterpart,
    its per-user cache counterpart (all labs: the dataset locators look there before building it)."""
    path = Path(path)
    derived = derived_root()
    found = [path, *([_counterpart(path, derived)] if derived else []), cache_counterpart(path)]
    return tuple(dict.fromkeys(found))


def derived_path(path) -> Path:
    """Where to build derived data (an extraction, a split, a stand-in) for ``path`` (all labs).

    Its ``$LABUTILS_DERIVED`` counterpart when that variable is set (parent created), else
    :func:`writable_path`.
    """
    derived = derived_root()
    if derived is None:
        return writable_path(path)
    moved = _counterpart(path, derived)
    moved.parent.mkdir(parents=True, exist_ok=True)
    return moved


def writable_path(path) -> Path:
    """``path`` itself when its parent folder can be written, else its per-user counterpart (all labs).

    The labs write derived data (extracted archives, Lab 4's split, smoke stand-ins, run results)
    through this, so a classroom can share one read-only ``$LABUTILS_DATA``. The parent folder of
    the returned path exists; the path itself is not created. The first redirection in a session
    is announced once, naming both folders and ``$LABUTILS_CACHE``. Raises ``PermissionError``
    naming both folders when neither can be written.
    """
    path = Path(path)
    if is_writable(path.parent):
        return path
    moved = cache_counterpart(path)
    if not is_writable(moved.parent):
        raise PermissionError(t("runtime.no_writable", path=path.parent, cache=moved.parent, var=CACHE_ENV))
    key = f"writable:{data_root()}"
    if key not in _announced:
        _announced.add(key)
        print(t("runtime.redirect", root=data_root(), cache=cache_root(), var=CACHE_ENV), file=sys.stdout, flush=True)
    return moved


def writable_root(*parts: str) -> Path:
    """The folder ``<data>/<parts...>`` (created), or its per-user counterpart when that is read-only (all labs).

    >>> RUNS_DIR = writable_root("runs", "lab4")
    """
    folder = writable_path(data_root().joinpath(*parts))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def file_lock(path, what="") -> Iterator[bool]:
    """Hold an exclusive lock on the file ``path`` while the block runs, then remove it (Labs 2-4).

    Two students preparing the same data into one shared writable folder take turns: the second
    waits, says so once, and then finds the first one's finished result. Yields True when the lock
    is held; without ``fcntl`` (Windows) nothing is locked (and no file is made) and it yields
    False: the callers still build in unique temporary folders and rename them into place.

    The lock file exists only while someone prepares: the holder removes it before it lets go, so
    nothing is left beside the data. This keeps ``flock``'s guarantee: a process counts the lock
    as taken only when the file it locked is still the one at ``path``; one that waited on a file
    its holder has since removed opens ``path`` anew and waits (or takes it) there.
    """
    try:
        import fcntl  # POSIX only: absent on Windows
    except ImportError:  # pragma: no cover - Windows
        yield False
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _lock_current(path, what, fcntl)
    try:
        yield True
    finally:
        try:
            path.unlink()  # still locked: whoever waits on this file sees it gone and retries
        except OSError:
            pass  # another user's file in a sticky folder: it stays, the lock still works
        os.close(fd)  # releases the lock


def _lock_current(path: Path, what, fcntl) -> int:
    """Open and flock the file now at ``path`` (created if missing); a descriptor whose file is still there."""
    announced = False
    while True:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)  # flock needs no write access
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not announced:
                    print(t("runtime.lock_wait", what=what or path.parent, lock=path), file=sys.stdout, flush=True)
                    announced = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            held = os.fstat(fd)
            try:
                now = os.stat(path)
                if (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                    return fd
            except FileNotFoundError:
                pass  # removed by the holder we waited for
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
