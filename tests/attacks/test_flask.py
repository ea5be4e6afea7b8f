"""The attack table through the Flask extension (a server-built environ)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

pytest.importorskip("flask")

import flask

from attacks.cases import Case, params, profile_settings
from attacks.stacks import check, clock, wsgi_request
from jwtgate.contrib.flask import JWTGate, current_identity

CALLS: list[str] = []


@cache
def app(profile: str) -> flask.Flask:
    """A Flask app protected by JWTGate for ``profile``, its Gate on the fixed clock."""
    application = flask.Flask(__name__)
    JWTGate(application, settings=profile_settings(profile))
    application.extensions["jwtgate"].gate.verifier.clock = clock()

    @application.get("/")
    def whoami() -> dict[str, Any]:
        CALLS.append("flask")
        return {"subject": current_identity.subject}

    return application


@pytest.mark.parametrize("case", params())
def test_attack(case: Case) -> None:
    """The Flask extension answers each hostile request exactly as the table says."""
    CALLS.clear()
    check(case, wsgi_request(app(case.profile), case), len(CALLS), wsgi=True)
