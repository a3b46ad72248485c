"""labutils: the shared helper package of the lab course on residual networks and transfer learning.

One module per concern (each function's docstring says which lab uses it):

- ``runtime``     smoke mode, device choice, seeding, the data folder
- ``data``        ImageNet normalization and ``denormalize``
- ``imagefolder`` image folders with named errors, the dataset over them, splits
- ``chest_xray``, ``cifar100``, ``dogs``  one module per dataset: locator, preparation, smoke stand-in
- ``archives``    safe extraction of zip and tar archives
- ``standins``    generic synthetic images for smoke mode and tests
- ``registry``    what the course downloads (URL, checksum, size)
- ``fetch``       checked, atomic downloads; ``python -m labutils.fetch``
- ``models``      pretrained torchvision models through the registry; parameter counts
- ``checks``      self-checks with one-line verdicts
- ``messages``    every message shown to a student, Russian by default (``LABUTILS_LANG=en``: English)
- ``plots``       labelled figures used by several labs
- ``assignments`` build and check the student notebooks; ``python -m labutils.assignments``
- ``grade``       the autograder (with ``sandbox`` and ``integrity``); ``python -m labutils.grade``
"""
from .runtime import (data_root, describe_mode, get_device, is_smoke, pick, seed_everything, smoke_notice,
                      writable_root)

__version__ = "0.1.0"
__all__ = ["data_root", "describe_mode", "get_device", "is_smoke", "pick", "seed_everything", "smoke_notice",
           "writable_root"]
