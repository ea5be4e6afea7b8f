"""Remote JWKS keys against a real HTTP server on 127.0.0.1, and publishing a JWKS.

The server is ``http.server`` in a thread on a free port; each test changes the
document it serves (or makes it fail) and counts the fetches it receives. Cache
lifetimes run on a fake monotonic clock, so nothing sleeps to expire a cache.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import httpx
import jwt
import pytest
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.warnings import InsecureKeyLengthWarning

from conftest import CountingDecisions, FakeClock, make_token, pem
from jwtgate import ConfigurationError, Gate, Identity, Rejection, RequestInfo, Settings, Verifier
from jwtgate.asgi import JWTGateMiddleware
from jwtgate.errors import KeySourceUnavailable
from jwtgate.jwks import (
    JWKSKeys,
    JWKSOptions,
    cache_lifetime,
    is_loopback_host,
    is_loopback_url,
)
from jwtgate.keys import load_private_key, load_public_key
from servers import uvicorn_server

ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
# Loaded once: loading an RSA PEM checks the key and costs tens of milliseconds.
PRIVATE = {
    name: load_private_key(pem(f"{file}_private").encode())
    for name, file in [("rsa", "rsa"), ("rsa2", "rsa2"), ("ec", "ec256"), ("ed", "ed25519")]
}
ALG_FOR = {"rsa": "RS256", "rsa2": "RS256", "ec": "ES256", "ed": "EdDSA"}
OCT_SECRET = "remote-oct-secret-0123456789-abcdefghijklmnop"  # fake, 45 bytes


def jwk(name: str, kid: str, **extra: Any) -> dict[str, Any]:
    """The public JWK of tests/keys/<name>_public.pem with ``kid`` (and extra members)."""
    to_jwk = {"rsa": RSAAlgorithm, "rsa2": RSAAlgorithm, "ec": ECAlgorithm, "ed": OKPAlgorithm}
    names = {"rsa": "rsa", "rsa2": "rsa2", "ec": "ec256", "ed": "ed25519"}
    public = load_public_key(pem(f"{names[name]}_public").encode())
    data: dict[str, Any] = to_jwk[name].to_jwk(public, as_dict=True)  # type: ignore[attr-defined]
    return {**data, "kid": kid, **extra}


def token(name: str, kid: str | None, alg: str | None = None, **claims: Any) -> str:
    """A token signed with key ``name`` carrying ``kid`` in its header."""
    return make_token(
        claims,
        key=PRIVATE[name],
        algorithm=alg or ALG_FOR[name],
        headers={"kid": kid} if kid is not None else None,
    )


def request(tok: str | None) -> RequestInfo:
    """A GET / carrying ``tok`` as a bearer token."""
    return RequestInfo("GET", "/", (f"Bearer {tok}",) if tok else ())


class JWKSServer:
    """A real HTTP server on 127.0.0.1 serving whatever the test sets, counting fetches."""

    def __init__(self) -> None:
        self.body = b'{"keys": []}'
        self.status = 200
        self.headers: dict[str, str] = {"Cache-Control": "max-age=300"}
        self.delay = 0.0
        self.raw: bytes | None = None  # sent as is instead of a proper response
        self.trickle = False  # send the body a byte at a time
        self.hits = 0
        self.paths: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.release = threading.Event()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server.lock:
                    server.hits += 1
                    delay = server.delay
                if delay:
                    server.release.wait(delay)
                status, body, headers = server.paths.get(
                    self.path, (server.status, server.body, server.headers)
                )
                try:
                    if server.raw is not None:
                        self.wfile.write(server.raw)
                        return
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    if "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if server.trickle:
                        for i in range(len(body)):
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                            if server.release.wait(0.1):
                                return
                    else:
                        self.wfile.write(body)
                except OSError:  # the client gave up (timeout tests)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.running = True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/jwks.json"

    def serve(self, *keys: dict[str, Any], max_age: int | None = 300) -> None:
        """Serve a JWKS of ``keys`` (200, with ``max-age`` unless None)."""
        self.body = json.dumps({"keys": list(keys)}).encode()
        self.status = 200
        self.headers = {"Content-Type": "application/json"}
        if max_age is not None:
            self.headers["Cache-Control"] = f"max-age={max_age}"

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.release.set()
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[JWKSServer]:
    """A running JWKS server serving the RSA key as kid 'a'."""
    srv = JWKSServer()
    srv.serve(jwk("rsa", "a"))
    yield srv
    srv.stop()


@pytest.fixture
def mono() -> FakeClock:
    """The fake monotonic clock that drives the JWKS cache."""
    return FakeClock(1000.0)


def remote_settings(server: JWKSServer, **overrides: Any) -> Settings:
    """Asymmetric settings fetching keys from the test server."""
    data: dict[str, Any] = {"algorithms": ALGORITHMS, "jwks_url": server.url}
    data.update(overrides)
    return Settings.from_dict(data)


def gate_for(settings: Settings, mono: FakeClock) -> tuple[Gate, JWKSKeys]:
    """A Gate whose JWKS cache runs on ``mono`` and whose token clock is NOW."""
    source = JWKSKeys.from_settings(settings, clock=mono)
    verifier = Verifier(settings, clock=FakeClock(), keys=source)
    return Gate(settings, verifier=verifier), source


def assert_ok(result: Identity | Rejection, subject: str = "alice") -> None:
    """The request went through as ``subject``."""
    assert isinstance(result, Identity), getattr(result, "body", result)
    assert result.subject == subject


def assert_invalid(result: Identity | Rejection) -> None:
    """The request was refused as an invalid token (401)."""
    assert isinstance(result, Rejection)
    assert result.status == 401
    assert 'error="invalid_token"' in dict(result.headers)["www-authenticate"]


def assert_unavailable(result: Identity | Rejection) -> None:
    """The request was refused with 503 and Retry-After, never as a token problem."""
    assert isinstance(result, Rejection)
    assert result.status == 503
    headers = dict(result.headers)
    assert int(headers["retry-after"]) >= 1
    assert "www-authenticate" not in headers
    assert json.loads(result.body) == {
        "error": "temporarily_unavailable",
        "error_description": "signing keys temporarily unavailable",
    }


def run_threads(jobs: list[Callable[[], object]]) -> None:
    """Run every job in its own thread, all at once, and wait for them."""
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


async def run_tasks(count: int, job: Callable[[], Awaitable[None]]) -> None:
    """Run ``count`` copies of ``job`` as concurrent tasks and wait for them."""
    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(job)


def assert_all(
    results: list[Identity | Rejection], count: int, check: Callable[[Identity | Rejection], None]
) -> None:
    """Every one of ``count`` results passes ``check``."""
    assert len(results) == count
    for result in results:
        check(result)


def wait_for(condition: Callable[[], bool], limit: float = 10.0) -> None:
    """Poll until ``condition`` holds (a wait, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


# -- algorithms ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "alg"),
    [("rsa", "RS256"), ("rsa", "PS256"), ("ec", "ES256"), ("ed", "EdDSA")],
)
def test_keys_from_a_jwks_verify(server: JWKSServer, name: str, alg: str) -> None:
    """RS256, PS256, ES256 and EdDSA tokens verify with keys fetched from a JWKS URL."""
    server.serve(jwk("rsa", "r"), jwk("ec", "e"), jwk("ed", "d"))
    settings = remote_settings(server)
    kid = {"rsa": "r", "ec": "e", "ed": "d"}[name]
    identity = Verifier(settings, clock=FakeClock()).verify(token(name, kid, alg))
    assert identity.subject == "alice"
    assert server.hits == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "alg"),
    [("rsa", "RS256"), ("rsa", "PS256"), ("ec", "ES256"), ("ed", "EdDSA")],
)
async def test_keys_from_a_jwks_verify_async(server: JWKSServer, name: str, alg: str) -> None:
    """The async path verifies the same four algorithms from a fetched JWKS."""
    server.serve(jwk("rsa", "r"), jwk("ec", "e"), jwk("ed", "d"))
    settings = remote_settings(server)
    kid = {"rsa": "r", "ec": "e", "ed": "d"}[name]
    identity = await Verifier(settings, clock=FakeClock()).verify_async(token(name, kid, alg))
    assert identity.subject == "alice"


def test_settings_build_the_remote_source_for_gate(server: JWKSServer) -> None:
    """With jwks_url set, a plain Gate(settings) fetches and uses the remote keys."""
    gate = Gate(remote_settings(server), clock=FakeClock())
    assert_ok(gate.decide(request(token("rsa", "a"))))
    assert isinstance(remote_settings(server).key_source, JWKSKeys)


def test_alg_narrows_a_key(server: JWKSServer, mono: FakeClock) -> None:
    """A JWK with alg=PS256 does not verify an RS256 token made with the same key."""
    server.serve(jwk("rsa", "a", alg="PS256"))
    gate, _ = gate_for(remote_settings(server), mono)
    assert_ok(gate.decide(request(token("rsa", "a", "PS256"))))
    assert_invalid(gate.decide(request(token("rsa", "a", "RS256"))))


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"use": "enc"}, id="use-enc"),
        pytest.param({"key_ops": ["encrypt"]}, id="key_ops-without-verify"),
    ],
)
def test_use_and_key_ops_are_honoured(
    server: JWKSServer, mono: FakeClock, extra: dict[str, Any]
) -> None:
    """A key marked for encryption (use or key_ops) never verifies a signature."""
    server.serve(jwk("rsa", "a", **extra), jwk("ec", "e"))
    gate, _ = gate_for(remote_settings(server), mono)
    assert_ok(gate.decide(request(token("ec", "e"))))
    assert_invalid(gate.decide(request(token("rsa", "a"))))


def test_unsupported_key_types_are_skipped(server: JWKSServer, mono: FakeClock) -> None:
    """Keys of unknown types or broken members are skipped; the others still work."""
    server.serve(
        {"kty": "XYZ", "kid": "x"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
        jwk("rsa", "a"),
    )
    gate, _ = gate_for(remote_settings(server), mono)
    assert_ok(gate.decide(request(token("rsa", "a"))))


def test_private_members_in_a_remote_jwks_are_refused(server: JWKSServer, mono: FakeClock) -> None:
    """A JWK that publishes private material ('d') is ignored, and the rest is used."""
    private = RSAAlgorithm.to_jwk(PRIVATE["rsa2"], as_dict=True)
    server.serve({**private, "kid": "leaked"}, jwk("rsa", "a"))
    gate, _ = gate_for(remote_settings(server), mono)
    assert_ok(gate.decide(request(token("rsa", "a"))))
    assert_invalid(gate.decide(request(token("rsa2", "leaked"))))


def test_token_without_kid_needs_exactly_one_fitting_key(
    server: JWKSServer, mono: FakeClock
) -> None:
    """Without a kid, a token verifies only when exactly one key fits its algorithm."""
    server.serve(jwk("rsa", "a"), jwk("ec", "e"))
    gate, _ = gate_for(remote_settings(server), mono)
    assert_ok(gate.decide(request(token("ec", None))))
    server.serve(jwk("rsa", "a"), jwk("rsa2", "b"))
    mono.advance(301)
    assert_invalid(gate.decide(request(token("rsa", None))))


def test_two_keys_with_one_kid_are_both_refused(server: JWKSServer, mono: FakeClock) -> None:
    """Two keys claiming the same kid make that kid unusable rather than picking one."""
    server.serve(jwk("rsa", "dup"), jwk("rsa2", "dup"), jwk("ec", "e"))
    gate, _ = gate_for(remote_settings(server), mono)
    assert_invalid(gate.decide(request(token("rsa", "dup"))))
    assert_ok(gate.decide(request(token("ec", "e"))))


# -- HMAC keys ------------------------------------------------------------------


def oct_jwk(kid: str) -> dict[str, Any]:
    """The test's shared secret as an oct JWK."""
    return {"kty": "oct", "kid": kid, "k": jwt.utils.base64url_encode(OCT_SECRET.encode()).decode()}


def test_oct_key_in_remote_jwks_is_refused_by_settings(server: JWKSServer) -> None:
    """HS256 with a jwks_url is a configuration error unless allow_hmac_jwks is set."""
    with pytest.raises(ConfigurationError) as info:
        Settings.from_dict({"algorithms": ["HS256"], "jwks_url": server.url})
    assert info.value.ids == ["jwtgate.E047"]


def test_oct_key_in_remote_jwks_verifies_when_allowed(server: JWKSServer, mono: FakeClock) -> None:
    """With allow_hmac_jwks, an HS256 token verifies against an oct key fetched remotely."""
    server.serve(oct_jwk("h"))
    settings = Settings.from_dict(
        {"algorithms": ["HS256"], "jwks_url": server.url, "allow_hmac_jwks": True}
    )
    gate, _ = gate_for(settings, mono)
    tok = make_token(key=OCT_SECRET, headers={"kid": "h"})
    assert_ok(gate.decide(request(tok)))


def test_oct_key_is_skipped_by_the_source_unless_allowed(
    server: JWKSServer, mono: FakeClock
) -> None:
    """A source not allowed HMAC keys never uses an oct JWK, even for HS256 tokens."""
    server.serve(oct_jwk("h"))
    source = JWKSKeys(server.url, algorithms=["HS256"], clock=mono)
    with pytest.raises(KeySourceUnavailable):
        source.get("HS256", "h")


# -- rotation and caching -----------------------------------------------------------


def test_rotation_is_picked_up(server: JWKSServer, mono: FakeClock) -> None:
    """A new key is found by its kid; a removed key stops verifying once the cache expires."""
    gate, _ = gate_for(remote_settings(server), mono)
    assert_ok(gate.decide(request(token("rsa", "a"))))
    server.serve(jwk("rsa", "a"), jwk("ec", "b"))  # the provider adds a key
    mono.advance(31)  # past the refetch interval
    assert_ok(gate.decide(request(token("ec", "b"))))
    assert_ok(gate.decide(request(token("rsa", "a"))))
    assert server.hits == 2
    server.serve(jwk("ec", "b"))  # and later retires the old one
    mono.advance(300)  # the cache expires
    assert_invalid(gate.decide(request(token("rsa", "a"))))
    assert_ok(gate.decide(request(token("ec", "b"))))
    assert server.hits == 3


def test_peek_answers_only_when_get_has_nothing_to_do(server: JWKSServer, mono: FakeClock) -> None:
    """peek is the key get() would return without fetching, refreshing or refusing; else None."""
    source = JWKSKeys.from_settings(remote_settings(server), clock=mono)
    assert source.peek("RS256", "a") is None  # nothing fetched yet
    key = source.get("RS256", "a")
    assert source.peek("RS256", "a") is key
    assert source.peek("RS256", "zz") is None  # unknown kid: get() would refetch or refuse
    assert source.peek("ES256", "a") is None  # not that key's algorithm
    mono.advance(240)  # the refresh-ahead window: the last fifth of the 300 s lifetime
    assert source.peek("RS256", "a") is None
    assert server.hits == 1  # peek never fetches


def test_a_cached_token_confirmed_by_peek_skips_get(
    server: JWKSServer, mono: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While peek confirms the key, a cached token is served without the locked lookup."""
    settings = remote_settings(server)
    source = JWKSKeys.from_settings(settings, clock=mono)
    verifier = Verifier(settings, clock=FakeClock(), keys=source)
    tok = token("rsa", "a")
    first = verifier.verify(tok)

    def no_get(algorithm: str, kid: str | None) -> Any:
        raise AssertionError("get() was called")

    monkeypatch.setattr(source, "get", no_get)
    assert verifier.remembers
    assert verifier.verify(tok) is first
    assert verifier.remembered(tok) is first


def test_remote_keys_take_the_fast_path_until_a_refresh_is_due(
    server: JWKSServer, mono: FakeClock
) -> None:
    """A cached token is recalled while its key is fresh; a retired key ends it."""
    gate, _ = gate_for(remote_settings(server), mono)
    counting = CountingDecisions(gate)
    tok = token("rsa", "a")
    first = gate.decide(request(tok))
    assert_ok(first)
    assert gate.decide(request(tok)) is first
    assert counting.calls == 1  # recalled, not read and verified again
    server.serve(jwk("ec", "b"))  # the provider retires key "a"
    mono.advance(240)  # a refresh is due: only get() may start it
    gate.decide(request(tok))
    assert counting.calls == 2
    mono.advance(61)  # the keys expire
    assert_invalid(gate.decide(request(tok)))


def test_cache_control_max_age_sets_the_lifetime(server: JWKSServer, mono: FakeClock) -> None:
    """The keys are kept for the response's max-age, and refetched after it."""
    server.serve(jwk("rsa", "a"), max_age=120)
    source = JWKSKeys.from_settings(remote_settings(server), clock=mono)
    source.get("RS256", "a")
    mono.advance(119)
    source.get("RS256", "a")
    # The last fifth of the lifetime: refreshed in the background.
    wait_for(lambda: server.hits == 2 and source._flight is None)
    mono.advance(120)
    source.get("RS256", "a")
    assert server.hits == 3


@pytest.mark.parametrize(
    ("cache_control", "age", "expected"),
    [
        pytest.param(None, None, 300, id="default"),
        pytest.param("public, max-age=600", None, 600, id="max-age"),
        pytest.param("max-age=600", "100", 500, id="minus-age"),
        pytest.param("max-age=5", None, 60, id="raised-to-minimum"),
        pytest.param("max-age=99999999", None, 86400, id="lowered-to-maximum"),
        pytest.param("no-store", None, 60, id="no-store-is-minimum"),
        pytest.param('max-age="700"', None, 700, id="quoted"),
        pytest.param("max-age=abc", None, 300, id="garbage-ignored"),
    ],
)
def test_cache_lifetime(cache_control: str | None, age: str | None, expected: float) -> None:
    """Cache-Control max-age (minus Age) is honoured within the configured bounds."""
    headers = Message()
    if cache_control is not None:
        headers["Cache-Control"] = cache_control
    if age is not None:
        headers["Age"] = age
    assert cache_lifetime(headers, JWKSOptions()) == expected


def test_refresh_ahead_of_expiry_does_not_make_the_request_wait(
    server: JWKSServer, mono: FakeClock
) -> None:
    """In the last fifth of the lifetime a request is served at once and a refresh starts."""
    source = JWKSKeys.from_settings(remote_settings(server), clock=mono)
    source.get("RS256", "a")
    server.delay = 5  # a slow provider: the request must not wait for it
    server.serve(jwk("rsa", "a"), jwk("ec", "b"))
    mono.advance(250)
    assert source.get("RS256", "a").kid == "a"
    assert source._flight is not None  # answered while the refresh is still in flight
    server.release.set()
    wait_for(lambda: server.hits == 2 and source._flight is None)
    assert source.get("ES256", "b").kid == "b"  # the refreshed document, no new fetch
    assert server.hits == 2


def test_unknown_kid_burst_fetches_at_most_once_per_interval(
    server: JWKSServer, mono: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """1,000 tokens with random kids cause at most one refetch per interval, and are 401s."""
    caplog.set_level(logging.INFO, "jwtgate.jwks")
    gate, _ = gate_for(remote_settings(server), mono)
    assert_ok(gate.decide(request(token("rsa", "a"))))
    for _ in range(1000):
        assert_invalid(gate.decide(request(token("ec", secrets.token_hex(8)))))
    assert server.hits == 1  # fetched less than an interval ago: no refetch at all
    mono.advance(30)
    for _ in range(1000):
        assert_invalid(gate.decide(request(token("ec", secrets.token_hex(8)))))
    assert server.hits == 2
    assert_ok(gate.decide(request(token("rsa", "a"))))
    unknown_lines = [r for r in caplog.records if "unknown kid" in r.getMessage()]
    assert 1 <= len(unknown_lines) <= 4  # reported, but not once per token


def test_unknown_kid_burst_from_threads(server: JWKSServer, mono: FakeClock) -> None:
    """1,000 random-kid requests from 20 threads at once still cause at most one refetch."""
    gate, source = gate_for(remote_settings(server), mono)
    source.prefetch()
    mono.advance(30)
    server.delay = 0.2
    tokens = [token("ec", secrets.token_hex(8)) for _ in range(1000)]
    results: list[Identity | Rejection] = []

    def worker(chunk: list[str]) -> None:
        results.extend(gate.decide(request(t)) for t in chunk)

    run_threads([lambda i=i: worker(tokens[i::20]) for i in range(20)])
    assert_all(results, 1000, assert_invalid)
    assert server.hits == 2


@pytest.mark.anyio
async def test_unknown_kid_burst_async(server: JWKSServer, mono: FakeClock) -> None:
    """1,000 concurrent random-kid tasks cause at most one refetch and are all 401s."""
    gate, source = gate_for(remote_settings(server), mono)
    await source.prefetch_async()
    mono.advance(30)
    results: list[Identity | Rejection] = []

    async def one() -> None:
        results.append(await gate.decide_async(request(token("ec", secrets.token_hex(8)))))

    await run_tasks(1000, one)
    assert_all(results, 1000, assert_invalid)
    assert server.hits == 2


# -- single flight ------------------------------------------------------------------


@pytest.mark.slow
def test_cold_cache_threads_cause_one_fetch(server: JWKSServer, mono: FakeClock) -> None:
    """100 threads verifying at once on a cold cache wait for a single fetch."""
    gate, _ = gate_for(remote_settings(server), mono)
    server.delay = 0.5
    tok = token("rsa", "a")
    barrier = threading.Barrier(100)
    results: list[Identity | Rejection] = []

    def worker() -> None:
        barrier.wait()
        results.append(gate.decide(request(tok)))

    run_threads([worker] * 100)
    assert_all(results, 100, assert_ok)
    assert server.hits == 1


@pytest.mark.slow
@pytest.mark.anyio
async def test_cold_cache_tasks_cause_one_fetch(server: JWKSServer, mono: FakeClock) -> None:
    """100 tasks verifying at once on a cold cache wait for a single fetch."""
    gate, _ = gate_for(remote_settings(server), mono)
    server.delay = 0.5
    tok = token("rsa", "a")
    results: list[Identity | Rejection] = []

    async def one() -> None:
        results.append(await gate.decide_async(request(tok)))

    await run_tasks(100, one)
    assert_all(results, 100, assert_ok)
    assert server.hits == 1


@pytest.mark.slow
@pytest.mark.anyio
async def test_async_follower_waits_for_a_thread_led_fetch(
    server: JWKSServer, mono: FakeClock
) -> None:
    """A task arriving while a WSGI thread fetches waits for that fetch instead of starting one."""
    gate, source = gate_for(remote_settings(server), mono)
    server.delay = 0.5
    thread = threading.Thread(target=source.prefetch)
    thread.start()
    await anyio.to_thread.run_sync(wait_for, lambda: server.hits == 1)
    assert_ok(await gate.decide_async(request(token("rsa", "a"))))
    await anyio.to_thread.run_sync(thread.join)
    assert server.hits == 1


@pytest.mark.anyio
async def test_slow_provider_does_not_block_the_event_loop(
    server: JWKSServer, mono: FakeClock
) -> None:
    """While a JWKS fetch is held up, other requests on the loop keep being served."""
    gate, source = gate_for(remote_settings(server, jwks_fetch_timeout=60), mono)
    await source.prefetch_async()
    server.serve(jwk("rsa", "a"), jwk("ec", "b"))
    # The provider holds its answer until the other requests have been served (or
    # 60 s pass): with a blocked loop none could be, so no timing is asserted.
    server.delay = 60
    mono.advance(30)
    known = token("rsa", "a")
    served_meanwhile = 0
    done = anyio.Event()
    outcome: list[Identity | Rejection] = []

    async def slow() -> None:
        outcome.append(await gate.decide_async(request(token("ec", "b"))))
        done.set()

    async def others() -> None:
        nonlocal served_meanwhile
        while not done.is_set():
            assert_ok(await gate.decide_async(request(known)))
            served_meanwhile += 1
            if served_meanwhile == 20:
                server.release.set()
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow)
        tg.start_soon(others)
    assert_ok(outcome[0])
    assert server.hits == 2
    assert served_meanwhile >= 20  # a blocked loop would have served none


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A ten-line ASGI app: 200 'ok' for http, lifespan acknowledged."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.slow
@pytest.mark.anyio
async def test_middleware_under_uvicorn_keeps_serving_while_the_provider_is_slow(
    server: JWKSServer, mono: FakeClock
) -> None:
    """Behind uvicorn, JWTGateMiddleware answers other requests during a held-up JWKS fetch."""
    gate, source = gate_for(remote_settings(server, jwks_fetch_timeout=60), mono)
    source.prefetch()
    known = {"Authorization": f"Bearer {token('rsa', 'a')}"}
    rotated = {"Authorization": f"Bearer {token('ec', 'b')}"}
    served_meanwhile = 0
    done = anyio.Event()
    statuses: list[int] = []
    with uvicorn_server(JWTGateMiddleware(hello, gate=gate)) as base:
        # Rotate only now: lifespan startup has already (pre)fetched the old set.
        server.serve(jwk("rsa", "a"), jwk("ec", "b"))
        server.delay = 60  # held until the others are served: see the test above
        mono.advance(30)
        async with httpx.AsyncClient(base_url=base) as client:

            async def slow() -> None:
                statuses.append((await client.get("/", headers=rotated)).status_code)
                done.set()

            async def others() -> None:
                nonlocal served_meanwhile
                while not done.is_set():
                    response = await client.get("/", headers=known)
                    assert response.status_code == 200
                    served_meanwhile += 1
                    if served_meanwhile == 5:
                        server.release.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                tg.start_soon(others)
    assert statuses == [200]
    assert server.hits == 3  # prefetch(), lifespan startup's prefetch, the rotation
    assert served_meanwhile >= 5  # a blocked server loop would answer none until the fetch ends


# -- outages ------------------------------------------------------------------------


def _down(server: JWKSServer) -> None:
    server.stop()


def _timeout(server: JWKSServer) -> None:
    server.delay = 30


def _error_500(server: JWKSServer) -> None:
    server.status = 500
    server.body = b"internal error"


def _garbage(server: JWKSServer) -> None:
    server.body = b"<html>not json</html>"


def _oversized(server: JWKSServer) -> None:
    server.body = json.dumps({"keys": [jwk("rsa", "a")], "pad": "x" * 300_000}).encode()


def _oversized_without_length(server: JWKSServer) -> None:
    _oversized(server)
    server.headers = {"Content-Length": "", "Connection": "close"}


def _trickle(server: JWKSServer) -> None:
    server.trickle = True


def _bad_http(server: JWKSServer) -> None:
    server.raw = b"NOT HTTP AT ALL\r\n\r\n"


def _too_many_keys(server: JWKSServer) -> None:
    server.serve(*[jwk("ec", f"k{i}") for i in range(101)])


def _wrong_key_types(server: JWKSServer) -> None:
    server.serve(oct_jwk("h"), {"kty": "XYZ", "kid": "x"})


def _not_a_jwks(server: JWKSServer) -> None:
    server.body = b'{"keys": "nope"}'


OUTAGES = [
    pytest.param(_down, id="down"),
    pytest.param(_timeout, id="timeout"),
    pytest.param(_error_500, id="500"),
    pytest.param(_garbage, id="garbage"),
    pytest.param(_oversized, id="oversized"),
    pytest.param(_oversized_without_length, id="oversized-without-length"),
    pytest.param(_trickle, id="trickle"),
    pytest.param(_bad_http, id="bad-http"),
    pytest.param(_too_many_keys, id="too-many-keys"),
    pytest.param(_wrong_key_types, id="wrong-key-types"),
    pytest.param(_not_a_jwks, id="not-a-jwks"),
]


@pytest.mark.slow
@pytest.mark.parametrize("break_it", OUTAGES)
def test_outage_serves_stale_keys_then_503(
    server: JWKSServer,
    mono: FakeClock,
    caplog: pytest.LogCaptureFixture,
    break_it: Callable[[JWKSServer], None],
) -> None:
    """A failing provider keeps the last good keys up to the staleness bound, then 503."""
    caplog.set_level(logging.INFO, "jwtgate.jwks")
    settings = remote_settings(server, jwks_max_stale=600, jwks_fetch_timeout=0.5)
    gate, _ = gate_for(settings, mono)
    tok = token("rsa", "a")
    assert_ok(gate.decide(request(tok)))
    break_it(server)
    mono.advance(301)  # expired: a refetch is attempted and fails
    assert_ok(gate.decide(request(tok)))
    attempts = server.hits
    assert_ok(gate.decide(request(tok)))  # in backoff: no new attempt, stale keys served
    assert server.hits == attempts
    mono.advance(598)  # still inside expiry + max_stale
    assert_ok(gate.decide(request(tok)))
    mono.advance(2)  # past the bound
    assert_unavailable(gate.decide(request(tok)))
    assert_unavailable(gate.decide(request(token("rsa", "unknown-kid"))))
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "fetched" in messages
    assert "failed" in messages
    assert "serving stale keys" in messages
    assert "staleness bound" in messages
    assert tok not in messages
    assert tok.split(".")[2] not in caplog.text


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("break_it", OUTAGES)
async def test_outage_serves_stale_keys_then_503_async(
    server: JWKSServer, mono: FakeClock, break_it: Callable[[JWKSServer], None]
) -> None:
    """The async path keeps the last good keys up to the bound, then answers 503."""
    settings = remote_settings(server, jwks_max_stale=600, jwks_fetch_timeout=0.5)
    gate, _ = gate_for(settings, mono)
    tok = token("rsa", "a")
    assert_ok(await gate.decide_async(request(tok)))
    break_it(server)
    mono.advance(301)
    assert_ok(await gate.decide_async(request(tok)))
    mono.advance(598)
    assert_ok(await gate.decide_async(request(tok)))
    mono.advance(2)
    assert_unavailable(await gate.decide_async(request(tok)))


def test_bad_document_never_replaces_good_keys(server: JWKSServer, mono: FakeClock) -> None:
    """After a garbage answer the old keys still verify, and a good answer later is taken."""
    gate, _ = gate_for(remote_settings(server), mono)
    assert_ok(gate.decide(request(token("rsa", "a"))))
    server.body = b'{"keys": [{"kty": "RSA"}]}'
    mono.advance(31)
    assert_unavailable(gate.decide(request(token("ec", "b"))))  # can't know: not a 401
    assert_ok(gate.decide(request(token("rsa", "a"))))
    server.serve(jwk("rsa", "a"), jwk("ec", "b"))
    mono.advance(31)
    assert_ok(gate.decide(request(token("ec", "b"))))


def test_cold_cache_with_provider_down_is_503(server: JWKSServer, mono: FakeClock) -> None:
    """No keys ever fetched and the provider down: 503 with Retry-After, via both paths."""
    server.stop()
    gate, source = gate_for(remote_settings(server), mono)
    assert_unavailable(gate.decide(request(token("rsa", "a"))))
    assert_unavailable(anyio.run(gate.decide_async, request(token("rsa", "a"))))
    assert source.prefetch() is False


def test_backoff_after_failures_then_recovery(server: JWKSServer, mono: FakeClock) -> None:
    """Failed fetches back off (1 s, 2 s, …) and the first success ends the outage."""
    server.status = 500
    gate, source = gate_for(remote_settings(server), mono)
    assert_unavailable(gate.decide(request(token("rsa", "a"))))
    assert_unavailable(gate.decide(request(token("rsa", "a"))))
    assert source.fetches == 1
    mono.advance(1)
    assert_unavailable(gate.decide(request(token("rsa", "a"))))
    assert source.fetches == 2
    mono.advance(1)
    rejection = gate.decide(request(token("rsa", "a")))
    assert isinstance(rejection, Rejection)
    assert dict(rejection.headers)["retry-after"] == "1"
    assert source.fetches == 2
    server.serve(jwk("rsa", "a"))
    mono.advance(1)
    assert_ok(gate.decide(request(token("rsa", "a"))))
    assert source.fetches == 3


def test_redirect_to_plain_http_is_refused(server: JWKSServer, mono: FakeClock) -> None:
    """A redirect from the JWKS URL to a non-https, non-loopback URL is not followed."""
    server.status = 302
    server.headers = {"Location": "http://jwks.example.invalid/keys"}
    gate, _ = gate_for(remote_settings(server), mono)
    assert_unavailable(gate.decide(request(token("rsa", "a"))))


# -- prefetch and discovery -------------------------------------------------------------


def test_prefetch_fills_the_cache(server: JWKSServer, mono: FakeClock) -> None:
    """prefetch() fetches once so the first request does not wait."""
    gate, source = gate_for(remote_settings(server), mono)
    assert source.prefetch() is True
    assert server.hits == 1
    assert_ok(gate.decide(request(token("rsa", "a"))))
    assert server.hits == 1


@pytest.mark.anyio
async def test_prefetch_async_fills_the_cache(server: JWKSServer, mono: FakeClock) -> None:
    """prefetch_async() fetches without blocking the loop (for ASGI lifespan startup)."""
    gate, source = gate_for(remote_settings(server), mono)
    assert await source.prefetch_async() is True
    assert_ok(await gate.decide_async(request(token("rsa", "a"))))
    assert server.hits == 1


def test_discovery_finds_the_jwks_uri(server: JWKSServer, mono: FakeClock) -> None:
    """jwks_discovery reads the issuer's openid-configuration and fetches its jwks_uri."""
    config = {"issuer": server.base, "jwks_uri": server.url}
    server.paths["/.well-known/openid-configuration"] = (200, json.dumps(config).encode(), {})
    settings = Settings.from_dict(
        {"algorithms": ALGORITHMS, "issuer": server.base, "jwks_discovery": True}
    )
    gate, _ = gate_for(settings, mono)
    assert_ok(gate.decide(request(token("rsa", "a", iss=server.base))))
    assert server.hits == 2


def test_discovery_refuses_another_issuer(server: JWKSServer, mono: FakeClock) -> None:
    """A discovery document naming a different issuer is not trusted (503, not a pass)."""
    config = {"issuer": "https://evil.example", "jwks_uri": server.url}
    server.paths["/.well-known/openid-configuration"] = (200, json.dumps(config).encode(), {})
    settings = Settings.from_dict(
        {"algorithms": ALGORITHMS, "issuer": server.base, "jwks_discovery": True}
    )
    gate, _ = gate_for(settings, mono)
    assert_unavailable(gate.decide(request(token("rsa", "a", iss=server.base))))


def test_static_keys_are_tried_first(server: JWKSServer, mono: FakeClock) -> None:
    """A key given in settings with a kid verifies without any fetch."""
    settings = remote_settings(server, public_key={"local": pem("ec256_public")})
    gate, _ = gate_for(settings, mono)
    assert_ok(gate.decide(request(token("ec", "local"))))
    assert server.hits == 0
    assert_ok(gate.decide(request(token("rsa", "a"))))
    assert server.hits == 1


# -- settings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({"jwks_url": "ftp://x.example/jwks"}, "jwtgate.E040", id="E040-scheme"),
        pytest.param({"jwks_url": "https:///nohost"}, "jwtgate.E040", id="E040-host"),
        pytest.param({"jwks_url": 42}, "jwtgate.E040", id="E040-type"),
        pytest.param({"jwks_url": "https://[::1/jwks"}, "jwtgate.E040", id="E040-unparsable"),
        pytest.param({"jwks_url": "https://idp.example:99999/j"}, "jwtgate.E040", id="E040-port"),
        pytest.param({"jwks_discovery": "yes"}, "jwtgate.E003", id="E003-flag-type"),
        pytest.param({"jwks_url": "http://idp.example/jwks"}, "jwtgate.E041", id="E041"),
        pytest.param({"jwks_cache_ttl": 0}, "jwtgate.E042", id="E042-ttl"),
        pytest.param(
            {"jwks_cache_ttl_min": 600, "jwks_cache_ttl_max": 60}, "jwtgate.E042", id="E042-order"
        ),
        pytest.param({"jwks_refetch_interval": 0}, "jwtgate.E043", id="E043"),
        pytest.param({"jwks_fetch_timeout": 0}, "jwtgate.E044", id="E044"),
        pytest.param({"jwks_max_stale": -1}, "jwtgate.E045", id="E045"),
        pytest.param({"jwks_max_bytes": 10}, "jwtgate.E046", id="E046"),
        pytest.param({"algorithms": ["HS256"], "secret": "x" * 32}, "jwtgate.E047", id="E047-hmac"),
        pytest.param({"jwks_discovery": True}, "jwtgate.E048", id="E048-both"),
    ],
)
def test_settings_problem_ids(data: dict[str, Any], expected: str) -> None:
    """Each bad remote-JWKS setting is refused at startup with its own id."""
    settings: dict[str, Any] = {"algorithms": ["RS256"], "jwks_url": "https://idp.example/jwks"}
    settings.update(data)
    with pytest.raises(ConfigurationError) as info:
        Settings.from_dict(settings)
    assert expected in info.value.ids


def test_discovery_needs_one_issuer() -> None:
    """jwks_discovery without exactly one issuer is refused with E048."""
    with pytest.raises(ConfigurationError) as info:
        Settings.from_dict({"algorithms": ["RS256"], "jwks_discovery": True})
    assert info.value.ids == ["jwtgate.E048"]


def test_insecure_url_allowed_explicitly() -> None:
    """A plain http URL is accepted when allow_insecure_jwks_url says so, and for loopback."""
    Settings.from_dict(
        {
            "algorithms": ["RS256"],
            "jwks_url": "http://idp.internal/jwks",
            "allow_insecure_jwks_url": True,
        }
    )
    Settings.from_dict({"algorithms": ["RS256"], "jwks_url": "http://localhost:8080/jwks"})
    Settings.from_dict({"algorithms": ["RS256"], "jwks_url": "http://[::1]:8080/jwks"})


def test_jwks_url_needs_no_static_key() -> None:
    """A jwks_url alone satisfies algorithms (no E008): keys come at the first fetch."""
    settings = Settings.from_dict({"algorithms": ["RS256", "ES256"], "jwks_url": "https://i.ex/j"})
    assert settings.jwks_url == "https://i.ex/j"
    assert settings.jwks_options is not None
    assert settings.jwks_options.refetch_interval == 30


def test_source_needs_a_url() -> None:
    """A JWKSKeys with neither a URL nor discovery is a programming error."""
    with pytest.raises(ValueError, match="required"):
        JWKSKeys(None, algorithms=["RS256"])
    with pytest.raises(ValueError, match="no jwks_url"):
        JWKSKeys.from_settings(Settings.from_dict({"secret": "s" * 32}))


# -- smaller pieces ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000/jwks", True),
        ("http://127.9.9.9/jwks", True),
        ("http://localhost/jwks", True),
        ("http://[::1]:8080/jwks", True),
        ("http://10.0.0.1/jwks", False),
        ("http://localhost.evil.example/jwks", False),
        ("http://[::1/jwks", False),
        ("file:///etc/passwd", False),
    ],
)
def test_is_loopback_url(url: str, expected: bool) -> None:
    """Only localhost and loopback addresses count as loopback."""
    assert is_loopback_url(url) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.2", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback_host(host: str, expected: bool) -> None:
    """A bare host (what `jwtgate demo --host` takes) is loopback only for this machine."""
    assert is_loopback_host(host) is expected


def test_a_sole_key_without_kid_serves_tokens_with_a_kid(
    server: JWKSServer, mono: FakeClock
) -> None:
    """A JWKS whose only key for the algorithm has no kid serves any token of it."""
    public = jwk("ec", "x")
    del public["kid"]
    server.serve(public)
    gate, _ = gate_for(remote_settings(server), mono)
    assert_ok(gate.decide(request(token("ec", "whatever"))))
    assert_ok(gate.decide(request(token("ec", None))))


def test_small_rsa_keys_are_skipped(server: JWKSServer, mono: FakeClock) -> None:
    """An RSA key under 2048 bits in a JWKS is never used."""
    small = RSAAlgorithm.to_jwk(load_public_key(pem("rsa1024_public").encode()), as_dict=True)
    server.serve({**small, "kid": "small"}, jwk("ec", "e"))
    gate, _ = gate_for(remote_settings(server), mono)
    with pytest.warns(InsecureKeyLengthWarning):  # PyJWT warns the test, rightly
        tok = make_token(
            key=load_private_key(pem("rsa1024_private").encode()),
            algorithm="RS256",
            headers={"kid": "small"},
        )
    assert_invalid(gate.decide(request(tok)))
    assert_ok(gate.decide(request(token("ec", "e"))))


def test_redirect_to_loopback_is_followed(server: JWKSServer, mono: FakeClock) -> None:
    """A redirect to another loopback URL is followed."""
    server.paths["/old"] = (302, b"", {"Location": server.url})
    settings = Settings.from_dict({"algorithms": ALGORITHMS, "jwks_url": f"{server.base}/old"})
    gate, _ = gate_for(settings, mono)
    assert_ok(gate.decide(request(token("rsa", "a"))))
    assert server.hits == 2


@pytest.fixture
def elsewhere() -> Iterator[JWKSServer]:
    """A second JWKS server on another port (another origin), serving the RSA key 'a'."""
    srv = JWKSServer()
    srv.serve(jwk("rsa", "a"))
    yield srv
    srv.stop()


@pytest.mark.parametrize(
    ("target", "policy", "followed"),
    [
        pytest.param("localhost-same-port", "same-host", False, id="other-hostname"),
        pytest.param("other-port", "same-host", False, id="other-port"),
        pytest.param("same-origin", "same-host", True, id="same-origin"),
        pytest.param("localhost-same-port", "any", True, id="any-allows-other-host"),
        pytest.param("other-port", "any", True, id="any-allows-other-port"),
        pytest.param("same-origin", "none", False, id="none-refuses-all"),
    ],
)
def test_redirects_follow_jwks_redirects(
    server: JWKSServer,
    elsewhere: JWKSServer,
    mono: FakeClock,
    caplog: pytest.LogCaptureFixture,
    target: str,
    policy: str,
    followed: bool,
) -> None:
    """By default a JWKS redirect stays on the URL's own host and port; 'any' allows
    other hosts, 'none' no redirect. A refused redirect is a provider failure (503),
    logged with both URLs; a followed one is logged under the URL that answered."""
    location = {
        "localhost-same-port": f"http://localhost:{server.port}/jwks.json",
        "other-port": elsewhere.url,
        "same-origin": server.url,
    }[target]
    server.paths["/old"] = (302, b"", {"Location": location})
    settings = Settings.from_dict(
        {"algorithms": ALGORITHMS, "jwks_url": f"{server.base}/old", "jwks_redirects": policy}
    )
    gate, _ = gate_for(settings, mono)
    with caplog.at_level(logging.INFO, logger="jwtgate"):
        result = gate.decide(request(token("rsa", "a")))
    if followed:
        assert_ok(result)
        assert f"fetched {location} (redirected from {server.base}/old)" in caplog.text
    else:
        assert_unavailable(result)
        assert f"redirected to {location}" in caplog.text
        assert f"fetching {server.base}/old failed" in caplog.text
        assert elsewhere.hits == 0


def test_a_redirect_never_downgrades_https_to_http() -> None:
    """Even with jwks_redirects 'any' and insecure URLs allowed, https never goes to http."""
    from jwtgate._jwks_fetch import _RedirectPolicy

    for policy in ("any", "same-host"):
        handler = _RedirectPolicy("https://idp.example/jwks", True, policy)
        assert handler._refusal("http://idp.example/jwks") == "a downgrade from https to http"
    upgrade = _RedirectPolicy("http://127.0.0.1/jwks", False, "same-host")
    assert upgrade._refusal("https://127.0.0.1/jwks") is None  # an upgrade to port 443
    assert upgrade._refusal("https://127.0.0.1:8443/jwks") is not None


@pytest.fixture
def tls_hop(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """An https server on 127.0.0.1 (a self-signed certificate that urllib trusts through
    SSL_CERT_FILE) whose every answer is a 302 to the location it is given."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "hop.crt", tmp_path / "hop.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    target: list[str] = []
    hits: list[str] = []

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", target[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def redirecting_to(location: str) -> str:
        target[:] = [location]
        return f"https://127.0.0.1:{httpd.server_address[1]}/hop"

    yield redirecting_to
    assert hits, "the https hop was never asked: the test proves nothing"
    httpd.shutdown()
    httpd.server_close()


def test_a_redirect_chain_never_steps_down_from_https_at_any_hop(
    server: JWKSServer,
    mono: FakeClock,
    tls_hop: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """http (loopback) -> https -> http under jwks_redirects 'any': the second hop is a
    downgrade and is refused, though the chain starts on http and the last URL
    would be allowed on its own."""
    hop = tls_hop(server.url)
    server.paths["/old"] = (302, b"", {"Location": hop})
    settings = Settings.from_dict(
        {"algorithms": ALGORITHMS, "jwks_url": f"{server.base}/old", "jwks_redirects": "any"}
    )
    gate, _ = gate_for(settings, mono)
    with caplog.at_level(logging.INFO, logger="jwtgate"):
        assert_unavailable(gate.decide(request(token("rsa", "a"))))
    assert "a downgrade from https to http" in caplog.text
    assert server.hits == 1  # /old only: the JWKS itself was never fetched over http


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>", id="not-json"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(b'{"issuer": "ISSUER"}', id="no-jwks_uri"),
        pytest.param(
            b'{"issuer": "ISSUER", "jwks_uri": "http://idp.example/jwks"}', id="http-jwks_uri"
        ),
    ],
)
def test_bad_discovery_documents_are_refused(
    server: JWKSServer, mono: FakeClock, body: bytes
) -> None:
    """A discovery document that is not JSON, names no https jwks_uri, etc. gives 503."""
    body = body.replace(b"ISSUER", server.base.encode())
    server.paths["/.well-known/openid-configuration"] = (200, body, {})
    settings = Settings.from_dict(
        {"algorithms": ALGORITHMS, "issuer": server.base, "jwks_discovery": True}
    )
    gate, source = gate_for(settings, mono)
    assert_unavailable(gate.decide(request(token("rsa", "a", iss=server.base))))
    assert "not yet discovered" in repr(source)


def test_repr_names_the_url_without_credentials() -> None:
    """repr() shows the JWKS URL without user info or query."""
    source = JWKSKeys("https://user:pw@idp.example/jwks?key=abc", algorithms=["RS256"])
    assert repr(source) == "JWKSKeys('https://idp.example/jwks')"
    bad_port = JWKSKeys("https://idp.example:99999/jwks", algorithms=["RS256"])
    assert repr(bad_port) == "JWKSKeys('https://idp.example:?/jwks')"


@pytest.mark.slow
def test_testing_plugin_server_drives_a_rotation(
    jwtgate_jwks_server: Callable[..., Any], jwtgate_keypair: Callable[..., Any], mono: FakeClock
) -> None:
    """jwtgate.testing's JWKS server and key pairs drive a jwks_url Gate through a rotation."""
    old, new = jwtgate_keypair("ES256", kid="old"), jwtgate_keypair("EdDSA", kid="new")
    server = jwtgate_jwks_server(old.jwks)
    settings = Settings.from_dict({"algorithms": ["ES256", "EdDSA"], "jwks_url": server.url})
    gate, _ = gate_for(settings, mono)
    old_token = make_token(key=old.private_pem, algorithm="ES256", headers={"kid": "old"})
    new_token = make_token(key=new.private_pem, algorithm="EdDSA", headers={"kid": "new"})
    assert_ok(gate.decide(request(old_token)))
    server.document = {"keys": old.jwks["keys"] + new.jwks["keys"]}
    mono.advance(30)
    assert_ok(gate.decide(request(new_token)))
    server.document = new.jwks
    mono.advance(300)
    assert_invalid(gate.decide(request(old_token)))
    assert_ok(gate.decide(request(new_token)))
    assert server.requests == 3


def test_settings_repr_hides_the_jwks_url() -> None:
    """A JWKS URL may carry a credential: Settings' repr leaves it out."""
    settings = Settings.from_dict(
        {"algorithms": ["RS256"], "jwks_url": "https://u:hunter2@idp.example/jwks?key=s3cret"}
    )
    assert "hunter2" not in repr(settings)
    assert "s3cret" not in repr(settings)


# -- single flight across threads and loops ---------------------------------------------


def test_a_landing_wakes_every_waiter_registered_before_it_and_refuses_later_ones() -> None:
    from jwtgate._flight import Flight

    flight = Flight(None)
    woken: list[str] = []
    assert flight.on_landing(lambda: woken.append("a"))
    assert flight.on_landing(lambda: woken.append("b"))
    assert woken == []
    flight.land()
    assert woken == ["a", "b"]
    assert flight.done.is_set()
    assert not flight.on_landing(lambda: woken.append("late"))
    assert woken == ["a", "b"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_tasks_of_another_loop_wait_for_a_threads_fetch_and_share_it(
    server: JWKSServer, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A WSGI-style thread leads the fetch (the provider takes 0.3 s); twenty tasks on an
    event loop in another thread join that one flight instead of fetching, and are woken
    by its landing: one fetch for all, every task gets the key.

    Woken, not polling and not timing out: ``anyio.sleep`` fails the test, and the
    waiting limit is an hour, so a task that misses its wake-up hangs until the guard
    below cancels it (and then finds no key). Both backends run on the anyio of every
    tox corner (anyio 4.6 has no token for ``from_thread``)."""
    server.delay = 0.3
    keys = JWKSKeys(server.url, algorithms=ALGORITHMS)
    keys._wait_limit = 3600.0

    async def no_polling(delay: float) -> None:
        raise AssertionError(f"a waiter polled (anyio.sleep({delay}))")

    monkeypatch.setattr(anyio, "sleep", no_polling)
    leader = threading.Thread(target=keys.get, args=("RS256", "a"))
    leader.start()
    wait_for(lambda: keys.fetches == 1)
    found: list[Any] = []

    async def follow() -> None:
        with anyio.move_on_after(60):  # a hang guard, not a timing: the flight takes 0.3 s
            async with anyio.create_task_group() as group:
                for _ in range(20):
                    group.start_soon(lambda: _append(found, keys.get_async("RS256", "a")))

    anyio.run(follow, backend=backend)
    leader.join()
    assert keys.fetches == 1
    assert len(found) == 20
    assert all(key is found[0] for key in found)


async def _append(found: list[Any], awaitable: Awaitable[Any]) -> None:
    found.append(await awaitable)
