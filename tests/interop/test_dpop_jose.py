"""Interop: DPoP proofs and bound tokens made by node's ``jose`` (panva), an
independent JOSE implementation, sent by a Node.js client over real HTTP to jwtgate
under uvicorn (ASGI) and waitress (WSGI) on 127.0.0.1. Under ``CI=true`` these run."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("waitress")

from dpop_jose import assert_refusals, run_client
from node_deps import node_or_skip

from frameworks import waitress_thread
from jwtgate.asgi import JWTGateMiddleware as ASGIGate
from jwtgate.wsgi import JWTGateMiddleware as WSGIGate
from servers import uvicorn_server

pytestmark = pytest.mark.slow

SECRET = "interop-dpop-secret-only-for-tests-" + "x" * 16


async def asgi_whoami(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":  # uvicorn asks; a raw app answers
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = json.dumps({"subject": scope["user"].subject}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def wsgi_whoami(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "application/json")])
    return [json.dumps({"subject": environ["jwtgate.identity"].subject}).encode()]


Serve = Callable[[dict[str, Any]], AbstractContextManager[str]]


def _uvicorn(settings: dict[str, Any]) -> AbstractContextManager[str]:
    return uvicorn_server(ASGIGate(asgi_whoami, settings))


def _waitress(settings: dict[str, Any]) -> AbstractContextManager[str]:
    return waitress_thread(WSGIGate(wsgi_whoami, settings))


@pytest.fixture(scope="module")
def node() -> str:
    return node_or_skip()


@pytest.mark.parametrize("serve", [_uvicorn, _waitress], ids=["uvicorn", "waitress"])
@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "PS256"])
def test_jose_proofs_and_bound_tokens_pass_and_attacks_fail(
    node: str, serve: Serve, alg: str
) -> None:
    settings = {"secret": SECRET, "dpop": "require", "require_typ": ["at+jwt"]}
    with serve(settings) as base:
        report = run_client(
            node,
            {
                "base": base,
                "path": "/whoami",
                "alg": alg,
                "token": {"kind": "hs256", "secret": SECRET},
            },
        )
    by_name = report["by_name"]
    for name in ("good", "good post"):
        assert by_name[name]["status"] == 200, by_name[name]
        assert json.loads(by_name[name]["body"]) == {"subject": "node-client"}
    assert_refusals(by_name)


@pytest.mark.parametrize("serve", [_uvicorn, _waitress], ids=["uvicorn", "waitress"])
def test_the_client_follows_a_server_nonce(node: str, serve: Serve) -> None:
    settings = {"secret": SECRET, "dpop": "allow", "dpop_nonce": "k" * 32}
    with serve(settings) as base:
        report = run_client(
            node,
            {
                "base": base,
                "path": "/x",
                "alg": "ES256",
                "token": {"kind": "hs256", "secret": SECRET},
            },
        )
    good = report["by_name"]["good"]
    assert (good["status"], good.get("retried")) == (200, True)
