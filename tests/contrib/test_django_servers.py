"""The test Django project under real servers on 127.0.0.1: gunicorn (WSGI) and
uvicorn (ASGI), with a real HTTP client and a migrated SQLite database file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from frameworks import (
    REALM,
    USER_REFUSED,
    Refusal,
    assert_refused,
    bearer,
    free_port,
    refusals,
    scope_refusal,
    server_process,
)

pytestmark = pytest.mark.slow  # real gunicorn and uvicorn servers

TESTS = Path(__file__).resolve().parent.parent

SEED = """
from django.contrib.auth import get_user_model

User = get_user_model()
User.objects.create_user("alice", "alice@example.com", "wonderland")
User.objects.create_user("carol", "carol@example.com", is_active=False)
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A migrated database file with two users, and the environment servers run with."""
    root = tmp_path_factory.mktemp("django_project")
    env = {
        "DJANGO_SETTINGS_MODULE": "django_project.settings",
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "JWTGATE_TEST_DB": str(root / "db.sqlite3"),
        "JWTGATE_VIEW_LOG": str(root / "views.log"),
    }
    full = {**os.environ, **env}
    for command in (["migrate", "--noinput", "-v0"], ["shell", "-c", SEED]):
        subprocess.run([sys.executable, "-m", "django", *command], env=full, check=True)
    return {"root": root, "env": env, "log": root / "views.log"}


def test_manage_py_check(project: dict[str, Any]) -> None:
    """`django-admin check` passes the project, and reports a typo in JWTGATE with its id."""
    command = [sys.executable, "-m", "django", "check"]
    env = {**os.environ, **project["env"]}
    clean = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert clean.returncode == 0, clean.stderr
    env["JWTGATE_TEST_TYPO"] = "1"
    typo = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert typo.returncode == 1
    assert "?: (jwtgate.E001) JWTGATE['LEEWAYS'] is not a jwtgate setting." in typo.stderr
    assert "HINT: Did you mean JWTGATE['LEEWAY']?" in typo.stderr


SERVERS = {
    "gunicorn-wsgi": ["gunicorn", "django_project.wsgi:application", "--workers", "1"],
    "uvicorn-asgi": [
        "uvicorn",
        "django_project.asgi:application",
        "--lifespan",
        "off",
        "--no-access-log",
        "--host",
        "127.0.0.1",
    ],
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request: pytest.FixtureRequest, project: dict[str, Any]) -> Iterator[httpx.Client]:
    """An HTTP client for the project served by gunicorn or uvicorn."""
    port = free_port()
    args = [*SERVERS[request.param]]
    args += ["--port", str(port)] if args[0] == "uvicorn" else ["--bind", f"127.0.0.1:{port}"]
    log = project["root"] / f"{request.param}.log"
    with (
        server_process(args, port, project["env"], log) as base,
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        yield client


@pytest.fixture
def views_ran(project: dict[str, Any]) -> Path:
    """The log of views the server ran, emptied before the test."""
    log: Path = project["log"]
    log.write_text("")
    return log


def ran(log: Path) -> list[str]:
    """The views the server ran since the log was emptied."""
    return log.read_text().split()


def test_valid_token_and_request_jwt(server: httpx.Client, views_ran: Path) -> None:
    """A valid token reaches the view with request.jwt; a public path runs anonymously."""
    response = server.get("/", headers=bearer({"scope": "a"}))
    assert response.status_code == 200
    assert response.json() == {"subject": "alice", "scopes": ["a"]}
    assert server.get("/async", headers=bearer()).json()["subject"] == "alice"
    assert server.get("/health").json() == {"ok": True, "subject": None, "scopes": []}
    assert ran(views_ran) == ["whoami", "async", "health"]


def test_refusals(server: httpx.Client, views_ran: Path) -> None:
    """Every refusal of the table and a missing scope get the exact answers; no view runs."""
    for path in ("/", "/async"):
        for row in refusals():
            expected: Refusal = row.values[0]
            assert_refused(server.get(path, headers=expected.headers), expected)

    denied = server.get("/reports/daily", headers=bearer())
    assert_refused(denied, scope_refusal("reports"))
    assert ran(views_ran) == []


def test_load_user_and_inactive_user(server: httpx.Client, views_ran: Path) -> None:
    """load_user gives request.user (sync and async views); an inactive user is refused 401."""
    assert server.get("/user", headers=bearer()).json()["username"] == "alice"
    assert server.get("/async-user", headers=bearer()).json()["username"] == "alice"
    for path in ("/user", "/async-user"):
        assert_refused(server.get(path, headers=bearer({"sub": "carol"})), USER_REFUSED)
    assert ran(views_ran) == ["user", "async-user"]


def test_drf_views(server: httpx.Client, views_ran: Path) -> None:
    """DRF answers 401 with the Bearer challenge without a token, and 403 for a missing scope."""
    ok = server.get("/api/items", headers=bearer({"scope": "items:read"}))
    assert ok.json() == {"user": "alice", "subject": "alice"}

    missing = server.get("/api/items")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == REALM
    assert missing.json() == {"detail": "Authentication credentials were not provided."}

    denied = server.get("/api/admin", headers=bearer({"scope": "items:read"}))
    assert_refused(denied, scope_refusal("admin"))
    assert ran(views_ran) == ["api-items"]


def test_token_views_and_decorators(server: httpx.Client, views_ran: Path) -> None:
    """The token views log in through Django's authenticate (the migrated database),
    refresh, verify and log out; @optional and @requires_scopes views answer as in
    the test client."""
    wrong = server.post("/auth/token", json={"username": "alice", "password": "guess"})
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    pair = server.post("/auth/token", json={"username": "alice", "password": "wonderland"})
    assert pair.status_code == 200, pair.text
    auth = {"Authorization": f"Bearer {pair.json()['access_token']}"}
    assert server.get("/async-user", headers=auth).json()["username"] == "alice"
    assert server.get("/async-maybe").json() == {"subject": None, "scopes": []}
    assert_refused(server.get("/async-scoped", headers=auth), scope_refusal("reports"))
    refreshed = server.post("/auth/refresh", json={"refresh_token": pair.json()["refresh_token"]})
    assert refreshed.status_code == 200
    token = refreshed.json()["access_token"]
    assert server.post("/auth/verify", json={"token": token}).json()["sub"] == "alice"
    out = server.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    assert server.post("/auth/verify", json={"token": token}).status_code == 401
    assert ran(views_ran) == ["async-user", "async-maybe"]
