"""review2: findings of the review of 3633fb4..854a00d, each a test that fails on it."""

from __future__ import annotations

import io
import json
import time
from contextlib import redirect_stderr
from pathlib import Path

from conftest import SECRET
from jwtgate.cli import EXIT_OK, main
from jwtgate.stores.postgres import PostgresStore
from jwtgate.stores.redis import RedisStore


def _cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stderr(err):
        code = main(list(argv), out)
    return code, out.getvalue() + err.getvalue()


def test_cli_revokes_a_session_it_lists_under_a_digest(postgres_url: str, tmp_path: Path) -> None:
    """`jwtgate sessions list --json` shows a session id PostgreSQL keeps as its digest
    (a caller's own sid over 255 characters) as the digest; `jwtgate sessions revoke`
    with that very id hashes it again and answers "no live session"."""
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"SECRET": SECRET, "STORE": postgres_url}))
    with PostgresStore.from_url(postgres_url) as store:
        store.create_session("carol", "s" * 300, "r1", now=time.time(), ttl=60)
    code, out = _cli("sessions", "list", "carol", "--json", "--settings", str(settings))
    assert code == EXIT_OK
    (listed,) = [info["sid"] for info in json.loads(out)]
    code, out = _cli("sessions", "revoke", listed, "--settings", str(settings))
    assert code == EXIT_OK, out


def test_redis_session_subject_of_an_ended_session_is_none_for_an_empty_subject(
    redis_url: str,
) -> None:
    """`owner and live_owner(...)` returns the owner "" itself, unchecked: an ended
    session of the subject "" still has an owner on Redis (None on every other store)."""
    with RedisStore.from_url(redis_url) as store:
        now = time.time()
        store.create_session("", "s-empty", "r1", now=now, ttl=60)
        store.revoke_subject("", at=now + 1, ttl=60)  # the owner key outlives the family
        assert store.list_sessions("") == []
        assert store.session_subject("s-empty") is None


def test_tls_is_not_a_backend_for_cluster_and_sentinel_urls() -> None:
    """backend_of names rediss:// 'redis' but rediss+cluster:// 'rediss+cluster', a label
    outside the documented set (redis, redis+cluster, redis+sentinel, ...)."""
    from jwtgate.telemetry import backend_of

    assert backend_of("rediss+cluster://h:1") == "redis+cluster"
    assert backend_of("rediss+sentinel://h:1/mymaster") == "redis+sentinel"


def test_revocations_written_before_the_digest_mapping_still_apply(postgres_url: str) -> None:
    """PostgreSQL kept 'alice ' and subjects of 256 to ~2700 bytes as themselves before
    3633fb4..854a00d (same schema version, no data migration); a logout everywhere or a
    revoked jti written then (the unchanged SQL functions, raw arguments) is looked up
    under the digest afterwards, so a sessionless token revoked before the upgrade
    passes again after it."""
    now = time.time()
    with PostgresStore.from_url(postgres_url) as store:
        for subject in ("alice ", "x" * 300):
            # What the previous PostgresStore.revoke_subject / revoke_jti executed.
            store._run(
                lambda conn, s=subject: conn.execute(
                    store._q["revoke_subject"], (s, now, now + 600, now)
                )
            )
            store._run(
                lambda conn, s=subject: conn.execute(store._q["revoke_jti"], (s, "j1", now + 600))
            )
            assert store.is_revoked(subject, None, None, now - 10) is True, subject
            assert store.is_revoked(subject, None, "j1", now + 10) is True, subject
