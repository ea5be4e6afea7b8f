"""Django's ready-made token views (jwtgate.contrib.django_views), the per-view
decorators (@optional, @requires_scopes) and CSRF for bearer-authenticated views,
through Django's test client in the test project (tests/django_project)."""

from __future__ import annotations

import json
import re
import sys
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from django_project import settings as project_settings
from frameworks import assert_refused, bearer, refusal, scope_refusal
from jwtgate.contrib.django import get_sessions
from jwtgate.contrib.django_views import token_urls

CSRF_MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "jwtgate.contrib.django.JWTGateMiddleware",
]


@pytest.fixture
def jwtgate() -> Iterator[dict[str, Any]]:
    """The project's settings with a fresh store and revocation checks on."""
    store = f"memory://django-views-{uuid.uuid4().hex}"
    changed = {**project_settings.JWTGATE, "STORE": store, "CHECK_REVOCATION": True}
    with override_settings(JWTGATE=changed):
        yield changed


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    """A Django user with a password, for django.contrib.auth.authenticate."""
    return django_user_model.objects.create_user("alice", "alice@example.com", "wonderland")


def post(client: Client, path: str, data: Any = None, **headers: str) -> Any:
    """A JSON POST (no body at all when ``data`` is None)."""
    if data is None:
        return client.generic("POST", path, headers=headers)
    return client.post(path, json.dumps(data), content_type="application/json", headers=headers)


def login(client: Client, prefix: str = "/auth/", password: str = "wonderland") -> Any:
    """POST the token route under ``prefix``."""
    return post(client, prefix + "token", {"username": "alice", "password": password})


# -- the token views -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("jwtgate", "alice")
def test_token_views_run_the_whole_flow(client: Client, calls: list[str]) -> None:
    """Login through Django's authenticate, the API accepts the token, refresh rotates,
    a replayed refresh token is refused, verify, logout and logout-all end sessions.
    The mount (/auth/) is no public path: the views are @optional for the middleware."""
    wrong = login(client, password="guess")
    assert wrong.status_code == 400
    assert wrong.json() == {
        "error": "invalid_grant",
        "error_description": "invalid username or password",
    }
    assert wrong["Cache-Control"] == "no-store"

    response = login(client)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    pair = response.json()
    auth = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.get("/user", headers=auth).json()["username"] == "alice"

    rotated = post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200
    replay = post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert replay.json() == {
        "error": "invalid_grant",
        "error_description": "refresh token reused; session revoked",
    }

    second = login(client).json()
    verified = post(client, "/auth/verify", {"token": second["access_token"]})
    assert (verified.status_code, verified.json()["sub"]) == (200, "alice")
    second_auth = {"Authorization": f"Bearer {second['access_token']}"}
    out = post(client, "/auth/logout", **second_auth)
    assert (out.status_code, out.content) == (204, b"")
    assert "Content-Type" not in out
    revoked = post(client, "/auth/verify", {"token": second["access_token"]})
    assert revoked.status_code == 401
    assert revoked["WWW-Authenticate"].endswith('error_description="token revoked"')
    assert (
        client.get("/", headers={"Authorization": f"Bearer {second['access_token']}"}).status_code
        == 401
    )

    third, fourth = login(client).json(), login(client).json()
    everywhere = post(client, "/auth/logout-all", {"refresh_token": third["refresh_token"]})
    assert everywhere.status_code == 204
    dead = post(client, "/auth/refresh", {"refresh_token": fourth["refresh_token"]})
    assert dead.status_code == 400
    assert calls == ["user"]


@pytest.mark.usefixtures("jwtgate")
def test_token_views_answer_like_every_other_stack(client: Client) -> None:
    """Wrong method, wrong media type and a bad access token get the core's answers."""
    got = client.get("/auth/token")
    assert (got.status_code, got["Allow"]) == (405, "POST")
    form = client.post("/auth/token", {"username": "alice", "password": "x"})
    assert (form.status_code, form.json()["error"]) == (415, "invalid_request")
    bad = post(client, "/auth/logout", Authorization="Bearer not.a.token")
    assert bad.status_code == 401
    assert bad["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="malformed token"'
    )


@pytest.mark.usefixtures("jwtgate")
def test_cookie_mode_under_a_nested_mount_with_django_csrf_on() -> None:
    """token_urls(cookie=True) under /v2/session/: the refresh cookie's Path is the mount,
    the endpoints' own CSRF check guards it, and Django's CSRF middleware stays out."""
    client = Client(enforce_csrf_checks=True)
    with override_settings(MIDDLEWARE=CSRF_MIDDLEWARE):
        response = login(client, "/v2/session/")
        assert response.status_code == 200, response.content
        body = response.json()
        assert "refresh_token" not in body
        cookie = response.cookies["jwtgate_refresh"]
        assert (cookie["path"], cookie["httponly"], cookie["samesite"]) == (
            "/v2/session",
            True,
            "Strict",
        )
        forged = post(client, "/v2/session/refresh")
        assert (forged.status_code, forged.json()["error"]) == (403, "access_denied")
        good = post(client, "/v2/session/refresh", **{"X-CSRF-Token": body["csrf_token"]})
        assert good.status_code == 200
        assert good.json()["csrf_token"] != body["csrf_token"]
        # Behind a script prefix (SCRIPT_NAME) the cookie's Path is the full one.
        prefixed = client.post(
            "/v2/session/token",
            json.dumps({"username": "alice", "password": "wonderland"}),
            content_type="application/json",
            SCRIPT_NAME="/app",
        )
        assert prefixed.cookies["jwtgate_refresh"]["path"] == "/app/v2/session"


@pytest.mark.django_db
@pytest.mark.usefixtures("alice")
def test_token_views_need_no_middleware_and_follow_the_settings(jwtgate: dict[str, Any]) -> None:
    """Without JWTGateMiddleware the views still serve; a new JWTGATE builds new sessions."""
    client = Client()
    with override_settings(MIDDLEWARE=[]):
        assert login(client).status_code == 200
        before = get_sessions()
        with override_settings(JWTGATE={**jwtgate, "ACCESS_TOKEN_TTL": 60}):
            assert get_sessions() is not before
            assert login(client).json()["expires_in"] == 60


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("jwtgate", "alice")
async def test_token_views_under_the_async_client(async_client: AsyncClient) -> None:
    """The views run under Django's async handler too (in its worker thread)."""
    response = await async_client.post(
        "/auth/token",
        json.dumps({"username": "alice", "password": "wonderland"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert json.loads(response.content)["token_type"] == "Bearer"


def test_token_urls_refuses_a_prefix_or_a_misspelt_option() -> None:
    """Where the patterns are included is the prefix; a typo is a TypeError at once."""
    with pytest.raises(TypeError, match="prefix"):
        token_urls(prefix="/auth")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="cookies"):
        token_urls(cookies=True)  # type: ignore[call-arg]
    names = [pattern.name for pattern in token_urls()]
    assert names == [
        "jwtgate-token",
        "jwtgate-refresh",
        "jwtgate-logout",
        "jwtgate-logout-all",
        "jwtgate-verify",
    ]


@pytest.fixture
def anyio_backend() -> str:
    """Django's async support runs on asyncio."""
    return "asyncio"


# -- @optional and @requires_scopes ---------------------------------------------------


@pytest.mark.parametrize("path", ["/maybe", "/async-maybe", "/optional-class"])
def test_optional_view_runs_without_a_token(client: Client, calls: list[str], path: str) -> None:
    """@optional: no token is the anonymous identity, a valid one is read, a bad one is 401;
    a view without the mark still needs a token."""
    assert client.get(path).json() == {"subject": None, "scopes": []}
    assert client.get(path, headers=bearer({"scope": "a"})).json() == {
        "subject": "alice",
        "scopes": ["a"],
    }
    assert_refused(client.get(path, headers=refusal("expired").headers), refusal("expired"))
    assert_refused(client.get("/"), refusal("missing"))
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("path", "scopes"), [("/scoped", "read reports"), ("/async-scoped", "reports")]
)
def test_requires_scopes_on_plain_views(
    client: Client, calls: list[str], path: str, scopes: str
) -> None:
    """@requires_scopes: 403 insufficient_scope naming the scopes, 200 with them."""
    assert_refused(client.get(path, headers=bearer({"scope": "other"})), scope_refusal(scopes))
    assert calls == []
    ok = client.get(path, headers=bearer({"scope": scopes + " more"}))
    assert ok.status_code == 200
    assert ok.json()["subject"] == "alice"


@pytest.mark.parametrize("path", ["/scoped", "/async-scoped"])
def test_requires_scopes_without_a_token_is_401(
    client: Client, calls: list[str], path: str
) -> None:
    """On a public path (no token needed by the middleware) the decorator still answers 401."""
    public = {**project_settings.JWTGATE, "PUBLIC_PATHS": ["/scoped", "/async-scoped"]}
    with override_settings(JWTGATE=public):
        assert_refused(client.get(path), refusal("missing"))
    assert calls == []


@pytest.mark.parametrize("path", ["/scoped", "/async-scoped"])
def test_requires_scopes_reads_the_token_on_a_public_path(client: Client, path: str) -> None:
    """On a public path the middleware does not read the token; the decorator does."""
    public = {**project_settings.JWTGATE, "PUBLIC_PATHS": ["/scoped", "/async-scoped"]}
    with override_settings(JWTGATE=public):
        ok = client.get(path, headers=bearer({"scope": "read reports"}))
        assert ok.json()["subject"] == "alice"
        assert_refused(
            client.get(path, headers=bearer({"scope": "x"})),
            scope_refusal("read reports" if path == "/scoped" else "reports"),
        )


@pytest.mark.anyio
async def test_optional_view_under_the_async_client(async_client: AsyncClient) -> None:
    """The async middleware passes a tokenless request to an @optional view as anonymous."""
    response = await async_client.get("/async-maybe")
    assert json.loads(response.content) == {"subject": None, "scopes": []}
    refused = await async_client.get("/async")
    assert refused.status_code == 401


@pytest.mark.usefixtures("jwtgate")
def test_a_form_read_before_the_token_view_is_a_415_not_a_500(client: Client) -> None:
    """A multipart body whose stream was read already (request.POST) is not JSON: 415."""
    with override_settings(MIDDLEWARE=["django_project.middleware.ReadsPost"]):
        response = client.post("/auth/token", {"username": "alice", "password": "x"})
    assert (response.status_code, response.json()["error"]) == (415, "invalid_request")


@pytest.mark.parametrize("path", ["/scoped", "/async-scoped"])
def test_requires_scopes_without_the_middleware(path: str) -> None:
    """Without JWTGateMiddleware the decorator verifies the token itself."""
    client = Client()
    with override_settings(MIDDLEWARE=[]):
        assert_refused(client.get(path), refusal("missing"))
        assert_refused(
            client.get(path, headers=refusal("bad-signature").headers), refusal("bad-signature")
        )
        ok = client.get(path, headers=bearer({"scope": "read reports"}))
        assert ok.json()["subject"] == "alice"


@pytest.mark.anyio
async def test_async_requires_scopes_under_the_async_client(async_client: AsyncClient) -> None:
    """The async wrapper runs in Django's async handler without a thread hop."""
    denied = await async_client.get("/async-scoped", headers=bearer({"scope": "x"}))
    assert denied.status_code == 403
    assert 'error="insufficient_scope"' in denied["WWW-Authenticate"]
    ok = await async_client.get("/async-scoped", headers=bearer({"scope": "reports"}))
    assert json.loads(ok.content)["subject"] == "alice"


# -- CSRF for bearer-authenticated POST views -----------------------------------------


def test_a_plain_post_view_behind_bearer_auth_hits_djangos_csrf_check(calls: list[str]) -> None:
    """With CsrfViewMiddleware a bearer-authenticated POST to a plain view is Django's 403;
    csrf_exempt or @requires_scopes (token in the Authorization header) lets it through."""
    client = Client(enforce_csrf_checks=True)
    headers = bearer({"scope": "write"})
    with override_settings(MIDDLEWARE=CSRF_MIDDLEWARE):
        refused = client.post("/post/plain", headers=headers)
        assert refused.status_code == 403
        assert b"CSRF" in refused.content
        assert client.post("/post/exempt", headers=headers).status_code == 200
        assert client.post("/post/scoped", headers=headers).status_code == 200
        assert client.post("/post/scoped-class", headers=headers).status_code == 200
        denied = client.post("/post/scoped-class", headers=bearer({"scope": "read"}))
        assert_refused(denied, scope_refusal("write"))
    assert calls == ["exempt-post", "scoped-post", "scoped-class"]


def test_requires_scopes_keeps_the_csrf_check_for_a_cookie_token(calls: list[str]) -> None:
    """A token read from a cookie is ambient: @requires_scopes then runs Django's CSRF check."""
    client = Client(enforce_csrf_checks=True)
    cookie_settings = {**project_settings.JWTGATE, "TOKEN_SOURCES": ["header", "cookie"]}
    client.cookies["access_token"] = bearer({"scope": "write"})["Authorization"].split()[1]
    with override_settings(MIDDLEWARE=CSRF_MIDDLEWARE, JWTGATE=cookie_settings):
        assert client.post("/post/scoped").status_code == 403
        assert client.get("/").status_code == 200  # the cookie authenticates
    assert calls == ["whoami"]


# -- docs/django.md's examples, as written ---------------------------------------------

DJANGO_DOC = Path(__file__).resolve().parents[2] / "docs" / "django.md"


def doc_block(section: str, index: int = 0) -> str:
    """The ``index``-th python block of the docs/django.md section headed ``section``."""
    text = DJANGO_DOC.read_text(encoding="utf-8")
    part = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"```python\n(.*?)```", part, re.DOTALL)
    return blocks[index]


@pytest.mark.django_db
@pytest.mark.usefixtures("jwtgate", "alice")
def test_the_docs_examples_run(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-view block and both URLconf blocks of docs/django.md work as written."""
    module = types.ModuleType("django_doc_urls")
    monkeypatch.setitem(sys.modules, "django_doc_urls", module)
    exec(doc_block("Per view: `optional` and `requires_scopes`"), module.__dict__)
    exec(doc_block("Token views: `jwtgate.contrib.django_views`", 0), module.__dict__)
    first = module.urlpatterns
    exec(doc_block("Token views: `jwtgate.contrib.django_views`", 1), module.__dict__)
    module.urlpatterns = [
        *first,
        *module.urlpatterns,
        path("welcome", module.welcome),
        path("doc-reports", module.reports),  # /reports/* has a rule in the project,
    ]
    with override_settings(ROOT_URLCONF="django_doc_urls"):
        assert client.get("/welcome").json() == {"welcome": "guest"}
        assert_refused(client.get("/doc-reports", headers=bearer()), scope_refusal("reports:read"))
        ok = client.get("/doc-reports", headers=bearer({"scope": "reports:read"}))
        assert ok.json() == {"reports": [], "for": "alice"}
        assert login(client).status_code == 200
        cookie_login = login(client, "/api/session/")
        assert cookie_login.cookies["jwtgate_refresh"]["path"] == "/api/session"


def staff_scope(subject: str, claims: dict[str, Any]) -> dict[str, Any]:
    """A claims hook (named by the CLAIMS_HOOK setting below)."""
    return {**claims, "scope": f"staff:{subject}"}


@pytest.mark.django_db
@pytest.mark.usefixtures("alice")
def test_the_claims_hook_setting_shapes_the_token_views_pairs(
    client: Client, jwtgate: dict[str, Any]
) -> None:
    """CLAIMS_HOOK reaches the Sessions the views build from JWTGATE: at login and at
    every refresh."""
    from jwtgate import Verifier

    hooked = {**jwtgate, "CLAIMS_HOOK": "contrib.test_django_views:staff_scope"}
    with override_settings(JWTGATE=hooked):
        pair = login(client).json()
        verify = Verifier(get_sessions().settings).verify
        assert verify(pair["access_token"]).scopes == frozenset({"staff:alice"})
        again = post(client, "/auth/refresh", {"refresh_token": pair["refresh_token"]}).json()
        assert verify(again["access_token"]).scopes == frozenset({"staff:alice"})


@pytest.mark.django_db
@pytest.mark.usefixtures("jwtgate", "alice")
def test_a_refresh_carrying_a_stale_access_token_reaches_the_view(client: Client) -> None:
    """The middleware does not refuse a token view for the stale access token a client
    sends along; logout still judges that token itself (401)."""
    pair = login(client).json()
    stale = "Bearer not.a.token"
    answer = post(
        client, "/auth/refresh", {"refresh_token": pair["refresh_token"]}, Authorization=stale
    )
    assert answer.status_code == 200
    assert post(client, "/auth/logout", None, Authorization=stale).status_code == 401


@pytest.mark.django_db
@pytest.mark.usefixtures("jwtgate", "alice")
def test_a_non_canonical_path_to_a_token_view_stays_refused(client: Client) -> None:
    """A dot segment in a token view's path is the middleware's 400, as everywhere (the
    views waive only refusals about the token: Rejection.about_the_token)."""
    answer = post(client, "/auth/./token", {"username": "alice", "password": "wonderland"})
    assert answer.status_code == 400
    assert 'error="invalid_request"' in answer.headers["WWW-Authenticate"]
