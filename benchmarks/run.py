"""The benchmark suite: ``python -m benchmarks`` prints a table; ``--json FILE`` writes it too.

Every number is a ratio against a baseline timed interleaved in the same run
(``harness.compare``); absolute microseconds are printed for orientation only.
Sections (``--only`` picks some): verify, middleware, peers, sizes, hostile,
revocation, jwks, issuers, dpop, sessions, telemetry, outage, throughput. ``--quick``
shrinks every budget (the smoke test uses it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import importlib.util
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt

from jwtgate import Gate, RequestInfo, Sessions, Settings, Verifier, asgi, wsgi
from jwtgate.keys import load_private_key, load_public_key

from . import apps, bench_dpop, bench_hostile, load
from .harness import Result, compare, configure
from .plot import plot

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "tests" / "keys"
SECRET = apps.SECRET
FAR = 4_000_000_000
ALGORITHMS = {
    "HS256": ("secret", None),
    "RS256": ("rsa_private", "rsa_public"),
    "ES256": ("ec256_private", "ec256_public"),
    "EdDSA": ("ed25519_private", "ed25519_public"),
}


BATCH = 50
BATCHED = frozenset({"middleware", "peers", "sizes", "jwks-middleware", "telemetry"})


class Report:
    """Rows grouped by section; printed as Markdown tables, optionally saved as JSON."""

    def __init__(self) -> None:
        self.sections: dict[str, list[dict[str, Any]]] = {}

    def add(self, section: str, result: Result, note: str = "") -> None:
        if section in BATCHED:  # timed BATCH requests per call: report one request
            result.seconds /= BATCH
            result.baseline_seconds /= BATCH
        row = {**result.as_dict(), "note": note}
        self.sections.setdefault(section, []).append(row)
        print(result.row() + (f" {note}" if note else ""), flush=True)

    def value(self, section: str, name: str, value: float, unit: str, note: str = "") -> None:
        self.sections.setdefault(section, []).append(
            {"name": name, "value": value, "unit": unit, "note": note}
        )
        print(f"| {name} | {value:.3f} {unit} | {note} |", flush=True)


def table(title: str, value_table: bool = False) -> None:
    print(f"\n### {title}\n", flush=True)
    if value_table:
        print("| measure | value | note |\n| --- | --- | --- |", flush=True)
    else:
        print("| case | time | baseline | ratio |\n| --- | --- | --- | --- |", flush=True)


def material(alg: str) -> tuple[Any, Any, dict[str, Any]]:
    """Signing key, verification key (prepared objects) and jwtgate settings for ``alg``."""
    private_name, public_name = ALGORITHMS[alg]
    if public_name is None:
        return SECRET, SECRET, {"secret": SECRET, "algorithms": [alg]}
    private = load_private_key((KEYS / f"{private_name}.pem").read_bytes())
    public_pem = (KEYS / f"{public_name}.pem").read_text()
    return (
        private,
        load_public_key(public_pem.encode()),
        {"public_key": public_pem, "algorithms": [alg]},
    )


def mint(alg: str, signing: Any, size: int = 0, **claims: Any) -> str:
    payload: dict[str, Any] = {"sub": "alice", "exp": FAR, "iat": 1_700_000_000, **claims}
    token = jwt.encode(payload, signing, algorithm=alg)
    if size and len(token) < size:
        pad = size - len(token)
        payload["pad"] = "x" * int(pad * 3 / 4)
        token = jwt.encode(payload, signing, algorithm=alg)
    return token


# -- in-process request drivers -------------------------------------------------------


def asgi_caller(app: Any, token: str | None) -> Callable[[], None]:
    """A callable that sends BATCH GET requests through an ASGI app, in one event loop run."""
    headers = [(b"host", b"bench")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode("latin-1")))
    template = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    loop = asyncio.new_event_loop()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    async def batch() -> None:
        for _ in range(BATCH):
            await app(dict(template), receive, send)

    return lambda: loop.run_until_complete(batch())


def wsgi_caller(app: Any, token: str | None) -> Callable[[], None]:
    """A callable that sends BATCH GET requests through a WSGI app."""
    from io import BytesIO

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "bench",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        return None

    def batch() -> None:
        for _ in range(BATCH):
            env = dict(environ)
            env["wsgi.input"] = BytesIO(b"")
            result = app(env, start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()

    return batch


def raw_batch(token: str, key: Any, alg: str) -> Callable[[], None]:
    def batch() -> None:
        for _ in range(BATCH):
            jwt.decode(token, key, algorithms=[alg])

    return batch


# -- sections -----------------------------------------------------------------------------


def section_verify(report: Report) -> None:
    table("Verifier.verify against one raw jwt.decode (prepared key objects for both)")
    for alg in ALGORITHMS:
        signing, verifying, data = material(alg)
        token = mint(alg, signing, scope="read write")
        uncached = Verifier(Settings.from_dict({**data, "verify_cache_size": 0}))
        cached = Verifier(Settings.from_dict(data))

        def raw(token: str = token, verifying: Any = verifying, alg: str = alg) -> Any:
            return jwt.decode(token, verifying, algorithms=[alg])

        report.add(
            "verify",
            compare(
                f"{alg} Verifier.verify, uncached",
                lambda v=uncached, t=token: v.verify(t),
                "jwt.decode",
                raw,
            ),
        )
        report.add(
            "verify",
            compare(
                f"{alg} Verifier.verify, cached",
                lambda v=cached, t=token: v.verify(t),
                "jwt.decode",
                raw,
            ),
        )


def section_middleware(report: Report) -> None:
    table("Middleware overhead over a bare app, as a multiple of one raw jwt.decode")
    for alg in ("HS256", "RS256", "ES256", "EdDSA"):
        signing, verifying, data = material(alg)
        token = mint(alg, signing)
        raw = raw_batch(token, verifying, alg)
        for stack, middleware, caller, bare_app in (
            ("ASGI", asgi.JWTGateMiddleware, asgi_caller, apps.asgi_bare),
            ("WSGI", wsgi.JWTGateMiddleware, wsgi_caller, apps.wsgi_bare),
        ):
            bare = caller(bare_app, token)
            for label, size in (("uncached", 0), ("cached", 1024)):
                app = middleware(bare_app, {**data, "verify_cache_size": size})
                report.add(
                    "middleware",
                    compare(
                        f"{alg} {stack} jwtgate overhead, {label}",
                        caller(app, token),
                        "jwt.decode",
                        raw,
                        subtract=bare,
                    ),
                )


def section_peers(report: Report) -> None:
    table("Peers side by side: overhead over the same bare framework app, x one raw jwt.decode")
    signing, verifying, _ = material("HS256")
    token = mint("HS256", signing)
    raw = raw_batch(token, verifying, "HS256")
    try:
        star = apps.starlette_apps()
    except ImportError as exc:  # pragma: no cover - dev extra installs Starlette
        print(f"(Starlette not installed: {exc})")
    else:
        bare = asgi_caller(star["bare"], token)
        for name in ("recipe", "jwtgate"):
            label = (
                "Starlette + PyJWT recipe" if name == "recipe" else "Starlette + jwtgate (cached)"
            )
            report.add(
                "peers",
                compare(label, asgi_caller(star[name], token), "jwt.decode", raw, subtract=bare),
            )
    try:
        flask = apps.flask_apps()
    except ImportError as exc:
        print(f"(Flask-JWT-Extended not installed: pip install -e '.[bench]': {exc})")
        return
    fje_token = flask["token"]
    raw_fje = raw_batch(fje_token, SECRET, "HS256")
    bare = wsgi_caller(flask["bare"], fje_token)
    for name, label in (
        ("extended", "Flask-JWT-Extended"),
        ("jwtgate", "Flask + jwtgate (cached)"),
    ):
        report.add(
            "peers",
            compare(
                label, wsgi_caller(flask[name], fje_token), "jwt.decode", raw_fje, subtract=bare
            ),
        )


def section_sizes(report: Report) -> None:
    table("Token sizes (ASGI, uncached) and a forged oversized token")
    signing, verifying, data = material("HS256")
    small = mint("HS256", signing, 200)
    raw_small = raw_batch(small, verifying, "HS256")
    bare = asgi_caller(apps.asgi_bare, small)
    roomy = {**data, "verify_cache_size": 0, "max_token_bytes": 32768}
    for size in (200, 2048, 16384):
        token = mint("HS256", signing, size)
        app = asgi.JWTGateMiddleware(apps.asgi_bare, roomy)
        report.add(
            "sizes",
            compare(
                f"{len(token)} B token, jwtgate overhead",
                asgi_caller(app, token),
                "jwt.decode 200 B",
                raw_small,
                subtract=bare,
            ),
        )
        report.add(
            "sizes",
            compare(
                f"{len(token)} B token, raw jwt.decode",
                raw_batch(token, verifying, "HS256"),
                "jwt.decode 200 B",
                raw_small,
            ),
        )
    forged = "eyJhbGciOiJIUzI1NiJ9." + "A" * 16000 + ".c2lnbmF0dXJl"
    default_app = asgi.JWTGateMiddleware(apps.asgi_bare, data)
    report.add(
        "sizes",
        compare(
            "forged 16 KB token refused (over max_token_bytes)",
            asgi_caller(default_app, forged),
            "bare request",
            bare,
        ),
    )
    roomy_app = asgi.JWTGateMiddleware(apps.asgi_bare, roomy)
    report.add(
        "sizes",
        compare(
            "forged 16 KB token refused (under a 32 KB cap: bad signature)",
            asgi_caller(roomy_app, forged),
            "bare request",
            bare,
        ),
    )


@contextlib.contextmanager
def redis_server() -> Iterator[str | None]:
    """A throwaway redis-server on a free loopback port (the tests' helper), or None."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file() else None
    )
    if binary is None:
        yield None
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from redis_server import RedisServer

    server = RedisServer(binary, Path(tempfile.mkdtemp()))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def redis_cluster() -> Iterator[str | None]:
    """A throwaway 3-master Redis Cluster (the tests' helper), or None without Redis."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        yield None
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from redis_cluster import RedisCluster, running

    yield from running(RedisCluster(Path(tempfile.mkdtemp())))


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str | None]:
    """A throwaway PostgreSQL cluster (the tests' helper: initdb + pg_ctl), or None."""
    installed = shutil.which("pg_ctl") or glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    if not installed or importlib.util.find_spec("psycopg") is None:
        yield None
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from pg_server import PostgresServer, pg_bin

    binaries = pg_bin()
    server = PostgresServer(binaries)
    try:
        server.init()
        server.start()
        yield f"{server.url}?schema=bench"
    finally:
        server.destroy()


def django_store(database: Path) -> bool:
    """Configure Django in this process for the Django ORM store, on a SQLite file with
    its tables made; False without Django."""
    try:
        import django
        from django.conf import settings as django_settings
        from django.core.management import call_command
    except ImportError:
        return False
    if not django_settings.configured:
        django_settings.configure(
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}},
            INSTALLED_APPS=["jwtgate.contrib.django_store"],
            USE_TZ=True,
        )
        django.setup()
    call_command("migrate", verbosity=0)
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


_REVOKER = """
import json, sys, time
from jwtgate import Sessions, Settings
with Sessions(Settings.from_dict(json.loads(sys.argv[1]))) as sessions:
    print("ready", flush=True)
    for line in sys.stdin:
        sessions.logout(line.strip())
        print(repr(time.time()), flush=True)
"""


def propagation(settings: Settings, data: dict[str, Any], trials: int) -> list[float]:
    """Seconds from another process's logout (committed) to this Gate refusing the token."""
    gate = Gate(settings)
    child = subprocess.Popen(
        [sys.executable, "-c", _REVOKER, json.dumps(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    delays: list[float] = []
    try:
        child.stdout.readline()
        with Sessions(settings) as sessions:
            for _ in range(trials):
                token = sessions.login("alice").access_token
                request = RequestInfo("GET", "/", (f"Bearer {token}",))
                gate.decide(request)
                deadline = time.monotonic() + 5
                assert gate.revocation is not None
                view = gate.revocation.view(True)
                while view is not None and not view.feed.live and time.monotonic() < deadline:
                    time.sleep(0.005)
                assert not hasattr(gate.decide(request), "status")
                child.stdin.write(token + "\n")
                child.stdin.flush()
                refused_at = None
                while time.monotonic() < deadline:
                    if hasattr(gate.decide(request), "status"):
                        refused_at = time.time()
                        break
                committed = float(child.stdout.readline())
                if refused_at is not None:
                    delays.append(max(0.0, refused_at - committed))
    finally:
        child.stdin.close()
        child.wait(timeout=30)
        gate.close()
    return delays


def section_revocation(report: Report, trials: int) -> None:
    table("check_revocation: extra cost per request (cached verify), x one raw jwt.decode")
    signing, verifying, data = material("HS256")
    workdir = Path(tempfile.mkdtemp())
    raw_token = mint("HS256", signing)
    raw = lambda: jwt.decode(raw_token, verifying, algorithms=["HS256"])  # noqa: E731
    with (
        redis_server() as redis_url,
        redis_cluster() as cluster_url,
        postgres_cluster() as postgres_url,
    ):
        stores = {"memory": "memory://bench", "sqlite": f"sqlite:///{workdir / 'bench.db'}"}
        if redis_url is not None:
            stores["redis"] = redis_url
        else:
            print("(redis-server not found: Redis rows skipped)")
        if cluster_url is not None:
            stores["redis cluster"] = f"{cluster_url}?wait=1"
        else:
            print("(redis-server or redis-cli not found: Redis Cluster rows skipped)")
        if postgres_url is not None:
            stores["postgresql"] = postgres_url
        else:
            print("(psycopg or initdb/pg_ctl not found: PostgreSQL rows skipped)")
        if django_store(workdir / "django.db"):
            stores["django orm (sqlite)"] = "django://"
        else:
            print("(Django not installed: Django store rows skipped)")
        plain = Gate(Settings.from_dict(data))
        delays: dict[str, list[float]] = {}
        for name, url in stores.items():
            for variant, size in (("view", 4096), ("direct", 0)):
                store_data = {
                    **data,
                    "store": url,
                    "check_revocation": True,
                    "revocation_cache_size": size,
                }
                settings = Settings.from_dict(store_data)
                # Open while timing: closing a memory store drops its data, and every
                # request would then time a refusal (an unknown session), not a pass.
                sessions = Sessions(settings)
                token = sessions.login("alice").access_token
                request = RequestInfo("GET", "/", (f"Bearer {token}",))
                gate = Gate(settings)
                assert not hasattr(gate.decide(request), "status"), "the token must pass"
                view = gate.revocation.view(True) if gate.revocation is not None else None
                deadline = time.monotonic() + 5
                while view is not None and not view.feed.live and time.monotonic() < deadline:
                    time.sleep(0.005)
                how = "per-process view" if variant == "view" else "store asked every request"
                label = f"{name}, {how}"
                report.add(
                    "revocation",
                    compare(
                        label,
                        lambda g=gate, r=request: g.decide(r),
                        "jwt.decode",
                        raw,
                        subtract=lambda r=request: plain.decide(r),
                    ),
                )
                gate.close()
                sessions.close()
            if name not in ("memory", "django orm (sqlite)"):  # a child would need Django set up
                settings = Settings.from_dict({**data, "store": url, "check_revocation": True})
                delays[name] = propagation(settings, {**data, "store": url}, trials)
        table("Propagation of a revocation made by another process", value_table=True)
        for name, values in delays.items():
            if values:
                note = f"{len(values)} trials, poll interval 50 ms (bound 100 ms)"
                report.value(
                    "propagation",
                    f"{name}: median delay",
                    statistics.median(values) * 1000,
                    "ms",
                    note,
                )
                report.value("propagation", f"{name}: max delay", max(values) * 1000, "ms", note)


def section_outage(report: Report) -> None:
    """A frozen store (#16 item 5): what a request that needs it costs once the circuit
    breaker is open (its 503), against a raw decode and against the same request on a
    healthy store (answered from the revocation view)."""
    table("A frozen store (SIGSTOP) behind the circuit breaker, x one raw jwt.decode")
    binary = shutil.which("redis-server")
    if binary is None:
        print("(redis-server not found: section skipped)")
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from redis_server import RedisServer

    signing, verifying, data = material("HS256")
    raw_token = mint("HS256", signing)
    raw = lambda: jwt.decode(raw_token, verifying, algorithms=["HS256"])  # noqa: E731
    server = RedisServer(binary, Path(tempfile.mkdtemp()))
    server.start()
    # A short store_timeout: a probe the breaker lets through while timing costs little.
    settings = Settings.from_dict(
        {**data, "store": server.url, "check_revocation": True, "store_timeout": 0.05}
    )
    try:
        with Sessions(settings) as sessions:
            token = sessions.login("alice").access_token
        request = RequestInfo("GET", "/", (f"Bearer {token}",))
        gate = Gate(settings)
        healthy = gate.decide(request)
        view = gate.revocation.view(True) if gate.revocation is not None else None
        deadline = time.monotonic() + 5
        while view is not None and not view.feed.live and time.monotonic() < deadline:
            time.sleep(0.005)
        report.add(
            "outage",
            compare("healthy store, cached", lambda: gate.decide(request), "jwt.decode", raw),
        )
        server.pause()
        while view is not None and view.feed.live:  # the view stops vouching
            time.sleep(0.005)
        refused = gate.decide(request)  # meets the frozen store: opens the breaker
        assert getattr(refused, "status", None) == 503
        assert not hasattr(healthy, "status")
        report.add(
            "outage",
            compare(
                "frozen store, 503 (breaker open)", lambda: gate.decide(request), "jwt.decode", raw
            ),
        )
        server.resume()
        gate.close()
    finally:
        server.stop()


def section_issuers(report: Report) -> None:
    """Several issuers (#17) against the one-issuer settings with the same key: what
    choosing the issuer by ``iss`` costs, and what refusing an unknown one costs."""
    table("Several issuers: two ISSUERS entries against one issuer with the same key")
    public_pem = (KEYS / "ec256_public.pem").read_text()
    private = load_private_key((KEYS / "ec256_private.pem").read_bytes())
    rsa_pem = (KEYS / "rsa_public.pem").read_text()
    one = {"algorithms": ["ES256"], "issuer": "https://a.example/", "public_key": public_pem}
    entries = [
        {"issuer": "https://b.example/", "algorithms": ["RS256"], "public_key": rsa_pem},
        {"issuer": "https://a.example/", "algorithms": ["ES256"], "public_key": public_pem},
    ]

    def token(iss: str) -> str:
        return jwt.encode({"sub": "alice", "iss": iss, "exp": FAR}, private, algorithm="ES256")

    known, stranger = token("https://a.example/"), token("https://stranger.example/")
    for label, size in (("uncached", 0), ("cached", 1024)):
        single = Verifier(Settings.from_dict({**one, "verify_cache_size": size}))
        several = Verifier(Settings.from_dict({"issuers": entries, "verify_cache_size": size}))
        report.add(
            "issuers",
            compare(
                f"verify ES256, 2 issuers, {label}",
                lambda v=several: v.verify(known),
                "1 issuer",
                lambda v=single: v.verify(known),
            ),
        )
    gate = Gate(Settings.from_dict({"issuers": entries, "verify_cache_size": 0}))
    report.add(
        "issuers",
        compare(
            "refuse an unknown iss (no key used)",
            lambda: gate.decide(("GET", "/", (f"Bearer {stranger}",), None, "", False, None)),
            "verify a known one",
            lambda: gate.decide(("GET", "/", (f"Bearer {known}",), None, "", False, None)),
        ),
    )


def section_jwks(report: Report) -> None:
    from jwt.algorithms import RSAAlgorithm

    from jwtgate.jwks import JWKSKeys

    table("Remote keys: a warm JWKS cache against keys given in settings")
    public_pem = (KEYS / "rsa_public.pem").read_text()
    private = load_private_key((KEYS / "rsa_private.pem").read_bytes())
    jwk = {**RSAAlgorithm.to_jwk(load_public_key(public_pem.encode()), as_dict=True), "kid": "k"}
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=86400")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json"
        remote = Settings.from_dict({"algorithms": ["RS256"], "jwks_url": url})
        static = Settings.from_dict({"algorithms": ["RS256"], "public_key": {"k": public_pem}})
        source = JWKSKeys.from_settings(remote)
        source.prefetch()
        token = jwt.encode(
            {"sub": "alice", "exp": FAR}, private, algorithm="RS256", headers={"kid": "k"}
        )
        for label, size in (("uncached", 0), ("cached", 1024)):
            remote_verifier = Verifier(remote.replace(verify_cache_size=size), keys=source)
            static_verifier = Verifier(static.replace(verify_cache_size=size))
            report.add(
                "jwks",
                compare(
                    f"verify RS256, warm JWKS cache, {label}",
                    lambda v=remote_verifier: v.verify(token),
                    "static key",
                    lambda v=static_verifier: v.verify(token),
                ),
            )
        # The fast path works with remote keys too (JWKSKeys.peek confirms the key).
        gate = Gate(remote, verifier=Verifier(remote, keys=source))
        report.add(
            "jwks-middleware",
            compare(
                "ASGI jwtgate overhead, warm JWKS cache, cached",
                asgi_caller(asgi.JWTGateMiddleware(apps.asgi_bare, gate=gate), token),
                "jwt.decode",
                raw_batch(token, load_public_key(public_pem.encode()), "RS256"),
                subtract=asgi_caller(apps.asgi_bare, token),
            ),
        )
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def server(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def throughput_pair(
    name: str,
    ports: tuple[int, int],
    headers: tuple[dict[str, str], dict[str, str]],
    budget: tuple[int, int, float],
    report: Report,
    expect: int = 200,
) -> None:
    """Alternate bare and auth load rounds; the ratio is the median of per-round ratios."""
    rounds, requests, seconds = budget
    ratios, bare_rates, auth_rates = [], [], []
    load.run(ports[0], headers[0], requests=requests // 4, seconds=seconds)  # warm up
    load.run(ports[1], headers[1], requests=requests // 4, seconds=seconds, expect=expect)
    for _ in range(rounds):
        bare = load.run(ports[0], headers[0], requests=requests, seconds=seconds)
        auth = load.run(ports[1], headers[1], requests=requests, seconds=seconds, expect=expect)
        if auth.failed or bare.failed:
            raise RuntimeError(f"{name}: {auth.failed + bare.failed} unexpected answers")
        ratios.append(auth.rate / bare.rate)
        bare_rates.append(bare.rate)
        auth_rates.append(auth.rate)
    auth_rps, bare_rps = statistics.median(auth_rates), statistics.median(bare_rates)
    result = Result(name, "bare app", 1 / auth_rps, 1 / bare_rps, statistics.median(ratios))
    row = {**result.as_dict(), "auth_rps": auth_rps, "bare_rps": bare_rps}
    report.sections.setdefault("throughput", []).append(row)
    print(
        f"| {name} | {auth_rps:9.0f} req/s | bare {bare_rps:9.0f} req/s | {result.ratio:6.3f}x |",
        flush=True,
    )


def section_sessions(report: Report) -> None:
    table("Sessions on the memory store: login and refresh, as a multiple of one raw jwt.encode")
    from jwtgate import Sessions
    from jwtgate.stores.memory import MemoryStore

    signing, _, data = material("HS256")
    now = int(time.time())
    payload = {"sub": "alice", "iat": now, "exp": now + 300, "jti": "x" * 22}

    def raw_encode() -> None:
        jwt.encode(payload, signing, algorithm="HS256")

    sessions = Sessions(data, MemoryStore())
    held = [sessions.login("alice").refresh_token]

    def refresh() -> None:
        held[0] = sessions.refresh(held[0]).refresh_token

    report.add(
        "sessions",
        compare("Sessions.login", lambda: sessions.login("bob"), "jwt.encode", raw_encode),
    )
    report.add("sessions", compare("Sessions.refresh", refresh, "jwt.encode", raw_encode))


def section_telemetry(report: Report) -> None:
    table(
        "OpenTelemetry on: a cached request's overhead over the bare app, and its extra cost"
        " over telemetry off, x one raw decode"
    )
    try:
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    except ImportError:
        print("(skipped: needs jwtgate[otel] and opentelemetry-sdk)")
        return
    # The SDK as an app would configure it; it reads jwtgate's counters only when it
    # collects, so the request path below never calls into it.
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    signing, verifying, data = material("HS256")
    token = mint("HS256", signing)
    raw = raw_batch(token, verifying, "HS256")
    for stack, middleware, caller, bare_app in (
        ("ASGI", asgi.JWTGateMiddleware, asgi_caller, apps.asgi_bare),
        ("WSGI", wsgi.JWTGateMiddleware, wsgi_caller, apps.wsgi_bare),
    ):
        off = caller(middleware(bare_app, data), token)
        on = caller(middleware(bare_app, {**data, "telemetry": True}), token)
        bare = caller(bare_app, token)
        for label, app in (("off", off), ("on", on)):
            report.add(
                "telemetry",
                compare(
                    f"HS256 {stack} cached, telemetry {label} - bare app",
                    app,
                    "jwt.decode",
                    raw,
                    subtract=bare,
                ),
            )
        report.add(
            "telemetry",
            compare(
                f"HS256 {stack} cached, telemetry on - off", on, "jwt.decode", raw, subtract=off
            ),
        )


def section_throughput(report: Report, budget: tuple[int, int, float]) -> None:
    print("\n### Throughput on 127.0.0.1 (ratio of req/s, auth / bare)\n", flush=True)
    print("| server, app | auth | bare | ratio |\n| --- | --- | --- | --- |", flush=True)
    signing, _, _ = material("HS256")
    valid = {"Authorization": f"Bearer {mint('HS256', signing)}"}
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9." + "A" * 16000 + ".c2ln"}
    py = sys.executable
    uvicorn = [py, "-m", "uvicorn", "--host", "127.0.0.1", "--log-level", "warning"]
    uvicorn += ["--no-access-log", "--lifespan", "on", "--h11-max-incomplete-event-size", "65536"]
    gunicorn = [py, "-m", "gunicorn", "-b", "127.0.0.1:{port}", "-w", "1", "-k", "gthread"]
    gunicorn += ["--threads", "4", "--log-level", "warning"]
    m = "benchmarks.apps:"
    no_cache = {"JWTGATE_BENCH_CACHE": "0"}
    cases: list[tuple[str, str, str, str, dict[str, str], dict[str, str], int]] = [
        ("uvicorn, jwtgate (cached)", "uvicorn", "asgi_bare", "asgi_jwtgate", {}, valid, 200),
        (
            "uvicorn, jwtgate (uncached)",
            "uvicorn",
            "asgi_bare",
            "asgi_jwtgate",
            no_cache,
            valid,
            200,
        ),
        (
            "uvicorn, Starlette + PyJWT recipe",
            "uvicorn",
            "starlette_bare",
            "starlette_recipe",
            {},
            valid,
            200,
        ),
        (
            "uvicorn, Starlette + jwtgate (cached)",
            "uvicorn",
            "starlette_bare",
            "starlette_jwtgate",
            {},
            valid,
            200,
        ),
        (
            "uvicorn, forged 16 KB token (401)",
            "uvicorn",
            "asgi_bare",
            "asgi_jwtgate",
            {},
            forged,
            401,
        ),
        (
            "gunicorn gthread, jwtgate (cached)",
            "gunicorn",
            "wsgi_bare",
            "wsgi_jwtgate",
            {},
            valid,
            200,
        ),
        (
            "gunicorn gthread, jwtgate (uncached)",
            "gunicorn",
            "wsgi_bare",
            "wsgi_jwtgate",
            no_cache,
            valid,
            200,
        ),
    ]
    for name, kind, bare_app, auth_app, env, headers, expect in cases:
        ports = (free_port(), free_port())

        def argv(app: str, port: int, kind: str = kind) -> list[str]:
            if kind == "uvicorn":
                return [*uvicorn, "--port", str(port), m + app]
            return [arg.format(port=port) for arg in gunicorn] + [m + app]

        with (
            server(argv(bare_app, ports[0]), ports[0], env),
            server(argv(auth_app, ports[1]), ports[1], env),
        ):
            throughput_pair(name, ports, (headers, headers), budget, report, expect)


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import cryptography

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": model,
        "cpus": os.cpu_count(),
        "pyjwt": jwt.__version__,
        "cryptography": cryptography.__version__,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


SECTIONS = (
    "verify",
    "middleware",
    "peers",
    "sizes",
    "hostile",
    "revocation",
    "jwks",
    "issuers",
    "dpop",
    "sessions",
    "telemetry",
    "outage",
    "throughput",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny budgets (a smoke run, numbers meaningless)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--plot",
        metavar="DIR",
        help="also write SVG charts of the results into DIR (needs matplotlib: the bench extra)",
    )
    parser.add_argument(
        "--from-json",
        metavar="FILE",
        help="run nothing: chart the results a --json run wrote (with --plot)",
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections ({', '.join(SECTIONS)})",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        if not args.plot:
            parser.error("--from-json needs --plot DIR")
        saved = json.loads(Path(args.from_json).read_text())
        for path in plot(saved["results"], saved["machine"], Path(args.plot)):
            print(f"wrote {path}")
        return 0
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if args.quick:
        configure(rounds=2, target=0.001)
    info = machine()
    print(
        f"jwtgate benchmarks · Python {info['python']} · {info['cpus']} CPUs · {info['cpu']}"
        f" · PyJWT {info['pyjwt']}"
    )
    report = Report()
    for name in chosen:
        if name == "verify":
            section_verify(report)
        elif name == "middleware":
            section_middleware(report)
        elif name == "peers":
            section_peers(report)
        elif name == "sizes":
            section_sizes(report)
        elif name == "hostile":
            table("Hostile requests: Gate.decide against a normal (uncached RS256) request")
            for result in bench_hostile.results():
                report.add("hostile", result)
        elif name == "revocation":
            section_revocation(report, trials=2 if args.quick else 20)
        elif name == "jwks":
            section_jwks(report)
        elif name == "issuers":
            section_issuers(report)
        elif name == "dpop":
            table("DPoP: a cached token with a fresh proof, against one raw decode")
            for result in bench_dpop.results(quick=args.quick):
                report.add("dpop", result)
        elif name == "sessions":
            section_sessions(report)
        elif name == "telemetry":
            section_telemetry(report)
        elif name == "outage":
            section_outage(report)
        elif name == "throughput":
            budget = (1, 100, 2.0) if args.quick else (5, 3000, 10.0)
            section_throughput(report, budget)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": info, "results": report.sections}, indent=2) + "\n"
        )
        print(f"\nwrote {args.json}")
    if args.plot:
        for path in plot(report.sections, info, Path(args.plot)):
            print(f"wrote {path}")
    return 0
