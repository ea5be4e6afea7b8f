"""A Starlette MCP server (streamable HTTP transport) protected as an OAuth resource server.

What the MCP authorization spec asks of a server, with jwtgate's ``RESOURCE``
setting (the server's own URL):

- tokens must be meant for this server: the audience is the resource (RFC 8707
  resource indicators);
- the server publishes where to get tokens, at
  ``/.well-known/oauth-protected-resource/mcp`` (RFC 9728 §3.1), which the
  middleware answers without a token;
- every challenge points there: ``WWW-Authenticate: Bearer resource_metadata="…"``.

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

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwtgate.asgi import JWTGateMiddleware

RESOURCE = os.environ.get("RESOURCE", "http://127.0.0.1:8000/mcp")
ISSUER = os.environ.get("ISSUER", "https://example.us.auth0.com/")

SETTINGS: dict[str, Any] = {
    "ALGORITHMS": ["RS256"],
    "ISSUER": ISSUER,
    "JWKS_DISCOVERY": True,  # the issuer's /.well-known/openid-configuration names its keys
    "RESOURCE": RESOURCE,  # the audience, the metadata document, the challenges' pointer
    "RESOURCE_METADATA": {"resource_name": "Orders MCP server"},
    "RULES": [{"path": "/mcp", "scopes": ["mcp:tools"]}],
}


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


api = Starlette(routes=[Route("/mcp", mcp, methods=["POST"])])
app = JWTGateMiddleware(api, SETTINGS)
