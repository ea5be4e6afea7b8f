"""A Starlette MCP server (streamable HTTP transport) protected as an OAuth resource server.

What the MCP authorization spec asks of a server, with jwtgate:

- tokens must be meant for this server: ``AUDIENCE`` is the server's own URL
  (RFC 8707 resource indicators);
- the server publishes where to get tokens, at
  ``/.well-known/oauth-protected-resource`` (RFC 9728), a public path;
- every 401 points there: ``WWW-Authenticate: Bearer resource_metadata="…"``,
  added to jwtgate's challenge by the ``error_handler`` setting.

Run it from the repository root (after ``pip install "jwtgate[starlette]" uvicorn``)::

    RESOURCE=https://mcp.example.com/mcp ISSUER=https://TENANT.us.auth0.com/ \\
        uvicorn examples.mcp_server:app

The ``/mcp`` endpoint answers JSON-RPC ``tools/list`` and ``tools/call`` for one
tool; with the MCP Python SDK, mount ``FastMCP(...).streamable_http_app()`` there
instead (docs/recipes/mcp.md).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwtgate.asgi import JWTGateMiddleware
from jwtgate.http import Rejection

RESOURCE = os.environ.get("RESOURCE", "http://127.0.0.1:8000/mcp")
ISSUER = os.environ.get("ISSUER", "https://example.us.auth0.com/")
origin = urlsplit(RESOURCE)
METADATA_PATH = "/.well-known/oauth-protected-resource"
METADATA_URL = f"{origin.scheme}://{origin.netloc}{METADATA_PATH}"


def point_to_metadata(rejection: Rejection) -> Rejection:
    """RFC 9728 §5.1: a 401 names the resource metadata in its challenge."""
    if rejection.status != 401:
        return rejection
    headers = tuple(
        (
            name,
            f'{value}, resource_metadata="{METADATA_URL}"' if name == "www-authenticate" else value,
        )
        for name, value in rejection.headers
    )
    return Rejection(rejection.status, headers, rejection.body, rejection.error)


SETTINGS: dict[str, Any] = {
    "ALGORITHMS": ["RS256"],
    "ISSUER": ISSUER,
    "AUDIENCE": RESOURCE,
    "JWKS_DISCOVERY": True,  # the issuer's /.well-known/openid-configuration names its keys
    "SCOPES_CLAIM": "scope",
    "PUBLIC_PATHS": [METADATA_PATH],
    "RULES": [{"path": "/mcp", "scopes": ["mcp:tools"]}],
    "ERROR_HANDLER": point_to_metadata,
}


async def metadata(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "resource": RESOURCE,
            "authorization_servers": [ISSUER],
            "scopes_supported": ["mcp:tools"],
            "bearer_methods_supported": ["header"],
        }
    )


TOOLS = [
    {
        "name": "whoami",
        "description": "The subject of the access token",
        "inputSchema": {"type": "object", "properties": {}},
    }
]


async def mcp(request: Request) -> JSONResponse:
    message = await request.json()
    method, ident = message.get("method"), message.get("id")
    if method == "tools/list":
        return JSONResponse({"jsonrpc": "2.0", "id": ident, "result": {"tools": TOOLS}})
    if method == "tools/call" and message.get("params", {}).get("name") == "whoami":
        text = str(request.user.subject)  # the jwtgate Identity
        result = {"content": [{"type": "text", "text": text}]}
        return JSONResponse({"jsonrpc": "2.0", "id": ident, "result": result})
    error = {"code": -32601, "message": "method not found"}
    return JSONResponse({"jsonrpc": "2.0", "id": ident, "error": error})


api = Starlette(
    routes=[Route(METADATA_PATH, metadata), Route("/mcp", mcp, methods=["POST"])],
)
app = JWTGateMiddleware(api, SETTINGS)
