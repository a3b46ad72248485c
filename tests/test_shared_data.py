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


def test_no_hidden_lock_file_is_left_beside_prepared_data(shared, mini_cifar, monkeypatch):  # noqa: F811
    """Issue 21: .raw.lock, .processed.lock and .cifar-100-python.lock stayed in the data folder."""
    archive = shared.data / "cifar100" / "cifar-100-python.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(mini_cifar.read_bytes())
    assert len(cifar100(train=True, transform=None)) == 10  # extracted under its lock
    monkeypatch.setenv("LABUTILS_SMOKE", "1")
    images = dogs_raw_images(progress=False)  # the smoke stand-in archive, extracted under its lock
    prepare_dogs(images, runtime.data_root() / "smoke" / "processed")  # split under its lock
    assert (shared.data / "cifar100" / "cifar-100-python").is_dir() and (shared.data / "smoke" / "processed").is_dir()
    left = sorted(str(p.relative_to(shared.data)) for p in shared.data.rglob("*") if ".lock" in p.name)
    assert left == []


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
    assert leftovers == [], leftovers  # no half-built temporary folder, and no lock file (issue 21)


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


# ---------------------------------------------------------------------------------- a bad file in the read-only share

def _probe_mount(prefix_for) -> list[str] | None:
    """``prefix_for`` if a program run under it really finds a folder read-only (and can write elsewhere)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ro"
        folder.mkdir()
        probe = f"import os\ntry:\n open({str(folder / 'x')!r}, 'w')\nexcept OSError as e:\n print(e.errno)\n"
        try:
            run = subprocess.run([*prefix_for(folder), sys.executable, "-c", probe], capture_output=True, text=True,
                                 timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None
        return prefix_for if run.returncode == 0 and run.stdout.strip() == "30" else None  # EROFS


def _bwrap(folder: Path) -> list[str]:
    return ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(folder), str(folder)]


def _unshare(folder: Path) -> list[str]:
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "-rm", "sh", "-c", script, str(folder)]


_MOUNT: list = []


def read_only_mount():
    """A function giving the command prefix that runs a program with a folder mounted read-only (a real
    read-only bind mount in a private mount namespace: bubblewrap, else ``unshare -rm`` + ``mount``), or None
    where this machine allows neither."""
    if not _MOUNT:
        _MOUNT.append(next((p for p in (_bwrap, _unshare) if _probe_mount(p)), None))
    return _MOUNT[0]


_LAB_IN_A_SHARE = r"""
import json, sys
from pathlib import Path

from labutils import registry, runtime
from labutils.registry import Resource

cfg = json.loads(sys.argv[1])
if cfg["simulate"]:  # no read-only mount on this machine: the check the labs use says no inside the share
    real, share = runtime.is_writable, Path(cfg["simulate"]).resolve()
    runtime.is_writable = lambda folder: not Path(folder).resolve().is_relative_to(share) and real(folder)
entry = registry.get(cfg["name"])
fake = Resource(**{**entry.__dict__, **cfg["entry"]})
registry.get = lambda name: fake
if cfg["name"] == "cifar100":
    from torchvision import datasets as tv

    md5 = cfg["tv_md5"]  # the miniature's own files (see test_lab3_helpers.mini_cifar)
    tv.CIFAR100.train_list, tv.CIFAR100.test_list = [["train", md5["train"]]], [["test", md5["test"]]]
    tv.CIFAR100.meta = {**tv.CIFAR100.meta, "md5": md5["meta"]}
    from labutils.cifar100 import cifar100

    print("RESULT", len(cifar100(train=True)))
elif cfg["name"] == "chest_xray":
    from labutils.chest_xray import chest_xray_root

    print("RESULT", chest_xray_root())
else:
    from labutils.dogs import dogs_raw_images

    print("RESULT", dogs_raw_images(progress=False))
"""


def _xray_zip(path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for split in ("train", "test"):
            zf.writestr(f"chest_xray/{split}/NORMAL/IM-0001-0001.jpeg", b"\xff\xd8 normal " * 500)
            zf.writestr(f"chest_xray/{split}/PNEUMONIA/person1_virus_6.jpeg", b"\xff\xd8 sick " * 500)
    return path


def _bad_share(dataset: str, tmp_path: Path):
    """(good archive on the 'server', its bad copy's bytes, registry overrides, torchvision MD5s, reason shown)."""
    from test_lab3_helpers import make_mini_cifar100_archive

    remote = tmp_path / "remote"
    remote.mkdir()
    if dataset == "chest_xray":  # a truncated ChestXRay2017.zip (no checksum is published: the zip is checked)
        good = _xray_zip(remote / "ChestXRay2017.zip")
        return good, good.read_bytes()[:len(good.read_bytes()) // 2], {"url": good.as_uri()}, None, "не полный zip"
    if dataset == "cifar100":  # a truncated cifar-100-python.tar.gz
        good = make_mini_cifar100_archive(remote / "cifar-100-python.tar.gz")
        with tarfile.open(good) as tf:
            tv_md5 = {n: hashlib.md5(tf.extractfile(f"cifar-100-python/{n}").read()).hexdigest()
                      for n in ("train", "test", "meta")}
        data = good.read_bytes()
        entry = {"url": good.as_uri(), "md5": hashlib.md5(data).hexdigest(), "size_bytes": len(data)}
        return good, data[:len(data) // 2], entry, tv_md5, "ожидалось"
    good = _dogs_tar(remote / "images.tar", tmp_path / "tree")  # an images.tar that does not match the registry
    data = good.read_bytes()
    bad = data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:]
    entry = {"url": good.as_uri(), "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}
    return good, bad, entry, None, "не совпадает"


def _run_lab_in_a_share(dataset, tmp_path, mode, *, offline=False):
    """Run the lab's locator in a child process whose LABUTILS_DATA holds a bad archive and is read-only."""
    import json

    share, cache = tmp_path / "shared", tmp_path / "cache"
    good, bad, entry, tv_md5, reason = _bad_share(dataset, tmp_path)
    resource = registry.get(dataset)
    dest = share / resource.subdir / resource.filename
    dest.parent.mkdir(parents=True)
    dest.write_bytes(bad)
    if offline:
        entry = {**entry, "url": (tmp_path / "remote" / "gone").as_uri()}
    prefix = []
    if mode == "mount":
        mount = read_only_mount()
        if mount is None:
            pytest.skip("no read-only mount can be made here (neither bwrap nor unshare -rm + mount work); "
                        "the 'simulated' variant of this test covers it with the check the labs use")
        prefix = mount(share)
    cfg = {"name": dataset, "entry": entry, "tv_md5": tv_md5, "simulate": str(share) if mode == "simulated" else None}
    env = {k: v for k, v in os.environ.items() if k != "LABUTILS_CHEST_XRAY"}
    env.update(PYTHONPATH=str(ROOT), LABUTILS_DATA=str(share), LABUTILS_CACHE=str(cache), LABUTILS_SMOKE="0",
               LABUTILS_LANG="ru")
    before = _snapshot(share)
    if mode == "simulated":
        _chmod_tree(share, writable=False)
    try:
        run = subprocess.run([*prefix, sys.executable, "-c", _LAB_IN_A_SHARE, json.dumps(cfg)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
    finally:
        _chmod_tree(share, writable=True)
    assert _snapshot(share) == before, "the read-only share was written to"
    return run, dest, cache / resource.subdir / resource.filename, good, reason


@pytest.mark.parametrize("mode", ["mount", "simulated"])
@pytest.mark.parametrize("dataset", ["chest_xray", "cifar100", "stanford_dogs"])
def test_a_bad_archive_in_a_read_only_share_is_explained_and_fetched_into_the_cache(dataset, mode, tmp_path):
    """Issue 21: a truncated or wrong archive in a read-only LABUTILS_DATA stopped Labs 2-4 with
    ``OSError: [Errno 30] Read-only file system: '…' -> '….corrupt'`` and an empty stderr."""
    run, dest, cached, good, reason = _run_lab_in_a_share(dataset, tmp_path, mode)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "Read-only file system" not in out and "RESULT" in run.stdout
    err = run.stderr  # which file, why, that the share is read-only, whom to ask, where the fresh copy goes
    assert str(dest) in err and reason in err, err
    assert "доступна только для чтения" in err and "преподавателю или администратору" in err, err
    assert f"python -m labutils.fetch {dataset}" in err and f"личный кэш (LABUTILS_CACHE): {cached}" in err, err
    assert cached.read_bytes() == good.read_bytes()  # a fresh, verified copy in the per-user cache
    assert not list(dest.parent.glob("*.corrupt*"))


@pytest.mark.parametrize("mode", ["mount", "simulated"])
def test_a_bad_archive_in_a_read_only_share_and_no_network_says_both(mode, tmp_path):
    run, dest, cached, _, reason = _run_lab_in_a_share("stanford_dogs", tmp_path, mode, offline=True)
    assert run.returncode != 0 and "Read-only file system" not in run.stderr
    last = run.stderr.strip().splitlines()
    assert any("DownloadError" in line for line in last), run.stderr
    assert str(dest) in run.stderr and reason in run.stderr and "преподавателю или администратору" in run.stderr
    assert "Скачать свежую копию в ваш личный кэш тоже не удалось" in run.stderr
    assert not cached.exists()


def test_a_bad_shared_file_is_skipped_for_a_verified_copy_in_the_cache(shared, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    archive = _dogs_tar(tmp_path / "remote" / "images.tar", tmp_path / "tree")
    _register_dogs(monkeypatch, archive)
    bad = shared.data / "stanford_dogs" / "images.tar"
    bad.parent.mkdir()
    bad.write_bytes(archive.read_bytes()[:-512])  # truncated
    cached = shared.cache / "stanford_dogs" / "images.tar"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(archive.read_bytes())
    shared.make_read_only()
    assert fetch.download("stanford_dogs", progress=False) == cached
    err = capsys.readouterr().err
    assert str(bad) in err and "только для чтения" in err
    assert f"проверенная копия из вашего личного кэша: {cached}" in err
    shared.assert_untouched()
