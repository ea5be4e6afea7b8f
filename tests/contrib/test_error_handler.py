"""The ``error_handler`` setting reshapes every door's refusals (#15 item 8): the ASGI
middleware, Flask, Django's middleware and DRF, each through its real framework; the
status and the protocol headers stay jwtgate's."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from django.test import override_settings
from flask import Flask

from conftest import SECRET
from django_project import settings as project_settings
from frameworks import bearer
from jwtgate import ConfigurationError, Settings
from jwtgate.asgi import JWTGateMiddleware
from jwtgate.contrib.flask import JWTGate
from jwtgate.http import Rejection

HANDLER = "contrib.test_error_handler:problem_details"


def problem_details(rejection: Rejection) -> Rejection:
    """RFC 9457 problem details, as docs/settings.md shows."""
    error = rejection.error
    body = {"type": "about:blank", "status": rejection.status, "title": error.description}
    return rejection.with_body(body, "application/problem+json", headers=[("x-door", "jwtgate")])


def assert_problem(status: int, headers: Any, raw: bytes, title: str) -> None:
    assert status == 401
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-door"] == "jwtgate"
    assert headers["www-authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert headers["cache-control"] == "no-store"
    assert int(headers["content-length"]) == len(raw)
    assert json.loads(raw) == {"type": "about:blank", "status": 401, "title": title}


def test_asgi_middleware() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise AssertionError("a refused request reached the app")

    guarded = JWTGateMiddleware(app, {"SECRET": SECRET, "ERROR_HANDLER": problem_details})

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=guarded)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/", headers={"Authorization": "Bearer not.a.token"})

    answer = anyio.run(call)
    assert_problem(answer.status_code, answer.headers, answer.content, "malformed token")


def test_flask_extension_with_a_dotted_name() -> None:
    app = Flask(__name__)
    JWTGate(app, settings={"SECRET": SECRET, "ERROR_HANDLER": HANDLER})

    @app.get("/")
    def index() -> str:
        return "ok"

    answer = app.test_client().get("/", headers={"Authorization": "Bearer not.a.token"})
    headers = {k.lower(): v for k, v in answer.headers.items()}
    assert_problem(answer.status_code, headers, answer.data, "malformed token")


@pytest.mark.django_db
def test_django_middleware(client: Any) -> None:
    with override_settings(JWTGATE={**project_settings.JWTGATE, "ERROR_HANDLER": HANDLER}):
        answer = client.get("/", headers={"Authorization": "Bearer not.a.token"})
    headers = {k.lower(): v for k, v in answer.headers.items()}
    assert_problem(answer.status_code, headers, answer.content, "malformed token")


@pytest.mark.django_db
def test_drf_sends_the_handlers_body_through_its_renderer(client: Any) -> None:
    with override_settings(JWTGATE={**project_settings.JWTGATE, "ERROR_HANDLER": HANDLER}):
        answer = client.get("/api/items", headers=bearer({"exp": 1}))
    assert answer.status_code == 401
    # DRF keeps an exception's detail as strings (its ErrorDetail), numbers included.
    assert answer.json() == {"type": "about:blank", "status": "401", "title": "token expired"}


def test_without_a_handler_the_body_is_jwtgates() -> None:
    app = Flask(__name__)
    JWTGate(app, settings={"SECRET": SECRET})
    answer = app.test_client().get("/", headers={"Authorization": "Bearer not.a.token"})
    assert answer.get_json() == {"error": "invalid_token", "error_description": "malformed token"}


def test_a_handler_returning_something_else_is_a_bug_not_a_pass() -> None:
    app = Flask(__name__)
    JWTGate(app, settings={"SECRET": SECRET, "ERROR_HANDLER": lambda rejection: None})
    app.testing = False
    answer = app.test_client().get("/", headers={"Authorization": "Bearer not.a.token"})
    assert answer.status_code == 500


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (42, "is not callable"),
        ("no_such_module_here:render", "ModuleNotFoundError"),
        ("contrib.test_error_handler:missing", "AttributeError"),
        ("contrib.test_error_handler", "no ':function' part"),
        ("contrib.test_error_handler:HANDLER", "no callable of that name"),
    ],
)
def test_a_handler_that_cannot_be_found_fails_at_startup(value: Any, detail: str) -> None:
    with pytest.raises(ConfigurationError, match="E037") as caught:
        Settings.from_dict({"SECRET": SECRET, "ERROR_HANDLER": value})
    assert detail in str(caught.value)
    assert "ERROR_HANDLER" in str(caught.value)
