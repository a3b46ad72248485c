"""Image-folder scan and load_image on hostile files: decompression bombs, 16-bit grayscale,
macOS metadata, truncated JPEGs (Labs 2 and 4). Every tree is built here, in tmp_path."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from labutils.imagefolder import ImageListDataset, ImageReadError, ScanResult, _to_8bit, load_image, scan_image_folder
from labutils.standins import make_image_folder


def _bomb_png(width=20000, height=20000) -> bytes:
    """A 1×1 PNG whose IHDR claims ``width``×``height`` (CRC fixed): a few dozen bytes."""
    buf = io.BytesIO()
    Image.new("L", (1, 1), 0).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _xray_tree(tmp_path):
    return make_image_folder(tmp_path / "train", {"NORMAL": 2, "PNEUMONIA": 2}, mode="L", size_range=(40, 60),
                             ext=".jpeg")


# --- 1. decompression bombs are skipped by name, and load_image names them -----------------------

def test_bomb_png_is_skipped_by_the_scan_and_named_by_load_image(tmp_path):
    root = _xray_tree(tmp_path)
    bomb = root / "NORMAL" / "huge.png"
    bomb.write_bytes(_bomb_png())
    assert bomb.stat().st_size < 100
    for decode in (True, False):
        scan = scan_image_folder(root, ["NORMAL", "PNEUMONIA"], decode=decode)
        reasons = dict(scan.skipped)
        assert "слишком большое изображение" in reasons[str(bomb)]
        assert str(bomb) not in dict(scan.samples) and len(scan.samples) == 4
        assert "huge.png: слишком большое" in scan.report()
    with pytest.raises(ImageReadError, match=r"huge\.png.*слишком большое"):
        load_image(bomb, "L")
    with pytest.raises(ImageReadError, match=r"huge\.png"):
        ImageListDataset([(str(bomb), 0)], ["NORMAL", "PNEUMONIA"], mode="L")[0]
    assert bomb.read_bytes() == _bomb_png()  # nothing touched


# --- 2. 16-bit grayscale keeps its gradient instead of turning white ---------------------------

def test_16bit_png_gradient_loads_as_a_scaled_8bit_image(tmp_path):
    gradient = np.tile(np.arange(256, dtype=np.uint16) * 257, (8, 1))  # 0 .. 65535 across the width
    path = tmp_path / "xray16.png"
    Image.fromarray(gradient).save(path)
    with Image.open(path) as raw:
        assert raw.mode in ("I;16", "I")  # how Pillow opens a 16-bit grayscale PNG
    image = load_image(path, "L")
    values = np.asarray(image)
    assert image.mode == "L" and values.dtype == np.uint8
    assert values.min() == 0 and values.max() == 255 and len(np.unique(values)) == 256
    assert (values == (gradient >> 8)).all()  # follows the gradient: divided by 256
    rgb = np.asarray(load_image(path, "RGB"))
    assert (rgb[..., 0] == values).all() and (rgb[..., 2] == values).all()


def test_16bit_scaling_rule_for_each_wide_mode():
    ramp = np.arange(0, 65536, 4096, dtype=np.uint32)  # 16 steps
    big_endian = Image.frombytes("I;16B", (16, 1), ramp.astype(">u2").tobytes())
    assert (np.asarray(_to_8bit(big_endian))[0] == ramp >> 8).all()
    as_int = Image.fromarray(ramp.astype(np.int32).reshape(1, 16))
    assert as_int.mode == "I" and (np.asarray(_to_8bit(as_int))[0] == ramp >> 8).all()
    small = Image.fromarray(np.array([[0, 100, 255]], dtype=np.int32))  # already 8-bit values: kept
    assert (np.asarray(_to_8bit(small)) == [[0, 100, 255]]).all()
    wide = Image.fromarray(np.array([[-5, 0, 1 << 20, 1 << 21]], dtype=np.int32))  # beyond 16 bits: by the max
    assert (np.asarray(_to_8bit(wide)) == [[0, 0, 127, 255]]).all()


# --- 3. macOS metadata is listed, not silently dropped -------------------------------------------

def test_macos_metadata_is_listed_in_the_report(tmp_path):
    root = _xray_tree(tmp_path)
    normal = root / "NORMAL"
    (normal / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 50)
    (normal / "._NORMAL_0000.jpeg").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    (normal / "__MACOSX").mkdir()
    (normal / "__MACOSX" / "._x.jpeg").write_bytes(b"\x00\x05\x16\x07")
    (root / "__MACOSX" / "NORMAL").mkdir(parents=True)  # a zip made on a Mac, extracted as is
    (root / "__MACOSX" / "NORMAL" / "._NORMAL_0000.jpeg").write_bytes(b"\x00\x05\x16\x07")

    scan = scan_image_folder(root)
    assert scan.classes == ["NORMAL", "PNEUMONIA"]  # __MACOSX is not a class
    reasons = dict(scan.skipped)
    macos_file = "служебный файл macOS, не изображение"
    assert reasons[str(normal / ".DS_Store")] == reasons[str(normal / "._NORMAL_0000.jpeg")] == macos_file
    assert reasons[str(normal / "__MACOSX")] == "служебная папка macOS, не изображения"
    assert reasons[str(root / "__MACOSX")] == "служебная папка macOS, не изображения"
    assert len(scan.samples) == 4
    report = scan.report()
    assert "пропущено файлов: 4" in report and ".DS_Store: служебный файл macOS" in report
    assert (normal / ".DS_Store").exists() and (root / "__MACOSX").is_dir()  # nothing deleted

    fixed = scan_image_folder(root, ["NORMAL", "PNEUMONIA"])  # explicit classes: the root is not listed
    assert len(fixed.skipped) == 3


def test_report_lists_a_limited_number_of_skipped_files(tmp_path):
    scan = ScanResult(root=tmp_path, classes=["a"], samples=[(str(tmp_path / "a" / "x.jpg"), 0)],
                      skipped=[(f"a/._{i}.jpg", "служебный файл macOS") for i in range(60)])
    lines = scan.report(limit=10).splitlines()
    assert len(lines) == 2 + 10 + 1 and "пропущено файлов: 60" in lines[1]
    assert "… и ещё 50" in lines[-1]
    assert len(scan.report().splitlines()) == 2 + 50 + 1  # default limit 50


# --- 4. the default scan decodes, so a truncated JPEG is caught before training ------------------

def test_default_scan_skips_a_truncated_jpeg_by_name(tmp_path):
    root = make_image_folder(tmp_path / "train", {"NORMAL": 2, "PNEUMONIA": 2}, mode="L", size_range=(200, 260),
                             ext=".jpeg")
    whole = (root / "PNEUMONIA" / "PNEUMONIA_0000.jpeg").read_bytes()
    cut = root / "PNEUMONIA" / "cut.jpeg"
    cut.write_bytes(whole[: len(whole) // 2])

    scan = scan_image_folder(root, ["NORMAL", "PNEUMONIA"])  # as Lab 2's notebook calls it
    reasons = dict(scan.skipped)
    assert "обрезан" in reasons[str(cut)]
    assert str(cut) not in dict(scan.samples) and len(scan.samples) == 4
    assert "cut.jpeg: не декодируется" in scan.report()
    assert cut.read_bytes() == whole[: len(whole) // 2]

    headers_only = scan_image_folder(root, ["NORMAL", "PNEUMONIA"], decode=False)
    assert str(cut) in dict(headers_only.samples)  # the switch still works
