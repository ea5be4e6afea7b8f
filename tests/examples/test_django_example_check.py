"""`manage.py check` on the Django example project: its URLconf and views read no
settings at import, so a broken JWTGATE is jwtgate's formatted check output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MANAGE = Path(__file__).resolve().parents[2] / "examples" / "django_project" / "manage.py"


def check(**env: str) -> subprocess.CompletedProcess[str]:
    """Run the example's `manage.py check` with ``env`` (and without the tests' settings)."""
    base = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", *env}}
    return subprocess.run(
        [sys.executable, str(MANAGE), "check"],
        env={**base, **{k: v for k, v in env.items() if v}},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_example_passes_manage_py_check() -> None:
    """With its secret set, the example project is clean."""
    done = check(JWTGATE_SECRET="dev-secret-change-me-0123456789ab")
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


def test_a_broken_setting_is_check_output_not_a_traceback() -> None:
    """Without JWTGATE_SECRET (env:JWTGATE_SECRET unset) check reports jwtgate.E012."""
    done = check(JWTGATE_SECRET="")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "SystemCheckError: System check identified some issues:" in done.stderr
    assert "?: (jwtgate.E012)" in done.stderr
