"""The Redis store's operations, without I/O: the key layout, the Lua scripts, the
arguments of each call and how a reply reads.

Both stores in :mod:`jwtgate.stores.redis` (sync and asyncio) build their calls
here and interpret the replies here; they differ only in how they send a call.

Keys (``p`` = prefix, ``t`` = the subject's tag): ``p{t}:f:<sid>`` a hash
(``cur``, ``prev``, ``rot``, ``created``, ``doubt``, ``ends``, ``client``);
``p{t}:j:<jti>``; ``p{t}:all``; ``p{t}:s`` the set of the subject's session ids
(the inventory); ``p o:<sid>`` the subject of a session (its own slot, written in
the same pipeline as the family: on a cluster, sent once to each of the two
nodes); ``prevocations`` the revocation counter, and the channel it is announced on.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jwtgate._sansio import Op

from ._contract import Rotation, SessionInfo, client_record

__all__ = ["RedisKeys", "deadline_margin", "live_owner", "split_url", "text"]

_ROTATE = """
if redis.replicate_commands then redis.replicate_commands() end -- TIME, then writes (Redis < 5)
local f = redis.call('HMGET', KEYS[1], 'cur', 'prev', 'rot', 'created', 'doubt')
if not f[1] then return {'revoked'} end
local logout = redis.call('GET', KEYS[2])
if logout and tonumber(f[4]) < tonumber(logout) then
  redis.call('DEL', KEYS[1])
  return {'revoked'}
end
local late = '0'
if ARGV[6] ~= '' then
  local t = redis.call('TIME')
  if tonumber(t[1]) + tonumber(t[2]) / 1000000 > tonumber(ARGV[6]) then late = '1' end
end
if f[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'prev', ARGV[1], 'rot', ARGV[3], 'doubt', late,
             'ends', ARGV[7])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[5]) then
    redis.call('PEXPIRE', KEYS[3], ARGV[5])
  end
  return {'rotated', ARGV[2]}
end
if f[2] == ARGV[1] and (f[1] == ARGV[2] or f[5] == '1') then
  redis.call('HSET', KEYS[1], 'doubt', late)
  return {'rotated', f[1]}
end
local grace = tonumber(ARGV[4])
if grace > 0 and f[2] == ARGV[1] and f[3]
   and tonumber(ARGV[3]) - tonumber(f[3]) <= grace then
  return {'grace', f[1]}
end
redis.call('DEL', KEYS[1])
return {'reused'}
"""

_CREATE = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'created', ARGV[2], 'ends', ARGV[4], 'client', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[6])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
"""

# A subject's live sessions; the index forgets the session ids whose family is gone.
# The family keys are built here, in the subject's hash slot (KEYS[1]'s tag).
_LIST = """
local out = {}
local logout = redis.call('GET', KEYS[2])
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', ARGV[1] .. sid, 'created', 'rot', 'ends', 'client')
  if not f[1] then
    redis.call('SREM', KEYS[1], sid)
  elseif not (logout and tonumber(f[1]) < tonumber(logout)) then
    table.insert(out, {sid, f[1], f[2] or '', f[3] or '', f[4] or ''})
  end
end
return out
"""

_IS_REVOKED = """
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
local logout = redis.call('GET', KEYS[3])
if ARGV[1] == '1' then
  local created = redis.call('HGET', KEYS[1], 'created')
  if not created then return 1 end
  if logout and tonumber(created) < tonumber(logout) then return 1 end
  return 0
end
if logout and ARGV[3] ~= '' and tonumber(ARGV[3]) < tonumber(logout) then return 1 end
return 0
"""

_REVOKE_JTI = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
"""

_REVOKE_SUBJECT = """
local at = ARGV[1]
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) > tonumber(at) then at = current end
local ttl = tonumber(ARGV[2])
local pttl = redis.call('PTTL', KEYS[1])
if pttl > ttl then ttl = pttl end
redis.call('SET', KEYS[1], at, 'PX', ttl)
"""

# The counter and the channel of revoking writes, in one step: a cluster refuses
# PUBLISH in a pipeline, and a script publishes cluster-wide.
_ANNOUNCE = """
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[1], '1')
"""

_Call = tuple[list[str], list[Any]]


def _ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def text(reply: bytes | None) -> str | None:
    """A string reply, decoded."""
    return reply.decode() if reply is not None else None


def live_owner(sid: str, owner: str, listed: list[SessionInfo]) -> str | None:
    """``owner`` (the value of ``p o:<sid>``) while ``sid`` is among its live sessions:
    the owner key outlives a family ended by reuse or by a logout everywhere."""
    return owner if any(info.sid == sid for info in listed) else None


def split_url(url: str, prefix: str) -> tuple[str, str]:
    """The URL without jwtgate's own ``prefix`` query parameter, and the prefix to use."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = [v for k, v in query if k == "prefix"]
    rest = [(k, v) for k, v in query if k != "prefix"]
    if own:
        prefix = own[-1]
    if "{" in prefix or "}" in prefix:
        raise ValueError("a Redis key prefix may not contain '{' or '}' (hash tags)")
    return urlunsplit(parts._replace(query=urlencode(rest))), prefix


class RedisKeys:
    """Key names, with the subject's hash tag (one Redis Cluster slot per subject)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def tag(self, subject: str) -> str:
        digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"{self.prefix}{{u:{digest}}}"

    def family(self, subject: str, sid: str | None) -> str:
        return f"{self.tag(subject)}:f:{sid or ''}"

    def jti(self, subject: str, jti: str | None) -> str:
        return f"{self.tag(subject)}:j:{jti or ''}"

    def logout(self, subject: str) -> str:
        return f"{self.tag(subject)}:all"

    def sessions(self, subject: str) -> str:
        """The set of the subject's session ids (pruned when listed)."""
        return f"{self.tag(subject)}:s"

    def owner(self, sid: str) -> str:
        """Whose session ``sid`` is (its own slot: a session id alone names no subject)."""
        return f"{self.prefix}o:{sid}"

    def claim(self, key: str) -> str:
        """A ``claim_once`` key (its own slot: a proof names no subject)."""
        return f"{self.prefix}c:{key}"

    @property
    def changes(self) -> str:
        """The revocation counter key, and the channel revocations are announced on."""
        return f"{self.prefix}revocations"

    # Keys and arguments of each script, shared by the sync and async stores.

    def create(
        self,
        subject: str,
        sid: str,
        jti: str,
        now: float,
        ttl: float,
        client: Mapping[str, str] | None,
    ) -> _Call:
        recorded = json.dumps(client_record(client), separators=(",", ":"))
        keys = [self.family(subject, sid), self.sessions(subject)]
        return keys, [jti, _num(now), _ms(ttl), _num(now + ttl), recorded, sid]

    def listing(self, subject: str) -> _Call:
        return [self.sessions(subject), self.logout(subject)], [self.family(subject, "")]

    def rotate(
        self,
        subject: str,
        sid: str,
        presented: str,
        new: str,
        now: float,
        grace: float,
        ttl: float,
        deadline: float | None,
    ) -> _Call:
        keys = [self.family(subject, sid), self.logout(subject), self.sessions(subject)]
        args = [presented, new, _num(now), _num(grace), _ms(ttl), _num(deadline), _num(now + ttl)]
        return keys, args

    def revoke_jti(self, subject: str, jti: str, ttl: float) -> _Call:
        return [self.jti(subject, jti)], [_ms(ttl)]

    def revoke_subject(self, subject: str, at: float, ttl: float) -> _Call:
        return [self.logout(subject)], [_num(at), _ms(ttl)]

    def check(
        self, subject: str, sid: str | None, jti: str | None, issued_at: float | None
    ) -> _Call:
        keys = [self.family(subject, sid), self.jti(subject, jti), self.logout(subject)]
        flags = ["1" if sid is not None else "0", "1" if jti is not None else "0"]
        return keys, [*flags, _num(issued_at)]


_REVOKING = frozenset({"reused", "revoked"})
# The revocation counter expires like every other key; a feed that sees it vanish
# just starts over (one flush), so any TTL is safe.
_CHANGES_TTL = 86400


def deadline_margin(timeout: float) -> float:
    """How long before its caller gives up a rotation already counts as late.

    The reply still has to travel back, and the two clocks may differ a little:
    a quarter of the socket timeout, at most one second.
    """
    return min(1.0, timeout / 4)


def _deadline(deadline: float | None, timeout: float | None) -> float | None:
    """The caller's deadline, or this call's: now plus the socket timeout, less the margin."""
    if deadline is not None or timeout is None:
        return deadline
    return time.time() + timeout - deadline_margin(timeout)


def sessions_listed(subject: str, reply: list[list[bytes]]) -> list[SessionInfo]:
    """The inventory from the listing script's reply, oldest first."""

    def number(raw: bytes) -> float | None:
        return float(raw) if raw else None

    found = [
        SessionInfo(
            sid.decode(),
            subject,
            float(created),
            number(rotated),
            number(ends) or 0.0,
            json.loads(client) if client else {},
        )
        for sid, created, rotated, ends, client in reply
    ]
    return sorted(found, key=lambda info: (info.created, info.sid))


def _rotation(reply: list[bytes]) -> Rotation:
    outcome = reply[0].decode()
    current = reply[1].decode() if len(reply) > 1 else None
    return Rotation(outcome, current)  # type: ignore[arg-type]


def claim_op(writer: Any, name: str, ttl: float) -> Op[bool]:
    """``claim_once`` as one ``SET NX PX`` on the writer, which never re-sends: a claim
    sent twice would find its own first copy and refuse a proof used once."""
    return Op(lambda _store: writer.set(name, b"1", nx=True, px=_ms(ttl)), bool)
