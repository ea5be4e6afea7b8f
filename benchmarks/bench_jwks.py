"""Cost of remote keys on the hot path: a warm JWKS cache against keys given in settings.

Run: python benchmarks/bench_jwks.py. The JWKS is served once by a local server;
every timed call is a cache hit (the interesting number: what each request pays).
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from jwt.algorithms import RSAAlgorithm

sys.path.insert(0, str(Path(__file__).parent))

from harness import compare

from jwtgate import Settings, Verifier
from jwtgate.jwks import JWKSKeys
from jwtgate.keys import load_private_key, load_public_key

KEYS = Path(__file__).parent.parent / "tests" / "keys"
PUBLIC_PEM = (KEYS / "rsa_public.pem").read_text()
PRIVATE = load_private_key((KEYS / "rsa_private.pem").read_bytes())
JWK = {**RSAAlgorithm.to_jwk(load_public_key(PUBLIC_PEM.encode()), as_dict=True), "kid": "k"}
BODY = json.dumps({"keys": [JWK]}).encode()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("Cache-Control", "max-age=86400")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json"
    remote = Settings.from_dict({"algorithms": ["RS256"], "jwks_url": url})
    static = Settings.from_dict({"algorithms": ["RS256"], "public_key": {"k": PUBLIC_PEM}})
    source = JWKSKeys.from_settings(remote)
    source.prefetch()
    token = jwt.encode(
        {"sub": "alice", "exp": 4_000_000_000}, PRIVATE, algorithm="RS256", headers={"kid": "k"}
    )
    remote_verifier, static_verifier = Verifier(remote, keys=source), Verifier(static)
    print("| case | time | baseline | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        compare(
            "key lookup, warm JWKS cache",
            lambda: source.get("RS256", "k"),
            "StaticKeys",
            lambda: static.keys.get("RS256", "k"),
        ).row()
    )
    print(
        compare(
            "verify RS256, warm JWKS cache",
            lambda: remote_verifier.verify(token),
            "static key",
            lambda: static_verifier.verify(token),
        ).row()
    )
    httpd.shutdown()
    httpd.server_close()


if __name__ == "__main__":
    main()
