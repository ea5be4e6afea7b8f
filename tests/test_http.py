"""Rendering request errors into RFC 6750 answers: status, challenge, headers, JSON body."""

from __future__ import annotations

import json

import pytest

from jwtgate import errors
from jwtgate.errors import RequestError
from jwtgate.http import Rejection, challenge, quote, render

INVALID = 'Bearer realm="api", error="invalid_token", error_description='

# error -> (status, WWW-Authenticate or None, body "error")
CASES = [
    pytest.param(
        errors.MissingToken(), 401, 'Bearer realm="api"', "authentication_required", id="missing"
    ),
    pytest.param(
        errors.InvalidRequest(),
        400,
        'Bearer realm="api", error="invalid_request", error_description="malformed credentials"',
        "invalid_request",
        id="invalid-request",
    ),
    pytest.param(
        errors.InvalidRequest("more than one authorization header"),
        400,
        'Bearer realm="api", error="invalid_request", '
        'error_description="more than one authorization header"',
        "invalid_request",
        id="invalid-request-custom",
    ),
    pytest.param(
        errors.InvalidToken(), 401, INVALID + '"invalid token"', "invalid_token", id="invalid"
    ),
    pytest.param(
        errors.TokenTooLarge(), 401, INVALID + '"token too large"', "invalid_token", id="large"
    ),
    pytest.param(
        errors.MalformedToken(), 401, INVALID + '"malformed token"', "invalid_token", id="malf"
    ),
    pytest.param(
        errors.DisallowedAlgorithm(),
        401,
        INVALID + '"algorithm not allowed"',
        "invalid_token",
        id="alg",
    ),
    pytest.param(
        errors.UnknownKey(), 401, INVALID + '"unknown signing key"', "invalid_token", id="key"
    ),
    pytest.param(
        errors.InvalidSignature(),
        401,
        INVALID + '"signature verification failed"',
        "invalid_token",
        id="signature",
    ),
    pytest.param(
        errors.UnsupportedCriticalHeader(),
        401,
        INVALID + '"unsupported critical header"',
        "invalid_token",
        id="crit",
    ),
    pytest.param(
        errors.ExpiredToken(), 401, INVALID + '"token expired"', "invalid_token", id="expired"
    ),
    pytest.param(
        errors.ImmatureToken(),
        401,
        INVALID + '"token not yet valid"',
        "invalid_token",
        id="immature",
    ),
    pytest.param(
        errors.InvalidClaim("exp"), 401, INVALID + '"invalid exp claim"', "invalid_token", id="cl"
    ),
    pytest.param(
        errors.MissingClaim("sub"), 401, INVALID + '"missing sub claim"', "invalid_token", id="mc"
    ),
    pytest.param(
        errors.InvalidIssuer(), 401, INVALID + '"invalid issuer"', "invalid_token", id="iss"
    ),
    pytest.param(
        errors.InvalidAudience(), 401, INVALID + '"invalid audience"', "invalid_token", id="aud"
    ),
    pytest.param(
        errors.WrongTokenType(), 401, INVALID + '"wrong token type"', "invalid_token", id="type"
    ),
    pytest.param(
        errors.RevokedToken(), 401, INVALID + '"token revoked"', "invalid_token", id="revoked"
    ),
    pytest.param(
        errors.InsufficientScope(["admin", "write"]),
        403,
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="insufficient scope", scope="admin write"',
        "insufficient_scope",
        id="scope",
    ),
    pytest.param(
        errors.InsufficientScope([]),
        403,
        'Bearer realm="api", error="insufficient_scope", error_description="insufficient scope"',
        "insufficient_scope",
        id="scope-none-named",
    ),
    pytest.param(
        errors.ServiceUnavailable(), 503, None, "temporarily_unavailable", id="unavailable"
    ),
    pytest.param(
        errors.KeySourceUnavailable(), 503, None, "temporarily_unavailable", id="keys-down"
    ),
    pytest.param(errors.StoreUnavailable(), 503, None, "temporarily_unavailable", id="store-down"),
]


@pytest.mark.parametrize(("error", "status", "www_authenticate", "code"), CASES)
def test_render(error: RequestError, status: int, www_authenticate: str | None, code: str) -> None:
    """Each error renders its status, exact challenge and a small JSON body."""
    rejection = render(error, "api")
    assert isinstance(rejection, Rejection)
    assert rejection.status == status
    assert rejection.error is error
    headers = dict(rejection.headers)
    assert len(headers) == len(rejection.headers)  # no header twice
    assert headers.get("www-authenticate") == www_authenticate
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert headers["content-length"] == str(len(rejection.body))
    assert json.loads(rejection.body) == {"error": code, "error_description": error.description}
    assert ("retry-after" in headers) == (status == 503)


def test_missing_credentials_get_a_bare_challenge() -> None:
    """RFC 6750 §3.1: no error code when the request simply had no credentials."""
    value = challenge(errors.MissingToken(), "api")
    assert value == 'Bearer realm="api"'
    assert "error" not in value


def test_service_unavailable_has_retry_after_and_no_challenge() -> None:
    """A 503 tells the client when to retry and does not blame its credentials."""
    rejection = render(errors.StoreUnavailable(retry_after=30), "api")
    headers = dict(rejection.headers)
    assert rejection.status == 503
    assert rejection.reason == "Service Unavailable"
    assert headers["retry-after"] == "30"
    assert "www-authenticate" not in headers
    assert json.loads(rejection.body) == {
        "error": "temporarily_unavailable",
        "error_description": "session store temporarily unavailable",
    }


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        pytest.param(errors.InvalidRequest(), "Bad Request", id="400"),
        pytest.param(errors.MissingToken(), "Unauthorized", id="401"),
        pytest.param(errors.InsufficientScope(["a"]), "Forbidden", id="403"),
    ],
)
def test_reason_phrase(error: RequestError, reason: str) -> None:
    """The rejection knows its status line's reason phrase."""
    assert render(error, "api").reason == reason


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        pytest.param("api", '"api"', id="plain"),
        pytest.param('say "hi"', '"say \\"hi\\""', id="double-quote"),
        pytest.param("back\\slash", '"back\\\\slash"', id="backslash"),
        pytest.param('\\"', '"\\\\\\""', id="backslash-then-quote"),
        pytest.param("", '""', id="empty"),
    ],
)
def test_quote(value: str, quoted: str) -> None:
    """quote() makes an RFC 9110 quoted-string, escaping backslash before quote."""
    assert quote(value) == quoted


def test_realm_with_quote_and_backslash_is_escaped() -> None:
    """A realm containing ``"`` and ``\\`` cannot break out of its quoted-string."""
    rejection = render(errors.ExpiredToken(), 'a "b" \\c')
    assert dict(rejection.headers)["www-authenticate"] == (
        'Bearer realm="a \\"b\\" \\\\c", error="invalid_token", error_description="token expired"'
    )


def test_description_with_a_quote_is_escaped() -> None:
    """An error description is quoted the same way as the realm."""
    value = challenge(errors.InvalidRequest('odd "value"'), "api")
    assert value.endswith('error_description="odd \\"value\\""')


def test_body_is_compact_json() -> None:
    """The body is compact JSON and its length is what content-length says."""
    rejection = render(errors.MissingToken(), "api")
    assert rejection.body == (
        b'{"error":"authentication_required","error_description":"authentication required"}'
    )
    assert dict(rejection.headers)["content-length"] == str(len(rejection.body))
