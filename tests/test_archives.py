import io
import tarfile
import zipfile

import pytest

from labutils.archives import UnsafeArchiveError, extract_tar, extract_zip


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
