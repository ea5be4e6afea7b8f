"""The tables of the Django ORM store, one model per thing a store remembers.

Times: ``created``, ``rotated_at``, ``ends`` and ``logout_at`` are the caller's
clock (seconds since the epoch, as the store protocol passes them); ``expires``
is the store's own clock (``time.time()`` of the process that wrote), the moment
the row may be forgotten and purged. Identifiers are at most 255 characters (a
longer subject, session or token id cannot be stored: the write fails, and the
store answers ``StoreUnavailable``).
"""

from __future__ import annotations

from django.db import models

from jwtgate.contrib.django_store.fields import IdField

__all__ = ["Change", "Claim", "LogoutMark", "RevokedJti", "Session"]


class Session(models.Model):
    """A session family: the one refresh token id that may be used next, and its history."""

    sid = IdField("session id", primary_key=True)
    subject = IdField(db_index=True)
    current = IdField("current refresh token id")
    previous = IdField("previous refresh token id", null=True)
    rotated_at = models.FloatField("last refreshed", null=True)
    in_doubt = models.BooleanField(default=False)
    created = models.FloatField()
    ends = models.FloatField("ends unless refreshed")
    client = models.JSONField(default=dict)
    expires = models.FloatField(db_index=True)

    class Meta:
        db_table = "jwtgate_session"
        verbose_name = "session"

    def __str__(self) -> str:
        return f"{self.subject} ({self.sid})"


class RevokedJti(models.Model):
    """A revoked token id (``jti``) of a subject, kept as long as the token could live."""

    subject = IdField()
    jti = IdField("token id")
    expires = models.FloatField(db_index=True)

    class Meta:
        db_table = "jwtgate_revoked_jti"
        constraints = [
            models.UniqueConstraint(fields=["subject", "jti"], name="jwtgate_revoked_jti_once")
        ]

    def __str__(self) -> str:
        return f"{self.subject} ({self.jti})"


class LogoutMark(models.Model):
    """A subject's "log out everywhere" mark: sessions created before it are dead."""

    subject = IdField(primary_key=True)
    logout_at = models.FloatField()
    expires = models.FloatField(db_index=True)

    class Meta:
        db_table = "jwtgate_logout_mark"

    def __str__(self) -> str:
        return self.subject


class Change(models.Model):
    """One row counting revoking writes: the change marker other processes poll."""

    id = models.SmallIntegerField(primary_key=True)
    counter = models.BigIntegerField(default=0)

    class Meta:
        db_table = "jwtgate_change"

    def __str__(self) -> str:
        return f"change {self.counter}"


class Claim(models.Model):
    """A key claimed once (``claim_once``: a DPoP proof already used), until it expires."""

    key = IdField(primary_key=True)
    expires = models.FloatField(db_index=True)

    class Meta:
        db_table = "jwtgate_claim"

    def __str__(self) -> str:
        return self.key
