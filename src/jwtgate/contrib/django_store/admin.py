"""The Django admin for jwtgate sessions: see them by user, revoke them.

Registered when ``jwtgate.contrib.django_store`` and ``django.contrib.admin``
are installed. The change list shows the live sessions (not expired, revoked or
logged out everywhere) of the store's database (the alias of a ``django://``
``JWTGATE["STORE"]``, else ``default``), sorted by user, then age; a user's name
links to that user's sessions alone, and the search box matches users and session
ids. Nothing can be added or edited. Two actions:

- **Revoke the selected sessions**: each ends at once (its refresh token is
  refused, and its access tokens too where ``CHECK_REVOCATION`` is on).
- **Log the selected sessions' users out everywhere**: every session of those
  users, and every token issued to them before now, ends.

Both need the model's delete permission and go through :class:`~jwtgate.Sessions`
over the store, as does the delete button of a session's page: the audit trail
records each (``revoke``, ``logout_all``, with the admin request's client), and
the revocation caches of every process learn of them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from jwtgate.contrib.django_checks import django_store_alias
from jwtgate.contrib.django_store.models import Session
from jwtgate.contrib.django_store.store import DjangoStore, live_sessions
from jwtgate.errors import StoreUnavailable
from jwtgate.feed import CachedStore
from jwtgate.sessions import Sessions
from jwtgate.stores._storable import Stored

__all__ = ["SessionAdmin"]


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)


def _sessions() -> Sessions:
    from jwtgate.contrib.django import get_gate

    # In the cache layer: a revocation is announced to this process's Gates at once.
    store = CachedStore(DjangoStore(django_store_alias() or "default"))
    return Sessions(get_gate().settings, store=store)


def _client(request: HttpRequest) -> Mapping[str, str]:
    """The admin user's client, as the audit trail records it."""
    from jwtgate.contrib.django_views import endpoint_request

    return endpoint_request(request).client


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    """Live sessions by user; revoke one, or log a user out everywhere."""

    list_display = ("user", "sid", "started", "refreshed", "ends_at", "address", "user_agent")
    search_fields = ("subject", "=sid")
    ordering = ("subject", "created", "sid")
    actions = ("revoke_sessions", "log_out_everywhere")
    fields = (
        "subject",
        "sid",
        "started",
        "refreshed",
        "ends_at",
        "address",
        "user_agent",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return live_sessions(django_store_alias() or "default", time.time())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)
        actions.pop("delete_selected", None)  # a plain delete would bypass the store
        return actions

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _sessions().revoke_session(Stored(obj.sid), client=_client(request))

    # -- columns ------------------------------------------------------------------

    @admin.display(description="user", ordering="subject")
    def user(self, obj: Any) -> str:
        query = urlencode({"subject": obj.subject})
        return str(format_html('<a href="?{}">{}</a>', query, obj.subject))

    @admin.display(description="started", ordering="created")
    def started(self, obj: Any) -> datetime | None:
        return _when(obj.created)

    @admin.display(description="last refreshed", ordering="rotated_at")
    def refreshed(self, obj: Any) -> datetime | None:
        return _when(obj.rotated_at)

    @admin.display(description="ends unless refreshed", ordering="ends")
    def ends_at(self, obj: Any) -> datetime | None:
        return _when(obj.ends)

    @admin.display(description="address")
    def address(self, obj: Any) -> str:
        return str((obj.client or {}).get("address", ""))

    @admin.display(description="user agent")
    def user_agent(self, obj: Any) -> str:
        return str((obj.client or {}).get("user_agent", ""))

    # -- actions ------------------------------------------------------------------

    @admin.action(description="Revoke the selected sessions", permissions=["delete"])
    def revoke_sessions(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # Read back from the table: as the store keeps them (a digest for an odd value).
        sids = [Stored(sid) for sid in queryset.values_list("sid", flat=True)]
        client = _client(request)
        try:
            sessions = _sessions()
            count = sum(sessions.revoke_session(sid, client=client) for sid in sids)
        except StoreUnavailable:
            self.message_user(request, "The session store is unavailable.", messages.ERROR)
            return
        self.message_user(request, f"Revoked {count} session(s).", messages.SUCCESS)

    @admin.action(
        description="Log the selected sessions' users out everywhere", permissions=["delete"]
    )
    def log_out_everywhere(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        subjects = sorted({Stored(s) for s in queryset.values_list("subject", flat=True)})
        client = _client(request)
        try:
            sessions = _sessions()
            for subject in subjects:
                sessions.logout_all(subject, client=client)
        except StoreUnavailable:
            self.message_user(request, "The session store is unavailable.", messages.ERROR)
            return
        names = ", ".join(subjects)
        self.message_user(request, f"Logged out everywhere: {names}.", messages.SUCCESS)
