"""jwtgate.contrib.django in the test project (tests/django_project), under Django's
test client and async test client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import iscoroutinefunction
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.http import HttpRequest, HttpResponse
from django.test import override_settings

from conftest import SECRET, CountingDecisions
from django_project import settings as project_settings
from frameworks import (
    USER_REFUSED,
    Refusal,
    assert_refused,
    bearer,
    in_realm,
    refusal,
    refusals,
    scope_refusal,
)
from jwtgate import ConfigurationError, Settings
from jwtgate.contrib.django import JWTGateMiddleware, UserRefused, get_gate


def test_project_uses_the_shared_test_secret() -> None:
    """The project's JWTGATE secret is the one the token helpers sign with."""
    assert project_settings.SECRET == SECRET


def test_request_jwt_is_the_identity(client: Any, calls: list[str]) -> None:
    """A valid token reaches the view with request.jwt set to its Identity."""
    response = client.get("/", headers=bearer({"scope": "a b"}))
    assert response.status_code == 200
    assert response.json() == {"subject": "alice", "scopes": ["a", "b"]}
    assert calls == ["whoami"]


@pytest.mark.parametrize("refusal", refusals())
def test_refusals(client: Any, calls: list[str], refusal: Refusal) -> None:
    """Every refusal is the exact jwtgate answer and the view does not run."""
    response = client.get("/", headers=refusal.headers)
    assert_refused(response, refusal)
    assert calls == []


def test_public_path_and_rules(client: Any, calls: list[str]) -> None:
    """Public paths run anonymously; a rule's missing scope is 403 and the view does not run."""
    assert client.get("/health").json() == {"ok": True, "subject": None, "scopes": []}
    response = client.get("/reports/daily", headers=bearer({"scope": "read"}))
    assert_refused(response, scope_refusal("reports"))
    assert calls == ["health"]


@pytest.mark.django_db
def test_load_user_is_lazy(client: Any, django_assert_num_queries: Any) -> None:
    """With load_user on, a view that never reads request.user costs no query."""
    with django_assert_num_queries(0):
        response = client.get("/", headers=bearer({"sub": "nobody"}))
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("users")
def test_load_user_sets_request_user(client: Any, calls: list[str]) -> None:
    """request.user is the user whose USERNAME_FIELD equals the subject."""
    response = client.get("/user", headers=bearer())
    assert response.json() == {"username": "alice", "email": "alice@example.com"}
    assert calls == ["user"]


@pytest.mark.django_db
@pytest.mark.usefixtures("users")
@pytest.mark.parametrize("subject", ["carol", "nobody"], ids=["inactive", "unknown"])
def test_inactive_or_unknown_user_is_refused(client: Any, calls: list[str], subject: str) -> None:
    """An inactive or unknown user is refused with 401 when request.user is read."""
    response = client.get("/user", headers=bearer({"sub": subject}))
    assert_refused(response, USER_REFUSED)
    assert calls == []


@pytest.mark.django_db
@pytest.mark.usefixtures("users")
def test_user_field_and_override_settings(client: Any, calls: list[str]) -> None:
    """USER_FIELD picks the lookup field, and override_settings takes effect at once."""
    changed = {**project_settings.JWTGATE, "USER_FIELD": "email", "REALM": "people"}
    with override_settings(JWTGATE=changed):
        response = client.get("/user", headers=bearer({"sub": "alice@example.com"}))
        assert response.json() == {"username": "alice", "email": "alice@example.com"}
        assert_refused(client.get("/"), in_realm(refusal("missing"), "people"))
    assert_refused(client.get("/"), refusal("missing"))
    assert calls == ["user"]
    gate = get_gate()
    with override_settings(USE_TZ=False):  # other settings keep the built Gate
        assert get_gate() is gate


def test_user_refused_outside_a_view_is_still_not_a_500() -> None:
    """UserRefused is a PermissionDenied, so Django answers 403 where jwtgate cannot."""
    from django.core.exceptions import PermissionDenied

    assert isinstance(UserRefused(), PermissionDenied)
    middleware = JWTGateMiddleware(lambda request: HttpResponse())
    assert middleware.process_exception(HttpRequest(), ValueError()) is None


# -- async --------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    """Django's async support runs on asyncio."""
    return "asyncio"


def test_middleware_is_sync_and_async_capable() -> None:
    """One class serves both modes: it marks itself a coroutine function over async views."""

    async def async_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    assert JWTGateMiddleware.sync_capable
    assert JWTGateMiddleware.async_capable
    assert iscoroutinefunction(JWTGateMiddleware(async_view))
    assert not iscoroutinefunction(JWTGateMiddleware(lambda request: HttpResponse()))


@pytest.mark.anyio
async def test_async_client_valid_token(async_client: Any, calls: list[str]) -> None:
    """Under the async test client a valid token reaches the async view with request.jwt."""
    response = await async_client.get("/async", headers=bearer({"scope": "x"}))
    assert response.status_code == 200
    assert json.loads(response.content) == {"subject": "alice", "scopes": ["x"]}
    assert calls == ["async"]


@pytest.mark.anyio
@pytest.mark.parametrize("refusal", refusals())
async def test_async_client_refusals(async_client: Any, calls: list[str], refusal: Refusal) -> None:
    """Under the async test client every refusal is exact and the view does not run."""
    response = await async_client.get("/async", headers=refusal.headers)
    assert_refused(response, refusal)
    assert calls == []


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("users")
async def test_async_load_user(async_client: Any, calls: list[str]) -> None:
    """await request.auser() loads the user; an inactive or unknown one is refused with 401."""
    response = await async_client.get("/async-user", headers=bearer())
    assert json.loads(response.content) == {"username": "alice", "email": "alice@example.com"}
    for subject in ("carol", "nobody"):
        refused = await async_client.get("/async-user", headers=bearer({"sub": subject}))
        assert_refused(refused, USER_REFUSED)
    assert calls == ["async-user"]


# -- system checks ------------------------------------------------------------------


def jwtgate_check_ids() -> list[str]:
    """The ids of the jwtgate messages Django's system checks report now."""
    return [m.id for m in run_static_checks() if m.id and m.id.startswith("jwtgate.")]


def run_static_checks() -> list[Any]:
    """Django's checks without a database connection: from Django 6.1 ``run_checks()``
    passes every alias, and the store app's JSONField then asks the database whether it
    supports JSON (tests here have no database access)."""
    return list(checks.run_checks(databases=[]))


def test_system_checks_clean_for_the_project() -> None:
    """The project's settings pass the registered checks."""
    assert jwtgate_check_ids() == []
    call_command("check", verbosity=0, databases=[])


def test_system_checks_warn_on_a_relative_sqlite_path() -> None:
    """A relative SQLite path is a Warning (jwtgate.W001): check passes, but says so."""
    with override_settings(JWTGATE={"SECRET": SECRET, "STORE": "sqlite:///relative.db"}):
        messages = [m for m in run_static_checks() if m.id == "jwtgate.W001"]
        assert len(messages) == 1
        assert messages[0].level == checks.WARNING
        call_command("check", verbosity=0, databases=[])


@pytest.mark.parametrize(
    "jwtgate",
    [
        pytest.param({"SECRET": "short", "LEEWAYS": 3}, id="short-secret-and-typo"),
        pytest.param({"SECRET": SECRET, "ALGORITHMS": "HS256"}, id="bare-string"),
        pytest.param(None, id="missing"),
    ],
)
def test_system_checks_use_configuration_error_ids(jwtgate: Any) -> None:
    """manage.py check reports the same ids ConfigurationError carries."""
    with pytest.raises(ConfigurationError) as info:
        Settings.from_dict(jwtgate)
    with override_settings(JWTGATE=jwtgate):
        assert jwtgate_check_ids() == info.value.ids
        with pytest.raises(SystemCheckError) as failed:
            call_command("check", verbosity=0, databases=[])
        assert info.value.ids[0] in str(failed.value)
        with pytest.raises(ConfigurationError):
            get_gate()


AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
OURS = "jwtgate.contrib.django.JWTGateMiddleware"
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"


@pytest.mark.parametrize(
    ("middleware", "load_user", "reported"),
    [
        pytest.param([SESSION, OURS, AUTH], True, True, id="before-auth"),
        pytest.param([SESSION, AUTH, OURS], True, False, id="after-auth"),
        pytest.param([SESSION, OURS, AUTH], False, False, id="no-load-user"),
        pytest.param([OURS], True, False, id="no-auth-middleware"),
    ],
)
def test_system_check_reports_the_middleware_before_authentication(
    middleware: list[str], load_user: bool, reported: bool
) -> None:
    """With LOAD_USER, JWTGateMiddleware before AuthenticationMiddleware is jwtgate.E090 in
    `manage.py check`, naming the fix (that order makes request.user anonymous)."""
    jwtgate = {k: v for k, v in project_settings.JWTGATE.items() if k != "LOAD_USER"}
    jwtgate["load_user"] = load_user  # keys in either case
    # The project's admin wants its own middleware; these lists are about jwtgate's place.
    admin_middleware = ["admin.E408", "admin.E409", "admin.E410"]
    with override_settings(
        MIDDLEWARE=middleware, JWTGATE=jwtgate, SILENCED_SYSTEM_CHECKS=admin_middleware
    ):
        assert jwtgate_check_ids() == (["jwtgate.E090"] if reported else [])
        if not reported:
            call_command("check", verbosity=0, databases=[])
            return
        with pytest.raises(SystemCheckError) as failed:
            call_command("check", verbosity=0, databases=[])
    text = str(failed.value)
    assert f"(jwtgate.E090) '{OURS}' comes before '{AUTH}' in MIDDLEWARE" in text
    assert f"HINT: Move '{OURS}' after '{AUTH}' in MIDDLEWARE." in text


def test_a_repeated_token_takes_the_fast_path(
    client: Any, calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the first request of a token is decided in full by the sync middleware."""
    counting = CountingDecisions(get_gate(), monkeypatch)
    headers = bearer({"scope": "a"})
    for _ in range(3):
        assert client.get("/", headers=headers).json() == {"subject": "alice", "scopes": ["a"]}
    assert calls == ["whoami"] * 3
    assert counting.calls == 1


@pytest.mark.anyio
async def test_a_repeated_token_takes_the_fast_path_async(
    async_client: Any, calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same in async mode, where the fast path must not block the loop either."""
    counting = CountingDecisions(get_gate(), monkeypatch)
    headers = bearer({"scope": "x"})
    for _ in range(3):
        response = await async_client.get("/async", headers=headers)
        assert json.loads(response.content) == {"subject": "alice", "scopes": ["x"]}
    assert calls == ["async"] * 3
    assert counting.calls == 1


def test_system_check_wants_a_store_for_the_token_views() -> None:
    """The project mounts the token views: a JWTGATE without STORE is jwtgate.E062 in
    `manage.py check`, not a 500 at the first login; without the views it is fine."""
    storeless = {k: v for k, v in project_settings.JWTGATE.items() if k != "STORE"}
    with override_settings(JWTGATE=storeless):
        assert jwtgate_check_ids() == ["jwtgate.E062"]
        with pytest.raises(SystemCheckError) as failed:
            call_command("check", verbosity=0, databases=[])
        assert "HINT: Set JWTGATE['STORE']" in str(failed.value)
        with override_settings(ROOT_URLCONF="django_project.api_urls"):
            assert jwtgate_check_ids() == []


def test_the_resource_metadata_is_served_and_every_challenge_points_to_it(
    client: Any, calls: list[str]
) -> None:
    """RFC 9728 through Django's middleware (#17 item 3): GET and HEAD of the well-known
    document without a token, and the 401 names it in ``resource_metadata``."""
    from jwtgate.resource_metadata import WELL_KNOWN_PATH, metadata_document

    resource = "https://api.example/mcp"
    changed = {**project_settings.JWTGATE, "RESOURCE": resource}
    with override_settings(JWTGATE=changed):
        answer = client.get(f"{WELL_KNOWN_PATH}/mcp")
        assert answer.status_code == 200
        assert answer.json() == metadata_document(changed)
        head = client.head(f"{WELL_KNOWN_PATH}/mcp")
        assert (head.status_code, head.content) == (200, b"")
        challenge = client.get("/")["WWW-Authenticate"]
    expected = f'resource_metadata="https://api.example{WELL_KNOWN_PATH}/mcp"'
    assert challenge.startswith("Bearer ") and expected in challenge
    assert calls == []
