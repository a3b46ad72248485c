"""A classroom shares one read-only LABUTILS_DATA prepared by ``python -m labutils.fetch --all``.

``fetch --all`` puts only the verified downloads there (``cifar100/cifar-100-python.tar.gz``,
``chest_xray/ChestXRay2017.zip``, ``stanford_dogs/images.tar``, ``weights/*.pth``); every lab
must run from such a folder without writing into it, sending what it derives to the per-user
cache (``LABUTILS_CACHE`` here), and saying so once. Two students preparing the same data into
one writable folder at the same time must end with one complete copy.

Read-only is simulated twice over: the shared tree is chmod-ed to 0o555/0o444 (which stops a
normal user) and ``labutils.runtime.is_writable`` - the one place the labs ask whether a folder
can be written - answers False inside it, because these tests may run as root, for whom chmod
blocks nothing. Each test then snapshots the shared tree (names, sizes, modification times) and
checks that nothing in it changed: a write that bypassed the check would still be caught.
"""
import hashlib
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from labutils import fetch, registry, runtime
from labutils.chest_xray import chest_xray_root
from labutils.cifar100 import CIFAR100_SUPERCLASSES, cifar100, cifar100_archive_superclasses
from labutils.dogs import DOG_BREEDS, dogs_raw_images, prepare_dogs
from labutils.registry import Resource
from labutils.standins import make_image_folder

from test_lab3_helpers import mini_cifar  # noqa: F401  (the fixture, shared with Lab 3's tests)

ROOT = Path(__file__).resolve().parent.parent


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.is_dir(), p.stat().st_size if p.is_file() else 0, p.stat().st_mtime_ns)
            for p in [root, *root.rglob("*")]}


def _chmod_tree(root: Path, writable: bool) -> None:
    for p in [root, *root.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755 if writable else 0o555)
        else:
            p.chmod(0o644 if writable else 0o444)


class Shared:
    """The shared data folder and the per-user cache of one test."""

    def __init__(self, tmp_path, monkeypatch):
        self.data = tmp_path / "shared"
        self.cache = tmp_path / "cache"
        self.data.mkdir()
        self._monkeypatch = monkeypatch
        self._before = None
        monkeypatch.setenv("LABUTILS_DATA", str(self.data))
        monkeypatch.setenv("LABUTILS_CACHE", str(self.cache))
        monkeypatch.setattr(runtime, "_announced", set())

    def make_read_only(self):
        """chmod the tree and make ``is_writable`` say no inside it (see the module docstring)."""
        real = runtime.is_writable
        inside = lambda folder: Path(folder).resolve().is_relative_to(self.data.resolve())  # noqa: E731
        self._monkeypatch.setattr(runtime, "is_writable", lambda folder: not inside(folder) and real(folder))
        _chmod_tree(self.data, writable=False)
        self._before = _snapshot(self.data)

    def assert_untouched(self):
        assert _snapshot(self.data) == self._before

    def release(self):
        _chmod_tree(self.data, writable=True)  # so pytest can remove tmp_path


@pytest.fixture
def shared(tmp_path, monkeypatch):
    folder = Shared(tmp_path, monkeypatch)
    yield folder
    folder.release()


def _redirects(out: str) -> int:
    return out.count("недоступна для записи")


# ---------------------------------------------------------------------------------- runtime

def test_data_root_does_not_fail_on_a_folder_it_cannot_create(tmp_path, monkeypatch):
    target = tmp_path / "readonly" / "data"
    monkeypatch.setenv("LABUTILS_DATA", str(target))

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert runtime.data_root() == target


def test_writable_path_redirects_once_and_keeps_writable_folders(shared, capsys):
    assert runtime.writable_root("runs", "lab4") == shared.data / "runs" / "lab4"  # writable: used as it is
    shared.make_read_only()
    assert runtime.writable_root("runs", "lab4") == shared.cache / "runs" / "lab4"
    assert runtime.writable_path(shared.data / "processed") == shared.cache / "processed"
    assert (shared.cache / "runs" / "lab4").is_dir() and not (shared.cache / "processed").exists()
    out = capsys.readouterr().out
    assert _redirects(out) == 1 and str(shared.cache) in out and "LABUTILS_CACHE" in out
    shared.assert_untouched()


def test_no_writable_folder_at_all_names_both_and_the_variable(shared, monkeypatch):
    monkeypatch.setattr(runtime, "is_writable", lambda folder: False)
    with pytest.raises(PermissionError, match=r"(?s)shared.*cache.*LABUTILS_CACHE"):
        runtime.writable_path(shared.data / "processed")


# ---------------------------------------------------------------------------------- Lab 4

def _dogs_tar(path: Path, staging: Path) -> Path:
    """A small images.tar laid out like Stanford Dogs': Images/<wnid-breed>/<wnid>_<n>.jpg, plus a sixth breed."""
    counts = {folder: 8 for folder in DOG_BREEDS} | {"n02085620-Chihuahua": 3}
    tree = make_image_folder(staging / "Images", counts, size_range=(70, 90), seed=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tf:
        tf.add(tree, arcname="Images")
    return path


def _register_dogs(monkeypatch, archive: Path):
    data = archive.read_bytes()
    entry = registry.get("stanford_dogs")
    fake = Resource(**{**entry.__dict__, "url": archive.as_uri(), "sha256": hashlib.sha256(data).hexdigest(),
                       "size_bytes": len(data)})
    monkeypatch.setattr(registry, "get", lambda name: fake)


def test_lab4_runs_from_a_read_only_copy_of_fetch_all(shared, tmp_path, monkeypatch, capsys):
    """Only images.tar is shared: the five breeds are extracted and split in the cache, said once."""
    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    archive = _dogs_tar(shared.data / "stanford_dogs" / "images.tar", tmp_path / "tree")  # as after fetch --all
    _register_dogs(monkeypatch, archive)
    shared.make_read_only()

    images = dogs_raw_images(progress=False)
    assert images == shared.cache / "stanford_dogs" / "raw" / "Images"
    assert sorted(p.name for p in images.iterdir()) == sorted(DOG_BREEDS)
    prep = prepare_dogs(images, runtime.data_root() / "processed")  # the path the notebook passes
    assert prep.processed == shared.cache / "processed"
    assert sorted(p.name for p in (prep.processed / "train").iterdir()) == sorted(DOG_BREEDS.values())
    assert sum(sum(c.values()) for c in prep.counts.values()) == prep.total == 40
    assert str(shared.cache / "processed") in prep.report()
    assert dogs_raw_images(progress=False) == images  # found again in the cache, archive not re-extracted
    out = capsys.readouterr().out
    assert _redirects(out) == 1, out
    shared.assert_untouched()


def test_lab4_reuses_a_split_already_in_the_read_only_folder(shared, monkeypatch, capsys):
    """An instructor who ran Lab 4 once before sharing: raw/ and processed/ are reused, nothing is written."""
    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    images = make_image_folder(shared.data / "stanford_dogs" / "raw" / "Images", {f: 8 for f in DOG_BREEDS},
                               size_range=(70, 90), seed=5)
    first = prepare_dogs(images, shared.data / "processed")
    shared.make_read_only()
    assert dogs_raw_images(progress=False) == images
    again = prepare_dogs(images, runtime.data_root() / "processed")
    assert again.processed == shared.data / "processed" and again.counts == first.counts
    assert _redirects(capsys.readouterr().out) == 0
    assert not shared.cache.exists()
    shared.assert_untouched()


def test_smoke_mode_stand_ins_go_to_the_cache(shared, capsys):
    shared.make_read_only()
    images = dogs_raw_images(progress=False)
    assert images.is_relative_to(shared.cache) and sorted(p.name for p in images.iterdir()) == sorted(DOG_BREEDS)
    assert prepare_dogs(images, runtime.data_root() / "smoke" / "processed").processed.is_relative_to(shared.cache)
    xray = chest_xray_root()
    assert xray == shared.cache / "smoke" / "chest_xray" and (xray / "train" / "NORMAL").is_dir()
    out = capsys.readouterr().out
    assert _redirects(out) == 1 and "[РЕЖИМ SMOKE]" in out
    shared.assert_untouched()


# ---------------------------------------------------------------------------------- Lab 3

def test_lab3_extracts_a_read_only_archive_into_the_cache(shared, mini_cifar, monkeypatch, capsys):  # noqa: F811
    archive = shared.data / "cifar100" / "cifar-100-python.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(mini_cifar.read_bytes())
    shared.make_read_only()
    assert len(cifar100(train=True, transform=None)) == 10
    assert (shared.cache / "cifar100" / "cifar-100-python" / "meta").is_file()
    monkeypatch.setattr(fetch, "download", lambda name, **kw: pytest.fail("the extracted copy suffices"))
    assert len(cifar100(train=False, transform=None)) == 4
    # the notebook's check of the superclasses passes the shared folder; the cache copy is read
    groups = cifar100_archive_superclasses(runtime.data_root() / "cifar100")
    assert set(groups) == set(CIFAR100_SUPERCLASSES)
    assert _redirects(capsys.readouterr().out) == 1
    shared.assert_untouched()


# ---------------------------------------------------------------------------------- two students at once

_WORKER = r"""
import shutil, sys, time
from pathlib import Path

from labutils.dogs import prepare_dogs

raw, processed, ready, go = sys.argv[1:5]
copy2 = shutil.copy2


def slow_copy2(*args, **kwargs):  # widen the window in which the two runs overlap
    time.sleep(0.01)
    return copy2(*args, **kwargs)


shutil.copy2 = slow_copy2
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.005)
print("PROCESSED", prepare_dogs(raw, processed).processed)
"""


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_processes_preparing_the_same_split_make_one_complete_copy(tmp_path):
    raw = make_image_folder(tmp_path / "raw" / "Images", {f: 12 for f in DOG_BREEDS}, size_range=(70, 90), seed=9)
    reference = prepare_dogs(raw, tmp_path / "single" / "processed").processed
    dest = tmp_path / "shared" / "processed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LABUTILS_DATA": str(tmp_path / "data")}
    go = tmp_path / "go"
    ready = [tmp_path / f"ready{i}" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(raw), str(dest), str(r), str(go)], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for r in ready]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()  # both start preparing at the same moment
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert all(f"PROCESSED {dest}" in out for out in outputs), outputs
    assert _tree(dest) == _tree(reference)
    leftovers = sorted(p.name for p in dest.parent.iterdir() if p != dest)
    assert leftovers == [".processed.lock"], leftovers  # no half-built temporary folder remains


def test_a_file_missing_from_the_read_only_folder_is_downloaded_into_the_cache(shared, tmp_path, monkeypatch, capsys):
    """Lab 4 from a shared folder that lacks images.tar: fetched into the per-user cache, found there next time."""
    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    archive = _dogs_tar(tmp_path / "remote" / "images.tar", tmp_path / "tree")
    _register_dogs(monkeypatch, archive)
    shared.make_read_only()
    path = fetch.download("stanford_dogs", progress=False)
    assert path == shared.cache / "stanford_dogs" / "images.tar" and path.read_bytes() == archive.read_bytes()
    archive.unlink()  # the "server" is gone: the cached copy is verified and reused
    assert fetch.download("stanford_dogs", progress=False) == path
    shared.assert_untouched()
