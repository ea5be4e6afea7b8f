"""The security audit trail: one structured log record per session event.

Each event goes to the ``jwtgate.audit`` logger at INFO, once per action, with a
stable event name and the same fields on every store and every door, so
structlog or any JSON formatter renders it (the fields are in the record's
``jwtgate_audit`` attribute, and the event name in ``event``). The ``audit_hook``
setting also gets each :class:`AuditEvent`, for apps that send events elsewhere
(a SIEM, a queue); a hook that raises is logged and never fails the request.

=================  ============================================================
``login``          a session started (``outcome``: ``success``), or the token
                   endpoint refused the credentials (``refused``)
``refresh``        a refresh token was rotated (``success``), answered within
                   the grace window (``grace``), or refused because its session
                   ended (``refused``)
``reuse_detected`` a consumed refresh token came back; its whole session was
                   revoked (``session_revoked``)
``logout``         a session (or a token without one) ended (``success``), or
                   there was nothing left to end (``not_found``)
``logout_all``     every session of the subject ended (``success``)
``revoke``         an operator revoked a token, a session or a subject (the CLI)
``key_rotation``   the JWKS provider's key set changed (``detail``: the ``kid``
                   values added, removed and replaced (new key material under
                   a known ``kid``), and the JWKS URL)
=================  ============================================================

A store outage is not an audit event (nothing was decided): the metrics
(``jwtgate.store.errors``) and the ``jwtgate.stores`` logger report it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .stores._contract import client_record

if TYPE_CHECKING:
    from .config import Settings
    from .telemetry import Telemetry

__all__ = ["EVENTS", "AuditEvent", "AuditHook", "EventName", "emit", "logger"]

logger = logging.getLogger("jwtgate.audit")

EventName = Literal[
    "login", "refresh", "reuse_detected", "logout", "logout_all", "revoke", "key_rotation"
]
EVENTS: tuple[EventName, ...] = (
    "login",
    "refresh",
    "reuse_detected",
    "logout",
    "logout_all",
    "revoke",
    "key_rotation",
)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit event. ``client_address`` and ``user_agent`` are set when the door
    that saw the request knows them (jwtgate's token endpoints do); ``detail`` holds
    what only some events have (``jti``, ``kids_added``…)."""

    event: EventName
    outcome: str
    subject: str | None = None
    session_id: str | None = None
    client_address: str | None = None
    user_agent: str | None = None
    detail: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The fields, every one always present (None when unknown)."""
        return {
            "event": self.event,
            "outcome": self.outcome,
            "subject": self.subject,
            "session_id": self.session_id,
            "client_address": self.client_address,
            "user_agent": self.user_agent,
            "detail": dict(self.detail),
        }


AuditHook = Callable[[AuditEvent], object]


def emit(event: AuditEvent, hook: AuditHook | None = None) -> None:
    """Log ``event`` on ``jwtgate.audit`` and hand it to ``hook``."""
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "jwtgate audit: %s %s subject=%r session=%r",  # %r: no line breaks from input
            event.event,
            event.outcome,
            event.subject,
            event.session_id,
            extra={"event": event.event, "jwtgate_audit": event.as_dict()},
        )
    if hook is not None:
        try:
            hook(event)
        except Exception:
            logger.exception("jwtgate: the audit_hook raised for a %s event", event.event)


class Reporter:
    """Reports session events of one Settings: the audit record, the hook, the metric."""

    def __init__(self, hook: AuditHook | None, telemetry: Telemetry | None) -> None:
        self.hook = hook
        self.telemetry = telemetry

    @classmethod
    def of(cls, settings: Settings) -> Reporter:
        """The reporter for ``settings`` (its ``audit_hook`` and ``telemetry``)."""
        from .telemetry import telemetry_for

        return cls(settings.audit_hook, telemetry_for(settings))

    def report(
        self,
        event: EventName,
        outcome: str,
        subject: str | None = None,
        session_id: str | None = None,
        client: Mapping[str, str] | None = None,
        detail: Mapping[str, str] | None = None,
    ) -> None:
        """Emit one event (``client``: a login's ``address`` and ``user_agent``, each cut
        to 256 characters as the stores keep them)."""
        client = client_record(client)
        emit(
            AuditEvent(
                event,
                outcome,
                subject,
                session_id,
                client.get("address"),
                client.get("user_agent"),
                dict(detail or {}),
            ),
            self.hook,
        )
        if self.telemetry is not None:
            self.telemetry.session_event(event)
