"""The docs keep up with the code: every setting and every problem id is documented."""

from __future__ import annotations

import re
from pathlib import Path

from jwtgate.config import DEFAULTS

ROOT = Path(__file__).parent.parent
SETTINGS_DOC = (ROOT / "docs" / "settings.md").read_text()


def test_every_setting_has_a_heading() -> None:
    """Each key of DEFAULTS has its own `### \\`key\\`` entry in docs/settings.md."""
    documented = set(re.findall(r"^### `([a-z_]+)`$", SETTINGS_DOC, flags=re.MULTILINE))
    assert set(DEFAULTS) - documented == set()
    assert documented - set(DEFAULTS) == set(), "docs mention settings that do not exist"


def test_every_problem_id_is_documented() -> None:
    """Every jwtgate.E0xx id the source can emit is in the problem id table."""
    source = "".join(p.read_text() for p in (ROOT / "src" / "jwtgate").rglob("*.py"))
    emitted = set(re.findall(r'"(E\d{3})"', source)) | {
        m.removeprefix("jwtgate.") for m in re.findall(r'"(jwtgate\.E\d{3})"', source)
    }
    documented = set(re.findall(r"`jwtgate\.(E\d{3})`", SETTINGS_DOC))
    assert emitted, "the id scan found nothing: the test would be vacuous"
    assert emitted - documented == set()
