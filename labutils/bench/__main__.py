"""``python -m labutils.bench``: see :mod:`labutils.bench.cli`."""
import sys

from .cli import main

sys.exit(main())
