"""``jwtgate demo``: a protected app on 127.0.0.1 and the story of a token's life.

The app is plain WSGI (standard library server, nothing to install) behind
:class:`jwtgate.wsgi.JWTGateMiddleware`, with the ready-made token endpoints and
the embedded SQLite store, revocation checks on:

* ``POST /auth/token``, ``/auth/refresh``, ``/auth/logout``, ``/auth/logout-all``
  (public: they take credentials or refresh tokens in the body);
* ``GET /api/me``: who you are (needs a token);
* ``GET /api/admin``: needs the ``admin`` scope, which the demo user lacks (403).

``jwtgate demo`` prints a walkthrough to paste into another terminal;
``jwtgate demo --script`` plays it against the live server and checks each status.
"""

from __future__ import annotations

import json
import secrets
import socketserver
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .config import Settings
from .endpoints import wsgi_app as token_endpoints
from .identity import Identity
from .wsgi import IDENTITY_KEY, JWTGateMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["DEMO_PASSWORD", "DEMO_USER", "build_app", "demo_settings", "serve", "walkthrough"]

DEMO_USER, DEMO_PASSWORD = "alice", "wonderland"


def demo_settings(db: Path, *, access_ttl: int, leeway: int) -> Settings:
    """Settings for the demo: a fresh random secret, SQLite store, revocation on."""
    return Settings.from_dict(
        {
            "secret": secrets.token_urlsafe(48),
            "store": f"sqlite:///{db}",
            "check_revocation": True,
            "access_token_ttl": access_ttl,
            "refresh_token_ttl": 3600,
            "leeway": leeway,
            "public_paths": ["/", "/auth/*"],
            "rules": [{"path": "/api/admin", "scopes": ["admin"]}],
            "realm": "jwtgate-demo",
        }
    )


def _authenticate(username: str, password: str) -> tuple[str, dict[str, str]] | None:
    if secrets.compare_digest(username, DEMO_USER) and secrets.compare_digest(
        password, DEMO_PASSWORD
    ):
        return username, {"scope": "read"}
    return None


def _json(start_response: StartResponse, status: str, data: Any) -> list[bytes]:
    body = json.dumps(data, indent=2).encode() + b"\n"
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def build_app(settings: Settings) -> tuple[JWTGateMiddleware, Callable[[], None]]:
    """The demo WSGI app (token endpoints under /auth, protected routes under /api),
    and the function that closes its store connections."""
    auth = token_endpoints(settings, _authenticate, secure=False)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path.startswith("/auth/"):
            return auth(environ, start_response)  # type: ignore[no-any-return]
        identity: Identity = environ[IDENTITY_KEY]
        if path == "/api/me":
            return _json(
                start_response,
                "200 OK",
                {
                    "subject": identity.subject,
                    "scopes": sorted(identity.scopes),
                    "expires_at": identity.claims.get("exp"),
                },
            )
        if path == "/api/admin":
            return _json(start_response, "200 OK", {"admin": True})
        if path == "/":
            return _json(start_response, "200 OK", {"demo": "jwtgate", "try": "/api/me"})
        return _json(start_response, "404 Not Found", {"error": "not_found"})

    middleware = JWTGateMiddleware(app, settings)

    def close() -> None:
        middleware.close()
        auth.close()

    return middleware, close


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # The standard handler logs the request line, and a query string may hold
        # a token: log nothing.
        return


@dataclass
class Step:
    """One step of the walkthrough: what it shows, the request, the status expected."""

    title: str
    method: str
    path: str
    expected: int
    token: Callable[[], str | None] | None = None
    body: Callable[[], dict[str, Any]] | None = None
    explain: str = ""


class _Story:
    """The walkthrough, with the tokens it collects as it goes."""

    def __init__(self, base: str, out: TextIO, leeway: int) -> None:
        self.base = base
        self.out = out
        self.leeway = leeway
        self.access: str | None = None
        self.refresh: str | None = None
        self.old_access: str | None = None
        self.old_refresh: str | None = None
        self.failures = 0

    def request(self, step: Step) -> tuple[int, dict[str, Any]]:
        data = json.dumps(step.body()).encode() if step.body else None
        url = self.base + step.path  # always http://127.0.0.1:<port>/...
        request = urllib.request.Request(url, data=data, method=step.method)  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/json")
        token = step.token() if step.token else None
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {}
        return status, payload if isinstance(payload, dict) else {}

    def run(self, step: Step) -> dict[str, Any]:
        status, payload = self.request(step)
        ok = status == step.expected
        self.failures += 0 if ok else 1
        mark = "ok" if ok else f"UNEXPECTED (wanted {step.expected})"
        print(f"\n{step.title}\n  {step.method} {step.path} -> {status}  [{mark}]", file=self.out)
        detail = payload.get("error_description") or payload.get("subject")
        if detail:
            print(f"  {detail}", file=self.out)
        if step.explain:
            print(f"  {step.explain}", file=self.out)
        return payload

    def login(self, title: str) -> None:
        pair = self.run(
            Step(
                title,
                "POST",
                "/auth/token",
                200,
                body=lambda: {"username": DEMO_USER, "password": DEMO_PASSWORD},
            )
        )
        self.access, self.refresh = pair.get("access_token"), pair.get("refresh_token")

    def play(self) -> int:
        self.login("1. Log in: a short-lived access token and a refresh token.")
        self.run(
            Step(
                "2. Call a protected endpoint with the access token.",
                "GET",
                "/api/me",
                200,
                token=lambda: self.access,
            )
        )
        self.run(
            Step("3. Without a token: 401 and a bare Bearer challenge.", "GET", "/api/me", 401)
        )
        self.run(
            Step(
                "4. A route that needs the 'admin' scope: 403 insufficient_scope.",
                "GET",
                "/api/admin",
                403,
                token=lambda: self.access,
            )
        )
        self.wait_for_expiry()
        self.run(
            Step(
                "5. The same access token after exp + leeway: refused.",
                "GET",
                "/api/me",
                401,
                token=lambda: self.access,
            )
        )
        self.old_access, self.old_refresh = self.access, self.refresh
        pair = self.run(
            Step(
                "6. Refresh: the refresh token is rotated (single use).",
                "POST",
                "/auth/refresh",
                200,
                body=lambda: {"refresh_token": self.old_refresh},
            )
        )
        self.access, self.refresh = pair.get("access_token"), pair.get("refresh_token")
        self.run(
            Step("7. The new access token works.", "GET", "/api/me", 200, token=lambda: self.access)
        )
        self.run(
            Step(
                "8. Replay the OLD refresh token (as a thief would): reuse detected.",
                "POST",
                "/auth/refresh",
                400,
                body=lambda: {"refresh_token": self.old_refresh},
                explain="The whole token family is now revoked (RFC 9700 §4.14.2).",
            )
        )
        self.run(
            Step(
                "9. So the new access token is refused at once, though it has not expired.",
                "GET",
                "/api/me",
                401,
                token=lambda: self.access,
            )
        )
        self.run(
            Step(
                "10. And the new refresh token is dead too.",
                "POST",
                "/auth/refresh",
                400,
                body=lambda: {"refresh_token": self.refresh},
            )
        )
        self.login("11. Log in again: a new session.")
        self.run(
            Step(
                "12. Log out (revokes this session).",
                "POST",
                "/auth/logout",
                204,
                token=lambda: self.access,
            )
        )
        self.run(
            Step(
                "13. The logged-out access token is refused, before its exp.",
                "GET",
                "/api/me",
                401,
                token=lambda: self.access,
            )
        )
        verdict = (
            "every step answered as expected"
            if not self.failures
            else (f"{self.failures} step(s) answered unexpectedly")
        )
        print(f"\nDone: {verdict}.", file=self.out)
        return 0 if not self.failures else 1

    def wait_for_expiry(self) -> None:
        exp = _unverified_exp(self.access or "")
        wait = max(exp + self.leeway - time.time(), 0.0) + 0.5
        print(
            f"\n... waiting {wait:.1f} s: the access token expires at exp, and is still "
            f"accepted for a leeway of {self.leeway} s of clock skew ...",
            file=self.out,
        )
        time.sleep(wait)


def _unverified_exp(token: str) -> float:
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return time.time()


def walkthrough(base: str, access_ttl: int, leeway: int) -> str:
    """The commands a person pastes into another terminal."""
    login = (
        f"curl -s -X POST {base}/auth/token -H 'Content-Type: application/json' "
        f'-d \'{{"username": "{DEMO_USER}", "password": "{DEMO_PASSWORD}"}}\''
    )
    body = '"{\\"refresh_token\\": \\"$REFRESH\\"}"'
    refresh = f"curl -s -X POST {base}/auth/refresh -H 'Content-Type: application/json' -d {body}"
    return f"""
jwtgate demo is serving {base} (embedded SQLite store, revocation checks on).
Access tokens live {access_ttl} s, with {leeway} s of leeway for clock skew.

In another terminal:

  # 1. log in, and keep the two tokens
  {login}
  ACCESS=...   # paste access_token
  REFRESH=...  # paste refresh_token

  # 2. call a protected endpoint (200), then without a token (401)
  curl -si {base}/api/me -H "Authorization: Bearer $ACCESS"
  curl -si {base}/api/me

  # 3. a route that needs the admin scope (403 insufficient_scope)
  curl -si {base}/api/admin -H "Authorization: Bearer $ACCESS"

  # 4. wait {access_ttl + leeway} s (ttl + leeway) and call again: 401 token expired
  curl -si {base}/api/me -H "Authorization: Bearer $ACCESS"

  # 5. refresh: a new pair; the old refresh token is now used up
  {refresh}
  ACCESS=...   # paste the NEW access_token (keep $REFRESH: it is the old one now)

  # 6. replay the OLD refresh token: reuse detected, the whole family is revoked,
  #    and the new access token is refused at once, long before its exp
  {refresh}
  curl -si {base}/api/me -H "Authorization: Bearer $ACCESS"

  # 7. log in again (step 1, new ACCESS), log out, and see that access token
  #    refused before its exp
  curl -si -X POST {base}/auth/logout -H "Authorization: Bearer $ACCESS"
  curl -si {base}/api/me -H "Authorization: Bearer $ACCESS"

Or run `jwtgate demo --script` to watch the whole story play by itself.
Press Ctrl-C to stop.
"""


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    script: bool = False,
    db: str | None = None,
    access_ttl: int | None = None,
    leeway: int | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the demo; with ``script`` play the walkthrough and return its exit code."""
    out = out or sys.stdout
    access_ttl = access_ttl or (2 if script else 30)
    leeway = leeway if leeway is not None else (1 if script else 5)
    with tempfile.TemporaryDirectory(prefix="jwtgate-demo-") as tmp:
        path = Path(db) if db else Path(tmp) / "demo.db"
        settings = demo_settings(path, access_ttl=access_ttl, leeway=leeway)
        app, close = build_app(settings)
        server = make_server(
            host, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        base = f"http://{host}:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            if script:
                print(f"jwtgate demo --script against {base} (store: {path})", file=out)
                return _Story(base, out, leeway).play()
            print(walkthrough(base, access_ttl, leeway), file=out, flush=True)
            while thread.is_alive():  # join() in small steps so Ctrl-C is seen at once
                thread.join(0.5)
        except KeyboardInterrupt:
            print("\nStopped.", file=out)
        finally:
            server.shutdown()
            server.server_close()
            close()
    return 0
