"""What hostile requests cost compared with normal ones: Gate.decide time ratios.

Run: ``python -m benchmarks --only hostile`` (or ``python benchmarks/bench_hostile.py``).
Each hostile input is timed against a
normal request (a valid RS256 token) interleaved in the same run (see harness.py),
and a forged 16 KB token against a bare request without credentials. The test
suite shows the same bound without timing anything (tests/attacks/test_bounded.py
counts function calls); this script reports the times.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path
from typing import Any

import jwt

from jwtgate import Gate, RequestInfo

try:
    from .harness import Result, compare
except ImportError:  # run as a script from benchmarks/
    from harness import Result, compare  # type: ignore[no-redef]

KEYS = Path(__file__).resolve().parent.parent / "tests" / "keys"
EIGHT_KB = 8 * 1024


def b64(value: Any) -> str:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def request(auth: str | None = None, cookie: str | None = None, query: str = "") -> RequestInfo:
    return RequestInfo("GET", "/", (auth,) if auth else (), cookie, query)


def fill(unit: str, tail: str) -> str:
    return unit * ((EIGHT_KB - len(tail)) // len(unit)) + tail


def results() -> list[Result]:
    """Each hostile input against a normal request, then a forged 16 KB token against a bare one."""
    settings = {
        "algorithms": ["RS256"],
        "public_key": {"rsa-1": (KEYS / "rsa_public.pem").read_text()},
        "token_sources": ["header", "cookie", "query"],
        # The normal request is a full verification, not a verified-token cache hit.
        "verify_cache_size": 0,
    }
    gate = Gate(settings)
    private = (KEYS / "rsa_private.pem").read_text()
    now = int(time.time())
    claims = {"sub": "alice", "iat": now, "exp": now + 3600}
    valid = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "rsa-1"})
    head, payload, signature = valid.split(".")
    filler = "A" * (EIGHT_KB - len(head) - len(signature) - 400)
    normal = request(f"Bearer {valid}")

    hostile = {
        "forged token at the 8 KB cap (valid header, bad signature)": request(
            f"Bearer {head}.{filler}.{signature}"
        ),
        "garbage at the 8 KB cap": request("Bearer " + "A" * 4000 + "." + "A" * 4190 + "."),
        "1 MB Authorization header": request("Bearer " + "A" * 1_000_000),
        "2 KB header segment, nested JSON": request(
            "Bearer " + b64(json.loads("[" * 700 + "]" * 700)) + ".e30.e30"
        ),
        "alg none": request(f"Bearer {b64({'alg': 'none'})}.{payload}."),
        "8 KB cookie, 2000 cookies": request(cookie=fill("a=b;", "access_token=" + valid)),
        "8 KB query, percent-encoded keys": request(
            query=fill("%61%62=c&", "access_token=" + valid)
        ),
        "8 KB query, 2000 parameters": request(query=fill("a=b&", "access_token=" + valid)),
    }
    found = [
        compare(name, lambda info=info: gate.decide(info), "normal", lambda: gate.decide(normal))
        for name, info in hostile.items()
    ]
    bare = request()
    forged = request("Bearer " + "A" * 16 * 1024)
    found.append(
        compare(
            "forged 16 KB token",
            lambda: gate.decide(forged),
            "bare request (401)",
            lambda: gate.decide(bare),
        )
    )
    return found


def main() -> None:
    print("| input | time | baseline | ratio |")
    print("| --- | ---: | --- | ---: |")
    found = results()
    for result in found:
        print(result.row())
    worst = max(r.ratio for r in found[:-1])
    print(f"\nworst hostile input / normal request: {worst:.2f}x", file=sys.stderr)


if __name__ == "__main__":
    main()
