"""Route-level attacks through real routers on real servers (issue #20).

The same protected API (``attacks/route_apps.py``) runs on Starlette, FastAPI,
Flask and Django + DRF, each under the servers people deploy it with (uvicorn,
gunicorn, waitress, Werkzeug's server), on 127.0.0.1. Every request target below
is sent as raw bytes over a socket (HTTP clients normalise paths, which would hide
the attack), once with a token whose only scope is ``read`` and once with no token
(``credentials_required`` is off, so a rule is the only thing in the way).

The one assertion: **no protected handler runs**. Each handler logs its name
before it answers, so a HEAD or an empty body cannot hide it. Besides, no answer
is a 5xx, and jwtgate's refusals carry their ``WWW-Authenticate`` challenge.
Positive controls (the admin token reaches every handler) show the setup can fail.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from attacks.route_apps import SECRET_BODY, SECRET_FILE
from frameworks import free_port, server_process
from jwtgate import Issuer, Settings

pytestmark = pytest.mark.slow  # real server processes

SECRET = "route-table-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
JWTGATE = {
    "secret": SECRET,
    "credentials_required": False,
    "public_paths": ["/public/*"],
    "rules": [
        {"path": "/admin/*", "scopes": ["admin"]},
        {"path": "/reports/*", "methods": ["GET"], "scopes": ["reports"]},
        {"path": "/reports/*", "methods": ["POST"], "scopes": ["reports:write"]},
    ],
}
PROTECTED = frozenset(
    {"admin-root", "admin-users", "admin-user", "admin-files", "admin-sub", "admin-drf"}
    | {"reports-get", "reports-post"}
)
TESTS = Path(__file__).resolve().parent.parent

UVICORN = ["uvicorn", "--host", "127.0.0.1", "--no-access-log", "--lifespan", "off"]
STACKS: dict[str, tuple[list[str], str, dict[str, str]]] = {
    # name: (python -m args, how the port is given, extra environment)
    "starlette-uvicorn": ([*UVICORN, "attacks.route_apps:starlette_app"], "--port", {}),
    "starlette-uvicorn-root-path": (
        [*UVICORN, "--root-path", "/api", "attacks.route_apps:starlette_app"],
        "--port",
        {},
    ),
    "fastapi-uvicorn": ([*UVICORN, "attacks.route_apps:fastapi_app"], "--port", {}),
    "flask-gunicorn": (
        ["gunicorn", "--workers", "1", "attacks.route_apps:flask_app"],
        "--bind",
        {},
    ),
    "flask-waitress": (["waitress", "attacks.route_apps:flask_app"], "--listen", {}),
    "flask-werkzeug": (
        ["flask", "--app", "attacks.route_apps:flask_app", "run", "--host", "127.0.0.1"],
        "--port",
        {},
    ),
    "django-gunicorn": (
        ["gunicorn", "--workers", "1", "attacks.route_apps:django_wsgi"],
        "--bind",
        {"DJANGO_SETTINGS_MODULE": "attacks.route_apps"},
    ),
    "django-uvicorn": (
        [*UVICORN, "attacks.route_apps:django_asgi"],
        "--port",
        {"DJANGO_SETTINGS_MODULE": "attacks.route_apps"},
    ),
    # Under ASGI, Django strips FORCE_SCRIPT_NAME from the path before routing.
    "django-uvicorn-force-script-name": (
        [*UVICORN, "attacks.route_apps:django_asgi"],
        "--port",
        {"DJANGO_SETTINGS_MODULE": "attacks.route_apps", "ROUTES_FORCE_SCRIPT_NAME": "/api"},
    ),
}


@dataclass(frozen=True)
class Answer:
    """A raw HTTP response: status (0 when the server closed without one), headers, body."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Stack:
    """A running server and the log of handlers it ran."""

    name: str
    port: int
    log: Path

    def send(self, method: str, target: str, headers: dict[str, str]) -> tuple[Answer, list[str]]:
        """Send one raw request; the answer and the handlers that ran for it."""
        self.log.write_text("")
        lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += ["Content-Length: 0", "Connection: close", "", ""]
        data = b""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall("\r\n".join(lines).encode("latin-1"))
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split()
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        found = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            found[name.strip().lower()] = value.strip()
        return Answer(status, found, body), self.log.read_text().split()


@pytest.fixture(scope="module")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory the apps' static routes serve, holding the secret file."""
    root = tmp_path_factory.mktemp("static")
    (root / SECRET_FILE).write_bytes(SECRET_BODY)
    return root


@pytest.fixture(scope="module", params=sorted(STACKS))
def stack(
    request: pytest.FixtureRequest, static_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One framework on one real server, on a free loopback port."""
    args, port_flag, extra = STACKS[request.param]
    port = free_port()
    if port_flag == "--port":
        args = [*args, "--port", str(port)]
    elif port_flag == "--bind":
        args = [*args, "--bind", f"127.0.0.1:{port}"]
    else:
        args = [args[0], f"--listen=127.0.0.1:{port}", *args[1:]]
    root = tmp_path_factory.mktemp(request.param)
    env = {
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "ROUTES_JWTGATE": json.dumps(JWTGATE),
        "ROUTES_RAN_LOG": str(root / "ran.log"),
        "ROUTES_STATIC": str(static_root),
        **extra,
    }
    with server_process(args, port, env, root / "server.log"):
        yield Stack(request.param, port, root / "ran.log")


def bearer(scope: str) -> dict[str, str]:
    """An Authorization header with a valid token carrying ``scope``."""
    token = Issuer(Settings.from_dict(JWTGATE)).access_token("mallory", claims={"scope": scope})
    return {"Authorization": f"Bearer {token}"}


PREFLIGHT = {"Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE"}

ATTACKS = [
    # Dot segments, raw and encoded, into the static files under /admin/files.
    pytest.param("GET", "/admin/files/./secret.txt", {}, id="static-dot"),
    pytest.param("GET", "/admin/files//secret.txt", {}, id="static-empty-segment"),
    pytest.param("GET", "/admin/files/x/../secret.txt", {}, id="static-dot-dot"),
    pytest.param("GET", "/admin/files/%2e/secret.txt", {}, id="static-encoded-dot"),
    pytest.param("GET", "/admin/files/%2E/secret.txt", {}, id="static-encoded-dot-upper"),
    pytest.param("GET", "/admin/files/%2e%2e/files/secret.txt", {}, id="static-encoded-dot-dot"),
    pytest.param("GET", "/admin/files%2fsecret.txt", {}, id="static-encoded-slash"),
    pytest.param("GET", "/admin%2Ffiles/secret.txt", {}, id="encoded-slash-in-prefix"),
    pytest.param("GET", "/admin/files/%252e/secret.txt", {}, id="static-double-encoded"),
    pytest.param("GET", "/admin/files/secret.txt;x=1", {}, id="static-path-parameter"),
    pytest.param("GET", "/admin/files;x=1/secret.txt", {}, id="prefix-path-parameter"),
    pytest.param("GET", "/admin/files/secret.txt%00", {}, id="static-nul"),
    pytest.param("GET", "/admin/files/%c0%ae/secret.txt", {}, id="static-overlong-dot"),
    pytest.param("HEAD", "/admin/files/secret.txt", {}, id="static-head"),
    # Empty segments and dot segments in front of routed views.
    pytest.param("GET", "//admin/users", {}, id="leading-double-slash"),
    pytest.param("GET", "/admin//users", {}, id="inner-double-slash"),
    pytest.param("GET", "/public/../admin/users", {}, id="public-dot-dot"),
    pytest.param("GET", "/public/%2e%2e/admin/users", {}, id="public-encoded-dot-dot"),
    pytest.param("GET", "/public/..%2fadmin/users", {}, id="public-dot-dot-encoded-slash"),
    pytest.param("GET", "/public/x/..%5c..%5cadmin/users", {}, id="public-encoded-backslash"),
    pytest.param("GET", "/admin\\users", {}, id="backslash"),
    pytest.param("GET", "/admin/./users", {}, id="dot-before-view"),
    pytest.param("DELETE", "/admin/users/.", {}, id="delete-dot-as-parameter"),
    pytest.param("DELETE", "/admin/users/..", {}, id="delete-dot-dot-as-parameter"),
    pytest.param("GET", "/admin/users/%2e", {}, id="encoded-dot-as-parameter"),
    pytest.param("GET", "/admin/users.", {}, id="trailing-dot"),
    pytest.param("GET", "/admin/users/", {}, id="trailing-slash"),
    pytest.param("GET", "/admin", {}, id="rule-prefix-itself"),
    pytest.param("GET", "/admin/", {}, id="rule-prefix-slash"),
    pytest.param("GET", "/admin/sub/x", {}, id="mounted-sub-app"),
    pytest.param("GET", "/admin/sub/./x", {}, id="mounted-sub-app-dot"),
    pytest.param("GET", "/admin/drf/", {}, id="drf-viewset"),
    pytest.param("GET", "/admin/%EF%BC%8Fusers", {}, id="fullwidth-slash"),
    pytest.param("GET", "http://127.0.0.1/admin/users", {}, id="absolute-form"),
    # A mount prefix the app strips (uvicorn --root-path, Django's FORCE_SCRIPT_NAME).
    pytest.param("GET", "/api/admin/users", {}, id="script-prefix"),
    pytest.param("GET", "/api/admin/files/secret.txt", {}, id="script-prefix-static"),
    pytest.param("GET", "/api//admin/users", {}, id="script-prefix-double-slash"),
    # Methods: case and HEAD.
    pytest.param("HEAD", "/reports/q", {}, id="head-on-get-rule"),
    pytest.param("head", "/reports/q", {}, id="head-lower-case"),
    pytest.param("get", "/admin/users", {}, id="get-lower-case"),
    pytest.param("post", "/reports/w", {}, id="post-lower-case"),
    pytest.param("Post", "/reports/w", {}, id="post-mixed-case"),
    pytest.param("dElEtE", "/admin/users/bob", {}, id="delete-mixed-case"),
    # Preflights and OPTIONS.
    pytest.param("OPTIONS", "/customers", PREFLIGHT, id="preflight-to-open-view"),
    pytest.param("OPTIONS", "/admin/users", PREFLIGHT, id="preflight-to-admin"),
    pytest.param("options", "/admin/users", PREFLIGHT, id="preflight-lower-case"),
    pytest.param(
        "OPTIONS",
        "/admin/users",
        {"Access-Control-Request-Method": "GET"},
        id="options-without-origin",
    ),
    pytest.param("OPTIONS", "/admin/users", {}, id="plain-options"),
    pytest.param("OPTIONS", "*", PREFLIGHT, id="options-asterisk"),
]


@pytest.mark.parametrize(("method", "target", "headers"), ATTACKS)
def test_no_protected_handler_runs(
    stack: Stack, method: str, target: str, headers: dict[str, str]
) -> None:
    """Neither a read-scope token nor no token reaches a protected handler; answers are
    never 5xx, and jwtgate's refusals carry the Bearer challenge."""
    preflight = "Origin" in headers and "Access-Control-Request-Method" in headers
    for credentials in (bearer("read"), {}):
        answer, handlers = stack.send(method, target, {**headers, **credentials})
        where = f"{stack.name}: {method} {target} {'with' if credentials else 'without'} a token"
        assert not PROTECTED.intersection(handlers), f"{where} ran {handlers} ({answer.status})"
        if preflight:
            assert handlers == [], f"{where}: a preflight ran {handlers}"
        assert SECRET_BODY not in answer.body, where
        assert answer.status < 500, f"{where}: {answer.status} {answer.body[:200]!r}"
        if answer.status in (401, 403) or b'"error":"invalid_request"' in answer.body:
            assert answer.headers.get("www-authenticate", "").startswith("Bearer "), where


@pytest.mark.parametrize(
    ("method", "target", "scope", "handler"),
    [
        pytest.param("GET", "/admin/users", "admin", "admin-users", id="admin-users"),
        pytest.param("DELETE", "/admin/users/bob", "admin", "admin-user", id="admin-user"),
        pytest.param("GET", "/admin", "admin", "admin-root", id="admin-root"),
        pytest.param("GET", "/admin/sub/x", "admin", "admin-sub", id="admin-sub"),
        pytest.param("GET", "/admin/files/secret.txt", "admin", "admin-files", id="admin-files"),
        pytest.param("HEAD", "/reports/q", "reports", "reports-get", id="head-with-scope"),
        pytest.param("POST", "/reports/w", "reports:write", "reports-post", id="post-with-scope"),
        pytest.param("GET", "/public/x", "", "public", id="public"),
        pytest.param("GET", "/customers", "", "customers", id="open-view"),
    ],
)
def test_the_right_scope_reaches_the_handler(
    stack: Stack, method: str, target: str, scope: str, handler: str
) -> None:
    """The positive control: with the scope a rule asks for, the very handler runs."""
    answer, handlers = stack.send(method, target, bearer(scope) if scope else {})
    assert answer.status == 200, (stack.name, answer.status, answer.body[:200])
    assert handlers == [handler]
    if handler == "admin-files" and method == "GET":
        assert answer.body == SECRET_BODY


def test_drf_viewset_runs_with_the_admin_scope(stack: Stack) -> None:
    """DRF's router under the rule: the admin token reaches the viewset on Django (the
    other stacks have no such route)."""
    answer, handlers = stack.send("GET", "/admin/drf/", bearer("admin"))
    expected = (200, ["admin-drf"]) if stack.name.startswith("django") else (404, [])
    assert (answer.status, handlers) == expected
