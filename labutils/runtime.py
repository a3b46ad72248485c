"""Runtime settings shared by every lab: smoke mode, device choice, seeding and the data folder.

Smoke mode (``LABUTILS_SMOKE=1``) runs the same notebook cells on a CPU in seconds: synthetic
stand-in data, random weights instead of ImageNet weights, and fewer epochs and batches. It is
opt-in and always announced; without it the labs use real data and real pretrained weights.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import TypeVar

from .messages import t

SMOKE_ENV = "LABUTILS_SMOKE"
DATA_ENV = "LABUTILS_DATA"
DEVICE_ENV = "LABUTILS_DEVICE"

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
    import torch

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
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed_everything(seed: int = 42, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and PyTorch (CPU and all GPUs) so runs repeat (all labs).

    ``deterministic=True`` also asks PyTorch for deterministic kernels, which can be slower.
    """
    import numpy as np
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
    """Folder for downloaded and generated data: ``$LABUTILS_DATA`` or ``<checkout>/data`` (all labs)."""
    override = os.environ.get(DATA_ENV)
    root = Path(override).expanduser() if override else project_root() / "data"
    root.mkdir(parents=True, exist_ok=True)
    return root
