import hashlib

import pytest
import torch
from PIL import Image
from torchvision import datasets, transforms

from labutils.standins import MARKER, class_pattern, is_standin, make_image_folder

COUNTS = {"NORMAL": 6, "PNEUMONIA": 18}  # imbalanced like the chest X-ray set


def _digest(root):
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_folder_tree_has_real_structure(tmp_path):
    root = make_image_folder(tmp_path / "xray", COUNTS, mode="L", size_range=(24, 48), ext=".jpeg")
    ds = datasets.ImageFolder(root)
    assert ds.classes == ["NORMAL", "PNEUMONIA"]
    assert [ds.targets.count(i) for i in range(2)] == [6, 18]
    sizes = set()
    for path, _ in ds.samples:
        assert path.endswith(".jpeg")
        with Image.open(path) as img:
            assert img.mode == "L"
            sizes.add(img.size)
            assert all(24 <= s <= 48 for s in img.size)
    assert len(sizes) > 5, "image sizes should vary"
    assert is_standin(root)


def test_generation_is_deterministic(tmp_path):
    a = make_image_folder(tmp_path / "a", COUNTS, seed=3)
    b = make_image_folder(tmp_path / "b", COUNTS, seed=3)
    c = make_image_folder(tmp_path / "c", COUNTS, seed=4)
    (a / MARKER).unlink(), (b / MARKER).unlink(), (c / MARKER).unlink()
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_same_settings_reuse_the_tree_and_new_settings_replace_it(tmp_path):
    root = make_image_folder(tmp_path / "s", COUNTS)
    first = (root / "NORMAL" / "NORMAL_0000.jpg").stat().st_mtime_ns
    make_image_folder(root, COUNTS)
    assert (root / "NORMAL" / "NORMAL_0000.jpg").stat().st_mtime_ns == first
    make_image_folder(root, {"a": 2, "b": 2})
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["a", "b"]


def test_refuses_to_write_into_user_data(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "scan.jpeg").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="mine"):
        make_image_folder(user, COUNTS)
    assert (user / "scan.jpeg").read_bytes() == b"precious"


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        make_image_folder(tmp_path / "x", COUNTS, mode="CMYK")
    with pytest.raises(ValueError, match="метка 5"):
        class_pattern(5, 3, 8, 8)


def test_standin_is_learnable(tmp_path):
    """A tiny CNN trained for a few dozen steps must lower the loss clearly below its start."""
    classes = {f"class_{i}": 12 for i in range(4)}
    root = make_image_folder(tmp_path / "learn", classes, size_range=(28, 40))
    tf = transforms.Compose([transforms.Resize((24, 24)), transforms.ToTensor()])
    ds = datasets.ImageFolder(root, transform=tf)
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.tensor(ds.targets)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(), torch.nn.Linear(128, 4))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"loss went {losses[0]:.3f} -> {losses[-1]:.3f}"
    assert (net(x).argmax(1) == y).float().mean() > 0.8
