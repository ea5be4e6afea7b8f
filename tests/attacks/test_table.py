"""The attack table itself: large, varied, readable, and described by docs/security.md."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from attacks.cases import CASES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
# raw ASGI (http, websocket), raw WSGI, Starlette, FastAPI, Flask, Django (WSGI, ASGI), DRF
STACKS = 9


def test_at_least_150_cases_with_readable_ids() -> None:
    """The table has at least 150 cases, each with a unique, readable id."""
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(re.fullmatch(r"[A-Za-z0-9+-]+", c.id) for c in CASES)


def test_every_family_has_many_variants() -> None:
    """Each attack family has several variants, and refusals far outnumber acceptances."""
    families = Counter(c.family for c in CASES)
    assert min(families.values()) >= 5
    accepted = sum(c.expect.accepted for c in CASES)
    assert accepted < len(CASES) // 5


def test_security_doc_states_the_current_counts() -> None:
    """docs/security.md gives the table's current size, families and request count."""
    families = len({c.family for c in CASES})
    assert f"{len(CASES)} cases in {families} families" in DOC
    assert f"{len(CASES) * STACKS} requests" in DOC
