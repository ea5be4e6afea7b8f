"""The Django admin of the Django ORM store (jwtgate.contrib.django_store.admin), driven
through Django's test client as a staff user, on the test project's database."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client, override_settings

from django_project import settings as project_settings
from jwtgate import TokenPair
from jwtgate.contrib.django import get_gate, get_sessions
from jwtgate.contrib.django_store.store import DjangoStore

CHANGELIST = "/admin/jwtgate_store/session/"

pytestmark = pytest.mark.django_db(transaction=True)  # the revocation feed reads in a thread


@pytest.fixture
def jwtgate() -> Iterator[dict[str, Any]]:
    """The project's settings on the Django store, with revocation checks on."""
    changed = {**project_settings.JWTGATE, "STORE": "django://", "CHECK_REVOCATION": True}
    with override_settings(JWTGATE=changed):
        yield changed


@pytest.fixture
def staff(django_user_model: Any) -> Client:
    """A logged-in staff user allowed to view and revoke (delete) sessions, no more."""
    user = django_user_model.objects.create_user("staffer", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="jwtgate_store", codename__in=["view_session", "delete_session"]
        )
    )
    client = Client()
    client.force_login(user)
    return client


def sid_of(pair: TokenPair) -> str:
    """The session id a token pair belongs to."""
    return str(get_sessions().verify(pair.access_token).claims["sid"])


def shown(client: Client, query: str = "") -> set[str]:
    """The session ids on the change list (with ``query``)."""
    response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    return set(re.findall(r'name="_selected_action" value="([^"]+)"', response.content.decode()))


def status(pair: TokenPair) -> int:
    """The project's answer to a request with the pair's access token."""
    return Client().get("/", headers={"Authorization": f"Bearer {pair.access_token}"}).status_code


def act(client: Client, action: str, *sids: str) -> Any:
    """POST an admin action on the change list for the sessions ``sids``."""
    return client.post(CHANGELIST, {"action": action, "_selected_action": list(sids)}, follow=True)


@pytest.mark.usefixtures("jwtgate")
def test_the_admin_lists_searches_and_revokes_sessions(
    staff: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """The change list shows live sessions by user; search and the user link filter it;
    revoking one session, then logging a user out everywhere, ends exactly those
    sessions, and the gate (CHECK_REVOCATION on) refuses their access tokens at once.
    The audit trail records both actions with the admin's client."""
    caplog.set_level(logging.INFO, logger="jwtgate.audit")
    sessions = get_sessions()
    alice1, alice2, bob = sessions.login("alice"), sessions.login("alice"), sessions.login("bob")
    a1, a2, b = sid_of(alice1), sid_of(alice2), sid_of(bob)
    DjangoStore().create_session(
        "carol",
        "carol-laptop",
        "r1",
        now=time.time(),
        ttl=60,
        client={"address": "203.0.113.9", "user_agent": "Firefox/140"},
    )
    assert {status(alice1), status(alice2), status(bob)} == {200}

    page = staff.get(CHANGELIST).content.decode()
    assert "203.0.113.9" in page and "Firefox/140" in page
    assert page.index(">alice<") < page.index(">bob<") < page.index(">carol<")  # by user
    assert shown(staff) == {a1, a2, b, "carol-laptop"}
    assert shown(staff, "?q=bob") == {b}
    assert shown(staff, "?subject=alice") == {a1, a2}
    assert shown(staff, f"?q={a2}") == {a2}

    done = act(staff, "revoke_sessions", a1)
    assert done.status_code == 200 and "Revoked 1 session(s)." in done.content.decode()
    assert (status(alice1), status(alice2), status(bob)) == (401, 200, 200)
    assert shown(staff) == {a2, b, "carol-laptop"}

    done = act(staff, "log_out_everywhere", a2)
    assert "Logged out everywhere: alice." in done.content.decode()
    assert (status(alice2), status(bob)) == (401, 200)
    assert shown(staff) == {b, "carol-laptop"}
    assert get_sessions().login("alice")  # a new login after that works
    assert len(shown(staff, "?subject=alice")) == 1

    audit = [r.jwtgate_audit for r in caplog.records if r.name == "jwtgate.audit"]  # type: ignore[attr-defined]
    actions = [(a["event"], a["outcome"], a["subject"]) for a in audit if a["event"] != "login"]
    assert actions == [("revoke", "success", "alice"), ("logout_all", "success", "alice")]
    revoked = next(a for a in audit if a["event"] == "revoke")
    assert (revoked["session_id"], revoked["client_address"]) == (a1, "127.0.0.1")


@pytest.mark.usefixtures("jwtgate")
def test_the_admin_is_read_only(staff: Client) -> None:
    """No adding or editing sessions, and no plain delete action that would bypass the store;
    a session's own page shows it, and its delete button revokes it through the store."""
    pair = get_sessions().login("alice")
    sid = sid_of(pair)
    assert staff.get(CHANGELIST + "add/").status_code == 403
    page = staff.get(f"{CHANGELIST}{sid}/change/")
    assert page.status_code == 200 and 'name="subject"' not in page.content.decode()
    listing = staff.get(CHANGELIST).content.decode()
    assert "delete_selected" not in listing and "revoke_sessions" in listing
    assert staff.post(f"{CHANGELIST}{sid}/delete/", {"post": "yes"}).status_code == 302
    assert status(pair) == 401
    assert shown(staff) == set()


@pytest.mark.usefixtures("jwtgate")
def test_viewing_staff_cannot_revoke(django_user_model: Any) -> None:
    """A staff user with the view permission alone sees sessions but gets no actions."""
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="jwtgate_store", codename="view_session")
    )
    client = Client()
    client.force_login(user)
    sid = sid_of(get_sessions().login("alice"))
    assert shown(client) == set()  # no action checkboxes without an action
    page = client.get(CHANGELIST).content.decode()
    assert sid in page and "revoke_sessions" not in page
    assert act(client, "revoke_sessions", sid).status_code == 200
    assert get_sessions().store.session_subject(sid) == "alice"


def test_an_unknown_session_page_is_not_found(admin_client: Client) -> None:
    """A session id that is not live is a 404-style redirect, not an error."""
    response = admin_client.get(f"{CHANGELIST}{uuid.uuid4().hex}/change/")
    assert response.status_code == 302  # the admin's "does not exist" message and redirect


@pytest.mark.usefixtures("jwtgate")
@pytest.mark.parametrize("subject", ["u" * 300, "alice "], ids=["long", "trailing-space"])
def test_the_admin_logs_out_a_subject_the_store_keeps_as_a_digest(
    staff: Client, subject: str
) -> None:
    """review2: a subject the Django store keeps as its digest (over 255 characters, a
    trailing space) reads back from the table as the digest, a plain string; the admin's
    "log out everywhere" passes it to Sessions.logout_all, which hashes it again, so the
    user's tokens stay valid while the admin reports success."""
    pair = get_sessions().login(subject)
    assert status(pair) == 200
    done = act(staff, "log_out_everywhere", sid_of(pair))
    assert "Logged out everywhere" in done.content.decode()
    assert status(pair) == 401


@pytest.mark.usefixtures("jwtgate")
def test_the_admin_revokes_a_session_the_store_keeps_under_a_digest(staff: Client) -> None:
    """review2: the same for a session id kept as its digest (a store caller's own sid)."""
    odd = "s" * 300
    DjangoStore().create_session("carol", odd, "r1", now=time.time(), ttl=60)
    (listed,) = shown(staff, "?subject=carol")
    done = act(staff, "revoke_sessions", listed)
    assert re.findall(r"Revoked \d session\(s\)\.", done.content.decode()) == [
        "Revoked 1 session(s)."
    ]
    assert DjangoStore().list_sessions("carol") == []


def test_a_settings_change_stops_the_revocation_feed_of_the_gate_it_replaces() -> None:
    """The Gate built for the old JWTGATE polls the store in a thread: replacing the
    settings stops it, so no thread reads the database while the test runner flushes
    it (a teardown failed with "database table is locked: jwtgate_change")."""
    changed = {**project_settings.JWTGATE, "STORE": "django://", "CHECK_REVOCATION": True}
    with override_settings(JWTGATE=changed):
        pair = get_sessions().login("alice")
        assert status(pair) == 200
        gate = get_gate()
        assert gate.revocation is not None
        view = gate.revocation.view()
        assert view is not None and view.feed._thread is not None
        assert view.feed._thread.is_alive()
    assert not view.feed._thread.is_alive()
