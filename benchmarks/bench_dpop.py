"""What a DPoP request costs (#17): Gate.decide of a cached token with a fresh proof
(every check of RFC 9449 §4.3 and the replay claim in the memory store), as a
multiple of one raw decode of the access token; and what ``dpop="allow"`` adds to a
cached bearer token.

Every proof is used once, as on a real server: a pool of distinct proofs is signed
before each round (outside the timing), and each round times as many requests as
raw decodes, interleaved; the ratio is the median over the rounds.
"""

from __future__ import annotations

import statistics
import time

import jwt

from jwtgate import Gate, Issuer, Settings
from jwtgate.testing import dpop_key

try:
    from .harness import BUDGET, Result, compare
except ImportError:  # run as a script from benchmarks/
    from harness import BUDGET, Result, compare  # type: ignore[no-redef]

SECRET = "benchmark-dpop-secret-" + "x" * 32
URL = "http://api.example/orders"


def _request(token: str, proof: str | None, scheme: str = "DPoP") -> tuple[object, ...]:
    dpop = ((proof,), URL) if proof is not None else ((), URL)
    return ("GET", "/orders", (f"{scheme} {token}",), None, "", False, None, dpop)


def _dpop_against_decode(algorithm: str, calls: int, rounds: int) -> list[Result]:
    """A DPoP request against one raw decode of the access token, and against one raw
    decode of its proof (the proof's signature check, PyJWT's work alone)."""
    settings = Settings.from_dict({"secret": SECRET, "dpop": "allow"})
    gate = Gate(settings)
    key = dpop_key(algorithm)
    token = Issuer(settings).access_token("alice", claims=key.cnf, ttl=3600)
    first = gate.decide(_request(token, key.proof("GET", URL, token)))  # warm: token cached
    assert not hasattr(first, "status"), first
    public = jwt.PyJWK(key.jwk, algorithm=algorithm).key
    times: dict[str, list[float]] = {"dpop": [], "token": [], "proof": []}
    for _ in range(rounds):
        proofs = [key.proof("GET", URL, token) for _ in range(calls)]
        start = time.perf_counter()
        for proof in proofs:
            gate.decide(_request(token, proof))
        times["dpop"].append((time.perf_counter() - start) / calls)
        start = time.perf_counter()
        for _ in range(calls):
            jwt.decode(token, SECRET, algorithms=["HS256"])
        times["token"].append((time.perf_counter() - start) / calls)
        start = time.perf_counter()
        for proof in proofs:
            jwt.decode(proof, public, algorithms=[algorithm])
        times["proof"].append((time.perf_counter() - start) / calls)

    def against(baseline: str, label: str) -> Result:
        ratios = [d / b for d, b in zip(times["dpop"], times[baseline], strict=True)]
        return Result(
            f"DPoP request, cached token + {algorithm} proof",
            label,
            statistics.median(times["dpop"]),
            statistics.median(times[baseline]),
            statistics.median(ratios),
        )

    return [
        against("token", "one raw decode (HS256 token)"),
        against("proof", f"one raw decode ({algorithm} proof)"),
    ]


def results(quick: bool = False) -> list[Result]:
    """A DPoP request per proof algorithm against a raw decode; then a cached bearer
    token with DPoP allowed against the same with DPoP off."""
    calls, rounds = (20, 2) if quick else (400, max(5, BUDGET.rounds // 2))
    found = [
        r for alg in ("ES256", "EdDSA", "RS256") for r in _dpop_against_decode(alg, calls, rounds)
    ]
    off = Gate(Settings.from_dict({"secret": SECRET}))
    allow = Gate(Settings.from_dict({"secret": SECRET, "dpop": "allow"}))
    bearer = Issuer(off.settings).access_token("alice", ttl=3600)
    plain = _request(bearer, None, "Bearer")
    found.append(
        compare(
            "cached Bearer token, dpop allow",
            lambda: allow.decide(plain),
            "dpop off",
            lambda: off.decide(plain),
        )
    )
    return found


def main() -> None:
    print("| request | time | baseline | ratio |")
    for result in results():
        print(result.row())


if __name__ == "__main__":
    main()
