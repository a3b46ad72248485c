"""``python -m labutils.rehearse``: see :mod:`labutils.rehearse.cli`."""
import sys

from .cli import main

sys.exit(main())
