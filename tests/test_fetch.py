import hashlib
import http.server
import struct
import threading
import zipfile
from functools import partial

import pytest
import torch

from labutils import archives, fetch, models, registry
from labutils.fetch import ChecksumError, DownloadError, download, verify
from labutils.registry import Resource

PAYLOAD = b"residual networks " * 5000


def _resource(url, payload=PAYLOAD, **overrides):
    fields = dict(name="sample", url=url, kind="dataset", description="test file",
                  sha256=hashlib.sha256(payload).hexdigest(), size_bytes=len(payload), subdir="downloads")
    fields.update(overrides)
    return Resource(**fields)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "remote" / "sample.bin"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path


@pytest.fixture
def http_url(source):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(source.parent))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{source.name}"
    server.shutdown()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_over_http_checks_and_places_file(http_url, data_dir):
    path = download(_resource(http_url), progress=False)
    assert path == data_dir / "downloads" / "sample.bin"
    assert path.read_bytes() == PAYLOAD
    assert _leftovers(path.parent) == ["sample.bin"]  # no temporary .part file left


def test_verified_copy_is_reused_without_network(source, data_dir):
    download(_resource(source.as_uri()), progress=False)
    source.unlink()  # the "server" is gone now
    assert download(_resource(source.as_uri()), progress=False).read_bytes() == PAYLOAD


def test_corrupt_download_is_rejected_and_leaves_nothing(source, data_dir):
    bad = _resource(source.as_uri(), sha256="0" * 64, size_bytes=None)
    with pytest.raises(ChecksumError, match=r"sha256 .* не совпадает с 0{64}"):
        download(bad, progress=False)
    assert _leftovers(data_dir / "downloads") == []


def test_truncated_download_fails_on_size(source, data_dir):
    res = _resource(source.as_uri(), size_bytes=len(PAYLOAD) + 1)
    with pytest.raises(ChecksumError, match="файл обрезан или это не тот файл"):
        download(res, progress=False)


def test_existing_corrupt_file_is_kept_aside_and_replaced(source, data_dir):
    dest = data_dir / "downloads" / "sample.bin"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"half a file")
    path = download(_resource(source.as_uri()), progress=False)
    assert path.read_bytes() == PAYLOAD
    assert (dest.parent / "sample.bin.corrupt").read_bytes() == b"half a file"


def test_verify_names_the_file(tmp_path):
    f = tmp_path / "weights.pth"
    f.write_bytes(b"not the weights")
    with pytest.raises(ChecksumError, match="weights.pth"):
        verify(f, _resource("file:///nowhere", size_bytes=None))


@pytest.mark.parametrize("lang, opening", [("ru", "Не удалось скачать 'sample'"), ("en", "Could not download 'sample'")])
def test_unreachable_url_explains_what_to_do(data_dir, monkeypatch, lang, opening):
    monkeypatch.setenv("LABUTILS_LANG", lang)
    res = _resource("http://127.0.0.1:9/sample.bin")  # nothing listens on the discard port
    with pytest.raises(DownloadError) as info:
        download(res, progress=False, timeout=5)
    text = str(info.value)
    assert text.startswith(opening)
    assert "python -m labutils.fetch sample" in text
    assert str(data_dir / "downloads" / "sample.bin") in text
    assert "LABUTILS_SMOKE=1" in text
    assert _leftovers(data_dir / "downloads") == []


def test_registry_entries_all_carry_checksums_and_match_torchvision():
    from torchvision.models import get_model_weights

    entries = registry.registry()
    assert {"chest_xray", "cifar100", "stanford_dogs", "resnet18", "resnet50", "resnext50_32x4d", "efficientnet_b0"} <= set(entries)
    for res in entries.values():
        assert res.sha256 or res.md5 or res.content_check, res.name
    for name in ("resnet18", "resnet50", "resnext50_32x4d", "efficientnet_b0"):
        res = entries[name]
        assert res.url == get_model_weights(name).DEFAULT.url
        assert res.filename.split("-")[-1].startswith(res.sha256)
    with pytest.raises(ValueError, match="no checksum"):
        Resource(name="x", url="http://h/x", kind="dataset", description="")
    with pytest.raises(KeyError, match="известные имена"):
        registry.get("imagenet")


def test_cli_lists_and_reports_failures(data_dir, capsys, monkeypatch):
    assert fetch.main(["--list"]) == 0
    assert "resnet18" in capsys.readouterr().out
    bad = _resource("http://127.0.0.1:9/sample.bin")
    monkeypatch.setattr(registry, "registry", lambda: {"sample": bad})
    assert fetch.main(["sample"]) == 1
    captured = capsys.readouterr()
    assert "скачано: 0, с ошибкой: 1 (sample)" in captured.out
    assert "LABUTILS_SMOKE=1" in captured.err


def test_load_pretrained_goes_through_registry(tmp_path, data_dir, monkeypatch):
    """Full mode: the weight file is downloaded, checked and loaded with strict=True."""
    from torchvision.models import get_model

    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    torch.manual_seed(5)
    reference = get_model("resnet18", weights=None)
    blob = tmp_path / "resnet18-test.pth"
    torch.save(reference.state_dict(), blob)
    digest = hashlib.sha256(blob.read_bytes()).hexdigest()
    fake = Resource(name="resnet18", url=blob.as_uri(), kind="weights", description="test weights",
                    sha256=digest[:8], subdir="weights")
    monkeypatch.setattr(models, "weights_resource", lambda member, name=None: fake)
    model = models.load_pretrained("resnet18", progress=False)
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    assert (data_dir / "weights" / "resnet18-test.pth").is_file()


def test_load_pretrained_offline_stops_with_instructions(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    real = registry.weights_resource

    def unreachable(member, name=None):
        res = real(member, name=name)
        return Resource(**{**res.__dict__, "url": "http://127.0.0.1:9/" + res.filename})

    monkeypatch.setattr(models, "weights_resource", unreachable)
    with pytest.raises(DownloadError, match="LABUTILS_SMOKE=1"):
        models.load_pretrained("resnet18", progress=False)


def test_smoke_mode_uses_random_weights_and_says_so(capsys, monkeypatch):
    monkeypatch.setenv("LABUTILS_SMOKE", "1")
    model = models.load_pretrained("resnet18")
    assert "[РЕЖИМ SMOKE] resnet18: СЛУЧАЙНЫЕ веса" in capsys.readouterr().out
    assert not model.training
    assert models.count_parameters(model) == 11_689_512


def _xray_zip(path, folders):
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for folder in folders:
            zf.writestr(f"chest_xray/{folder}/img_0001.jpeg", b"jpeg bytes")
        zf.writestr("__MACOSX/._junk", b"")
    return path


def test_chest_xray_zip_is_checked_by_content(tmp_path, data_dir):
    folders = ["train/NORMAL", "train/PNEUMONIA", "test/NORMAL", "test/PNEUMONIA"]
    good = _xray_zip(tmp_path / "good.zip", folders)
    entry = registry.get("chest_xray")
    res = Resource(**{**entry.__dict__, "url": good.as_uri()})
    assert download(res, progress=False).name == "ChestXRay2017.zip"

    wrong = _xray_zip(tmp_path / "wrong.zip", folders[:3])
    with pytest.raises(ChecksumError, match="нет изображений .jpeg в chest_xray/test/PNEUMONIA"):
        verify(wrong, entry)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ChecksumError, match="не полный zip-архив"):
        verify(truncated, entry)


def test_verified_file_is_rechecked_after_it_changes(source, data_dir):
    path = download(_resource(source.as_uri()), progress=False)
    assert verify(path, _resource(source.as_uri())) == path  # remembered: not hashed again
    path.write_bytes(PAYLOAD[:-10])  # corrupted on disk after the first check
    with pytest.raises(ChecksumError, match="sample.bin"):
        verify(path, _resource(source.as_uri()))


# ---------------------------------------------------------------- damaged chest X-ray zip (no checksum published)

XRAY_MEMBERS = {
    "chest_xray/train/NORMAL/IM-0115-0001.jpeg": b"\xff\xd8 normal lungs " * 300,
    "chest_xray/train/PNEUMONIA/person1_bacteria_1.jpeg": b"\xff\xd8 bacterial " * 300,
    "chest_xray/test/NORMAL/IM-0001-0001.jpeg": b"\xff\xd8 normal test " * 300,
    "chest_xray/test/PNEUMONIA/person1_virus_6.jpeg": b"\xff\xd8 viral " * 300,
    "chest_xray/.DS_Store": b"\0\0\0\1Bud1" * 10,
    "__MACOSX/chest_xray/train/NORMAL/._IM-0115-0001.jpeg": b"\0\5\26\7 AppleDouble",
    "__MACOSX/chest_xray/test/PNEUMONIA/._person1_virus_6.jpeg": b"\0\5\26\7 AppleDouble",
}
DAMAGED = "chest_xray/test/PNEUMONIA/person1_virus_6.jpeg"


def _registry_like_xray_zip(path, damaged=None):
    """Kermany's layout, macOS junk included; ``damaged``'s deflate stream gets an invalid first byte."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder in ("chest_xray/", "chest_xray/train/", "chest_xray/test/"):
            zf.writestr(folder, b"")
        for name, data in XRAY_MEMBERS.items():
            zf.writestr(name, data)
    if damaged:
        info = zipfile.ZipFile(path).getinfo(damaged)
        data = bytearray(path.read_bytes())
        name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
        data[info.header_offset + 30 + name_len + extra_len] = 0xFF  # deflate block type 3: zlib fails
        path.write_bytes(bytes(data))
    return path


def _xray_entry(url):
    return Resource(**{**registry.get("chest_xray").__dict__, "url": url})


def test_damaged_xray_member_fails_verification_naming_it(tmp_path):
    damaged = _registry_like_xray_zip(tmp_path / "ChestXRay2017.zip", damaged=DAMAGED)
    with pytest.raises(ChecksumError) as info:
        verify(damaged, registry.get("chest_xray"))
    text = str(info.value)
    assert str(damaged) in text and f"элемент {DAMAGED!r} повреждён" in text
    intact = _registry_like_xray_zip(tmp_path / "intact.zip")
    assert verify(intact, registry.get("chest_xray")) == intact


def test_fetch_sets_a_damaged_xray_zip_aside(tmp_path, data_dir, capsys, monkeypatch):
    dest = data_dir / "chest_xray" / "ChestXRay2017.zip"
    dest.parent.mkdir(parents=True)
    damaged_bytes = _registry_like_xray_zip(dest, damaged=DAMAGED).read_bytes()
    offline = _xray_entry("http://127.0.0.1:9/x.zip")
    monkeypatch.setattr(registry, "registry", lambda: {"chest_xray": offline})
    assert fetch.main(["chest_xray"]) == 1  # offline: not "ok" with the damaged file
    err = capsys.readouterr().err
    assert DAMAGED in err and "ChestXRay2017.zip.corrupt" in err
    assert not dest.exists() and (dest.parent / "ChestXRay2017.zip.corrupt").read_bytes() == damaged_bytes

    good = _registry_like_xray_zip(tmp_path / "remote.zip")
    online = Resource(**{**offline.__dict__, "url": good.as_uri()})
    monkeypatch.setattr(registry, "registry", lambda: {"chest_xray": online})
    assert fetch.main(["chest_xray"]) == 0  # the advised command really downloads it again
    assert dest.read_bytes() == good.read_bytes()


def test_xray_extraction_failure_sets_the_archive_aside(tmp_path, data_dir, capsys, monkeypatch):
    """An archive damaged after it was verified: extraction fails, and the advised fetch must download it."""
    from labutils.chest_xray import chest_xray_root

    monkeypatch.setenv("LABUTILS_SMOKE", "0")
    monkeypatch.delenv("LABUTILS_CHEST_XRAY", raising=False)
    archive = data_dir / "chest_xray" / "ChestXRay2017.zip"
    archive.parent.mkdir(parents=True)
    _registry_like_xray_zip(archive, damaged=DAMAGED)
    monkeypatch.setattr(fetch, "download", lambda name: archive)  # as if verified earlier in this process
    with pytest.raises(archives.CorruptArchiveError) as info:
        chest_xray_root()
    assert DAMAGED in str(info.value) and "python -m labutils.fetch" in str(info.value)
    assert not archive.exists() and (archive.parent / "ChestXRay2017.zip.corrupt").is_file()
    assert "python -m labutils.fetch chest_xray" in capsys.readouterr().err
    assert _leftovers(archive.parent) == ["ChestXRay2017.zip.corrupt"]  # no extracted/ nor .partial


# ---------------------------------------------------------------- leftovers of killed downloads

@pytest.mark.skipif(archives.fcntl is None, reason="a live download is told by its lock where fcntl exists")
def test_killed_download_leftover_is_removed_but_a_live_one_stays(source, data_dir, capsys):
    folder = data_dir / "downloads"
    folder.mkdir(parents=True)
    stale = folder / ".sample.bin.k3j4h5g6.part"  # the name tempfile.mkstemp gave a download killed by SIGKILL
    stale.write_bytes(PAYLOAD[:1000])
    live = folder / ".sample.bin.a1b2c3d4.part"  # another process is downloading into it right now
    live.write_bytes(PAYLOAD[:10])
    other = folder / ".sample.bin.x.q1w2e3r4.part"  # a different file's download
    other.write_bytes(b"x")
    lock = archives._open_locked(live, wait=False)
    try:
        path = download(_resource(source.as_uri()), progress=False)
    finally:
        archives.release(lock)
    assert path.read_bytes() == PAYLOAD
    assert not stale.exists() and live.exists() and other.exists()
    err = capsys.readouterr().err
    assert f"Удалён недокачанный файл прерванной загрузки: {stale}" in err and str(live) not in err
    assert _leftovers(folder) == sorted([".sample.bin.a1b2c3d4.part", ".sample.bin.x.q1w2e3r4.part", "sample.bin"])


def test_concurrent_downloads_of_one_file_each_use_their_own_part(http_url, data_dir):
    results, errors = [], []

    def fetch_one():
        try:
            results.append(download(_resource(http_url), progress=False))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch_one) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(results) == 3
    assert (data_dir / "downloads" / "sample.bin").read_bytes() == PAYLOAD
    assert _leftovers(data_dir / "downloads") == ["sample.bin"]


def test_offline_mode_names_the_file_and_the_fetch_command(source, data_dir, monkeypatch):
    monkeypatch.setenv("LABUTILS_OFFLINE", "1")
    opened = []
    monkeypatch.setattr(fetch.urllib.request, "urlopen", lambda *a, **k: opened.append(a) or 1 / 0)
    with pytest.raises(DownloadError) as info:
        download(_resource(source.as_uri()), progress=False)
    message = str(info.value)
    assert "python -m labutils.fetch sample" in message and "LABUTILS_OFFLINE" in message
    assert str(data_dir / "downloads" / "sample.bin") in message
    assert not opened and not (data_dir / "downloads").exists()


def test_offline_mode_still_uses_a_verified_copy(source, data_dir, monkeypatch):
    download(_resource(source.as_uri()), progress=False)
    monkeypatch.setenv("LABUTILS_OFFLINE", "1")
    assert download(_resource(source.as_uri()), progress=False).read_bytes() == PAYLOAD


def test_offline_value_is_checked(monkeypatch):
    monkeypatch.setenv("LABUTILS_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="LABUTILS_OFFLINE"):
        fetch.offline()


def test_attached_copy_is_verified_and_used_in_place(source, data_dir, tmp_path, monkeypatch):
    from labutils import hosted

    inputs = tmp_path / "kaggle" / "input"
    bad = inputs / "a-broken-copy" / "sample.bin"
    good = inputs / "my-weights" / "files" / "sample.bin"
    for path, payload in ((bad, PAYLOAD[:-1] + b"!"), (good, PAYLOAD)):
        path.parent.mkdir(parents=True)
        path.write_bytes(payload)
    monkeypatch.setattr(hosted, "KAGGLE_INPUT", inputs)
    monkeypatch.setenv("LABUTILS_OFFLINE", "1")  # found, so nothing is downloaded
    before = sorted((p, p.stat().st_mtime_ns) for p in inputs.rglob("*"))
    assert download(_resource(source.as_uri()), progress=False) == good
    assert sorted((p, p.stat().st_mtime_ns) for p in inputs.rglob("*")) == before  # nothing written there
    assert not (data_dir / "downloads").exists()
