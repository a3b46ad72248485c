import io
import os
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from labutils import archives
from labutils.archives import CorruptArchiveError, UnsafeArchiveError, extract_tar, extract_zip

ROOT = Path(__file__).resolve().parent.parent


def _tar(path, members):
    with tarfile.open(path, "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_tar_extracts_only_kept_members(tmp_path):
    archive = _tar(tmp_path / "images.tar", {"Images/n1-beagle/a.jpg": b"a", "Images/n2-pug/b.jpg": b"b"})
    out = extract_tar(archive, tmp_path / "raw", keep=lambda n: "beagle" in n)
    assert (out / "Images" / "n1-beagle" / "a.jpg").read_bytes() == b"a"
    assert not (out / "Images" / "n2-pug").exists()
    assert archive.exists()


_MACOS_JUNK = {
    "chest_xray/.DS_Store": b"\0\0\0\1Bud1" * 10,
    "chest_xray/train/NORMAL/.DS_Store": b"\0\0\0\1Bud1",
    "chest_xray/train/NORMAL/._IM-0115-0001.jpeg": b"\0\5\26\7 AppleDouble",
    "chest_xray/__MACOSX/train/._x.jpeg": b"\0\5\26\7",  # the Kaggle copy's nested one
    "__MACOSX/chest_xray/train/NORMAL/._IM-0115-0001.jpeg": b"\0\5\26\7 AppleDouble",
}
_KEPT = {"chest_xray/train/NORMAL/IM-0115-0001.jpeg": b"\xff\xd8 x", "chest_xray/train/NORMAL/._/real.jpeg": b"y"}


def _left(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_macos_metadata_is_not_extracted_and_is_named(tmp_path, kind, capsys):
    """Issue 21: .DS_Store files were extracted next to the images; they are skipped and reported by name."""
    members = {**_KEPT, **_MACOS_JUNK}
    if kind == "zip":
        archive = tmp_path / "ChestXRay2017.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        out = extract_zip(archive, tmp_path / "out")
    else:
        out = extract_tar(_tar(tmp_path / "images.tar", members), tmp_path / "out")
    assert _left(out) == sorted(_KEPT)  # "._" only as a whole file name prefix
    text = capsys.readouterr().out
    assert f"служебные файлы macOS не распакованы ({len(_MACOS_JUNK)}" in text
    assert all(name in text for name in _MACOS_JUNK)


def test_many_macos_members_are_counted_after_the_first_ten(tmp_path, capsys):
    archive = _tar(tmp_path / "a.tar", {"x/a.jpg": b"a", **{f"__MACOSX/x/._{i}.jpg": b"" for i in range(13)}})
    extract_tar(archive, tmp_path / "out")
    text = capsys.readouterr().out
    assert "(13:" in text and "… и ещё 3" in text and "._12.jpg" not in text
    assert archives.is_macos_junk("a/.DS_Store") and not archives.is_macos_junk("a/DS_Store.jpg")


@pytest.mark.parametrize("evil", ["../escape.jpg", "Images/../../escape.jpg", "/etc/escape.jpg"])
def test_tar_with_escaping_member_extracts_nothing(tmp_path, evil):
    archive = _tar(tmp_path / "evil.tar", {"Images/ok.jpg": b"ok", evil: b"x"})
    with pytest.raises(UnsafeArchiveError, match="вне целевой папки; ничего не распаковано"):
        extract_tar(archive, tmp_path / "out" / "raw")
    assert not (tmp_path / "out" / "escape.jpg").exists()
    assert not (tmp_path / "escape.jpg").exists()
    assert not (tmp_path / "out" / "raw").exists()


def test_tar_symlink_is_refused(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("Images/link.jpg")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(UnsafeArchiveError, match="ссылка или специальный файл"):
        extract_tar(archive, tmp_path / "raw")


def test_zip_with_escaping_member_extracts_nothing(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("chest_xray/ok.jpeg", b"ok")
        zf.writestr("../escape.jpeg", b"x")
    with pytest.raises(UnsafeArchiveError, match="escape.jpeg"):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "escape.jpeg").exists() and not (tmp_path / "out").exists()


def test_existing_target_is_not_overwritten(tmp_path):
    archive = _tar(tmp_path / "a.tar", {"x.jpg": b"new"})
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "x.jpg").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="raw уже существует"):
        extract_tar(archive, tmp_path / "raw")
    assert (tmp_path / "raw" / "x.jpg").read_bytes() == b"mine"


def _siblings(folder):
    return sorted(p.name for p in folder.iterdir())


def _corrupt_member(archive, name):
    """Overwrite the first byte of ``name``'s deflate stream with 0xFF (block type 3: invalid), so zlib fails."""
    info = zipfile.ZipFile(archive).getinfo(name)
    assert info.compress_type == zipfile.ZIP_DEFLATED
    data = bytearray(archive.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    data[info.header_offset + 30 + name_len + extra_len] = 0xFF
    archive.write_bytes(bytes(data))
    return archive


def _xray_like_zip(path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("chest_xray/", b"")
        zf.writestr("chest_xray/.DS_Store", b"\0\0\0\1Bud1" * 10)
        zf.writestr("chest_xray/train/NORMAL/IM-0115-0001.jpeg", b"\xff\xd8 normal lungs " * 300)
        zf.writestr("chest_xray/test/PNEUMONIA/person1_virus_6.jpeg", b"\xff\xd8 pneumonia " * 300)
        zf.writestr("__MACOSX/chest_xray/train/NORMAL/._IM-0115-0001.jpeg", b"\0\5\26\7 AppleDouble")
    return path


def test_zip_member_with_bad_deflate_data_names_archive_and_member(tmp_path):
    archive = _corrupt_member(_xray_like_zip(tmp_path / "ChestXRay2017.zip"), "chest_xray/test/PNEUMONIA/person1_virus_6.jpeg")
    with pytest.raises(CorruptArchiveError) as info:
        extract_zip(archive, tmp_path / "extracted", keep=lambda n: n.startswith("chest_xray/"))
    text = str(info.value)
    assert str(archive) in text and "'chest_xray/test/PNEUMONIA/person1_virus_6.jpeg' повреждён" in text
    assert "python -m labutils.fetch" in text
    assert _siblings(tmp_path) == ["ChestXRay2017.zip"]  # no extracted/, no .partial folder; archive kept


def _truncated_tar(path, mode):
    with tarfile.open(path, mode) as tf:
        for i in range(4):
            data = os.urandom(20_000)  # incompressible: the cut lands inside a member
            info = tarfile.TarInfo(f"Images/n02085620-Chihuahua/n02085620_{i}.jpg")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) * 6 // 10])
    return path


@pytest.mark.parametrize("name, mode", [("images.tar.gz", "w:gz"), ("images.tar", "w")])
def test_truncated_tar_names_archive_and_member(tmp_path, name, mode):
    archive = _truncated_tar(tmp_path / name, mode)
    with pytest.raises(CorruptArchiveError) as info:
        extract_tar(archive, tmp_path / "raw")
    text = str(info.value)
    assert str(archive) in text and "Images/n02085620-Chihuahua/n02085620_" in text
    assert "повреждён или архив обрезан" in text
    assert _siblings(tmp_path) == [name]


def test_unreadable_gzip_names_the_archive(tmp_path):
    archive = tmp_path / "images.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08\x00" + b"garbage" * 100)
    with pytest.raises(CorruptArchiveError, match="images.tar.gz: архив не читается"):
        extract_tar(archive, tmp_path / "raw")
    assert _siblings(tmp_path) == ["images.tar.gz"]


# Two processes extract the same archive and both reach the final rename at the same moment.
_RACE = """
import os, sys, time
from pathlib import Path
from labutils import archives

archive, dest, sync = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
real_finish = archives._finish

def finish_together(partial, dest):
    (sync / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 30
    while len(list(sync.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    return real_finish(partial, dest)

archives._finish = finish_together
print(archives.extract_zip(archive, dest))
"""


def test_two_processes_extracting_at_once_both_get_a_complete_folder(tmp_path):
    archive = tmp_path / "ChestXRay2017.zip"
    expected = {}
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for split in ("train", "test"):
            for cls in ("NORMAL", "PNEUMONIA"):
                for i in range(20):
                    name = f"chest_xray/{split}/{cls}/IM-{i:04d}-0001.jpeg"
                    expected[name] = f"{split} {cls} {i} ".encode() * 50
                    zf.writestr(name, expected[name])
    dest, sync = tmp_path / "data" / "extracted", tmp_path / "sync"
    sync.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(archive), str(dest), str(sync)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert out.strip() == str(dest)
    assert len(list(sync.iterdir())) == 2  # both really were at the rename together
    got = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert got == expected
    assert _siblings(dest.parent) == ["extracted"]  # the loser's copy is gone


@pytest.mark.skipif(archives.fcntl is None, reason="leftovers are told by their lock where fcntl exists")
def test_only_abandoned_partial_folders_are_removed(tmp_path, capsys):
    archive = _tar(tmp_path / "images.tar", {"Images/n1-beagle/a.jpg": b"a"})
    dead = tmp_path / "raw.partial-111-0badc0de"  # its process was killed: nobody holds its lock
    dead.mkdir()
    (dead / "half.jpg").write_bytes(b"half")
    legacy = tmp_path / "raw.partial"  # the name older versions used
    legacy.mkdir()
    live = tmp_path / "raw.partial-222-c0ffee00"  # another process is extracting into it right now
    live.mkdir()
    other = tmp_path / "raw2.partial-333-12345678"  # some other target's folder
    other.mkdir()
    lock = archives._open_locked(live, wait=False)
    try:
        extract_tar(archive, tmp_path / "raw")
    finally:
        archives.release(lock)
    assert not dead.exists() and not legacy.exists()
    assert live.exists() and other.exists()
    err = capsys.readouterr().err
    assert f"прерванной распаковки: {dead}" in err and str(live) not in err


def test_without_locks_only_old_leftovers_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "fcntl", None)
    old, recent = tmp_path / "raw.partial-1-aaaaaaaa", tmp_path / "raw.partial-2-bbbbbbbb"
    old.mkdir()
    recent.mkdir()
    long_ago = time.time() - archives.ABANDONED_AFTER_S - 60
    os.utime(old, (long_ago, long_ago))
    extract_tar(_tar(tmp_path / "images.tar", {"a.jpg": b"a"}), tmp_path / "raw")
    assert not old.exists() and recent.exists()
    assert (tmp_path / "raw" / "a.jpg").read_bytes() == b"a"
