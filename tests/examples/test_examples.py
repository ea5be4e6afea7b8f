"""Each example in examples/ runs as the command in its header says and guards its routes.

The tests use jwtgate's pytest plugin the way an app's own test suite would:
``jwtgate_settings`` is overridden to return the example's settings, tokens come
from ``jwtgate_token``, and refusals are checked with
``jwtgate.testing.assert_rfc6750``.
"""

from __future__ import annotations

import ast
import os
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from frameworks import free_port, wait_until_up
from jwtgate.testing import TokenFactory, assert_rfc6750

pytestmark = pytest.mark.slow  # starts every example as a real server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class Example:
    """An example: the file whose header says how to run it, and where its settings live."""

    name: str
    script: str  # relative to examples/; its docstring holds the command
    settings_file: str  # relative to examples/
    settings_name: str  # the settings dict's name in that file
    protected: tuple[str, ...]  # routes that need a token


ALL = [
    Example("flask", "flask_app.py", "flask_app.py", "SETTINGS", ("/me",)),
    Example("wsgi", "wsgi_app.py", "wsgi_app.py", "SETTINGS", ("/me",)),
    Example("starlette", "starlette_app.py", "starlette_app.py", "SETTINGS", ("/me",)),
    Example("fastapi", "fastapi_app.py", "fastapi_app.py", "SETTINGS", ("/me",)),
    Example(
        "django",
        "django_project/manage.py",
        "django_project/exampleproject/settings.py",
        "JWTGATE",
        ("/hello", "/api/me"),
    ),
]


def header_command(script: Path) -> tuple[dict[str, str], list[str]]:
    """The environment assignments and the argv of the command in ``script``'s docstring.

    The command is the first indented block after "Run it"; a trailing backslash
    continues a line, as in a shell.
    """
    doc = ast.get_docstring(ast.parse(script.read_text()))
    assert doc is not None, f"{script} has no docstring"
    after = doc.split("Run it", 1)[1].split("::", 1)[1]
    block = after.lstrip("\n").split("\n\n", 1)[0]
    words = shlex.split(block.replace("\\\n", " "))
    env = {}
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words


def runnable(argv: list[str], port: int) -> list[str]:
    """``argv`` with this interpreter's programs, listening on 127.0.0.1:``port``."""
    program, *rest = argv
    if program == "python":
        resolved = sys.executable
    else:  # a console script installed next to this interpreter (flask, uvicorn)
        found = shutil.which(program, path=str(Path(sys.executable).parent))
        assert found is not None, f"{program} is not installed"
        resolved = found
    if "runserver" in rest:
        return [resolved, *rest, f"127.0.0.1:{port}"]
    return [resolved, *rest, "--port", str(port)]


@dataclass(frozen=True)
class Served:
    """A running example: its description, base URL and the header's environment."""

    example: Example
    base: str
    env: dict[str, str]


@pytest.fixture(scope="module", params=ALL, ids=[e.name for e in ALL])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The example started from the repository root as its header says, stopped afterwards."""
    example: Example = request.param
    header_env, argv = header_command(EXAMPLES / example.script)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # the tests' own
    log = tmp_path_factory.mktemp(example.name) / "server.log"
    with log.open("wb") as out:
        # A session of its own, so that stopping it also stops any child (a reloader).
        proc = subprocess.Popen(
            runnable(argv, port),
            cwd=ROOT,
            env={**env, **header_env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + example.protected[0], proc, log)
        yield Served(example, base, header_env)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def jwtgate_settings(served: Served, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The example's own settings (with the header's environment), as a user's conftest would."""
    for name, value in served.env.items():
        monkeypatch.setenv(name, value)
    module = runpy.run_path(str(EXAMPLES / served.example.settings_file))
    settings: dict[str, Any] = module[served.example.settings_name]
    return settings


def get(served: Served, path: str, token: str | None = None) -> httpx.Response:
    """GET ``path`` on the example, with ``token`` as a bearer token if given."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(served.base + path, headers=headers, timeout=10)


def test_a_valid_token_gets_200(served: Served, jwtgate_token: TokenFactory) -> None:
    """Every protected route answers 200 and names the token's subject."""
    token = jwtgate_token("alice", scopes="read")
    for path in served.example.protected:
        response = get(served, path, token)
        assert response.status_code == 200, (path, response.text)
        assert "alice" in response.json().values()


def test_no_token_gets_the_rfc6750_challenge(served: Served) -> None:
    """Without a token every protected route answers 401 with a bare Bearer challenge."""
    for path in served.example.protected:
        response = get(served, path)
        assert assert_rfc6750(response, 401) == {"realm": "api"}
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_forged_token_gets_invalid_token(served: Served, jwtgate_token: TokenFactory) -> None:
    """A token signed with another key answers 401 invalid_token, naming the failed check."""
    for path in served.example.protected:
        response = get(served, path, jwtgate_token.forged("alice"))
        assert_rfc6750(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"] == (
            'Bearer realm="api", error="invalid_token", '
            'error_description="signature verification failed"'
        )


def test_the_login_route_issues_a_token_the_protected_routes_accept(served: Served) -> None:
    """POST /auth/token with the demo user's password gives an access token that gets 200."""
    response = httpx.post(
        served.base + "/auth/token",
        json={"username": "alice", "password": "wonderland"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    for path in served.example.protected:
        assert get(served, path, response.json()["access_token"]).status_code == 200


def test_the_login_route_refuses_a_wrong_password(served: Served) -> None:
    """A wrong password is a 400 invalid_grant (RFC 6749 §5.2), with no token in the answer."""
    response = httpx.post(
        served.base + "/auth/token", json={"username": "alice", "password": "guess"}, timeout=10
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "access_token" not in response.json()


def test_logout_ends_access_at_once(served: Served) -> None:
    """After POST /auth/logout the session's access token is refused: 401 token revoked."""
    login = httpx.post(
        served.base + "/auth/token",
        json={"username": "alice", "password": "wonderland"},
        timeout=10,
    )
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert httpx.post(served.base + "/auth/logout", headers=bearer, timeout=10).status_code == 204
    for path in served.example.protected:
        response = httpx.get(served.base + path, headers=bearer, timeout=10)
        assert_rfc6750(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"] == (
            'Bearer realm="api", error="invalid_token", error_description="token revoked"'
        )


@pytest.mark.parametrize(
    "served", [e for e in ALL if e.name == "django"], ids=["django"], indirect=True
)
def test_django_optional_and_scoped_views(served: Served, jwtgate_token: TokenFactory) -> None:
    """The Django example's @optional view greets a guest, its @requires_scopes view
    answers 403 insufficient_scope to a token without the scope and 200 with it."""
    assert get(served, "/welcome").json() == {"welcome": "guest"}
    assert get(served, "/welcome", jwtgate_token("alice")).json() == {"welcome": "alice"}
    denied = get(served, "/reports", jwtgate_token("alice", scopes="read"))
    assert assert_rfc6750(denied, 403, "insufficient_scope")["scope"] == "reports"
    assert get(served, "/reports", jwtgate_token("alice", scopes="reports")).status_code == 200
    verified = httpx.post(
        served.base + "/auth/verify", json={"token": jwtgate_token("alice")}, timeout=10
    )
    assert verified.json()["sub"] == "alice"


@pytest.mark.parametrize(
    "served", [e for e in ALL if e.name != "django"], ids=lambda e: e.name, indirect=True
)
def test_optional_and_scoped_routes(served: Served, jwtgate_token: TokenFactory) -> None:
    """Each quickstart's optional route (/hello) greets a stranger and reads a token if
    one is sent (a forged one is refused); its scoped route (/admin) answers 403
    insufficient_scope without the scope and 200 with it."""
    assert get(served, "/hello").json() == {"hello": "stranger"}
    assert get(served, "/hello", jwtgate_token("alice")).json() == {"hello": "alice"}
    assert_rfc6750(get(served, "/hello", jwtgate_token.forged("alice")), 401, "invalid_token")
    denied = get(served, "/admin", jwtgate_token("alice", scopes="read"))
    assert assert_rfc6750(denied, 403, "insufficient_scope")["scope"] == "admin"
    assert get(served, "/admin", jwtgate_token("alice", scopes="admin")).status_code == 200


def test_otel_prometheus_example_serves_jwtgate_metrics() -> None:
    """examples/otel_prometheus.py, run as written (its own process: the OpenTelemetry
    providers are global), prints the jwtgate metrics a Prometheus scrape reads."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    example = Path(__file__).resolve().parents[2] / "examples" / "otel_prometheus.py"
    result = subprocess.run(
        [sys.executable, str(example), str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stdout.splitlines()
    accepted = [line for line in lines if 'outcome="accepted"' in line]
    assert len(accepted) == 1 and accepted[0].endswith(" 2.0")
    assert any('reason="missing_token"' in line and line.endswith(" 1.0") for line in lines)
    assert any('result="hit"' in line for line in lines)
