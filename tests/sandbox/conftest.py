"""Shared set-up of the sandbox tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def clean_environment(tmp_path, monkeypatch):
    """No CULTUREBOT_* variables and no .env from the developer's machine."""
    for name in list(os.environ):
        if name.startswith("CULTUREBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
