"""The Makefile declares no default of its own: what it exports to the services comes from bot/settings.py."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from bot.settings import ROOT, development_environment


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_exports_the_defaults_declared_in_settings_and_the_environment_wins():
    names = development_environment()
    env = {k: v for k, v in os.environ.items() if k not in names and k not in ("MAKEFLAGS", "MAKELEVEL")}

    printed = subprocess.run(["make", "-s", "print-env"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=60, check=True).stdout
    overridden = subprocess.run(["make", "-s", "print-env"], cwd=ROOT, env={**env, "ACTION_PORT": "6055"},
                                capture_output=True, text=True, timeout=60, check=True).stdout

    assert dict(line.split("=", 1) for line in printed.splitlines()) == names
    assert names["ACTION_PORT"] == "5055" and names["TWILIO_API_BASE"] == "http://127.0.0.1:8099"
    assert "ACTION_PORT=6055" in overridden.splitlines()
