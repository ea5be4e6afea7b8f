"""Token endpoints: the framework-neutral core, the raw ASGI/WSGI apps, and real servers."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from conftest import make_settings
from e2e_sites import USERS, asgi_site, authenticate, wsgi_site
from e2e_sites import e2e_settings as site_settings
from jwtgate import AsyncSessions, Gate, Identity, RequestInfo, Sessions, Settings
from jwtgate.endpoints import (
    AsyncEndpoints,
    EndpointRequest,
    EndpointResponse,
    Endpoints,
    asgi_app,
    wsgi_app,
)
from redis_server import free_port
from servers import gunicorn_e2e
from servers import waitress_server as serving_with_waitress

JSON = {"content-type": "application/json"}


def post(
    path: str,
    body: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    bearer: str | None = None,
) -> EndpointRequest:
    """A POST with a JSON body."""
    raw = json.dumps(body).encode() if body is not None else b""
    merged = {**(JSON if body is not None else {}), **(headers or {})}
    return EndpointRequest(
        "POST", path, raw, merged, (f"Bearer {bearer}",) if bearer is not None else ()
    )


def header(response: EndpointResponse, name: str) -> list[str]:
    """Every value of one response header."""
    return [v for k, v in response.headers if k == name]


@pytest.fixture
def settings() -> Settings:
    """HS256 settings with a fresh in-memory store."""
    return make_settings(store=f"memory://endpoints-{uuid.uuid4().hex}")


@pytest.fixture
def sessions(settings: Settings) -> Iterator[Sessions]:
    """Sessions on that store."""
    with Sessions(settings) as sessions:
        yield sessions
        sessions.store.close()


@pytest.fixture
def endpoints(sessions: Sessions) -> Endpoints:
    """The sync core in JSON mode."""
    return Endpoints(sessions, authenticate)


def login(endpoints: Endpoints, user: str = "alice") -> dict[str, Any]:
    """Log ``user`` in and return the token response."""
    response = endpoints.handle(post("/auth/token", {"username": user, "password": USERS[user]}))
    assert response.status == 200
    body: dict[str, Any] = response.json()
    return body


def test_login_returns_a_token_pair(endpoints: Endpoints, settings: Settings) -> None:
    """Good credentials get an RFC 6749 token response, never cached, with the user's claims."""
    response = endpoints.handle(
        post("/auth/token", {"username": "alice", "password": "wonderland"})
    )
    assert response.status == 200
    assert header(response, "cache-control") == ["no-store"]
    assert header(response, "content-type") == ["application/json"]
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 300)
    identity = Gate(settings).decide(RequestInfo("GET", "/", (f"Bearer {body['access_token']}",)))
    assert isinstance(identity, Identity)
    assert identity.scopes == {"read"}


@pytest.mark.parametrize(
    ("request_", "status", "error"),
    [
        pytest.param(
            post("/auth/token", {"username": "alice", "password": "nope"}),
            400,
            "invalid_grant",
            id="wrong-password",
        ),
        pytest.param(
            post("/auth/token", {"username": "alice"}), 400, "invalid_request", id="no-password"
        ),
        pytest.param(
            EndpointRequest("POST", "/auth/token", b"{nope", JSON),
            400,
            "invalid_request",
            id="bad-json",
        ),
        pytest.param(
            EndpointRequest("POST", "/auth/token", b"[1]", JSON),
            400,
            "invalid_request",
            id="json-not-object",
        ),
        pytest.param(
            EndpointRequest("POST", "/auth/token", b"username=a", {"content-type": "text/plain"}),
            415,
            "invalid_request",
            id="form-post",
        ),
        pytest.param(
            EndpointRequest("POST", "/auth/token", b"{" + b" " * 20000 + b"}", JSON),
            413,
            "invalid_request",
            id="too-large",
        ),
        pytest.param(post("/auth/other", {}), 404, "not_found", id="unknown-route"),
        pytest.param(post("/elsewhere/token", {}), 404, "not_found", id="outside-prefix"),
        pytest.param(EndpointRequest("GET", "/auth/token"), 405, "method_not_allowed", id="get"),
        pytest.param(post("/auth/refresh", {}), 400, "invalid_request", id="refresh-no-token"),
        pytest.param(
            post("/auth/refresh", {"refresh_token": 5}),
            400,
            "invalid_request",
            id="refresh-token-not-string",
        ),
        pytest.param(
            post("/auth/refresh", {"refresh_token": "x.y.z"}),
            400,
            "invalid_grant",
            id="refresh-garbage",
        ),
        pytest.param(post("/auth/logout", {}), 400, "invalid_request", id="logout-nothing"),
    ],
)
def test_bad_requests(
    endpoints: Endpoints, request_: EndpointRequest, status: int, error: str
) -> None:
    """Client mistakes get 4xx with an RFC 6749 error code, never a 5xx."""
    response = endpoints.handle(request_)
    assert response.status == status
    assert response.json()["error"] == error
    assert header(response, "cache-control") == ["no-store"]
    if status == 405:
        assert header(response, "allow") == ["POST"]


def test_refresh_rotation_and_reuse(endpoints: Endpoints) -> None:
    """Refresh gives a new pair; replaying the old token revokes the family for both tokens."""
    first = login(endpoints)
    second = endpoints.handle(post("/auth/refresh", {"refresh_token": first["refresh_token"]}))
    assert second.status == 200
    new = second.json()
    replay = endpoints.handle(post("/auth/refresh", {"refresh_token": first["refresh_token"]}))
    assert replay.status == 400
    assert replay.json() == {
        "error": "invalid_grant",
        "error_description": "refresh token reused; session revoked",
    }
    again = endpoints.handle(post("/auth/refresh", {"refresh_token": new["refresh_token"]}))
    assert again.json()["error_description"] == "token revoked"
    wrong = endpoints.handle(post("/auth/refresh", {"refresh_token": new["access_token"]}))
    assert wrong.json()["error_description"] == "wrong token type"


def test_logout_with_refresh_token_or_access_token(endpoints: Endpoints) -> None:
    """logout accepts the refresh token in the body or the access token in the header."""
    one, two = login(endpoints), login(endpoints)
    assert (
        endpoints.handle(post("/auth/logout", {"refresh_token": one["refresh_token"]})).status
        == 204
    )
    refused = endpoints.handle(post("/auth/refresh", {"refresh_token": one["refresh_token"]}))
    assert refused.json()["error_description"] == "token revoked"
    response = endpoints.handle(post("/auth/logout", bearer=two["access_token"]))
    assert (response.status, response.body) == (204, b"")
    refused = endpoints.handle(post("/auth/refresh", {"refresh_token": two["refresh_token"]}))
    assert refused.status == 400


def test_bad_access_token_in_header_is_a_bearer_401(endpoints: Endpoints) -> None:
    """A bad access token on logout gets a 401 with an RFC 6750 challenge."""
    response = endpoints.handle(post("/auth/logout-all", bearer="not.a.token"))
    assert response.status == 401
    assert header(response, "www-authenticate") == [
        'Bearer realm="api", error="invalid_token", error_description="malformed token"'
    ]
    twice = EndpointRequest("POST", "/auth/logout", b"", {}, ("Bearer a", "Bearer b"))
    assert endpoints.handle(twice).status == 400


def test_logout_all_ends_every_session(endpoints: Endpoints) -> None:
    """logout-all with a live token ends all sessions of the subject; other users keep theirs."""
    one, two, bob = login(endpoints), login(endpoints), login(endpoints, "bob")
    assert endpoints.handle(post("/auth/logout-all", bearer=one["access_token"])).status == 204
    for pair in (one, two):
        refused = endpoints.handle(post("/auth/refresh", {"refresh_token": pair["refresh_token"]}))
        assert refused.status == 400
    dead = endpoints.handle(post("/auth/logout-all", bearer=two["access_token"]))
    assert dead.status == 401  # a revoked token cannot log anyone out
    again = endpoints.handle(post("/auth/logout-all", {"refresh_token": two["refresh_token"]}))
    assert again.json()["error"] == "invalid_grant"
    ok = endpoints.handle(post("/auth/refresh", {"refresh_token": bob["refresh_token"]}))
    assert ok.status == 200


def test_logout_all_refuses_a_used_refresh_token(endpoints: Endpoints) -> None:
    """A rotated-out refresh token cannot end every session: it is a replay, so its own
    family ends (as on /refresh) and the subject's other sessions live on."""
    one, two = login(endpoints), login(endpoints)
    rotated = endpoints.handle(post("/auth/refresh", {"refresh_token": one["refresh_token"]}))
    assert rotated.status == 200
    replay = endpoints.handle(post("/auth/logout-all", {"refresh_token": one["refresh_token"]}))
    assert (replay.status, replay.json()["error"]) == (400, "invalid_grant")
    assert replay.json()["error_description"] == "refresh token reused; session revoked"
    fresh = rotated.json()["refresh_token"]
    refused = endpoints.handle(post("/auth/refresh", {"refresh_token": fresh}))
    assert refused.status == 400  # the replayed family is revoked
    alive = endpoints.handle(post("/auth/refresh", {"refresh_token": two["refresh_token"]}))
    assert alive.status == 200  # the other session was not logged out


def test_logout_all_with_the_current_refresh_token(endpoints: Endpoints) -> None:
    """The current refresh token (body) still ends every session of its subject."""
    one, two = login(endpoints), login(endpoints)
    done = endpoints.handle(post("/auth/logout-all", {"refresh_token": one["refresh_token"]}))
    assert done.status == 204
    refused = endpoints.handle(post("/auth/refresh", {"refresh_token": two["refresh_token"]}))
    assert refused.status == 400


def test_verify_answers_whether_a_token_is_live(endpoints: Endpoints) -> None:
    """/verify: 200 with the token's subject for a live access or refresh token; a
    revoked, forged or missing token is refused as every other route refuses it."""
    pair = login(endpoints)
    for token, use in ((pair["access_token"], "access"), (pair["refresh_token"], "refresh")):
        response = endpoints.handle(post("/auth/verify", {"token": token}))
        assert response.status == 200
        assert header(response, "cache-control") == ["no-store"]
        body = response.json()
        assert (body["active"], body["sub"], body["token_use"]) == (True, "alice", use)
        assert isinstance(body["exp"], int)
    assert (
        endpoints.handle(post("/auth/verify", {"token": pair["access_token"]})).json()["scope"]
        == "read"
    )
    assert endpoints.handle(post("/auth/logout", bearer=pair["access_token"])).status == 204
    revoked = endpoints.handle(post("/auth/verify", {"token": pair["access_token"]}))
    assert revoked.status == 401
    assert header(revoked, "www-authenticate") == [
        'Bearer realm="api", error="invalid_token", error_description="token revoked"'
    ]
    forged = endpoints.handle(post("/auth/verify", {"token": "not.a.token"}))
    assert (forged.status, forged.json()["error"]) == (401, "invalid_token")
    missing = endpoints.handle(post("/auth/verify", {}))
    assert (missing.status, missing.json()["error"]) == (400, "invalid_request")
    assert endpoints.handle(EndpointRequest("GET", "/auth/verify")).status == 405


def test_a_routed_request_serves_under_any_mount(sessions: Sessions) -> None:
    """handle(route=...) is for a framework that routed the request: any path serves,
    and the refresh cookie's Path is the folder the routes were mounted at."""
    endpoints = Endpoints(sessions, authenticate, cookie=True)
    credentials = {"username": "alice", "password": "wonderland"}
    assert endpoints.handle(post("/api/v1/session/token", credentials)).status == 404
    response = endpoints.handle(post("/api/v1/session/token", credentials), route="token")
    assert response.status == 200
    refresh = cookies_of(response)["jwtgate_refresh"]
    assert "; Path=/api/v1/session;" in refresh
    csrf = response.json()["csrf_token"]
    jar = f"jwtgate_refresh={value_of(refresh)}; jwtgate_csrf={csrf}"
    out = endpoints.handle(
        post("/api/v1/session/logout", headers={"cookie": jar, "x-csrf-token": csrf}),
        route="logout",
    )
    assert out.status == 204
    assert "; Path=/api/v1/session;" in cookies_of(out)["jwtgate_refresh"]
    root = endpoints.handle(post("/token", credentials), route="token")
    assert "; Path=/;" in cookies_of(root)["jwtgate_refresh"]


def test_store_outage_is_503(tmp_path: Path) -> None:
    """An unusable store answers 503 with Retry-After on login."""
    directory = tmp_path / "gone"
    directory.mkdir()
    settings = make_settings(store=f"sqlite:///{directory / 'x.db'}")
    directory.rmdir()  # after startup, so only the store can notice
    with Sessions(settings) as sessions:
        response = Endpoints(sessions, authenticate).handle(
            post("/auth/token", {"username": "alice", "password": "wonderland"})
        )
    assert response.status == 503
    assert header(response, "retry-after") == ["5"]
    assert response.json()["error"] == "temporarily_unavailable"


# -- cookie mode ------------------------------------------------------------------------


def cookies_of(response: EndpointResponse) -> dict[str, str]:
    """name -> full Set-Cookie value."""
    return {c.split("=", 1)[0]: c for c in header(response, "set-cookie")}


def value_of(set_cookie: str) -> str:
    """The value of a Set-Cookie header."""
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def test_cookie_mode_keeps_the_refresh_token_out_of_reach(sessions: Sessions) -> None:
    """Cookie mode: HttpOnly/Secure/SameSite=Strict refresh cookie on the prefix, CSRF enforced."""
    endpoints = Endpoints(sessions, authenticate, cookie=True)
    response = endpoints.handle(
        post("/auth/token", {"username": "alice", "password": "wonderland"})
    )
    body = response.json()
    assert "refresh_token" not in body
    cookies = cookies_of(response)
    refresh, csrf = cookies["jwtgate_refresh"], cookies["jwtgate_csrf"]
    assert refresh.endswith("; Path=/auth; Max-Age=1209600; SameSite=Strict; HttpOnly; Secure")
    assert (
        csrf
        == f"jwtgate_csrf={body['csrf_token']}; Path=/; Max-Age=1209600; SameSite=Strict; Secure"
    )
    jar = f"jwtgate_refresh={value_of(refresh)}; jwtgate_csrf={body['csrf_token']}"

    for bad in ({}, {"x-csrf-token": "guess"}):
        forged = endpoints.handle(post("/auth/refresh", headers={"cookie": jar, **bad}))
        assert forged.status == 403
        assert forged.json()["error"] == "access_denied"

    good = endpoints.handle(
        post("/auth/refresh", headers={"cookie": jar, "x-csrf-token": body["csrf_token"]})
    )
    assert good.status == 200
    assert "refresh_token" not in good.json()
    new_refresh = cookies_of(good)["jwtgate_refresh"]
    assert value_of(new_refresh) != value_of(refresh)

    jar = f"jwtgate_refresh={value_of(new_refresh)}; jwtgate_csrf={body['csrf_token']}"
    out = endpoints.handle(
        post("/auth/logout", headers={"cookie": jar, "x-csrf-token": body["csrf_token"]})
    )
    assert out.status == 204
    cleared = cookies_of(out)
    assert cleared["jwtgate_refresh"].startswith("jwtgate_refresh=; Path=/auth; Max-Age=0;")
    assert cleared["jwtgate_csrf"].startswith("jwtgate_csrf=; Path=/; Max-Age=0;")


def test_cookie_mode_drops_a_dead_refresh_cookie(sessions: Sessions) -> None:
    """A refused cookie refresh clears the cookies; plain-HTTP dev mode omits Secure."""
    endpoints = Endpoints(sessions, authenticate, cookie=True, secure=False)
    response = endpoints.handle(
        post("/auth/token", {"username": "alice", "password": "wonderland"})
    )
    csrf = response.json()["csrf_token"]
    assert "Secure" not in cookies_of(response)["jwtgate_refresh"]
    jar = f"jwtgate_refresh=bad.token.here; jwtgate_csrf={csrf}"
    refused = endpoints.handle(post("/auth/refresh", headers={"cookie": jar, "x-csrf-token": csrf}))
    assert refused.status == 400
    assert "Max-Age=0" in cookies_of(refused)["jwtgate_refresh"]


def test_prefix_must_be_a_path() -> None:
    """A prefix that is not '/name' is refused at construction."""
    sessions = Sessions(make_settings(store="memory://prefix-test"))
    with pytest.raises(ValueError, match="prefix"):
        Endpoints(sessions, authenticate, prefix="auth/")
    sessions.close()


# -- async core and the raw ASGI app ------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_async_core_accepts_sync_or_async_authenticate(settings: Settings, kind: str) -> None:
    """AsyncEndpoints awaits an async authenticate and runs a sync one in a worker thread."""
    threads: list[int] = []

    def sync_auth(username: str, password: str) -> str | None:
        threads.append(threading.get_ident())
        return username if USERS.get(username) == password else None

    async def async_auth(username: str, password: str) -> str | None:
        return username if USERS.get(username) == password else None

    auth = sync_auth if kind == "sync" else async_auth
    async with AsyncSessions(settings) as sessions:
        endpoints = AsyncEndpoints(sessions, auth)
        response = await endpoints.handle(
            post("/auth/token", {"username": "bob", "password": "builder"})
        )
        assert response.status == 200
        refresh = response.json()["refresh_token"]
        assert (
            await endpoints.handle(post("/auth/refresh", {"refresh_token": refresh}))
        ).status == 200
        replay = await endpoints.handle(post("/auth/refresh", {"refresh_token": refresh}))
        assert replay.json()["error_description"] == "refresh token reused; session revoked"
        wrong = await endpoints.handle(post("/auth/token", {"username": "bob", "password": "x"}))
        assert wrong.status == 400
    if kind == "sync":
        assert threads
        assert threading.get_ident() not in threads


@pytest.mark.anyio
async def test_async_logout_all_refuses_a_used_refresh_token(settings: Settings) -> None:
    """The async core treats a used refresh token on logout-all as a replay too."""
    async with AsyncSessions(settings) as sessions:
        endpoints = AsyncEndpoints(sessions, authenticate)
        login_body = {"username": "alice", "password": USERS["alice"]}
        old = (await endpoints.handle(post("/auth/token", login_body))).json()["refresh_token"]
        assert (await endpoints.handle(post("/auth/refresh", {"refresh_token": old}))).status == 200
        replay = await endpoints.handle(post("/auth/logout-all", {"refresh_token": old}))
        assert replay.json()["error_description"] == "refresh token reused; session revoked"


@pytest.mark.anyio
async def test_raw_asgi_app(settings: Settings) -> None:
    """The raw ASGI app serves the routes through httpx's ASGI transport."""
    app = asgi_app(settings, authenticate)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/auth/token", json={"username": "alice", "password": "wonderland"}
        )
        assert response.status_code == 200
        access = response.json()["access_token"]
        out = await client.post("/auth/logout", headers={"authorization": f"Bearer {access}"})
        assert out.status_code == 204
        assert (await client.get("/auth/token")).status_code == 405
    await app.endpoints.sessions.aclose()


def test_raw_wsgi_app_rejects_bad_content_length(settings: Settings) -> None:
    """A nonsense Content-Length is treated as an empty body, not a crash."""
    app = wsgi_app(settings, authenticate)
    captured: list[str] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/auth/token",
        "CONTENT_LENGTH": "abc",
        "wsgi.input": None,
    }
    body = b"".join(app(environ, lambda status, headers: captured.append(status)))
    assert captured == ["400 Bad Request"]
    assert json.loads(body)["error"] == "invalid_request"
    app.endpoints.sessions.close()


# -- end to end through real servers --------------------------------------------------------


@pytest.fixture
def uvicorn_server(e2e_settings: Settings) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 serving the ASGI site; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        asgi_site(e2e_settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn stopped"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture
def waitress_server(e2e_settings: Settings) -> Iterator[str]:
    """A real waitress server on 127.0.0.1 serving the WSGI site; yields its base URL."""
    app, _ = wsgi_site(e2e_settings)
    with serving_with_waitress(app, threads=4) as url:
        yield url
    app.close()


@pytest.fixture
def e2e_settings(tmp_path: Path) -> Settings:
    """Revocation-aware settings on a SQLite file both servers share; /auth/* is public."""
    return site_settings(f"sqlite:///{tmp_path / 'e2e.db'}")


@pytest.mark.slow
def test_end_to_end_through_uvicorn_and_waitress(uvicorn_server: str, waitress_server: str) -> None:
    """login, call, refresh, call, replay: family revoked on both; logout-all crosses apps."""
    with httpx.Client(timeout=10) as http:
        for base, other in ((uvicorn_server, waitress_server), (waitress_server, uvicorn_server)):
            credentials = {"username": "alice", "password": "wonderland"}
            first = http.post(f"{base}/auth/token", json=credentials).json()
            me = http.get(
                f"{base}/api/me", headers={"authorization": f"Bearer {first['access_token']}"}
            )
            assert (me.status_code, me.json()) == (200, {"sub": "alice"})

            refreshed = http.post(
                f"{base}/auth/refresh", json={"refresh_token": first["refresh_token"]}
            )
            assert refreshed.status_code == 200
            second = refreshed.json()
            bearer = {"authorization": f"Bearer {second['access_token']}"}
            assert http.get(f"{other}/api/me", headers=bearer).status_code == 200

            replay = http.post(
                f"{base}/auth/refresh", json={"refresh_token": first["refresh_token"]}
            )
            assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
            for server in (base, other):
                refused = http.get(f"{server}/api/me", headers=bearer)
                assert refused.status_code == 401
                assert refused.headers["www-authenticate"] == (
                    'Bearer realm="api", error="invalid_token", error_description="token revoked"'
                )
            dead = http.post(
                f"{other}/auth/refresh", json={"refresh_token": second["refresh_token"]}
            )
            assert dead.status_code == 400

            # logout-all through one app instance refuses the tokens on the other at once.
            mine = http.post(f"{base}/auth/token", json=credentials).json()
            theirs = http.post(f"{other}/auth/token", json=credentials).json()
            out = http.post(
                f"{other}/auth/logout-all",
                headers={"authorization": f"Bearer {theirs['access_token']}"},
            )
            assert out.status_code == 204
            mine_bearer = {"authorization": f"Bearer {mine['access_token']}"}
            assert http.get(f"{base}/api/me", headers=mine_bearer).status_code == 401
            gone = http.post(f"{base}/auth/refresh", json={"refresh_token": mine["refresh_token"]})
            assert gone.status_code == 400


def test_cookie_mode_edge_cases(sessions: Sessions) -> None:
    """No cookie and no body is a 400; an oversized cookie is a 400, not a 5xx."""
    endpoints = Endpoints(sessions, authenticate, cookie=True)
    assert endpoints.handle(post("/auth/refresh")).json()["error"] == "invalid_request"
    huge = "jwtgate_refresh=" + "a" * 9000
    response = endpoints.handle(post("/auth/refresh", headers={"cookie": huge}))
    assert (response.status, response.json()["error_description"]) == (400, "malformed cookie")


@pytest.mark.anyio
async def test_raw_asgi_app_websocket_and_disconnect(settings: Settings) -> None:
    """A websocket is closed with 1008; a client that disconnects mid-body gets nothing."""
    app = asgi_app(settings, authenticate)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def disconnect() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    await app({"type": "websocket", "path": "/auth/token", "headers": []}, disconnect, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    sent.clear()
    scope = {"type": "http", "method": "POST", "path": "/auth/token", "headers": []}
    await app(scope, disconnect, send)
    assert sent == []
    await app.endpoints.sessions.aclose()


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[str]:
    """gunicorn on 127.0.0.1: 2 sync workers, each replaced after one request; yields its URL."""
    env = {"JWTGATE_E2E_STORE": f"sqlite:///{tmp_path / 'gunicorn.db'}"}
    with gunicorn_e2e(env, "--workers", "2", "--max-requests", "1", "--preload") as url:
        yield url


@pytest.mark.slow
def test_logout_reaches_every_gunicorn_worker(gunicorn_server: str) -> None:
    """Under gunicorn, a logout-all made in one worker process is refused by every later one."""
    base = gunicorn_server
    with httpx.Client(timeout=10) as http:
        credentials = {"username": "alice", "password": "wonderland"}
        login = http.post(f"{base}/auth/token", json=credentials)
        pair = login.json()
        bearer = {"authorization": f"Bearer {pair['access_token']}"}
        me = http.get(f"{base}/api/me", headers=bearer)
        assert me.status_code == 200
        out = http.post(f"{base}/auth/logout-all", headers=bearer)
        assert out.status_code == 204
        after = [http.get(f"{base}/api/me", headers=bearer) for _ in range(4)]
        refresh = http.post(f"{base}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert [r.status_code for r in after] == [401] * 4
    assert refresh.status_code == 400
    pids = [r.headers["x-worker-pid"] for r in (login, me, out, *after, refresh)]
    assert len(set(pids)) == len(pids)  # every request answered by a process of its own


# -- signed double-submit CSRF (cookie mode) ----------------------------------------


def _cookie_login(app_post: Any, user: str = "alice") -> tuple[str, str]:
    """Log ``user`` in through ``app_post``; the refresh cookie's value and the CSRF value."""
    status, cookies, body = app_post(
        "/auth/token", {"username": user, "password": "wonderland"}, {}
    )
    assert status == 200
    return value_of(cookies["jwtgate_refresh"]), body["csrf_token"]


def _asgi_post(app: Any) -> Any:
    """A post() through the raw ASGI app (httpx.ASGITransport): status, cookies, body."""
    import asyncio

    def call(path: str, data: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.post(path, json=data, headers=headers)

        response = asyncio.run(send())
        cookies = {
            v.split("=", 1)[0]: v for k, v in response.headers.multi_items() if k == "set-cookie"
        }
        return response.status_code, cookies, response.json() if response.content else None

    return call


def _wsgi_post(app: Any) -> Any:
    """A post() through the raw WSGI app (werkzeug's test client): status, cookies, body."""
    from werkzeug.test import Client

    def call(path: str, data: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        response = Client(app, use_cookies=False).post(path, json=data, headers=headers)
        cookies = {v.split("=", 1)[0]: v for v in response.headers.getlist("Set-Cookie")}
        body = response.get_json(silent=True)
        response.close()
        return response.status_code, cookies, body

    return call


@pytest.fixture(params=["asgi", "wsgi"])
def cookie_app(request: pytest.FixtureRequest, settings: Settings) -> Any:
    """The token endpoints in cookie mode, served by the raw ASGI or WSGI app."""
    if request.param == "asgi":
        return _asgi_post(asgi_app(settings, authenticate, cookie=True))
    return _wsgi_post(wsgi_app(settings, authenticate, cookie=True))


def test_a_tossed_csrf_cookie_pair_is_refused(cookie_app: Any) -> None:
    """A cookie planted by a sibling subdomain plus the same value in the header (the
    classic double-submit bypass) is a 403, and the session is not refreshed."""
    refresh, _ = _cookie_login(cookie_app)
    for tossed in ("evil", "evil.evil", "x" * 24 + "." + "A" * 43):
        jar = f"jwtgate_refresh={refresh}; jwtgate_csrf={tossed}"
        status, _, body = cookie_app("/auth/refresh", None, {"cookie": jar, "x-csrf-token": tossed})
        assert (status, body["error"]) == (403, "access_denied")
    for route in ("/auth/logout", "/auth/logout-all"):
        jar = f"jwtgate_refresh={refresh}; jwtgate_csrf=evil"
        status, _, _ = cookie_app(route, None, {"cookie": jar, "x-csrf-token": "evil"})
        assert status == 403


def test_another_sessions_csrf_value_is_refused(cookie_app: Any) -> None:
    """A valid CSRF value of the attacker's own session does not unlock the victim's."""
    victim_refresh, _ = _cookie_login(cookie_app, "alice")
    _, attacker_csrf = _cookie_login(cookie_app, "alice")  # same user, another session
    jar = f"jwtgate_refresh={victim_refresh}; jwtgate_csrf={attacker_csrf}"
    status, _, _ = cookie_app("/auth/refresh", None, {"cookie": jar, "x-csrf-token": attacker_csrf})
    assert status == 403


def test_the_signed_csrf_flow_works_through_refreshes(cookie_app: Any) -> None:
    """login, refresh, refresh, logout: each answer brings a fresh signed value that works."""
    refresh, csrf = _cookie_login(cookie_app)
    for _ in range(2):
        jar = f"jwtgate_refresh={refresh}; jwtgate_csrf={csrf}"
        status, cookies, body = cookie_app(
            "/auth/refresh", None, {"cookie": jar, "x-csrf-token": csrf}
        )
        assert status == 200
        assert value_of(cookies["jwtgate_csrf"]) == body["csrf_token"] != csrf
        refresh, csrf = value_of(cookies["jwtgate_refresh"]), body["csrf_token"]
    jar = f"jwtgate_refresh={refresh}; jwtgate_csrf={csrf}"
    status, _, _ = cookie_app("/auth/logout", None, {"cookie": jar, "x-csrf-token": csrf})
    assert status == 204


def test_csrf_secret_option(settings: Settings) -> None:
    """csrf_secret replaces the derived key (so signing-key rotation leaves CSRF values
    valid), and must be at least 32 bytes."""
    from jwtgate.endpoints import csrf_key, csrf_token, csrf_valid

    key = csrf_key(settings, "s" * 32)
    assert key != csrf_key(settings)
    assert csrf_valid(key, "sid-1", csrf_token(key, "sid-1"))
    assert not csrf_valid(key, "sid-2", csrf_token(key, "sid-1"))
    with Sessions(settings) as sessions, pytest.raises(ValueError, match="at least 32 bytes"):
        Endpoints(sessions, authenticate, cookie=True, csrf_secret="short")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"cookies": True}, "unexpected endpoint option(s) 'cookies'", id="misspelt"),
        pytest.param({"secure": "false"}, "'secure' cannot be a str", id="a string for a flag"),
        pytest.param({"prefix": None}, "'prefix' cannot be a NoneType", id="none-prefix"),
    ],
)
def test_a_misspelt_or_mistyped_option_fails_at_construction(
    options: dict[str, Any], message: str
) -> None:
    """Options are validated keyword arguments (#14 item 7): `cookies=True` or
    `secure="false"` used to be ignored or taken as truthy; now each is a TypeError
    naming the option, for the sync and async cores and both apps."""
    from jwtgate.endpoints import asgi_app, wsgi_app

    settings = make_settings(store="memory://options")
    builders = [
        lambda: Endpoints(Sessions(settings), authenticate, **options),
        lambda: AsyncEndpoints(AsyncSessions(settings), authenticate, **options),
        lambda: asgi_app(settings, authenticate, **options),
        lambda: wsgi_app(settings, authenticate, **options),
    ]
    for build in builders:
        with pytest.raises(TypeError, match=re.escape(message)):
            build()
