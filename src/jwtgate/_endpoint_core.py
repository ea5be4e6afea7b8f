"""The token endpoints' core: routing, parsing, cookies, CSRF and the flows; no I/O.

Each flow is a generator that yields its I/O steps as typed values and receives
their results, so the sync and async drivers in :mod:`jwtgate.endpoints` share
every decision and differ only in how they perform the I/O. The request and
response values live here too; :mod:`jwtgate.endpoints` re-exports them.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from . import _bearer
from ._csrf import csrf_key, csrf_token, csrf_valid
from ._endpoint_dpop import (
    Claim,
    EndpointProofs,
    ProofRefused,
    bound_claims,
    bound_key,
    proofs_of,
)
from .audit import Reporter
from .config import Settings
from .errors import AuthenticationError, RequestError, RevokedToken, ServiceUnavailable
from .http import render
from .identity import Identity
from .revocation import question
from .sessions import AsyncSessions, Sessions, TokenPair

MAX_BODY = 16_384
ROUTES = ("token", "refresh", "logout", "logout-all", "verify")


@dataclass(frozen=True)
class EndpointRequest:
    """What the endpoints need from a request; header names in lower case."""

    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] | None = None
    authorization: tuple[str, ...] = ()
    client_address: str | None = None  # the peer, as the server reports it
    scheme: str = "http"  # as the server saw it (after any proxy-headers layer)

    def header(self, name: str) -> str | None:
        """One header's value, or None."""
        return (self.headers or {}).get(name)

    @property
    def url(self) -> str:
        """The URL the request addressed (what a DPoP proof's ``htu`` names)."""
        return f"{self.scheme}://{self.header('host') or 'localhost'}{self.path}"

    @property
    def client(self) -> dict[str, str]:
        """What the session inventory and the audit trail record of the client."""
        found = {"address": self.client_address, "user_agent": self.header("user-agent")}
        return {name: value for name, value in found.items() if value}


@dataclass(frozen=True)
class EndpointResponse:
    """Status, header pairs (``Set-Cookie`` may repeat) and body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def json(self) -> Any:
        """The body, decoded (None when empty)."""
        return json.loads(self.body) if self.body else None


_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    503: "Service Unavailable",
}

_NO_STORE = (("cache-control", "no-store"), ("pragma", "no-cache"))

# The steps of a flow: each I/O operation a flow needs, as a value. Flows are
# generators that yield steps and receive results, so the sync and async drivers
# share every decision and differ only in how they perform the I/O.


@dataclass(frozen=True)
class _Authenticate:
    username: str
    password: str


# A session step makes its call with ``on(sessions)``: on ``Sessions`` that is the
# answer, on ``AsyncSessions`` an awaitable of it, so the two drivers differ only
# in awaiting.


@dataclass(frozen=True)
class _Login:
    subject: str
    claims: Mapping[str, Any] | None
    client: Mapping[str, str]

    def on(self, sessions: Sessions | AsyncSessions) -> Any:
        return sessions.login(self.subject, self.claims, client=self.client)


@dataclass(frozen=True)
class _Verify:
    token: str

    def on(self, sessions: Sessions | AsyncSessions) -> Any:
        return sessions.verify(self.token)


@dataclass(frozen=True)
class _Refresh:
    token: str
    client: Mapping[str, str]
    issued: bool = True  # False: consumed only (logout-all), no refresh event

    def on(self, sessions: Sessions | AsyncSessions) -> Any:
        return sessions._rotate(self.token, self.client, issued=self.issued)


@dataclass(frozen=True)
class _Logout:
    token: str
    client: Mapping[str, str]

    def on(self, sessions: Sessions | AsyncSessions) -> Any:
        return sessions.logout(self.token, client=self.client)


@dataclass(frozen=True)
class _LogoutAll:
    subject: str
    client: Mapping[str, str]

    def on(self, sessions: Sessions | AsyncSessions) -> Any:
        return sessions.logout_all(self.subject, client=self.client)


@dataclass(frozen=True)
class _IsRevoked:
    identity: Identity

    def on(self, sessions: Sessions | AsyncSessions) -> Any:
        return sessions.store.is_revoked(*question(self.identity))


_SessionStep = _Login | _Verify | _Refresh | _Logout | _LogoutAll | _IsRevoked
_Step = _Authenticate | _SessionStep | Claim
_Flow = Generator[_Step, Any, EndpointResponse]


class _Answer(Exception):
    """Ends a flow early with a ready response."""

    def __init__(self, response: EndpointResponse) -> None:
        self.response = response


def _json(status: int, body: Mapping[str, Any] | None, *cookies: str) -> EndpointResponse:
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    headers = [*_NO_STORE, *(("set-cookie", c) for c in cookies)]
    if body is not None:
        headers.insert(0, ("content-type", "application/json"))
    headers.append(("content-length", str(len(data))))
    return EndpointResponse(status, tuple(headers), data)


def _oauth_error(status: int, error: str, description: str, *cookies: str) -> _Answer:
    return _Answer(_json(status, {"error": error, "error_description": description}, *cookies))


class _Core:
    """Routing, parsing, cookies and the flows; no I/O."""

    def __init__(
        self,
        settings: Settings,
        *,
        prefix: str,
        cookie: bool,
        cookie_name: str,
        csrf_cookie_name: str,
        csrf_header: str,
        secure: bool,
        csrf_secret: str | bytes | None = None,
    ) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError("prefix must start with '/' and not end with one, e.g. '/auth'")
        self.settings = settings
        self.reporter = Reporter.of(settings)
        self.prefix = prefix
        self.cookie = cookie
        self.cookie_name = cookie_name
        self.csrf_cookie_name = csrf_cookie_name
        self.csrf_header = csrf_header.lower()
        self.secure = secure
        self._csrf_key = csrf_key(settings, csrf_secret) if cookie else b""
        self.proofs = EndpointProofs(settings)

    # -- the flows ------------------------------------------------------------------

    def flow(self, request: EndpointRequest, route: str | None = None) -> _Flow:
        """Answer ``request``, yielding the I/O steps it needs. ``route`` is the route's
        name when a framework has routed the request already (then any path serves)."""
        try:
            route = self.route(request, route)
            body = self.body(request, password_form=route == "token" and not self.cookie)
            if route == "token":
                return (yield from self.login(request, body))
            if route == "refresh":
                return (yield from self.refresh(request, body))
            if route == "verify":
                return (yield from self.verify(body))
            return (yield from self.logout(request, body, everywhere=route == "logout-all"))
        except _Answer as answer:
            return answer.response
        except ProofRefused as refused:
            nonce = () if refused.nonce is None else (("dpop-nonce", refused.nonce),)
            body = {"error": refused.error.error, "error_description": refused.error.description}
            refusal = _json(400, body)
            return EndpointResponse(refusal.status, refusal.headers + nonce, refusal.body)
        except ServiceUnavailable as error:
            return self.rendered(error)

    def login(self, request: EndpointRequest, body: Mapping[str, Any]) -> _Flow:
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str) or not username:
            raise _oauth_error(400, "invalid_request", "username and password are required")
        result = yield _Authenticate(username, password)
        if isinstance(result, tuple):
            subject, claims = result
        else:
            subject, claims = result, None
        if not subject:
            attempted = username[:256]  # whatever was typed, bounded
            self.reporter.report("login", "refused", attempted, client=request.client)
            raise _oauth_error(400, "invalid_grant", "invalid username or password")
        proofs = proofs_of(request.headers)
        jkt = yield from self.proofs.key(proofs, request.method, request.url, None)
        pair = yield _Login(subject, bound_claims(claims, jkt), request.client)
        return self.issued(request, pair, dpop=jkt is not None)

    def refresh(self, request: EndpointRequest, body: Mapping[str, Any]) -> _Flow:
        token, from_cookie = self.refresh_token(request, body)
        if token is None:
            raise _oauth_error(400, "invalid_request", "refresh_token is required")
        bound = None
        try:
            if from_cookie or self.proofs.on:
                identity = yield _Verify(token)
                if from_cookie:  # ambient: prove the page sent it before anything changes
                    self.check_csrf(request, identity)
                bound = bound_key(identity.claims)
            proofs = proofs_of(request.headers)
            yield from self.proofs.key(proofs, request.method, request.url, bound)
            pair = yield _Refresh(token, request.client)
        except AuthenticationError as error:
            # A dead refresh cookie is useless to the browser: drop it.
            raise _oauth_error(
                400, "invalid_grant", error.description, *self.clear(request)
            ) from None
        return self.issued(request, pair, dpop=bound is not None)

    def logout(
        self, request: EndpointRequest, body: Mapping[str, Any], *, everywhere: bool
    ) -> _Flow:
        try:
            access = _bearer.from_header(
                request.authorization, self.settings.header_scheme, self.settings.max_token_bytes
            )
        except RequestError as error:
            return self.rendered(error)
        token, from_cookie = (
            (access, False) if access is not None else self.refresh_token(request, body)
        )
        if token is None:
            raise _oauth_error(400, "invalid_request", "a refresh or access token is required")
        try:
            identity: Identity = yield _Verify(token)
            if from_cookie:
                self.check_csrf(request, identity)
            if everywhere:
                # Only a live session may end all others, and a refresh token only
                # while it is its family's current one: it is consumed like on
                # /refresh, so a used one is a replay (its family ends, 400), not a
                # way for whoever kept it to log the user out everywhere.
                if identity.claims.get("token_use") == "refresh":
                    yield _Refresh(token, request.client, issued=False)
                elif (yield _IsRevoked(identity)):
                    raise RevokedToken()
                yield _LogoutAll(str(identity.subject), request.client)
            else:
                yield _Logout(token, request.client)
        except AuthenticationError as error:
            if access is not None:
                return self.rendered(error)
            raise _oauth_error(400, "invalid_grant", error.description) from None
        return _json(204, None, *self.clear(request))

    def verify(self, body: Mapping[str, Any]) -> _Flow:
        """Whether ``body["token"]`` (access or refresh) is valid and not revoked now."""
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise _oauth_error(400, "invalid_request", "token is required")
        try:
            identity: Identity = yield _Verify(token)
            if (yield _IsRevoked(identity)):
                raise RevokedToken()
        except AuthenticationError as error:
            return self.rendered(error)
        claims = identity.claims
        answer = {"active": True, "sub": identity.subject, "exp": claims.get("exp")}
        answer["token_use"] = claims.get("token_use", "access")
        if identity.scopes:
            answer["scope"] = " ".join(sorted(identity.scopes))
        return _json(200, answer)

    # -- parsing ---------------------------------------------------------------------

    def route(self, request: EndpointRequest, given: str | None = None) -> str:
        head, _, name = request.path.rpartition("/")
        if given is not None:
            name = given
        elif head != self.prefix:
            name = ""
        if name not in ROUTES:
            raise _oauth_error(404, "not_found", "no such endpoint")
        if request.method != "POST":
            response = _json(405, {"error": "method_not_allowed"})
            raise _Answer(
                EndpointResponse(405, (("allow", "POST"), *response.headers), response.body)
            )
        return name

    def body(self, request: EndpointRequest, *, password_form: bool = False) -> Mapping[str, Any]:
        """The JSON object of the body; with ``password_form``, also RFC 6749's password
        grant as a form (``/docs``' *Authorize* sends one). A form is taken only when no
        cookie is set in answer: a cross-site HTML form can send one, and must gain
        nothing from it (its tokens come back in a body the other site cannot read).
        """
        if not request.body.strip():
            return {}
        if len(request.body) > MAX_BODY:
            raise _oauth_error(413, "invalid_request", "request body too large")
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded" and password_form:
            return _password_grant(request.body)
        if content_type != "application/json":
            raise _oauth_error(415, "invalid_request", "send application/json")
        try:
            data = json.loads(request.body)
        except (ValueError, RecursionError):
            raise _oauth_error(400, "invalid_request", "malformed JSON body") from None
        if not isinstance(data, dict):
            raise _oauth_error(400, "invalid_request", "the body must be a JSON object")
        return data

    def refresh_token(
        self, request: EndpointRequest, body: Mapping[str, Any]
    ) -> tuple[str | None, bool]:
        """The refresh token of the body, else of the cookie; and whether it came from
        the cookie (then the request must pass :meth:`check_csrf`)."""
        token = body.get("refresh_token")
        if token is not None:
            if not isinstance(token, str) or not token:
                raise _oauth_error(400, "invalid_request", "refresh_token must be a string")
            return token, False
        if not self.cookie:
            return None, False
        try:
            token = _bearer.from_cookie(
                request.header("cookie"), self.cookie_name, self.settings.max_token_bytes
            )
        except RequestError:
            raise _oauth_error(400, "invalid_request", "malformed cookie") from None
        return token, token is not None

    def check_csrf(self, request: EndpointRequest, identity: Identity) -> None:
        """Signed double-submit: the CSRF cookie and header agree, and the value is one
        this server signed for the session of the verified refresh cookie."""
        try:
            cookie = _bearer.from_cookie(request.header("cookie"), self.csrf_cookie_name, 256)
        except RequestError:
            cookie = None
        sent = request.header(self.csrf_header) or ""
        sid = identity.claims.get("sid")
        if (
            not cookie
            or not isinstance(sid, str)
            or not hmac.compare_digest(sent.encode(), cookie.encode())
            or not csrf_valid(self._csrf_key, sid, sent)
        ):
            raise _oauth_error(403, "access_denied", "CSRF token missing or invalid")

    # -- answers ---------------------------------------------------------------------

    def rendered(self, error: RequestError) -> EndpointResponse:
        rejection = render(error, self.settings.realm)
        extra = () if any(k == "cache-control" for k, _ in rejection.headers) else _NO_STORE
        return EndpointResponse(rejection.status, (*rejection.headers, *extra), rejection.body)

    @staticmethod
    def cookie_path(request: EndpointRequest) -> str:
        """The refresh cookie's ``Path``: the folder the routes are served from (the
        prefix, or wherever a framework mounted them)."""
        return request.path.rpartition("/")[0] or "/"

    def issued(
        self, request: EndpointRequest, pair: TokenPair, *, dpop: bool = False
    ) -> EndpointResponse:
        body = pair.as_dict()
        if dpop:  # RFC 9449 §5: the access token is bound to the proof's key
            body["token_type"] = "DPoP"
        if not self.cookie:
            return _json(200, body)
        del body["refresh_token"]
        age = pair.refresh_expires_in
        body["csrf_token"] = csrf = csrf_token(self._csrf_key, pair.session_id)
        return _json(
            200,
            body,
            self.set_cookie(
                self.cookie_name, pair.refresh_token, self.cookie_path(request), age, True
            ),
            self.set_cookie(self.csrf_cookie_name, csrf, "/", age, False),
        )

    def set_cookie(self, name: str, value: str, path: str, age: int, http_only: bool) -> str:
        parts = [f"{name}={value}", f"Path={path}", f"Max-Age={age}", "SameSite=Strict"]
        if http_only:
            parts.append("HttpOnly")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    def clear(self, request: EndpointRequest) -> tuple[str, ...]:
        if not self.cookie:
            return ()
        return (
            self.set_cookie(self.cookie_name, "", self.cookie_path(request), 0, True),
            self.set_cookie(self.csrf_cookie_name, "", "/", 0, False),
        )


# -- signed double-submit CSRF (OWASP) ----------------------------------------------


def _password_grant(body: bytes) -> Mapping[str, Any]:
    """RFC 6749 §4.3.2: ``grant_type=password&username=…&password=…``, form-encoded."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise _oauth_error(400, "invalid_request", "malformed form body") from None
    if any(len(values) > 1 for values in fields.values()):
        raise _oauth_error(400, "invalid_request", "a field is repeated")
    form = {name: values[0] for name, values in fields.items()}
    if form.get("grant_type") != "password":
        raise _oauth_error(400, "unsupported_grant_type", "grant_type must be password")
    return form
