"""``jwtgate verify`` explains DPoP bindings and proofs, and issuer refusals."""

from __future__ import annotations

import io
import json
from pathlib import Path

from jwtgate import Issuer, Settings
from jwtgate.cli import main
from jwtgate.testing import dpop_key

SECRET = "dpop-cli-secret-" + "x" * 40
URL = "https://api.example/orders"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def _settings_file(tmp_path: Path, **extra: object) -> str:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"SECRET": SECRET, "DPOP": "allow", **extra}))
    return str(path)


def test_verify_names_the_binding_and_checks_a_proof(tmp_path: Path) -> None:
    settings = _settings_file(tmp_path)
    key = dpop_key()
    token = Issuer(Settings.from_dict({"secret": SECRET})).access_token("alice", claims=key.cnf)
    code, text = run("verify", "--settings", settings, token)
    assert code == 0
    assert f"bound to the DPoP key {key.jkt} (cnf.jkt)" in text
    proof = key.proof("POST", URL, token)
    code, text = run("verify", "--settings", settings, token, "--dpop", proof, "--url", URL)
    assert code == 1
    assert "DPoP proof REFUSED: DPoP proof htm does not match the request" in text
    assert "htm 'POST'; the request's method is 'GET'" in text
    code, text = run(
        "verify", "--settings", settings, token, "--dpop", proof, "--method", "POST", "--url", URL
    )
    assert (code, text.splitlines()[1]) == (
        0,
        "DPoP proof: valid for this request (replay is the server's to judge)",
    )
    other = dpop_key().proof("GET", URL, token)
    code, text = run("verify", "--settings", settings, token, "--dpop", other, "--url", URL)
    assert code == 1
    assert "DPoP proof REFUSED: DPoP proof key does not match the token" not in text
    assert "the token names " + key.jkt in text


def test_verify_explains_an_unknown_issuer(tmp_path: Path) -> None:
    path = tmp_path / "issuers.json"
    entry = {"issuer": "https://a.example", "secret": SECRET, "algorithms": ["HS256"]}
    path.write_text(json.dumps({"ISSUERS": [entry]}))
    token = Issuer(Settings.from_dict({"secret": SECRET, "issuer": "https://b.example"}))
    code, text = run("verify", "--settings", str(path), token.access_token("alice"))
    assert code == 1
    assert "iss 'https://b.example' is no issuer of ISSUERS ('https://a.example')" in text
