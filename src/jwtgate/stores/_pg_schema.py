"""The PostgreSQL store's schema: tables, the functions every write goes through,
and its version (the ``meta`` row), created and upgraded by jwtgate.

Every write is one call of one function, so it is one statement, one round trip
and one transaction (autocommit): a call cut off by a timeout either committed
whole or not at all, and nothing is ever re-sent. Revoking writes bump the
``meta.changes`` counter and ``NOTIFY`` the schema's channel in that same
transaction, so a listener (:class:`~jwtgate.stores.postgres.PostgresFeed`)
hears of a change only once it is visible.

Times: ``wall`` is the store's clock (expiry), the other times are the caller's
and only compared with each other, as the store contract says; lateness
(``deadline``) is judged on the server's clock, when the rotation is applied.
"""

from __future__ import annotations

from psycopg import sql

__all__ = ["SCHEMA_VERSION", "UPGRADES", "compose", "create_script"]

SCHEMA_VERSION = 1

# Each step takes a schema from one version to the next (key: the version it starts at);
# ``{s}`` names the schema.
UPGRADES: dict[int, tuple[str, ...]] = {}

_TABLES = """
CREATE TABLE {s}.meta (
    id integer PRIMARY KEY CHECK (id = 1),
    version integer NOT NULL,
    changes bigint NOT NULL DEFAULT 0
);
CREATE TABLE {s}.families (
    sid text PRIMARY KEY,
    subject text NOT NULL,
    current text NOT NULL,
    previous text,
    rotated_at double precision,
    created double precision NOT NULL,
    expires double precision NOT NULL,
    in_doubt boolean NOT NULL DEFAULT false,
    ends double precision NOT NULL,
    client jsonb NOT NULL DEFAULT '{{}}'
);
CREATE INDEX families_subject ON {s}.families (subject);
CREATE INDEX families_expires ON {s}.families (expires);
CREATE TABLE {s}.revoked_jti (
    subject text NOT NULL,
    jti text NOT NULL,
    expires double precision NOT NULL,
    PRIMARY KEY (subject, jti)
);
CREATE INDEX revoked_jti_expires ON {s}.revoked_jti (expires);
CREATE TABLE {s}.subjects (
    subject text PRIMARY KEY,
    logout_at double precision NOT NULL,
    expires double precision NOT NULL
);
CREATE INDEX subjects_expires ON {s}.subjects (expires);
CREATE TABLE {s}.claims (
    key text PRIMARY KEY,
    expires double precision NOT NULL
);
CREATE INDEX claims_expires ON {s}.claims (expires)
"""

_VERSION = "INSERT INTO {s}.meta (id, version) VALUES (1, {version})"

_FUNCTIONS = """
CREATE FUNCTION {s}.changed() RETURNS void LANGUAGE sql AS $$
    UPDATE {s}.meta SET changes = changes + 1;
    SELECT pg_notify({channel}, '');
$$;

CREATE FUNCTION {s}.rotate(
    p_subject text, p_sid text, p_presented text, p_new text, p_now double precision,
    p_grace double precision, p_ttl double precision, p_deadline double precision,
    p_wall double precision
) RETURNS TABLE (outcome text, successor text) LANGUAGE plpgsql AS $$
DECLARE
    f {s}.families%ROWTYPE;
    logout double precision;
    late boolean;
BEGIN
    -- The row lock makes concurrent rotations of one family take turns: the
    -- second sees the first one's result (READ COMMITTED re-reads the locked row).
    SELECT * INTO f FROM {s}.families
        WHERE sid = p_sid AND subject = p_subject AND expires > p_wall FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'revoked', NULL::text;
        RETURN;
    END IF;
    SELECT logout_at INTO logout FROM {s}.subjects
        WHERE subject = p_subject AND expires > p_wall;
    IF logout IS NOT NULL AND f.created < logout THEN
        DELETE FROM {s}.families WHERE sid = p_sid;
        RETURN QUERY SELECT 'revoked', NULL::text;
        RETURN;
    END IF;
    late := p_deadline IS NOT NULL
        AND extract(epoch FROM clock_timestamp()) > p_deadline;
    IF p_presented = f.current THEN
        UPDATE {s}.families SET previous = p_presented, current = p_new,
            rotated_at = p_now, in_doubt = late, expires = p_wall + p_ttl,
            ends = p_now + p_ttl
            WHERE sid = p_sid;
        RETURN QUERY SELECT 'rotated', p_new;
        RETURN;
    END IF;
    IF p_presented = f.previous AND (p_new = f.current OR f.in_doubt) THEN
        -- The same rotation again: its successor, handed out once more.
        UPDATE {s}.families SET in_doubt = late WHERE sid = p_sid;
        RETURN QUERY SELECT 'rotated', f.current;
        RETURN;
    END IF;
    IF p_grace > 0 AND p_presented = f.previous AND f.rotated_at IS NOT NULL
            AND p_now - f.rotated_at <= p_grace THEN
        RETURN QUERY SELECT 'grace', f.current;
        RETURN;
    END IF;
    IF late THEN
        -- Its caller has gone (503), and PostgreSQL runs other connections' statements
        -- meanwhile: the client's retry may have rotated first. Change nothing.
        RETURN QUERY SELECT 'revoked', NULL::text;
        RETURN;
    END IF;
    -- RFC 9700 section 4.14.2: a consumed refresh token came back; the whole family goes.
    DELETE FROM {s}.families WHERE sid = p_sid;
    PERFORM {s}.changed();
    RETURN QUERY SELECT 'reused', NULL::text;
END
$$;

CREATE FUNCTION {s}.revoke_session(p_subject text, p_sid text, p_wall double precision)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {s}.families WHERE sid = p_sid AND subject = p_subject AND expires > p_wall;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM {s}.changed();
    RETURN true;
END
$$;

CREATE FUNCTION {s}.revoke_jti(p_subject text, p_jti text, p_expires double precision)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO {s}.revoked_jti (subject, jti, expires) VALUES (p_subject, p_jti, p_expires)
        ON CONFLICT (subject, jti) DO UPDATE
        SET expires = greatest({s}.revoked_jti.expires, excluded.expires);
    SELECT {s}.changed();
$$;

CREATE FUNCTION {s}.revoke_subject(
    p_subject text, p_at double precision, p_expires double precision, p_wall double precision
) RETURNS void LANGUAGE sql AS $$
    -- An expired mark is replaced outright, a live one only moves forward.
    INSERT INTO {s}.subjects (subject, logout_at, expires) VALUES (p_subject, p_at, p_expires)
        ON CONFLICT (subject) DO UPDATE SET
        logout_at = CASE WHEN {s}.subjects.expires <= p_wall THEN excluded.logout_at
            ELSE greatest({s}.subjects.logout_at, excluded.logout_at) END,
        expires = greatest({s}.subjects.expires, excluded.expires);
    SELECT {s}.changed();
$$;

CREATE FUNCTION {s}.purge(p_wall double precision) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    total bigint := 0;
    n bigint;
BEGIN
    DELETE FROM {s}.families WHERE expires <= p_wall;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    DELETE FROM {s}.revoked_jti WHERE expires <= p_wall;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    DELETE FROM {s}.subjects WHERE expires <= p_wall;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
    DELETE FROM {s}.claims WHERE expires <= p_wall;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN total + n;
END
$$
"""


def create_script(schema: str, channel: str) -> bytes:
    """The script creating version :data:`SCHEMA_VERSION` in ``schema`` (which must
    exist), announcing changes on ``channel``."""
    script = sql.SQL(";\n".join((_TABLES, _FUNCTIONS, _VERSION)))
    return script.format(
        s=sql.Identifier(schema), channel=sql.Literal(channel), version=SCHEMA_VERSION
    ).as_bytes(None)


def compose(template: str, schema: str) -> bytes:
    """``template`` with ``{s}`` naming ``schema`` (quoted), ready to execute."""
    return sql.SQL(template).format(s=sql.Identifier(schema)).as_bytes(None)
