"""What CI must never skip: a test's imports that are missing fail there instead."""
from __future__ import annotations

import importlib
import os

import pytest


def require(module: str):
    """Import ``module`` for a test; without it the test skips, but under ``CI`` it fails.

    A missing browser driver or Rasa must never silently turn CI's proof into skips.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {module} cannot be imported: {exc}", pytrace=False)
        pytest.skip(f"{module} is not installed: {exc}", allow_module_level=True)
