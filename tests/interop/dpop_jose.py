"""Running the jose DPoP client (``dpop_client.mjs``) against a server."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from node_deps import HERE


def run_client(node: str, config: dict[str, Any]) -> dict[str, Any]:
    """The client's results: ``jkt``, ``token_type`` and each named call's answer."""
    done = subprocess.run(
        [node, str(HERE / "dpop_client.mjs"), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    report["by_name"] = {r["name"]: r for r in report["results"]}
    return report


def assert_refusals(by_name: dict[str, dict[str, Any]]) -> None:
    """What every jwtgate stack answers the client's hostile calls."""
    assert by_name["first use"]["status"] == 200
    expected = {
        "replay": "DPoP proof already used",
        "wrong htm": "DPoP proof htm does not match the request",
        "stale iat": "DPoP proof iat outside the accepted window",
        "other key": "DPoP proof key does not match the token",
    }
    for name, description in expected.items():
        answer = by_name[name]
        assert answer["status"] == 401, (name, answer)
        assert json.loads(answer["body"]) == {
            "error": "invalid_dpop_proof",
            "error_description": description,
        }
        assert answer["www"].startswith('DPoP algs="'), answer["www"]
    bearer = by_name["as bearer"]
    assert bearer["status"] == 401
    assert 'error="invalid_token"' in bearer["www"]
