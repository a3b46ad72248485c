"""labutils: the shared helper package of the lab course on residual networks and transfer learning.

One module per concern (each function's docstring says which lab uses it):

- ``runtime``     smoke mode, device choice, seeding, the data folder
- ``data``        ImageNet normalization and ``denormalize``
- ``standins``    synthetic stand-in datasets for smoke mode and tests
- ``registry``    what the course downloads (URL, checksum, size)
- ``fetch``       checked, atomic downloads; ``python -m labutils.fetch``
- ``models``      pretrained torchvision models through the registry; parameter counts
- ``checks``      self-checks with one-line verdicts
- ``messages``    every message shown to a student, Russian by default (``LABUTILS_LANG=en``: English)
- ``plots``       labelled figures used by several labs
- ``assignments`` build and check the student notebooks; ``python -m labutils.assignments``
"""
from .runtime import data_root, describe_mode, get_device, is_smoke, pick, seed_everything, smoke_notice

__version__ = "0.1.0"
__all__ = ["data_root", "describe_mode", "get_device", "is_smoke", "pick", "seed_everything", "smoke_notice"]
