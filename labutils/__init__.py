"""labutils: the shared helper package of the lab course on residual networks and transfer learning.

The tree shows its three audiences (``docs/architecture.md`` has the map).

Students' notebooks import (each function's docstring says which lab uses it):

- ``runtime``     smoke mode, device choice, seeding, the data folder
- ``hosted``      Colab, Kaggle or local: the first cell's ``setup_environment``, attached datasets
- ``data``        ImageNet normalization and ``denormalize``
- ``imagefolder`` image folders with named errors, the dataset over them, splits
- ``chest_xray``, ``cifar100``, ``dogs``  one module per dataset: locator, preparation, smoke stand-in
- ``archives``    safe extraction of zip and tar archives
- ``standins``    generic synthetic images for smoke mode and tests
- ``registry``    what the course downloads (URL, checksum, size)
- ``fetch``       checked, atomic downloads; ``python -m labutils.fetch``
- ``models``      pretrained torchvision models through the registry; parameter counts
- ``fastpath``    mixed precision and channels_last; ``training``: Lab 4's ``fit`` loop
- ``metrics``, ``stats``, ``features``, ``plots``, ``export``, ``inference``  the labs' analysis helpers
- ``checks``      self-checks with one-line verdicts (probe/judge protocol)
- ``messages``    every message shown to a student, Russian by default (``LABUTILS_LANG=en``: English)

Instructors:

- ``course``      the one table of the course: labs, tasks, titles, points, graded names, checks
- ``authoring``   build and check the student notebooks, nbgrader export; ``python -m labutils.assignments``
- ``grader``      the autograder (sandbox, code scan, reports); ``python -m labutils.grade``

Maintainers: ``bench`` (``python -m labutils.bench``) and ``budgets`` (full-mode compute budgets).
"""
from .runtime import (data_root, describe_mode, get_device, is_smoke, pick, seed_everything, smoke_notice,
                      writable_root)

__version__ = "0.1.0"  # written only here: pyproject.toml reads it, assignments build puts it in the first cells
__all__ = ["data_root", "describe_mode", "get_device", "is_smoke", "pick", "seed_everything", "smoke_notice",
           "writable_root"]
