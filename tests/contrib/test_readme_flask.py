"""The README's Flask example, executed as written."""

from __future__ import annotations

import pytest

from frameworks import (
    assert_refused,
    recording,
    refusal,
    run_example,
    scope_refusal,
    token_for,
)


def test_flask_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Flask example protects /me, leaves /health open and checks the reports scope."""
    namespace = run_example("flask", "readme_flask_app", monkeypatch)
    app = namespace["app"]
    client = app.test_client()
    jwtgate = app.config["JWTGATE"]
    ran: list[str] = []
    app.view_functions["me"] = recording("me", app.view_functions["me"], ran)

    assert client.get("/health").json == {"ok": True}
    assert_refused(client.get("/me"), refusal("missing"))
    assert ran == []
    assert client.get("/me", headers=token_for(jwtgate)).json == {"subject": "alice"}
    assert client.get("/greeting").json == {"hello": "stranger"}
    assert client.get("/greeting", headers=token_for(jwtgate)).json == {"hello": "alice"}
    # requires_scopes answers instead of calling the view: the 403 body is jwtgate's.
    denied = client.post("/reports", headers=token_for(jwtgate, scope="reports:read"))
    assert_refused(denied, scope_refusal("reports:write"))
    created = client.post("/reports", headers=token_for(jwtgate, scope="reports:write"))
    assert created.status_code == 201
    assert created.json == {"created_by": "alice"}
