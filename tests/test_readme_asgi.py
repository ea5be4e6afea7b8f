"""The README's Starlette and FastAPI examples run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from starlette.testclient import TestClient

from jwtgate import Issuer, Settings

README = Path(__file__).parent.parent / "README.md"
SECRET = "change-me-to-32-or-more-random-bytes!!"


def example(name: str) -> dict[str, Any]:
    """Execute the README block after ``<!-- readme-test: name -->``; return its namespace."""
    pattern = rf"<!-- readme-test: {name} -->\n```python\n(.*?)```"
    match = re.search(pattern, README.read_text(encoding="utf-8"), re.DOTALL)
    assert match, f"README.md has no block marked readme-test: {name}"
    namespace: dict[str, Any] = {"__name__": f"readme_{name}"}
    exec(compile(match.group(1), f"README.md[{name}]", "exec"), namespace)
    return namespace


def bearer(scope: str) -> dict[str, str]:
    """An Authorization header with a fresh token for alice carrying ``scope``."""
    token = Issuer(Settings.from_dict({"SECRET": SECRET})).access_token(
        "alice", claims={"scope": scope}
    )
    return {"authorization": f"Bearer {token}"}


def test_starlette_example_runs() -> None:
    """The Starlette example answers 200 with the admin scope, 403 without, 401 with no token."""
    with TestClient(example("starlette")["app"]) as http:
        assert http.get("/admin", headers=bearer("admin")).json() == {"hello": "alice"}
        assert http.get("/admin", headers=bearer("read")).status_code == 403
        assert http.get("/admin").status_code == 401


def test_fastapi_example_runs() -> None:
    """The FastAPI example serves /me, refuses delete without admin, and serves /docs publicly."""
    with TestClient(example("fastapi")["app"]) as http:
        assert http.get("/me", headers=bearer("read")).json() == {"subject": "alice"}
        assert http.get("/me").status_code == 401
        refused = http.delete("/items/1", headers=bearer("read"))
        assert refused.status_code == 403
        assert refused.json() == {
            "error": "insufficient_scope",
            "error_description": "insufficient scope",
        }
        assert http.delete("/items/1", headers=bearer("admin")).status_code == 200
        assert http.get("/docs").status_code == 200
