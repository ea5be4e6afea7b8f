"""The token endpoints as FastAPI routes, documented in OpenAPI (see
:func:`jwtgate.contrib.fastapi.token_router`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jwtgate._endpoint_core import MAX_BODY
from jwtgate.config import Settings
from jwtgate.endpoints import ROUTES, AsyncEndpoints, EndpointRequest, _check_options
from jwtgate.sessions import AsyncSessions

__all__ = ["build_router"]

_PAIR = {
    "type": "object",
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string", "example": "Bearer"},
        "expires_in": {"type": "integer"},
        "refresh_token": {"type": "string"},
        "refresh_expires_in": {"type": "integer"},
    },
}
_LOGIN = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
}
_PASSWORD_GRANT = {
    "type": "object",
    "required": ["grant_type", "username", "password"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["password"]},
        "username": {"type": "string"},
        "password": {"type": "string"},
    },
}
_REFRESH = {"type": "object", "properties": {"refresh_token": {"type": "string"}}}
_VERIFY = {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}
_OAUTH_ERROR = {"description": "RFC 6749 error: `invalid_request`, `invalid_grant` …"}

# What each route takes and answers, for the OpenAPI document.
_DOCS: dict[str, tuple[str, dict[str, Any], dict[int | str, dict[str, Any]]]] = {
    "token": (
        "Log in: a token pair for a username and password.",
        {
            "application/json": {"schema": _LOGIN},
            "application/x-www-form-urlencoded": {"schema": _PASSWORD_GRANT},
        },
        {
            "200": {
                "description": "A token pair",
                "content": {"application/json": {"schema": _PAIR}},
            }
        },
    ),
    "refresh": (
        "Consume a refresh token (the body's, or the cookie's) for the session's next pair.",
        {"application/json": {"schema": _REFRESH}},
        {
            "200": {
                "description": "The next pair",
                "content": {"application/json": {"schema": _PAIR}},
            }
        },
    ),
    "logout": (
        "End the session of a refresh token (body or cookie) or of the bearer access token.",
        {"application/json": {"schema": _REFRESH}},
        {"204": {"description": "Logged out"}},
    ),
    "logout-all": (
        "End every session of the token's subject.",
        {"application/json": {"schema": _REFRESH}},
        {"204": {"description": "Logged out everywhere"}},
    ),
    "verify": (
        "Whether a token is valid and not revoked now.",
        {"application/json": {"schema": _VERIFY}},
        {"200": {"description": '`{"active": true, "sub": …}`'}},
    ),
}


def build_router(
    settings: Settings | Mapping[str, Any],
    authenticate: Callable[[str, str], Any],
    *,
    store: Any,
    claims: Any,
    options: Mapping[str, Any],
) -> APIRouter:
    if "prefix" in options:
        raise TypeError("token_router() takes no prefix: include_router(..., prefix=) sets it")
    _check_options(options)
    endpoints = AsyncEndpoints(
        AsyncSessions(settings, store, claims=claims), authenticate, **options
    )
    router = APIRouter(tags=["tokens"])
    for route in ROUTES:
        summary, body, answers = _DOCS[route]
        router.add_api_route(
            f"/{route}",
            _endpoint(endpoints, route),
            methods=["POST"],
            summary=summary,
            name=f"jwtgate_{route.replace('-', '_')}",
            responses={**answers, "400": _OAUTH_ERROR},
            openapi_extra={"requestBody": {"content": body}},
            response_class=Response,
        )
    return router


async def _capped(request: Request) -> bytes:
    """The body, read no further than one byte past the cap (the core answers 413)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            break
    return body[: MAX_BODY + 1]


def _endpoint(endpoints: AsyncEndpoints, route: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        authorization = request.headers.getlist("authorization")
        headers.pop("authorization", None)
        path = request.url.path  # with the root_path, as the cookie Path must be
        answer = await endpoints.handle(
            EndpointRequest(
                request.method,
                path,
                await _capped(request),
                headers,
                tuple(authorization),
                client_address=request.client.host if request.client else None,
                scheme=request.url.scheme,
            ),
            route=route,
        )
        response = Response(answer.body, status_code=answer.status)
        for name, value in answer.headers:
            if name != "content-length":  # Starlette sets it from the body
                response.headers.append(name, value)
        return response

    endpoint.__name__ = f"jwtgate_{route.replace('-', '_')}"
    return endpoint
