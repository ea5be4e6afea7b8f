"""Every error jwtgate raises, and the HTTP answer each one maps to.

The tree::

    JWTGateError
    ├── ConfigurationError              settings that cannot work (raised at startup)
    ├── AuthenticationError             the request's credentials are refused
    │   ├── MissingToken                401, no error code
    │   ├── InvalidRequest              400 invalid_request
    │   │   └── NonCanonicalPath        a path no rule can be trusted to match
    │   ├── InvalidToken                401 invalid_token
    │   │   ├── TokenTooLarge
    │   │   ├── MalformedToken
    │   │   ├── DisallowedAlgorithm
    │   │   ├── UnknownKey
    │   │   ├── InvalidSignature
    │   │   ├── UnsupportedCriticalHeader
    │   │   ├── ExpiredToken
    │   │   ├── ImmatureToken
    │   │   ├── InvalidClaim
    │   │   │   ├── MissingClaim
    │   │   │   ├── InvalidIssuer
    │   │   │   │   └── UnknownIssuer   no issuer entry names the token's iss
    │   │   │   └── InvalidAudience
    │   │   ├── WrongTokenType
    │   │   │   └── DisallowedTokenType  the typ header is not one require_typ lists
    │   │   ├── RevokedToken
    │   │   │   └── ReusedToken         a consumed refresh token came back
    │   │   └── InvalidBinding          a bound token sent as Bearer, an unbound one as DPoP
    │   ├── InvalidDPoPProof            401 invalid_dpop_proof (RFC 9449 §7.1)
    │   │   └── UseDPoPNonce            401 use_dpop_nonce: retry with the DPoP-Nonce sent
    │   └── InsufficientScope           403 insufficient_scope
    ├── PreflightAnswered               204: jwtgate answered a CORS preflight itself
    ├── MetadataAnswered                200: jwtgate served its RFC 9728 metadata itself
    └── ServiceUnavailable              503 with Retry-After: the server's fault
        ├── KeySourceUnavailable
        └── StoreUnavailable

Each request error carries its HTTP mapping as class attributes (``status``,
``error`` — the RFC 6750 error code — and ``description``). ``description`` is a
fixed, short sentence: it never echoes token contents, keys or library internals,
so it is safe to send to the client and to log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "DisallowedAlgorithm",
    "DisallowedTokenType",
    "ExpiredToken",
    "ImmatureToken",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "InvalidAudience",
    "InvalidBinding",
    "InvalidClaim",
    "InvalidDPoPProof",
    "InvalidIssuer",
    "InvalidRequest",
    "InvalidSignature",
    "InvalidToken",
    "JWTGateError",
    "KeySourceUnavailable",
    "MalformedToken",
    "MetadataAnswered",
    "MissingClaim",
    "MissingToken",
    "NonCanonicalPath",
    "PreflightAnswered",
    "Problem",
    "RequestError",
    "ReusedToken",
    "RevokedToken",
    "ServiceUnavailable",
    "StoreUnavailable",
    "TokenTooLarge",
    "UnknownIssuer",
    "UnknownKey",
    "UnknownUser",
    "UnsupportedCriticalHeader",
    "UseDPoPNonce",
    "WrongTokenType",
]


class JWTGateError(Exception):
    """Base class of every exception jwtgate raises."""


@dataclass(frozen=True)
class Problem:
    """One configuration problem: a stable id, the settings key, what is wrong, how to fix it."""

    id: str
    key: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.id} [{self.key}]: {self.message}"
        return f"{text} HINT: {self.hint}" if self.hint else text


class ConfigurationError(JWTGateError):
    """Raised when settings cannot work; lists every problem found, each with its id."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"jwtgate settings have {count} {noun}:\n{lines}")

    @property
    def ids(self) -> list[str]:
        """The ids of the problems, in the order they were found."""
        return [p.id for p in self.problems]


class RequestError(JWTGateError):
    """Base of the errors that end a request; carries its HTTP mapping."""

    status: int = 401
    error: str | None = None
    description: str = "authentication failed"

    def __init__(self, description: str | None = None) -> None:
        if description is not None:
            self.description = description
        super().__init__(self.description)


class AuthenticationError(RequestError):
    """Raised when the request's credentials are missing, malformed or refused."""


class MissingToken(AuthenticationError):
    """Raised when the request carries no token at all (RFC 6750 §3.1: no error code)."""

    description = "authentication required"


class InvalidRequest(AuthenticationError):
    """Raised when the request's credentials are ill-formed (two tokens, a bad scheme)."""

    status = 400
    error = "invalid_request"
    description = "malformed credentials"


class NonCanonicalPath(InvalidRequest):
    """Raised when paths are configured and the request path has dot or empty segments,
    a backslash, ``;``, a control character or an encoded separator: a router or proxy
    could route it to a handler whose rule never saw it (see :mod:`jwtgate.paths`)."""

    description = "non-canonical request path"


class PreflightAnswered(RequestError):
    """Raised for a CORS preflight (``OPTIONS`` with ``Origin`` and
    ``Access-Control-Request-Method``) that jwtgate answers itself, so that no app
    code runs for a request without credentials (``cors_preflight="answer"``)."""

    status = 204
    description = "preflight answered without running the app"


class MetadataAnswered(RequestError):
    """Raised for a ``GET`` of the protected resource metadata (RFC 9728) when
    ``resource`` is set: jwtgate answers it with the document, no token needed, and
    the app never runs."""

    status = 200
    description = "protected resource metadata"

    def __init__(self, *, head: bool = False) -> None:
        self.head = head  # a HEAD request: the same answer without its body
        super().__init__()


class InvalidToken(AuthenticationError):
    """Raised when the token is malformed, expired, revoked or otherwise invalid."""

    error = "invalid_token"
    description = "invalid token"


class TokenTooLarge(InvalidToken):
    """Raised when the token is longer than ``max_token_bytes``, before any parsing."""

    description = "token too large"


class MalformedToken(InvalidToken):
    """Raised when the token is not a well-formed compact JWS."""

    description = "malformed token"


class DisallowedAlgorithm(InvalidToken):
    """Raised when the token's ``alg`` is not in the configured allow-list."""

    description = "algorithm not allowed"


class UnknownKey(InvalidToken):
    """Raised when no configured key matches the token's algorithm and ``kid``."""

    description = "unknown signing key"


class InvalidSignature(InvalidToken):
    """Raised when the signature does not verify."""

    description = "signature verification failed"


class UnsupportedCriticalHeader(InvalidToken):
    """Raised when ``crit`` names an extension jwtgate does not understand (RFC 7515 §4.1.11)."""

    description = "unsupported critical header"


class ExpiredToken(InvalidToken):
    """Raised when ``exp`` plus the leeway is in the past."""

    description = "token expired"


class ImmatureToken(InvalidToken):
    """Raised when ``nbf`` or ``iat`` is further in the future than the leeway allows."""

    description = "token not yet valid"


class InvalidClaim(InvalidToken):
    """Raised when a claim has the wrong type or value; ``claim`` names it."""

    def __init__(self, claim: str, description: str | None = None) -> None:
        self.claim = claim
        super().__init__(description or f"invalid {claim} claim")


class MissingClaim(InvalidClaim):
    """Raised when a required claim is absent."""

    def __init__(self, claim: str) -> None:
        super().__init__(claim, f"missing {claim} claim")


class InvalidIssuer(InvalidClaim):
    """Raised when ``iss`` is not one of the accepted issuers."""

    def __init__(self, description: str = "invalid issuer") -> None:
        super().__init__("iss", description)


class UnknownIssuer(InvalidIssuer):
    """Raised when ``issuers`` is set and no entry accepts the token's ``iss`` (nor the
    allow-list of a template it has the shape of): decided before any key is used, so
    no key source is asked (no network I/O)."""

    def __init__(self) -> None:
        super().__init__("unknown issuer")


class InvalidAudience(InvalidClaim):
    """Raised when ``aud`` matches no accepted audience, or is present when none is configured."""

    def __init__(self) -> None:
        super().__init__("aud", "invalid audience")


class WrongTokenType(InvalidToken):
    """Raised when a token of another kind (a refresh token) is presented as an access token."""

    description = "wrong token type"


class DisallowedTokenType(WrongTokenType):
    """Raised when ``require_typ`` is set and the token's ``typ`` header is missing or
    names another type (RFC 9068 §4, RFC 8725 §3.11: an ID token is no access token)."""

    description = "token type not accepted"


class RevokedToken(InvalidToken):
    """Raised when the token, its session or its subject has been revoked."""

    description = "token revoked"


class ReusedToken(RevokedToken):
    """Raised when a consumed refresh token is presented again; its session is now revoked."""

    description = "refresh token reused; session revoked"


class InvalidBinding(InvalidToken):
    """Raised when a token's DPoP binding does not fit how it came: a bound token
    (``cnf.jkt``) sent as a bearer token (RFC 9449 §7.2: never downgraded), or a
    token bound to no key sent with the DPoP scheme."""

    description = "token is bound to a DPoP key"


class InvalidDPoPProof(AuthenticationError):
    """Raised when the ``DPoP`` proof is missing, malformed or does not fit the request
    or the token (RFC 9449 §4.3, §7.1)."""

    error = "invalid_dpop_proof"
    description = "invalid DPoP proof"


class UseDPoPNonce(InvalidDPoPProof):
    """Raised when ``dpop_nonce`` is on and the proof carries no current server nonce;
    the answer carries a fresh one in ``DPoP-Nonce`` (RFC 9449 §9)."""

    error = "use_dpop_nonce"
    description = "a DPoP nonce is required"

    def __init__(self, nonce: str, description: str | None = None) -> None:
        self.nonce = nonce
        super().__init__(description)


class InsufficientScope(AuthenticationError):
    """Raised when a valid token lacks a scope the resource requires (403)."""

    status = 403
    error = "insufficient_scope"
    description = "insufficient scope"

    def __init__(self, required: Sequence[str]) -> None:
        self.required: tuple[str, ...] = tuple(required)
        super().__init__()


class UnknownUser(InvalidToken):
    """Raised when a valid token's subject is no user of the app, or an inactive one
    (the Django ``LOAD_USER`` and Flask ``user_loader`` checks): 401 ``invalid_token``."""

    description = "unknown or inactive user"


class InsufficientUserAuthentication(AuthenticationError):
    """Raised when a rule's ``max_age`` wants a more recent login than the token's
    ``auth_time`` (401, RFC 9470 step-up: the challenge carries ``max_age``)."""

    status = 401
    error = "insufficient_user_authentication"
    description = "a more recent authentication is required"

    def __init__(self, max_age: int) -> None:
        self.max_age = max_age
        super().__init__()


class ServiceUnavailable(RequestError):
    """Raised when a dependency of the decision (keys, store) cannot be reached: 503."""

    status = 503
    description = "authentication temporarily unavailable"

    def __init__(self, description: str | None = None, *, retry_after: int = 5) -> None:
        self.retry_after = retry_after
        super().__init__(description)


class KeySourceUnavailable(ServiceUnavailable):
    """Raised when the verification keys cannot be fetched and no usable keys are cached."""

    description = "signing keys temporarily unavailable"


class StoreUnavailable(ServiceUnavailable):
    """Raised when the session or revocation store cannot be reached."""

    description = "session store temporarily unavailable"
