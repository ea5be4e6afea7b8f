"""Issue 9: the verified-token cache and the revocation view (behaviour, never timings)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from conftest import NOW, SECRET, FakeClock, make_settings, make_token, pem
from jwtgate import Gate, Identity, Rejection, RequestInfo, Sessions, Settings, Verifier
from jwtgate.errors import (
    ConfigurationError,
    ExpiredToken,
    ImmatureToken,
    InvalidSignature,
    MalformedToken,
    UnknownKey,
)
from jwtgate.feed import RevocationView
from jwtgate.keys import StaticKeys, VerificationKey, load_public_key
from redis_server import RedisServer, redis_binary

REVOKED = 'Bearer realm="api", error="invalid_token", error_description="token revoked"'
DEADLINE = 10.0  # generous: correctness is asserted, the delay is the benchmark's business


def request(token: str) -> RequestInfo:
    """A GET with the token in the Authorization header."""
    return RequestInfo("GET", "/api/me", (f"Bearer {token}",))


# -- settings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "id_"),
    [
        pytest.param("verify_cache_size", -1, "E080", id="cache-size-negative"),
        pytest.param("verify_cache_size", 2_000_000, "E080", id="cache-size-huge"),
        pytest.param("verify_cache_max_age", 0, "E081", id="max-age-zero"),
        pytest.param("verify_cache_max_age", 100_000, "E081", id="max-age-huge"),
        pytest.param("revocation_cache_size", -5, "E082", id="revocation-size-negative"),
        pytest.param("revocation_cache_bytes", 1000, "E152", id="view-bytes-too-few"),
        pytest.param("revocation_cache_bytes", 2**31, "E152", id="view-bytes-too-many"),
        pytest.param("revocation_poll_interval", 0.001, "E083", id="poll-too-fast"),
        pytest.param("revocation_poll_interval", 60, "E083", id="poll-too-slow"),
    ],
)
def test_hot_path_settings_out_of_range(key: str, value: object, id_: str) -> None:
    """Cache and revocation-view settings outside their range are refused with their id."""
    with pytest.raises(ConfigurationError) as info:
        make_settings(**{key: value})
    assert [(p.id, p.key) for p in info.value.problems] == [(f"jwtgate.{id_}", key.upper())]


@pytest.mark.parametrize("key", ["verify_cache_size", "revocation_cache_size"])
def test_cache_sizes_must_be_whole_numbers(key: str) -> None:
    """A cache size given as a float or a bool is a type error (E003)."""
    for value in (10.5, True):
        with pytest.raises(ConfigurationError) as info:
            make_settings(**{key: value})
        assert [p.id for p in info.value.problems] == ["jwtgate.E003"]


def test_hot_path_defaults() -> None:
    """By default the cache holds 1024 tokens for 60 s and the view polls every 50 ms."""
    settings = make_settings()
    assert settings.verify_cache_size == 1024
    assert settings.verify_cache_max_age == 60
    assert settings.revocation_cache_size == 4096
    assert settings.revocation_poll_interval == 0.05


# -- the verified-token cache -------------------------------------------------------


def test_a_verified_token_is_served_from_the_cache() -> None:
    """The second verification of a token returns the very identity of the first."""
    verifier = Verifier(make_settings(), clock=FakeClock())
    token = make_token()
    first = verifier.verify(token)
    assert verifier.cache_size == 1
    assert verifier.verify(token) is first
    assert verifier.verify(token.encode()) is not first  # keyed by the exact token object


def test_cache_can_be_disabled() -> None:
    """verify_cache_size 0 verifies every time and remembers nothing."""
    verifier = Verifier(make_settings(verify_cache_size=0), clock=FakeClock())
    token = make_token()
    assert verifier.verify(token) is not verifier.verify(token)
    assert verifier.cache_size == 0


def test_failures_are_never_cached() -> None:
    """A refused token leaves the cache empty and is refused again."""
    verifier = Verifier(make_settings(), clock=FakeClock())
    forged = make_token(key="another-secret-0123456789-abcdefghijklmnopqrstuvwxyz")
    for _ in range(2):
        with pytest.raises(InvalidSignature):
            verifier.verify(forged)
    assert verifier.cache_size == 0


def test_a_cache_hit_rechecks_expiry_against_the_clock() -> None:
    """A cached token past exp (plus leeway) is refused as expired, and dropped."""
    clock = FakeClock()
    verifier = Verifier(make_settings(leeway=10), clock=clock)
    token = make_token(ttl=60)
    verifier.verify(token)
    clock.advance(65)  # past exp, within leeway: still served
    assert verifier.verify(token).subject == "alice"
    clock.advance(10)
    with pytest.raises(ExpiredToken):
        verifier.verify(token)
    assert verifier.cache_size == 0


def test_a_cache_hit_rechecks_nbf_and_iat_when_the_clock_goes_back() -> None:
    """If the clock moves back before nbf or iat, the cached token is refused as immature."""
    clock = FakeClock()
    verifier = Verifier(make_settings(), clock=clock)
    token = make_token({"nbf": NOW})
    verifier.verify(token)
    clock.now = NOW - 30
    with pytest.raises(ImmatureToken):
        verifier.verify(token)


def test_entries_older_than_the_max_age_are_verified_again() -> None:
    """After verify_cache_max_age seconds a cached token is verified in full again."""
    clock = FakeClock()
    verifier = Verifier(make_settings(verify_cache_max_age=30), clock=clock)
    token = make_token(ttl=300)
    first = verifier.verify(token)
    clock.advance(29)
    assert verifier.verify(token) is first
    clock.advance(2)
    again = verifier.verify(token)
    assert again is not first
    assert again.claims == first.claims


@pytest.mark.slow
def test_the_cache_never_grows_beyond_its_bound() -> None:
    """100,000 distinct valid tokens leave at most verify_cache_size entries and no growth."""
    verifier = Verifier(make_settings(), clock=FakeClock())
    bound = verifier.settings.verify_cache_size
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}')
    algorithm = jwt.api_jws.PyJWS().get_algorithm_by_name("HS256")
    key = algorithm.prepare_key(SECRET)

    def mint(i: int) -> str:
        body = json.dumps({"sub": f"user{i}", "exp": NOW + 300}).encode()
        signing_input = header + b"." + jwt.utils.base64url_encode(body)
        signature = jwt.utils.base64url_encode(algorithm.sign(signing_input, key))
        return (signing_input + b"." + signature).decode()

    tracemalloc.start()
    try:
        # Fill the cache twice over, so every entry left was allocated while traced.
        for i in range(2 * bound):
            verifier.verify(mint(i))
        assert verifier.cache_size == bound
        full = tracemalloc.get_traced_memory()[0]
        for i in range(2 * bound, 100_000):
            verifier.verify(mint(i))
        grown = tracemalloc.get_traced_memory()[0] - full
    finally:
        tracemalloc.stop()
    assert verifier.cache_size == bound
    assert grown < 256 * 1024  # entries are replaced, not accumulated


def test_clear_cache_forgets_everything() -> None:
    """clear_cache() empties the cache; the next verification is a full one."""
    verifier = Verifier(make_settings(), clock=FakeClock())
    token = make_token()
    first = verifier.verify(token)
    verifier.clear_cache()
    assert verifier.cache_size == 0
    assert verifier.verify(token) is not first


class SwappableKeys:
    """A key source whose keys change, like a remote JWKS after a rotation."""

    def __init__(self, key: VerificationKey) -> None:
        self.current = StaticKeys([key])

    def get(self, algorithm: str, kid: str | None) -> VerificationKey:
        return self.current.get(algorithm, kid)

    async def get_async(self, algorithm: str, kid: str | None) -> VerificationKey:
        return self.current.get(algorithm, kid)


def rsa_key(kid: str, name: str = "rsa_public") -> VerificationKey:
    """The test RSA public key under ``kid``."""
    public = load_public_key(pem(name).encode())
    return VerificationKey(kid, frozenset({"RS256"}), public)


def test_a_rotated_out_key_stops_cached_tokens() -> None:
    """When the key source stops serving a key, tokens cached under it are refused."""
    keys = SwappableKeys(rsa_key("a"))
    settings = Settings.from_dict({"algorithms": ["RS256"], "public_key": pem("rsa_public")})
    verifier = Verifier(settings, clock=FakeClock(), keys=keys)
    token = make_token(key=pem("rsa_private"), algorithm="RS256", headers={"kid": "a"})
    verifier.verify(token)
    keys.current = StaticKeys([rsa_key("b")])
    with pytest.raises(UnknownKey):
        verifier.verify(token)
    assert verifier.cache_size == 0


@pytest.mark.anyio
async def test_a_replaced_key_is_checked_again_on_the_async_path() -> None:
    """A new key object under the same kid makes a cached token verify in full again."""
    keys = SwappableKeys(rsa_key("a"))
    settings = Settings.from_dict({"algorithms": ["RS256"], "public_key": pem("rsa_public")})
    verifier = Verifier(settings, clock=FakeClock(), keys=keys)
    token = make_token(key=pem("rsa_private"), algorithm="RS256", headers={"kid": "a"})
    first = await verifier.verify_async(token)
    assert await verifier.verify_async(token) is first
    keys.current = StaticKeys([rsa_key("a")])  # same kid, a new key object (a refetch)
    again = await verifier.verify_async(token)
    assert again is not first
    assert again.subject == "alice"


def test_new_settings_mean_a_new_cache() -> None:
    """Settings changed with replace() build a Verifier that re-checks every token."""
    settings = make_settings()
    token = make_token({"aud": "api"})
    Verifier(settings.replace(audience=["api"]), clock=FakeClock()).verify(token)
    with pytest.raises(Exception, match="audience"):
        Verifier(settings.replace(audience=["other"]), clock=FakeClock()).verify(token)


# -- strict, single-pass parsing ---------------------------------------------------


def _tamper_last(segment: str) -> str:
    """The same bytes under a non-canonical encoding (stray low bits in the last char)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return segment[:-1] + alphabet[alphabet.index(segment[-1]) + 1]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_non_canonical_base64url_is_refused(index: int) -> None:
    """A segment whose last character carries stray bits is malformed, in every segment."""
    verifier = Verifier(make_settings(), clock=FakeClock())
    # A kid of the right length leaves a partial last group in every segment.
    tokens = (make_token(headers={"kid": "k" * n}).split(".") for n in range(8))
    parts = next(p for p in tokens if all(len(s) % 4 in (2, 3) for s in p))
    parts[index] = _tamper_last(parts[index])
    with pytest.raises(MalformedToken):
        verifier.verify(".".join(parts))


def test_padding_is_refused() -> None:
    """A padded segment is not base64url as RFC 7515 defines it."""
    verifier = Verifier(make_settings(), clock=FakeClock())
    token = make_token()
    head, body, sig = token.split(".")
    with pytest.raises(MalformedToken):
        verifier.verify(f"{head}.{body}.{sig}" + "=" * (-len(sig) % 4 or 4))


# -- revocation: never bypassed, and at cached speed ------------------------------------


def test_a_cached_token_is_still_checked_for_revocation() -> None:
    """A token served from the verify cache is refused once its session is logged out."""
    settings = make_settings(store="memory://hot-cache", check_revocation=True)
    with Sessions(settings) as sessions:
        token = sessions.login("alice").access_token
        gate = Gate(settings)
        assert isinstance(gate.decide(request(token)), Identity)
        assert isinstance(gate.decide(request(token)), Identity)  # cached now
        sessions.logout(token)
        refused = gate.decide(request(token))
        assert isinstance(refused, Rejection)
        assert {k.lower(): v for k, v in refused.headers}["www-authenticate"] == REVOKED
        gate.close()


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file or the shared Redis server (with a prefix of this test's own)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'view.db'}"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
def gate_and_sessions(store_url: str) -> Iterator[tuple[Gate, Sessions, Settings]]:
    """A revocation-aware Gate and Sessions on the same store."""
    settings = make_settings(store=store_url, check_revocation=True)
    gate = Gate(settings)
    with Sessions(settings) as sessions:
        yield gate, sessions, settings
    gate.close()


def until(condition: Callable[[], bool]) -> bool:
    """Poll ``condition`` until it holds or DEADLINE passes (no timing is asserted)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def view_of(gate: Gate) -> RevocationView:
    """The Gate's sync revocation view."""
    assert gate.revocation is not None
    view = gate.revocation.view(True)
    assert view is not None
    return view


def revoke_elsewhere(settings: Settings, token: str) -> None:
    """Log the token's session out from another process (a second worker, the CLI)."""
    script = (
        "import json, sys\n"
        "from jwtgate import Sessions, Settings\n"
        "with Sessions(Settings.from_dict(json.loads(sys.argv[1]))) as s:\n"
        "    assert s.logout(sys.argv[2])\n"
    )
    data = {"secret": SECRET, "store": settings.store, "check_revocation": True}
    subprocess.run([sys.executable, "-c", script, json.dumps(data), token], check=True, timeout=60)


@pytest.mark.slow
def test_a_revocation_in_another_process_reaches_this_one(
    gate_and_sessions: tuple[Gate, Sessions, Settings],
) -> None:
    """Another process's logout is honoured here within the feed's bound, from the view."""
    gate, sessions, settings = gate_and_sessions
    token = sessions.login("alice").access_token
    view = view_of(gate)
    # Once cached, only the feed can bring the news of the revocation.
    assert until(lambda: isinstance(gate.decide(request(token)), Identity) and len(view) == 1)
    revoke_elsewhere(settings, token)
    assert until(lambda: isinstance(gate.decide(request(token)), Rejection))


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_revocation_in_another_process_reaches_the_async_path(
    store_url: str, anyio_backend: str
) -> None:
    """decide_async honours another process's logout too (SQLite in threads, Redis asyncio)."""
    if store_url.startswith("redis") and anyio_backend != "asyncio":
        pytest.skip("redis-py's async client runs on asyncio only")
    settings = make_settings(store=store_url, check_revocation=True)
    gate = Gate(settings)
    with Sessions(settings) as sessions:
        token = sessions.login("alice").access_token
    try:
        assert isinstance(await gate.decide_async(request(token)), Identity)
        assert gate.revocation is not None
        view = gate.revocation.view(False)
        assert view is not None
        assert until(lambda: view.feed.live)
        assert isinstance(await gate.decide_async(request(token)), Identity)
        revoke_elsewhere(settings, token)
        deadline = time.monotonic() + DEADLINE
        refused = False
        while not refused and time.monotonic() < deadline:
            refused = isinstance(await gate.decide_async(request(token)), Rejection)
            time.sleep(0.005)
        assert refused
    finally:
        await gate.aclose()


def test_without_a_feed_every_request_asks_the_store(tmp_path: Path) -> None:
    """revocation_cache_size 0 keeps no view; revocations still work immediately."""
    settings = make_settings(
        store=f"sqlite:///{tmp_path / 'x.db'}", check_revocation=True, revocation_cache_size=0
    )
    gate = Gate(settings)
    with Sessions(settings) as sessions:
        token = sessions.login("alice").access_token
        assert isinstance(gate.decide(request(token)), Identity)
        assert gate.revocation is not None
        assert gate.revocation.view(True) is None
        revoke_elsewhere(settings, token)
        assert isinstance(gate.decide(request(token)), Rejection)
    gate.close()


def test_an_injected_store_without_a_feed_gets_no_view(tmp_path: Path) -> None:
    """A store handed to the Gate that cannot announce changes is asked on every request."""

    class Plain:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            if name == "change_feed":
                raise AttributeError(name)
            return getattr(self.inner, name)

    from jwtgate.stores import open_store

    url = f"sqlite:///{tmp_path / 'y.db'}"
    settings = make_settings(store=url, check_revocation=True)
    gate = Gate(settings, store=Plain(open_store(url)))
    assert gate.revocation is not None
    assert gate.revocation.view(True) is None
    gate.close()


@pytest.mark.slow
def test_losing_the_redis_channel_falls_back_to_direct_checks(tmp_path: Path) -> None:
    """With Redis gone, cached answers stop being served: the store error applies (503)."""
    server = RedisServer(redis_binary(), tmp_path)
    server.start()
    settings = make_settings(store=server.url, check_revocation=True)
    gate = Gate(settings)
    try:
        with Sessions(settings) as sessions:
            token = sessions.login("alice").access_token
        assert isinstance(gate.decide(request(token)), Identity)
        view = view_of(gate)
        assert until(lambda: view.feed.live)
        assert isinstance(gate.decide(request(token)), Identity)
        server.stop()

        def unavailable() -> bool:
            answer = gate.decide(request(token))
            return isinstance(answer, Rejection) and answer.status == 503

        assert until(unavailable)
        server.start()  # same port, empty: the store reconnects and knows no such session

        def revoked() -> bool:
            answer = gate.decide(request(token))
            return isinstance(answer, Rejection) and answer.status == 401

        assert until(revoked)
        assert until(lambda: view.feed.live)
    finally:
        gate.close()
        server.stop()


def test_closing_the_gate_stops_the_feed(tmp_path: Path) -> None:
    """Gate.close() stops the feed thread; nothing is served from the view afterwards."""
    settings = make_settings(store=f"sqlite:///{tmp_path / 'z.db'}", check_revocation=True)
    gate = Gate(settings)
    with Sessions(settings) as sessions:
        token = sessions.login("alice").access_token
    gate.decide(request(token))
    view = view_of(gate)
    assert until(lambda: view.feed.live)
    gate.close()
    assert not view.feed.live


def test_a_gate_dropped_without_close_stops_its_feed(tmp_path: Path) -> None:
    """When a Gate is garbage-collected, its feed thread ends instead of polling forever."""
    import gc

    settings = make_settings(store=f"sqlite:///{tmp_path / 'w.db'}", check_revocation=True)
    gate = Gate(settings)
    with Sessions(settings) as sessions:
        token = sessions.login("alice").access_token
    gate.decide(request(token))
    feed = view_of(gate).feed
    assert until(lambda: feed.live)
    thread = feed._thread
    assert thread is not None
    # Dropping a Gate without close() leaves its store connection to the collector,
    # which Python 3.13 reports as a ResourceWarning: expected here, not the subject.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del gate
        gc.collect()
    assert until(lambda: not thread.is_alive())


def test_request_info_stays_a_frozen_value() -> None:
    """RequestInfo is immutable, comparable and hashable."""
    info = RequestInfo("GET", "/x", ("Bearer t",), preflight=True)
    assert info == RequestInfo(method="GET", path="/x", authorization=("Bearer t",), preflight=True)
    assert hash(info) == hash(RequestInfo("GET", "/x", ("Bearer t",), None, "", True))
    assert (info.cookie, info.query_string) == (None, "")
    with pytest.raises(AttributeError):
        info.path = "/y"  # type: ignore[misc]
