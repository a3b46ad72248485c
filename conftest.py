"""Test-suite setup: the whole suite (unit tests and nbval over solutions/) runs in smoke mode.

The variable is set here, at import time, so every Jupyter kernel that nbval starts inherits it.
Tests that exercise the real (non-smoke) paths switch it off with ``monkeypatch``.
"""
import os

os.environ["LABUTILS_SMOKE"] = "1"
# Keep generated stand-in data inside the checkout's data/ folder unless the caller chose another.
os.environ.setdefault("MPLBACKEND", "Agg")
