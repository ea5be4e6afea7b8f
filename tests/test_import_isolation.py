"""``import jwtgate`` loads no web framework and no redis (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import core_modules

pytestmark = pytest.mark.slow  # a fresh interpreter per import check

FORBIDDEN = ("django", "flask", "starlette", "fastapi", "redis", "werkzeug")


def loaded_after_import(module: str) -> set[str]:
    """Top-level package names present in sys.modules after a fresh ``import module``."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout))


@pytest.mark.parametrize("module", core_modules())
def test_core_imports_no_framework(module: str) -> None:
    """Importing a core module leaves every framework and redis unimported."""
    loaded = loaded_after_import(module)
    assert "jwtgate" in loaded
    assert loaded.isdisjoint(FORBIDDEN), sorted(loaded & set(FORBIDDEN))


def test_the_check_can_fail() -> None:
    """The subprocess check does see a framework when one is imported (no false pass)."""
    assert "starlette" in loaded_after_import("starlette")
