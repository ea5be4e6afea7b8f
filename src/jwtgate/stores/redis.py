"""The Redis store, for apps on many machines (redis-py, sync and asyncio clients).

Install with ``pip install 'jwtgate[redis]'``. ``redis://host:6379/0`` or
``rediss://`` (TLS); add ``?prefix=myapp:`` (or pass ``prefix=``, or set the
``store_key_prefix`` setting) to share one database between apps.

Design:

- **Every key expires** with the remaining lifetime of what it guards (a
  family: its refresh token; a revoked ``jti``: its token; a logout-all mark: the
  longest token lifetime), so Redis never needs purging.
- **Check-and-write is one step**: rotation (read the family, compare, update or
  delete) and the revocation check run as Lua scripts, which Redis executes
  atomically; 50 concurrent refreshes of one token yield exactly one rotation.
- **Redis Cluster ready**: every key of a subject (its families, revoked ids and
  logout-all mark) carries the hash tag ``{u:<sha256(subject)>}``, so a script
  or a check touches one slot and stays one round trip.
- **Failures are quick and temporary**: socket timeouts are bounded, and any
  ``RedisError`` becomes :class:`~jwtgate.errors.StoreUnavailable` (503 or
  ``on_store_error: allow``). The connection pools reconnect by themselves.
- **A write is sent once.** Reads (the revocation check, the change feed) get one
  quick retry, which covers a connection dropped by a restarted server, and only
  that: a timed-out read is not sent again, so one socket timeout is the real
  bound of a call to a stalled server (not twice it). Writes
  go through a second client that never retries: a rotation re-sent after a
  timeout would wait in the socket behind the first copy, and a frozen server
  would run both when it wakes.
- **A refresh is applied exactly once.** A rotation carries its caller's deadline
  (now plus the socket timeout, less :func:`deadline_margin`); the script compares
  it with the server's ``TIME``. Applied after it, the rotation is *in doubt*:
  the caller has already answered 503, so the next presentation of the same
  refresh token is answered with the same successor instead of counting as
  reuse (see ``jwtgate.stores._base.decide``). This assumes the app's and the
  server's clocks agree to within the margin.

Keys (``p`` = prefix, ``t`` = the subject's tag): ``p{t}:f:<sid>`` a hash
(``cur``, ``prev``, ``rot``, ``created``, ``doubt``, ``ends``, ``client``);
``p{t}:j:<jti>``; ``p{t}:all``; ``p{t}:s`` the set of the subject's session ids
(the inventory); ``p o:<sid>`` the subject of a session (its own slot, written in
the same pipeline as the family).

The change feed is a store capability, not a cache: only the store knows which of
its writes revoke, so it announces them (``INCR`` + ``PUBLISH`` on
``p`` + ``revocations``) and :class:`RedisFeed` listens. What to do with the
news is the revocation cache's business (``jwtgate.feed``, a layer over stores);
nothing here imports it.

Over 500 lines: for now, while Redis Cluster and Sentinel support land beside the
session inventory; the clients and the change feed move to a module of their own
right after.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from jwtgate._sansio import Op

from ._base import AsyncContext, SyncContext
from ._contract import Rotation, SessionInfo, logger, unavailable
from ._feed import ChangeFeed
from ._redis_ops import (
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
    sessions_listed,
    split_url,
)
from ._redis_ops import deadline_margin as deadline_margin  # documented in docs/stores.md

if TYPE_CHECKING:
    import redis as redis_sync
    import redis.asyncio as redis_async

R = TypeVar("R")
_Timing = tuple[float, float, float, "float | None"]  # now, grace, ttl, deadline

__all__ = ["AsyncRedisStore", "RedisFeed", "RedisKeys", "RedisStore", "persistence"]


_INSTALL_HINT = "the Redis store needs redis-py: pip install 'jwtgate[redis]'"


def _import_sync() -> Any:
    try:
        import redis
        import redis.backoff
        import redis.retry
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return redis


def _import_async() -> Any:
    try:
        import redis.asyncio
        import redis.asyncio.retry
        import redis.backoff
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return redis


def _socket_timeout(client: Any) -> float | None:
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    timeout = kwargs.get("socket_timeout")
    return float(timeout) if isinstance(timeout, (int, float)) else None


def _open_pubsub(client: Any) -> Any:
    """``client.pubsub()``, typed as Any on purpose.

    redis-py < 8.2 leaves ``pubsub()`` untyped and 8.2+ types it; going through
    Any keeps mypy's verdict the same for both, so no ``type: ignore`` depends on
    the installed version.
    """
    return client.pubsub(ignore_subscribe_messages=True)


class RedisFeed(ChangeFeed):
    """Subscribed to the revocation channel, and reading its counter every interval.

    A published change wakes the thread at once; the counter catches anything
    published while the subscription was down, and proves the server answers.
    """

    def __init__(
        self, client: redis_sync.Redis, channel: str, interval: float, *, owns_client: bool = False
    ) -> None:
        super().__init__(interval)
        self.client = client
        self.channel = channel
        self._owns_client = owns_client
        self._pubsub: Any = None

    def poll(self) -> object:
        if self._pubsub is None:
            pubsub = _open_pubsub(self.client)
            try:
                pubsub.subscribe(self.channel)
            except BaseException:
                pubsub.close()
                raise
            self._pubsub = pubsub
        return self.client.get(self.channel)

    def wait(self, timeout: float) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            self._stop.wait(timeout)
            return
        try:
            pubsub.get_message(timeout=timeout)
        except Exception:  # noqa: BLE001 - the next poll resubscribes, or fails
            self.reset()

    def reset(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            pubsub.close()

    def release(self) -> None:
        self.reset()
        if self._owns_client:
            self.client.close()


def persistence(url: str, *, timeout: float = 2.0) -> bool | None:
    """Whether the Redis server at ``url`` keeps its data across a restart (RDB
    snapshots or the AOF are on); None when it cannot be told (``CONFIG`` disabled,
    as on some managed services, or the server unreachable)."""
    redis = _import_sync()
    clean, _ = split_url(url, "jwtgate:")
    client = redis.Redis.from_url(clean, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        appendonly = client.config_get("appendonly").get("appendonly")
        save = client.config_get("save").get("save")
    except redis.RedisError:
        return None
    finally:
        client.close()
    if appendonly is None and save is None:
        return None
    return appendonly == "yes" or bool(save)


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
def _unavailable_on(error: type[Exception]) -> Iterator[None]:
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

    def __init__(self, client: Any, *, prefix: str = "jwtgate:", writer: Any = None) -> None:
        self.client = client
        self.writer = writer if writer is not None else client
        self._socket_timeout = _socket_timeout(self.writer)
        self.keys = RedisKeys(prefix)
        self._check = client.register_script(_IS_REVOKED)
        self._revoke_jti = client.register_script(_REVOKE_JTI)
        self._revoke_subject = client.register_script(_REVOKE_SUBJECT)
        self._list = client.register_script(_LIST)

    def _script(self, script: Any, call: tuple[list[str], list[Any]], *, write: bool = True) -> Any:
        keys, args = call
        return lambda _store: script(
            keys=keys, args=args, client=self.writer if write else self.client
        )

    def _with_owner(self, source: str, call: tuple[list[str], list[Any]], owner: Any) -> Any:
        """A script and a command on the session's owner key, sent in one pipeline (they
        live in different slots). EVAL, not EVALSHA: a pipeline cannot reload a script
        the server forgot, and a write must not be re-sent."""
        keys, args = call

        def send(_store: object) -> Any:
            pipe = self.writer.pipeline(transaction=False)
            pipe.eval(source, len(keys), *keys, *args)
            owner(pipe)
            return pipe.execute()

        return send

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
        send = self._with_owner(_CREATE, call, lambda pipe: pipe.set(owner, subject, px=_ms(ttl)))
        return Op(send, _none)

    def _rotate_op(
        self, subject: str, sid: str, presented: str, new: str, timing: _Timing
    ) -> Op[Rotation]:
        now, grace, ttl, deadline = timing
        due = _deadline(deadline, self._socket_timeout)
        call = self.keys.rotate(subject, sid, presented, new, now, grace, ttl, due)
        owner = self.keys.owner(sid)
        send = self._with_owner(_ROTATE, call, lambda pipe: pipe.pexpire(owner, _ms(ttl)))
        return Op(send, lambda replies: _rotation(replies[0]), _revokes)

    def _revoke_session_op(self, subject: str, sid: str) -> Op[bool]:
        family, owner = self.keys.family(subject, sid), self.keys.owner(sid)

        def send(_store: object) -> Any:
            pipe = self.writer.pipeline(transaction=False)
            pipe.delete(family)
            pipe.delete(owner)
            return pipe.execute()

        return Op(send, lambda replies: bool(replies[0]), _always)

    def _list_op(self, subject: str) -> Op[list[SessionInfo]]:
        call = self._script(self._list, self.keys.listing(subject), write=False)
        return Op(call, lambda reply: sessions_listed(subject, reply))

    def _owner_op(self, sid: str) -> Op[str | None]:
        owner = self.keys.owner(sid)
        return Op(lambda _store: self.client.get(owner), _text)

    def _revoke_jti_op(self, subject: str, jti: str, ttl: float) -> Op[None]:
        call = self._script(self._revoke_jti, self.keys.revoke_jti(subject, jti, ttl))
        return Op(call, _none, _always)

    def _revoke_subject_op(self, subject: str, at: float, ttl: float) -> Op[None]:
        call = self._script(self._revoke_subject, self.keys.revoke_subject(subject, at, ttl))
        return Op(call, _none, _always)

    def _check_op(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> Op[bool]:
        call = self.keys.check(subject, sid, jti, issued_at)
        return Op(self._script(self._check, call, write=False), bool)

    def _ping_op(self) -> Op[int]:
        # Nothing to purge (every key carries its own TTL), once Redis answers: a store
        # that cannot be reached is StoreUnavailable, not "0 purged".
        return Op(lambda _store: self.writer.ping(), lambda _reply: 0)

    def _announcement(self) -> Any:
        """The pipeline that announces a revoking write (the counter and the channel)."""
        pipe = self.writer.pipeline(transaction=False)
        pipe.incr(self.keys.changes)
        pipe.expire(self.keys.changes, _CHANGES_TTL)
        pipe.publish(self.keys.changes, b"1")
        return pipe


def _none(_reply: object) -> None:
    return None


def _text(reply: bytes | None) -> str | None:
    return reply.decode() if reply is not None else None


def _always(_result: object) -> bool:
    return True


def _revokes(rotation: Rotation) -> bool:
    return rotation.outcome in _REVOKING


def _clients(redis: Any, factory: Any, retry: Any, url: str, timeout: float) -> tuple[Any, Any]:
    """A reader that retries a dropped connection once, and a writer that never retries
    (a write re-sent after a timeout would run twice once a frozen server wakes)."""

    def client(retries: int) -> Any:
        backoff = redis.backoff.ExponentialBackoff(cap=0.1, base=0.01)
        return factory.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=retry(
                backoff if retries else redis.backoff.NoBackoff(),
                retries,
                supported_errors=(redis.ConnectionError,),  # a timeout is not retried
            ),
        )

    return client(1), client(0)


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
        """The store for ``redis://…`` / ``rediss://…`` (``?prefix=`` sets the key prefix)."""
        redis = _import_sync()
        clean, prefix = split_url(url, prefix)
        reader, writer = _clients(redis, redis.Redis, redis.retry.Retry, clean, timeout)
        return cls(reader, prefix=prefix, writer=writer)

    def _run(self, op: Op[R]) -> R:
        with _unavailable_on(_import_sync().RedisError):
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
            self._announcement().execute()
        except _import_sync().RedisError as exc:
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
        """See :meth:`jwtgate.stores.Store.session_subject`."""
        return self._run(self._owner_op(sid))

    def purge_expired(self) -> int:
        """Nothing to purge (every key carries its own TTL), once Redis answers: a store
        that cannot be reached is ``StoreUnavailable``, not "0 purged"."""
        return self._run(self._ping_op())

    def close(self) -> None:
        """Close the connection pools."""
        self.client.close()
        if self.writer is not self.client:
            self.writer.close()


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
        """The store for ``redis://…`` / ``rediss://…`` (``?prefix=`` sets the key prefix)."""
        redis = _import_async()
        clean, prefix = split_url(url, prefix)
        factory, retry = redis.asyncio.Redis, redis.asyncio.retry.Retry
        reader, writer = _clients(redis, factory, retry, clean, timeout)
        store = cls(reader, prefix=prefix, writer=writer)
        store._url, store._timeout = clean, timeout
        return store

    async def _run(self, op: Op[R]) -> R:
        with _unavailable_on(_import_async().RedisError):
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
            await self._announcement().execute()
        except _import_async().RedisError as exc:
            _announce_failed(exc)

    def change_feed(self, interval: float) -> RedisFeed | None:
        """A sync-client feed for the same server (only for stores made by ``from_url``)."""
        if self._url is None:
            return None
        store = RedisStore.from_url(self._url, prefix=self.keys.prefix, timeout=self._timeout)
        return RedisFeed(store.client, self.keys.changes, interval, owns_client=True)

    async def is_revoked(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> bool:
        """See :meth:`jwtgate.stores.Store.is_revoked` (one script, one round trip)."""
        return await self._run(self._check_op(subject, sid, jti, issued_at))

    async def list_sessions(self, subject: str) -> list[SessionInfo]:
        """See :meth:`jwtgate.stores.Store.list_sessions`."""
        return await self._run(self._list_op(subject))

    async def session_subject(self, sid: str) -> str | None:
        """See :meth:`jwtgate.stores.Store.session_subject`."""
        return await self._run(self._owner_op(sid))

    async def purge_expired(self) -> int:
        """See :meth:`RedisStore.purge_expired`."""
        return await self._run(self._ping_op())

    async def aclose(self) -> None:
        """Close the connection pool (shielded: a cancelled shutdown still closes it)."""
        with anyio.CancelScope(shield=True):
            await self.client.aclose()
            if self.writer is not self.client:
                await self.writer.aclose()
