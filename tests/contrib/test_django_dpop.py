"""Django's middleware reaches the same DPoP decision as every other door."""

from __future__ import annotations

from typing import Any

from django.test import override_settings

from django_project import settings as project_settings
from jwtgate import Issuer, Settings
from jwtgate.testing import dpop_key

URL = "http://testserver/"  # where Django's test client sends requests


def test_a_dpop_request_passes_and_a_bound_bearer_token_is_refused(
    client: Any, calls: list[str]
) -> None:
    changed = {**project_settings.JWTGATE, "DPOP": "allow"}
    with override_settings(JWTGATE=changed):
        key = dpop_key()
        token = Issuer(Settings.from_dict(changed)).access_token("alice", claims=key.cnf)
        headers = {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", URL, token)}
        assert client.get("/", headers=headers).json()["subject"] == "alice"
        replayed = client.get("/", headers=headers)
        assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_dpop_proof")
        bearer = client.get("/", headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 401
        assert bearer.headers["WWW-Authenticate"].startswith('DPoP algs="')
    assert calls == ["whoami"]
