"""OAuth 2.0 Protected Resource Metadata (RFC 9728, #17 item 3): the document, its
path-suffixed location, and ``resource_metadata`` on every challenge, through the ASGI
middleware under uvicorn and the WSGI middleware under waitress (one shared Gate)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

from frameworks import waitress_thread
from jwtgate import Settings
from jwtgate.asgi import JWTGateMiddleware as ASGIMiddleware
from jwtgate.contrib.starlette import metadata_routes
from jwtgate.resource_metadata import (
    WELL_KNOWN_PATH,
    metadata_asgi_app,
    metadata_document,
    metadata_path,
    metadata_url,
    metadata_wsgi_app,
)
from jwtgate.testing import Provider, assert_rfc6750, parse_challenge
from jwtgate.wsgi import JWTGateMiddleware as WSGIMiddleware
from servers import uvicorn_server

RESOURCE = "https://mcp.example.com/mcp"
DOCUMENT_URL = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"


@pytest.mark.parametrize(
    ("resource", "path", "url"),
    [
        ("https://api.example", WELL_KNOWN_PATH, f"https://api.example{WELL_KNOWN_PATH}"),
        ("https://api.example/", WELL_KNOWN_PATH, f"https://api.example{WELL_KNOWN_PATH}"),
        (RESOURCE, f"{WELL_KNOWN_PATH}/mcp", DOCUMENT_URL),
        (
            "https://api.example:8443/tenant/v1",
            f"{WELL_KNOWN_PATH}/tenant/v1",
            f"https://api.example:8443{WELL_KNOWN_PATH}/tenant/v1",
        ),
    ],
)
def test_the_metadata_location_is_rfc_9728s(resource: str, path: str, url: str) -> None:
    """RFC 9728 §3.1: the well-known path goes between the host and the resource's path."""
    assert metadata_path(resource) == path
    assert metadata_url(resource) == url


def test_the_document_is_filled_from_the_settings(
    jwtgate_provider: Callable[..., Provider],
) -> None:
    """resource, the issuers (templates by their allowed values), the rules' scopes, the
    bearer methods, and resource_metadata's members added or replacing."""
    a = jwtgate_provider("ES256")
    entra = "https://login.microsoftonline.com/{tenantid}/v2.0"
    settings = Settings.from_dict(
        {
            "issuers": [a.entry(), a.entry(issuer=entra, allowed=["t2", "t1"])],
            "resource": RESOURCE,
            "rules": [
                {"path": "/mcp", "scopes": ["mcp:tools"]},
                {"path": "/admin", "scopes": ["admin", "mcp:tools"]},
            ],
            "token_sources": ["header", "cookie", "query"],
            "resource_metadata": {"resource_name": "Orders MCP", "scopes_supported": ["x"]},
        }
    )
    assert metadata_document(settings) == {
        "resource": RESOURCE,
        "authorization_servers": [
            a.issuer,
            "https://login.microsoftonline.com/t1/v2.0",
            "https://login.microsoftonline.com/t2/v2.0",
        ],
        "scopes_supported": ["x"],
        "bearer_methods_supported": ["header", "query"],
        "resource_name": "Orders MCP",
    }
    one = {"secret": "s" * 32, "issuer": "https://as.example/", "resource": RESOURCE}
    assert metadata_document(one) == {
        "resource": RESOURCE,
        "authorization_servers": ["https://as.example/"],
        "bearer_methods_supported": ["header"],
    }
    with pytest.raises(ValueError, match="RESOURCE"):
        metadata_document({"secret": "s" * 32})


# -- both stacks, real servers ------------------------------------------------------------


class Calls:
    """Counts the app's calls: the metadata and every refusal must never reach it."""

    def __init__(self) -> None:
        self.count = 0


def settings_for(provider: Provider) -> dict[str, Any]:
    return {
        "issuers": [provider.entry()],
        "resource": RESOURCE,
        "require_typ": ["at+jwt"],
        "rules": [{"path": "/mcp", "scopes": ["mcp:tools"]}],
        "resource_metadata": {"resource_name": "Orders MCP"},
    }


def asgi_app(provider: Provider, calls: Calls) -> Any:
    async def mcp(request: Request) -> JSONResponse:
        calls.count += 1
        return JSONResponse({"subject": request.user.subject})

    app = Starlette(routes=[Route("/mcp", mcp, methods=["GET", "POST"])])
    return ASGIMiddleware(app, settings_for(provider))


def wsgi_app(provider: Provider, calls: Calls) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.count += 1
        subject = environ["jwtgate.identity"].subject
        start_response("200 OK", [("Content-Type", "application/json")])
        return [f'{{"subject": "{subject}"}}'.encode()]

    return WSGIMiddleware(app, settings_for(provider))


@pytest.fixture(params=["asgi-uvicorn", "wsgi-waitress"])
def served(
    request: pytest.FixtureRequest, jwtgate_provider: Callable[..., Provider]
) -> Iterator[tuple[httpx.Client, Provider, Calls]]:
    """The same settings behind the ASGI middleware (uvicorn) and the WSGI one (waitress)."""
    provider, calls = jwtgate_provider("ES256"), Calls()
    if request.param == "asgi-uvicorn":
        server = uvicorn_server(asgi_app(provider, calls))
    else:
        server = waitress_thread(wsgi_app(provider, calls))
    with server as base, httpx.Client(base_url=base) as http:
        yield http, provider, calls


@pytest.mark.slow
def test_the_metadata_is_served_without_a_token_on_both_stacks(
    served: tuple[httpx.Client, Provider, Calls],
) -> None:
    """GET and HEAD at the path-suffixed and the bare well-known path; the app never runs."""
    http, provider, calls = served
    for path in (f"{WELL_KNOWN_PATH}/mcp", WELL_KNOWN_PATH):
        answer = http.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {
            "resource": RESOURCE,  # RFC 9728 §3.3: the resource the URL was made from
            "authorization_servers": [provider.issuer],
            "scopes_supported": ["mcp:tools"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Orders MCP",
        }
        head = http.head(path)
        assert head.status_code == 200 and head.content == b""
    assert calls.count == 0
    posted = http.post(f"{WELL_KNOWN_PATH}/mcp")  # only GET and HEAD are the document's
    assert_rfc6750(posted, 401)


@pytest.mark.slow
def test_every_challenge_points_to_the_metadata_on_both_stacks(
    served: tuple[httpx.Client, Provider, Calls],
) -> None:
    """401 without a token, 401 invalid_token (bad typ, unknown issuer), 403: each names it."""
    http, provider, calls = served

    def get(**token: Any) -> httpx.Response:
        return http.get("/mcp", headers=bearer(provider.token(**token)) if token else {})

    refusals = [
        (get(), 401, None),
        (get(audience=RESOURCE, scopes="x"), 403, "insufficient_scope"),
        (get(audience=RESOURCE, scopes="mcp:tools", headers={"typ": "JWT"}), 401, "invalid_token"),
        (get(audience=RESOURCE, scopes="mcp:tools", issuer="https://x/"), 401, "invalid_token"),
        (get(audience="https://other.example/", scopes="mcp:tools"), 401, "invalid_token"),
    ]
    for answer, status, error in refusals:
        assert assert_rfc6750(answer, status, error)["resource_metadata"] == DOCUMENT_URL
    assert calls.count == 0
    ok = get(subject="agent", audience=RESOURCE, scopes="mcp:tools")
    assert (ok.status_code, ok.json(), calls.count) == (200, {"subject": "agent"}, 1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_without_a_resource_there_is_no_document_and_no_pointer() -> None:
    """Off by default: the well-known path needs a token like any other, challenges are bare."""
    app = ASGIMiddleware(Starlette(), {"secret": "s" * 32})
    with TestClient(app) as client:
        answer = client.get(WELL_KNOWN_PATH)
    params = assert_rfc6750(answer, 401)
    assert "resource_metadata" not in params


def test_metadata_routes_serve_it_where_no_middleware_sees_the_request() -> None:
    """contrib.starlette.metadata_routes (FastAPI's dependency mode, a sub-app)."""
    settings = {"secret": "s" * 32, "issuer": "https://as.example/", "resource": RESOURCE}
    with TestClient(Starlette(routes=metadata_routes(settings))) as client:
        for path in (f"{WELL_KNOWN_PATH}/mcp", WELL_KNOWN_PATH):
            assert client.get(path).json() == metadata_document(settings)
            assert client.head(path).status_code == 200
        assert client.post(WELL_KNOWN_PATH).status_code == 405
    with pytest.raises(ValueError, match="RESOURCE"):
        metadata_routes({"secret": "s" * 32})


def test_the_standalone_apps_serve_the_same_document() -> None:
    """metadata_asgi_app and metadata_wsgi_app: GET/HEAD the document, 405 otherwise."""
    settings = {"secret": "s" * 32, "resource": RESOURCE}
    with TestClient(metadata_asgi_app(settings)) as client:
        document = {"resource": RESOURCE, "bearer_methods_supported": ["header"]}
        assert client.get("/").json() == document
        assert client.put("/").status_code == 405
    wsgi = Client(metadata_wsgi_app(settings))
    assert wsgi.get("/").json == metadata_document(settings)
    assert wsgi.delete("/").status_code == 405


def test_the_challenge_parameter_is_a_quoted_string() -> None:
    """resource_metadata is quoted (RFC 9110 auth-param), parsed back to the URL."""
    app = ASGIMiddleware(Starlette(), {"secret": "s" * 32, "resource": RESOURCE})
    with TestClient(app) as client:
        value = client.get("/anything").headers["www-authenticate"]
    assert value == f'Bearer realm="api", resource_metadata="{DOCUMENT_URL}"'
    assert parse_challenge(value)[1]["resource_metadata"] == DOCUMENT_URL


def test_flask_serves_the_metadata_through_the_same_gate() -> None:
    """Every door shares the decision: Flask's extension answers the document and points to it."""
    import flask

    from jwtgate.contrib.flask import JWTGate

    app = flask.Flask(__name__)
    app.config["JWTGATE"] = {"secret": "s" * 32, "resource": RESOURCE}
    JWTGate(app)
    app.add_url_rule("/mcp", "mcp", lambda: "ok")
    client = app.test_client()
    answer = client.get(f"{WELL_KNOWN_PATH}/mcp")
    assert (answer.status_code, answer.json) == (200, metadata_document(app.config["JWTGATE"]))
    assert client.head(f"{WELL_KNOWN_PATH}/mcp").data == b""
    assert assert_rfc6750(client.get("/mcp"), 401)["resource_metadata"] == DOCUMENT_URL
