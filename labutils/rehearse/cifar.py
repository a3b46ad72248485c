"""Lab 3's stand-in for ``cifar-100-python.tar.gz``: the real pickle format and counts (rehearsal).

The archive holds ``cifar-100-python/{train,test,meta,file.txt~}``; ``train`` and ``test`` are
Python 2 pickles (protocol 2, byte-string keys, read with ``encoding="latin1"``) with ``data``
(N x 3072 uint8, channel planes), ``fine_labels``, ``coarse_labels``, ``filenames`` and
``batch_label``, exactly as Krizhevsky's files. ``full``: 50,000 + 10,000 images (500 + 100 per
class); ``tiny``: 5 + 2 per class. Every class is present, so the lab's check of its superclass
mapping against the archive's coarse labels runs on real structure.
"""
from __future__ import annotations

import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

from ..cifar100 import CIFAR100_CLASSES, CIFAR100_SUPERCLASSES, superclass_index
from ..standins import class_pattern

PER_CLASS = {"full": {"train": 500, "test": 100}, "tiny": {"train": 5, "test": 2}}
FOLDER = "cifar-100-python"


class _Py2Pickler(pickle._Pickler):
    """Pickles ``str`` and ``bytes`` as Python 2 byte strings (opcodes U/T), as cPickle wrote the real files."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_string(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = _save_py2_string
    dispatch[bytes] = _save_py2_string


def py2_pickle(obj) -> bytes:
    """``obj`` pickled the way the real CIFAR files were (protocol 2, Python 2 strings)."""
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def _patterns(seed: int) -> np.ndarray:
    """One 32x32 class pattern per class, uint8 [100, 32, 32, 3]: images vary from it by shift and noise."""
    rng = np.random.default_rng(seed)
    return np.stack([(class_pattern(c, 100, 32, 32, rng=rng) * 255).astype(np.uint8) for c in range(100)])


def batch(split: str, per_class: int, seed: int = 0) -> dict:
    """The ``train`` or ``test`` pickle's dict: shuffled images of every class, in the real keys."""
    rng = np.random.default_rng([seed, len(split)])
    fine = np.repeat(np.arange(100), per_class)
    rng.shuffle(fine)
    patterns = _patterns(seed)
    shifts = rng.integers(0, 32, size=(len(fine), 2))
    noise = rng.integers(-20, 21, size=(len(fine), 32, 32, 3), dtype=np.int16)
    images = np.empty((len(fine), 32, 32, 3), dtype=np.uint8)
    for i, (label, (dy, dx)) in enumerate(zip(fine, shifts)):
        rolled = np.roll(patterns[label], (int(dy), int(dx)), axis=(0, 1)).astype(np.int16)
        images[i] = np.clip(rolled + noise[i], 0, 255)
    coarse = superclass_index(CIFAR100_CLASSES)
    return {"filenames": [f"{CIFAR100_CLASSES[f]}_s_{i:06d}.png" for i, f in enumerate(fine)],
            "batch_label": f"{split}ing batch 1 of 1",
            "fine_labels": [int(f) for f in fine],
            "coarse_labels": [int(coarse[f]) for f in fine],
            "data": images.transpose(0, 3, 1, 2).reshape(len(fine), 3072)}  # channel planes, like the real rows


def _add(tf: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(f"{FOLDER}/{name}")
    info.size = len(payload)
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(payload))


def build(data: Path, scale: str) -> tuple[Path, dict[str, str]]:
    """Write ``<data>/cifar100/cifar-100-python.tar.gz``; return it and the MD5 of each member file.

    The MD5s are what torchvision's own integrity check compares the extracted files with; the
    rehearsal's kernel points that check at them (see :mod:`labutils.rehearse.kernel`).
    """
    target = Path(data) / "cifar100" / "cifar-100-python.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    members = {split: py2_pickle(batch(split, n)) for split, n in PER_CLASS[scale].items()}
    members["meta"] = py2_pickle({"fine_label_names": list(CIFAR100_CLASSES),
                                  "coarse_label_names": list(CIFAR100_SUPERCLASSES)})
    md5 = {name: hashlib.md5(payload).hexdigest() for name, payload in members.items()}
    tmp = target.with_name(target.name + ".tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tf:
        folder = tarfile.TarInfo(FOLDER)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(folder)
        for name in ("meta", "test", "train"):
            _add(tf, name, members[name])
        _add(tf, "file.txt~", b"")  # the real archive carries this editor backup file
    tmp.replace(target)
    return target, md5
