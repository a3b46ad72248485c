"""Stand-in weight files: random initialisations saved under the registry's own file names (rehearsal).

Each file is the state dict of the torchvision architecture with ``weights=None`` (torchvision's
keys and shapes, 1,000 ImageNet classes), written to ``<data>/weights/<torchvision's file name>``,
exactly where :func:`labutils.models.load_pretrained` looks. Only their checksum differs from the
real files; the rehearsal's kernel accepts exactly these bytes (see :mod:`labutils.rehearse.kernel`).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torchvision.models import get_model

from .. import registry
from ..fetch import destination


def needed(labs: list[int]) -> list[registry.Resource]:
    """The registry's weight entries that the given labs load."""
    return [r for r in registry.registry().values() if r.kind == "weights" and set(r.labs) & set(labs)]


def build(data: Path, labs: list[int]) -> list[Path]:
    """Write one random-initialisation state dict per weight file ``labs`` need; return their paths."""
    written = []
    for resource in needed(labs):
        target = destination(resource, Path(data))
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        model = get_model(resource.name, weights=None, num_classes=1000)
        tmp = target.with_name(target.name + ".tmp")
        torch.save(model.state_dict(), tmp)
        tmp.replace(target)
        written.append(target)
    return written
