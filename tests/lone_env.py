"""A new student's machine, for tests/test_packaging.py and tests/notebooks/test_lone_notebook.py.

* :func:`build_wheel` builds the course's wheel from a copy of this checkout (nothing is written
  into the checkout) with ``pip wheel . --no-deps --no-build-isolation``.
* :func:`make_env` makes a virtual environment that sees this interpreter's packages through a
  folder of links (a ``.pth`` line), minus the course itself (its editable install included) and
  the instructors' tools: what a hosted notebook has before its first cell runs. No internet is
  needed: torch and the rest are linked, not installed.
* :func:`sandboxed` runs a command in that environment under bubblewrap: no network, the checkout
  not even visible, ``/content`` (Colab's disk) an empty tmpfs, extra binds for ``/kaggle``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BWRAP = shutil.which("bwrap")
SYSTEM_SITE = Path(sysconfig.get_paths()["purelib"])
# Hidden from a new environment: the course package (any install of it, the editable one included) ...
COURSE = ("labutils", "__editable__", "resnet_transfer_course")
# ... and, for a student's notebook, the instructors' tools Colab does not have either.
HIDDEN = (*COURSE, "nbgrader", "nbval", "copydetect")
WHEEL_SOURCES = ("pyproject.toml", "setup.py", "README.md", "labutils", "notebooks")


def sandbox_works() -> bool:
    """True when bubblewrap is installed and may make a sandbox without network here."""
    if BWRAP is None:
        return False
    probe = subprocess.run([BWRAP, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net", "true"],
                           capture_output=True, timeout=60)
    return probe.returncode == 0


def build_wheel(dest: Path) -> Path:
    """The course's wheel, built from a copy of the checkout into ``dest``."""
    src = dest / "src"
    src.mkdir(parents=True)
    for name in WHEEL_SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    wheels = dest / "wheelhouse"
    subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "--quiet",
                    "--disable-pip-version-check", "-w", str(wheels)], cwd=src, check=True, timeout=300)
    found = sorted(wheels.glob("resnet_transfer_course-*.whl"))
    assert len(found) == 1, found
    return found[0]


def make_env(base: Path, hidden: tuple[str, ...] = HIDDEN) -> Path:
    """A virtual environment under ``base``; returns its python. It sees this interpreter's
    packages (pip included) except ``hidden`` ones, and no ``.pth`` hook of theirs."""
    mirror = base / "preinstalled"
    mirror.mkdir(parents=True)
    for entry in SYSTEM_SITE.iterdir():
        if entry.name.endswith(".pth") or entry.name.lower().startswith(hidden) or entry.name == "__pycache__":
            continue
        (mirror / entry.name).symlink_to(entry)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "preinstalled.pth").write_text(f"{mirror}\n")
    return python


def clean_environ(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a student's process: no course variables, no PYTHONPATH, a fresh HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LABUTILS_", "PYTHON", "PIP_", "JUPYTER", "KAGGLE_", "VIRTUAL_ENV", "MPL"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1", **extra)  # matplotlib's own default: inline
    return env


def sandboxed(argv: list[str], *, writable: list[Path], cwd: Path, binds: list[tuple[str, Path, str]] = ()):
    """``argv`` under bubblewrap: system folders read-only, ``writable`` folders read-write, no
    network, no checkout, an empty ``/content``; ``binds`` adds ``("--ro-bind", host, target)`` pairs."""
    args = [BWRAP, "--unshare-net", "--die-with-parent", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--tmpfs", "/content"]
    for folder in ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", str(Path(sys.base_prefix).parent.parent)):
        if Path(folder).exists():
            args += ["--ro-bind", folder, folder]
    for folder in writable:
        args += ["--bind", str(folder), str(folder)]
    for kind, host, target in binds:
        args += [kind, str(host), str(target)]
    return args + ["--chdir", str(cwd), *argv]
