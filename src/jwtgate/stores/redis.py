"""The Redis store, for apps on many machines (redis-py, sync and asyncio clients).

Install with ``pip install 'jwtgate[redis]'``. ``redis://host:6379/0`` or
``rediss://`` (TLS); ``redis+cluster://host:port,…`` for a Redis Cluster;
``redis+sentinel://host:26379,…/service/0`` for the master Sentinel names (see
:mod:`jwtgate.stores._redis_connect`). Add ``?prefix=myapp:`` (or pass
``prefix=``, or set the ``store_key_prefix`` setting) to share one database
between apps, and ``?wait=1`` so that a write counts as done only once a replica
has it (a failover then loses nothing acknowledged).

Design:

- **Every key expires** with the remaining lifetime of what it guards (a
  family: its refresh token; a revoked ``jti``: its token; a logout-all mark: the
  longest token lifetime), so Redis never needs purging.
- **Check-and-write is one step**: rotation (read the family, compare, update or
  delete) and the revocation check run as Lua scripts, which Redis executes
  atomically; 50 concurrent refreshes of one token yield exactly one rotation.
- **Redis Cluster**: every key of a subject (its families, revoked ids and
  logout-all mark) carries the hash tag ``{u:<sha256(subject)>}``, so a script
  or a check touches one slot and stays one round trip.
- **Acknowledged means replicated, when asked** (``wait=N``): a write's commands
  and a ``WAIT N`` go down one connection per node (``WAIT`` counts the writes of
  its own connection). A revocation or a login that too few replicas confirm in
  time is a 503 (sending it again is harmless); a rotation is answered anyway,
  with a warning, since a 503 for an applied rotation would turn the client's
  retry into reuse.
- **Writes are pipelines of EVAL, not EVALSHA**: a pipeline cannot reload a
  script the server forgot (a new master after a failover has none), and a
  write must not be re-sent.
- **Failures are quick and temporary**: socket timeouts are bounded, and any
  ``RedisError`` (or cluster error) becomes :class:`~jwtgate.errors.StoreUnavailable` (503 or
  ``on_store_error: allow``). The connection pools reconnect by themselves.
- **A write is sent once.** Reads get one quick retry of a dropped connection,
  never of a timeout (one socket timeout bounds a call). Writes go through a
  second client that never retries: a rotation re-sent after a timeout would
  wait behind the first copy, and a frozen server would run both when it wakes.
- **A refresh is applied exactly once.** A rotation carries its caller's deadline
  (now plus the socket timeout, less :func:`deadline_margin`); the script compares
  it with the server's ``TIME``. Applied after it, the rotation is *in doubt*:
  the caller has already answered 503, so the next presentation of the same
  refresh token is answered with the same successor instead of counting as
  reuse (see ``jwtgate.stores._base.decide``). This assumes the app's and the
  server's clocks agree to within the margin.

The key layout is in :mod:`jwtgate.stores._redis_ops`; how the clients connect,
the change feed (:class:`RedisFeed`) and :func:`persistence` are in
:mod:`jwtgate.stores._redis_connect`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from jwtgate._sansio import Op

from ._base import AsyncContext, SyncContext
from ._contract import Rotation, SessionInfo, logger, unavailable
from ._redis_connect import (
    RedisFeed,
    Writes,
    clients,
    failures,
    import_async,
    import_sync,
    parse,
    persistence,
    socket_timeout,
)
from ._redis_ops import (
    _ANNOUNCE,
    _CHANGES_TTL,
    _CREATE,
    _IS_REVOKED,
    _LIST,
    _REVOKE_JTI,
    _REVOKE_SUBJECT,
    _REVOKING,
    _ROTATE,
    RedisKeys,
    _deadline,
    _ms,
    _rotation,
    claim_op,
    live_owner,
    sessions_listed,
    split_url,
    text,
)
from ._redis_ops import deadline_margin as deadline_margin  # documented in docs/stores.md

if TYPE_CHECKING:
    import redis as redis_sync
    import redis.asyncio as redis_async

R = TypeVar("R")
_Timing = tuple[float, float, float, "float | None"]  # now, grace, ttl, deadline

__all__ = [
    "AsyncRedisStore",
    "RedisFeed",
    "RedisKeys",
    "RedisStore",
    "persistence",
    "split_url",
]


def _announce_failed(exc: BaseException) -> None:
    # The write it announces is committed: refusing the request now would report a
    # failure that did not happen (and hide a ReusedToken behind a 503). Whoever
    # watches the feed is not told of this change; a cache over it must bound the
    # age of what it serves (jwtgate.feed does).
    logger.warning(
        "jwtgate: a revocation was stored but announcing it failed (%s: %s); "
        "processes watching the change feed are not told of it",
        type(exc).__name__,
        exc,
    )


@contextmanager
def _unavailable_on(error: tuple[type[Exception], ...]) -> Iterator[None]:
    try:
        yield
    except error as exc:
        raise unavailable("redis", exc) from exc


class _RedisBase:
    """What both Redis stores share: the clients, the key layout, the registered
    scripts, and every operation as an :class:`~jwtgate._sansio.Op` (the call to send,
    how to read the reply, whether it is announced). The stores only send."""

    client: Any
    writer: Any

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "jwtgate:",
        writer: Any = None,
        wait: int = 0,
        timeout: float | None = None,
        guards: list[Any] | None = None,
    ) -> None:
        self.client = client
        self._guards = guards or []  # the sentinels' clients: closed with the store
        self.writer = writer if writer is not None else client
        self._socket_timeout = timeout if timeout is not None else socket_timeout(self.writer)
        self.wait = wait
        self._writes = Writes(self.writer, wait, self._socket_timeout or 5.0)
        self.keys = RedisKeys(prefix)
        self._check = client.register_script(_IS_REVOKED)
        self._list = client.register_script(_LIST)
        self._announce_script = client.register_script(_ANNOUNCE)

    def _read(self, script: Any, call: tuple[list[str], list[Any]]) -> Any:
        keys, args = call
        return lambda _store: script(keys=keys, args=args, client=self.client)

    def _write(
        self, keys: list[str], *queue: Callable[[Any], object], strict: bool = True
    ) -> tuple[Any, Callable[[list[Any]], list[Any]]]:
        """See :meth:`jwtgate.stores._redis_connect.Writes.pipelined`."""
        return self._writes.pipelined(keys, queue, strict=strict)

    def _eval(self, source: str, call: tuple[list[str], list[Any]]) -> Callable[[Any], object]:
        keys, args = call
        return lambda pipe: pipe.execute_command("EVAL", source, len(keys), *keys, *args)

    def _create_op(
        self,
        subject: str,
        sid: str,
        jti: str,
        timing: tuple[float, float],
        client: Mapping[str, str] | None,
    ) -> Op[None]:
        now, ttl = timing
        call = self.keys.create(subject, sid, jti, now, ttl, client)
        owner = self.keys.owner(sid)
        send, read = self._write(
            [call[0][0], owner],
            self._eval(_CREATE, call),
            lambda pipe: pipe.set(owner, subject, px=_ms(ttl)),
        )
        return Op(send, lambda replies: _none(read(replies)))

    def _rotate_op(
        self, subject: str, sid: str, presented: str, new: str, timing: _Timing
    ) -> Op[Rotation]:
        now, grace, ttl, deadline = timing
        owner = self.keys.owner(sid)

        def rotation(pipe: Any) -> object:
            # The deadline starts when the call is queued, once the client is ready: a
            # cluster client's first use discovers the slots, which is no part of it.
            due = _deadline(deadline, self._socket_timeout)
            call = self.keys.rotate(subject, sid, presented, new, now, grace, ttl, due)
            return self._eval(_ROTATE, call)(pipe)

        family = self.keys.family(subject, sid)
        send, read = self._write(
            [family, owner], rotation, lambda pipe: pipe.pexpire(owner, _ms(ttl)), strict=False
        )
        return Op(send, lambda replies: _rotation(read(replies)[0]), _revokes)

    def _revoke_session_op(self, subject: str, sid: str) -> Op[bool]:
        family, owner = self.keys.family(subject, sid), self.keys.owner(sid)
        send, read = self._write(
            [family, owner], lambda pipe: pipe.delete(family), lambda pipe: pipe.delete(owner)
        )
        return Op(send, lambda replies: bool(read(replies)[0]), _always)

    def _list_op(self, subject: str) -> Op[list[SessionInfo]]:
        call = self._read(self._list, self.keys.listing(subject))
        return Op(call, lambda reply: sessions_listed(subject, reply))

    def _owner_op(self, sid: str) -> Op[str | None]:
        owner = self.keys.owner(sid)
        return Op(lambda _store: self.client.get(owner), text)

    def _revoke_jti_op(self, subject: str, jti: str, ttl: float) -> Op[None]:
        call = self.keys.revoke_jti(subject, jti, ttl)
        send, read = self._write(call[0], self._eval(_REVOKE_JTI, call))
        return Op(send, lambda replies: _none(read(replies)), _always)

    def _revoke_subject_op(self, subject: str, at: float, ttl: float) -> Op[None]:
        call = self.keys.revoke_subject(subject, at, ttl)
        send, read = self._write(call[0], self._eval(_REVOKE_SUBJECT, call))
        return Op(send, lambda replies: _none(read(replies)), _always)

    def _check_op(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> Op[bool]:
        return Op(self._read(self._check, self.keys.check(subject, sid, jti, issued_at)), bool)

    def _ping_op(self) -> Op[int]:
        return Op(lambda _store: self.writer.ping(), lambda _reply: 0)

    def _announcement(self) -> Any:
        """Announce a revoking write (the counter and the channel)."""
        keys, args = [self.keys.changes], [_CHANGES_TTL]
        return self._announce_script(keys=keys, args=args, client=self.writer)


def _none(_reply: object) -> None:
    return None


def _always(_result: object) -> bool:
    return True


def _revokes(rotation: Rotation) -> bool:
    return rotation.outcome in _REVOKING


class RedisStore(_RedisBase, SyncContext):
    """A :class:`~jwtgate.stores.Store` on a Redis server (or a Redis Cluster client).

    ``client`` answers reads; ``writer`` (default: ``client``) sends every write,
    and should not retry by itself (``from_url`` builds one with
    ``Retry(NoBackoff(), 0)``): a write re-sent after a timeout runs twice once
    the server wakes up.
    """

    client: redis_sync.Redis
    writer: redis_sync.Redis

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "jwtgate:", timeout: float = 5.0) -> RedisStore:
        """The store for ``redis://…``, ``redis+cluster://…`` or ``redis+sentinel://…``
        (``?prefix=`` sets the key prefix, ``?wait=`` the replicas a write waits for)."""
        target = parse(url, prefix)
        reader, writer, guards = clients(import_sync(), target, timeout, asyncio=False)
        return cls(
            reader, prefix=target.prefix, writer=writer, wait=target.wait, timeout=timeout,
            guards=guards,
        )  # fmt: skip

    def _run(self, op: Op[R]) -> R:
        with _unavailable_on(failures(import_sync())):
            reply = op.call(self) if op.call is not None else None
        result = op.read(reply)
        if op.follow_up(result):
            self._announce()
        return result

    def create_session(
        self,
        subject: str,
        sid: str,
        jti: str,
        *,
        now: float,
        ttl: float,
        client: Mapping[str, str] | None = None,
    ) -> None:
        """See :meth:`jwtgate.stores.Store.create_session`."""
        self._run(self._create_op(subject, sid, jti, (now, ttl), client))

    def rotate(
        self,
        subject: str,
        sid: str,
        presented: str,
        new: str,
        *,
        now: float,
        grace: float,
        ttl: float,
        deadline: float | None = None,
    ) -> Rotation:
        """See :meth:`jwtgate.stores.Store.rotate` (``deadline``: by default the socket timeout)."""
        return self._run(self._rotate_op(subject, sid, presented, new, (now, grace, ttl, deadline)))

    def revoke_session(self, subject: str, sid: str) -> bool:
        """See :meth:`jwtgate.stores.Store.revoke_session`."""
        return self._run(self._revoke_session_op(subject, sid))

    def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_jti`."""
        self._run(self._revoke_jti_op(subject, jti, ttl))

    def revoke_subject(self, subject: str, *, at: float, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_subject`."""
        self._run(self._revoke_subject_op(subject, at, ttl))

    def _announce(self) -> None:
        try:
            self._announcement()
        except failures(import_sync()) as exc:
            _announce_failed(exc)

    def change_feed(self, interval: float) -> RedisFeed:
        """A :class:`~jwtgate.feed.ChangeFeed` for this server and key prefix."""
        return RedisFeed(self.client, self.keys.changes, interval)

    def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """See :meth:`jwtgate.stores.Store.is_revoked` (one script, one round trip)."""
        return self._run(self._check_op(subject, sid, jti, issued_at))

    def list_sessions(self, subject: str) -> list[SessionInfo]:
        """See :meth:`jwtgate.stores.Store.list_sessions`."""
        return self._run(self._list_op(subject))

    def session_subject(self, sid: str) -> str | None:
        """See :meth:`jwtgate.stores.Store.session_subject` (and :func:`live_owner`)."""
        owner = self._run(self._owner_op(sid))
        return None if owner is None else live_owner(sid, owner, self.list_sessions(owner))

    def claim_once(self, key: str, ttl: float) -> bool:
        """See :meth:`jwtgate.stores.Store.claim_once`: ``SET NX PX``, one key."""
        return self._run(claim_op(self.writer, self.keys.claim(key), ttl))

    def purge_expired(self) -> int:
        """Nothing to purge (every key carries its own TTL), once Redis answers: a store
        that cannot be reached is ``StoreUnavailable``, not "0 purged"."""
        return self._run(self._ping_op())

    def close(self) -> None:
        """Close the connection pools."""
        self.client.close()
        if self.writer is not self.client:
            self.writer.close()
        for guard in self._guards:
            guard.close()


class AsyncRedisStore(_RedisBase, AsyncContext):
    """An :class:`~jwtgate.stores.AsyncStore` on redis-py's asyncio client."""

    client: redis_async.Redis
    writer: redis_async.Redis

    _url: str | None = None  # set by from_url: the feed opens a sync client
    _timeout = 5.0

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "jwtgate:", timeout: float = 5.0
    ) -> AsyncRedisStore:
        """The store for the same URLs as :meth:`RedisStore.from_url`."""
        target = parse(url, prefix)
        reader, writer, guards = clients(import_async(), target, timeout, asyncio=True)
        store = cls(
            reader, prefix=target.prefix, writer=writer, wait=target.wait, timeout=timeout,
            guards=guards,
        )  # fmt: skip
        store._url, store._timeout = url, timeout
        return store

    async def _run(self, op: Op[R]) -> R:
        with _unavailable_on(failures(import_async())):
            if hasattr(self.writer, "get_node_from_key"):
                # A cluster learns its slots first: to aim each WAIT at its node, and
                # so that a rotation's deadline does not count the discovery.
                await self.writer.initialize()
            reply = await op.call(self) if op.call is not None else None
        result = op.read(reply)
        if op.follow_up(result):
            await self._announce()
        return result

    async def create_session(
        self,
        subject: str,
        sid: str,
        jti: str,
        *,
        now: float,
        ttl: float,
        client: Mapping[str, str] | None = None,
    ) -> None:
        """See :meth:`jwtgate.stores.Store.create_session`."""
        await self._run(self._create_op(subject, sid, jti, (now, ttl), client))

    async def rotate(
        self,
        subject: str,
        sid: str,
        presented: str,
        new: str,
        *,
        now: float,
        grace: float,
        ttl: float,
        deadline: float | None = None,
    ) -> Rotation:
        """See :meth:`jwtgate.stores.Store.rotate` (``deadline``: by default the socket timeout)."""
        timing = (now, grace, ttl, deadline)
        return await self._run(self._rotate_op(subject, sid, presented, new, timing))

    async def revoke_session(self, subject: str, sid: str) -> bool:
        """See :meth:`jwtgate.stores.Store.revoke_session`."""
        return await self._run(self._revoke_session_op(subject, sid))

    async def revoke_jti(self, subject: str, jti: str, *, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_jti`."""
        await self._run(self._revoke_jti_op(subject, jti, ttl))

    async def revoke_subject(self, subject: str, *, at: float, ttl: float) -> None:
        """See :meth:`jwtgate.stores.Store.revoke_subject`."""
        await self._run(self._revoke_subject_op(subject, at, ttl))

    async def _announce(self) -> None:
        try:
            await self._announcement()
        except failures(import_async()) as exc:
            _announce_failed(exc)

    def change_feed(self, interval: float) -> RedisFeed | None:
        """A sync-client feed for the same server (only for stores made by ``from_url``)."""
        if self._url is None:
            return None
        store = RedisStore.from_url(self._url, prefix=self.keys.prefix, timeout=self._timeout)
        return RedisFeed(store.client, self.keys.changes, interval, owner=store)

    async def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """See :meth:`jwtgate.stores.Store.is_revoked` (one script, one round trip)."""
        return await self._run(self._check_op(subject, sid, jti, issued_at))

    async def list_sessions(self, subject: str) -> list[SessionInfo]:
        """See :meth:`jwtgate.stores.Store.list_sessions`."""
        return await self._run(self._list_op(subject))

    async def session_subject(self, sid: str) -> str | None:
        """See :meth:`RedisStore.session_subject`."""
        owner = await self._run(self._owner_op(sid))
        if owner is None:
            return None
        return live_owner(sid, owner, await self.list_sessions(owner))

    async def claim_once(self, key: str, ttl: float) -> bool:
        """See :meth:`RedisStore.claim_once`."""
        return await self._run(claim_op(self.writer, self.keys.claim(key), ttl))

    async def purge_expired(self) -> int:
        """See :meth:`RedisStore.purge_expired`."""
        return await self._run(self._ping_op())

    async def aclose(self) -> None:
        """Close the connection pool (shielded: a cancelled shutdown still closes it)."""
        with anyio.CancelScope(shield=True):
            await self.client.aclose()
            if self.writer is not self.client:
                await self.writer.aclose()
            for guard in self._guards:
                await guard.aclose()
