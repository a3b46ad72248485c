"""The registry of everything the course downloads: datasets and pretrained weight files.

Each entry names a URL, the checksum the file must match after download, and its size. Weight
entries are read from torchvision's own weights enums, so the URL is exactly the one torchvision
uses and the checksum is the SHA-256 prefix that torchvision puts into every weight file name
(the same check ``torch.hub`` performs).
"""
from __future__ import annotations

import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable
from urllib.parse import urlparse

from torchvision.models import (EfficientNet_B0_Weights, ResNet18_Weights, ResNet34_Weights, ResNet50_Weights,
                                ResNeXt50_32X4D_Weights)

from .archives import is_damage
from .messages import t

_HUB_HASH = re.compile(r"-([a-f0-9]{8,})\.")


@dataclass(frozen=True)
class Resource:
    """One downloadable file (all labs).

    ``sha256`` may be a full digest or a published prefix; ``md5`` is used where the publisher
    gives only an MD5 (CIFAR-100). ``content_check`` inspects the downloaded file and raises
    ``ValueError`` when it is wrong; it stands in where no checksum is published (the chest X-ray
    zip). At least one check is required: nothing is downloaded unchecked. ``size_bytes`` is
    checked when known; ``approx_mb`` is for messages.
    """

    name: str
    url: str
    kind: str  # "weights" or "dataset"
    description: str
    labs: tuple[int, ...] = ()
    sha256: str | None = None
    md5: str | None = None
    size_bytes: int | None = None
    approx_mb: float | None = None
    subdir: str = "downloads"
    filename: str = field(default="")
    content_check: Callable[[Path], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if not (self.sha256 or self.md5 or self.content_check):
            raise ValueError(f"registry entry {self.name!r} has no checksum: every download must be verified")
        for algo, value in (("sha256", self.sha256), ("md5", self.md5)):
            if value is not None and not re.fullmatch(r"[0-9a-f]{8,64}", value):
                raise ValueError(f"registry entry {self.name!r}: {algo} {value!r} is not lowercase hex")
        if not self.filename:
            object.__setattr__(self, "filename", PurePosixPath(urlparse(self.url).path).name)

    def size_text(self) -> str:
        """The size for messages, in the current language (``"169.0 МБ"``)."""
        if self.size_bytes:
            return t("registry.size_mb", mb=self.size_bytes / 1e6)
        return t("registry.size_approx", mb=self.approx_mb) if self.approx_mb else t("registry.size_unknown")


def weights_resource(weights, *, name: str | None = None, labs: tuple[int, ...] = ()) -> Resource:
    """Registry entry for a torchvision weights enum member, e.g. ``ResNet18_Weights.IMAGENET1K_V1``.

    Used by :func:`labutils.models.load_pretrained` (Labs 1-4).
    """
    url = weights.url
    filename = PurePosixPath(urlparse(url).path).name
    match = _HUB_HASH.search(filename)
    if match is None:
        raise ValueError(f"{weights} has no hash in its file name {filename!r}; cannot verify it")
    label = name or f"{type(weights).__name__}.{weights.name}"
    return Resource(
        name=label,
        url=url,
        kind="weights",
        description=t("registry.weights_description", weights=f"{type(weights).__name__}.{weights.name}"),
        labs=labs,
        sha256=match.group(1),
        # torchvision's "_file_size" is in MiB; messages use MB.
        approx_mb=round(weights.meta["_file_size"] * 1.048576, 1) if "_file_size" in weights.meta else None,
        subdir="weights",
        filename=filename,
    )


def _course_weights() -> dict[str, Resource]:
    entries = [
        ("resnet18", ResNet18_Weights.DEFAULT, (1, 2)),
        ("resnet34", ResNet34_Weights.DEFAULT, (1,)),
        ("resnet50", ResNet50_Weights.DEFAULT, (1, 4)),
        ("resnext50_32x4d", ResNeXt50_32X4D_Weights.DEFAULT, (1, 3)),
        ("efficientnet_b0", EfficientNet_B0_Weights.DEFAULT, (4,)),
    ]
    return {name: weights_resource(w, name=name, labs=labs) for name, w, labs in entries}


CHEST_XRAY_SPLITS = ("train", "test")
CHEST_XRAY_CLASSES = ("NORMAL", "PNEUMONIA")


def _check_members(zf) -> None:
    """Read every member of the open zip ``zf``, checking its CRC; a damaged one raises ``ValueError`` naming it."""
    for info in zf.infolist():
        try:
            with zf.open(info) as member:
                while member.read(1 << 20):
                    pass
        except Exception as exc:
            if not is_damage(exc):
                raise
            raise ValueError(t("registry.bad_member", member=info.filename, error=exc)) from exc


def check_chest_xray_zip(path: Path) -> None:
    """Content check for ChestXRay2017.zip: a complete zip with chest_xray/{train,test}/{NORMAL,PNEUMONIA}/*.jpeg.

    Mendeley publishes no checksum for this archive, so the check is structural: a truncated
    download has no zip directory, a wrong file lacks the folders, and a damaged one fails a
    member's CRC (every member is read once: a few seconds for 1.2 GB; ``fetch.verify`` remembers
    a file that passed, so it is not read again while it stays unchanged).
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as exc:
        raise ValueError(t("registry.not_zip", error=exc)) from exc
    counts = Counter(tuple(n.split("/")[1:3]) for n in names
                     if n.startswith("chest_xray/") and n.lower().endswith(".jpeg"))
    missing = [f"chest_xray/{s}/{c}" for s in CHEST_XRAY_SPLITS for c in CHEST_XRAY_CLASSES if not counts[(s, c)]]
    if missing:
        raise ValueError(t("registry.no_jpegs", folders=", ".join(missing)))
    with zipfile.ZipFile(path) as zf:
        _check_members(zf)


_DATASETS = [
    Resource(
        name="chest_xray",
        url="https://data.mendeley.com/public-files/datasets/rscbjbr9sj/files/"
            "f12eaf6d-6023-432f-acc9-80c9d7393433/file_downloaded",
        kind="dataset",
        description="Chest X-ray pneumonia set, ChestXRay2017.zip (Kermany et al. 2018, Mendeley Data, CC BY 4.0)",
        labs=(2,),
        approx_mb=1200.0,  # "about 1.2 GB"; no exact size or checksum is published
        subdir="chest_xray",
        filename="ChestXRay2017.zip",
        content_check=check_chest_xray_zip,
    ),
    Resource(
        name="cifar100",
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        kind="dataset",
        description="CIFAR-100, python version (Krizhevsky 2009); the archive torchvision.datasets.CIFAR100 reads",
        labs=(3,),
        md5="eb9058c3a382ffc7106e4002c42a8d85",  # torchvision.datasets.CIFAR100.tgz_md5
        size_bytes=169_001_437,
        subdir="cifar100",
    ),
    Resource(
        name="stanford_dogs",
        url="http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar",
        kind="dataset",
        description="Stanford Dogs images (Khosla et al. 2011), 120 breeds; Lab 4 extracts five",
        labs=(4,),
        # Checksum and size as recorded by tensorflow_datasets (url_checksums/stanford_dogs.txt).
        sha256="a443fc2f9a851aa1a7b8e4fa4af94b8459fce2c9f5a2f4dd4669cf9673a4ec58",
        size_bytes=793_579_520,
        subdir="stanford_dogs",
    ),
]


def registry() -> dict[str, Resource]:
    """All registered resources by name: the course's datasets and weight files (all labs)."""
    entries = {r.name: r for r in _DATASETS}
    entries.update(_course_weights())
    return entries


def get(name: str) -> Resource:
    """Look up one registry entry; an unknown name raises ``KeyError`` listing the known ones."""
    entries = registry()
    try:
        return entries[name]
    except KeyError:
        raise KeyError(t("registry.unknown", name=name, known=", ".join(sorted(entries)))) from None
