"""Several issuers (#17 item 1) and require_typ (#17 item 2): settings, choice by iss,
per-issuer keys and claims, no network I/O for an unknown issuer, RFC 9068 typ.

Every provider here is a real JWKS server on 127.0.0.1 (jwtgate.testing.Provider),
and the request counts those servers keep are what "no network call" is checked by.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey
from jwt.api_jws import PyJWS

from jwtgate import Gate, Settings, Verifier
from jwtgate._issuers import IssuerTable, normal_typ, split_template
from jwtgate.errors import (
    ConfigurationError,
    DisallowedAlgorithm,
    DisallowedTokenType,
    InvalidClaim,
    InvalidSignature,
    MissingClaim,
    UnknownIssuer,
    UnknownKey,
)
from jwtgate.gate import RequestInfo
from jwtgate.http import Rejection
from jwtgate.testing import JWKSServer, Provider, keypair

ENTRA = "https://login.microsoftonline.com/{tenantid}/v2.0"
TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
OTHER_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
API = "api://orders"
KEYS = keypair("ES256", kid="static")


def entra(tenant: str) -> str:
    return ENTRA.replace("{tenantid}", tenant)


def problems(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id, key, message + hint) of every problem ``data`` has."""
    with pytest.raises(ConfigurationError) as info:
        Settings.from_dict(data)
    return [(p.id, p.key, f"{p.message} {p.hint}") for p in info.value.problems]


STATIC = {"issuer": "https://a.example/", "jwks": KEYS.jwks, "algorithms": ["ES256"]}


@pytest.mark.parametrize(
    ("data", "id_", "fragment"),
    [
        pytest.param({"issuers": [STATIC], "issuer": "x"}, "E130", "Move it", id="top-issuer"),
        pytest.param(
            {"issuers": [STATIC], "private_key": KEYS.private_pem}, "E130", "issue", id="signing"
        ),
        pytest.param({"issuers": []}, "E131", "non-empty list", id="empty"),
        pytest.param({"issuers": "https://a/"}, "E131", "list of dicts", id="string"),
        pytest.param(
            {"issuers": [{**STATIC, "jwks_urll": "https://a/"}]}, "E131", "'jwks_url'", id="typo"
        ),
        pytest.param({"issuers": [{"jwks": KEYS.jwks}]}, "E131", "'issuer'", id="no-issuer"),
        pytest.param(
            {"issuers": [{**STATIC, "issuer": "https://x/{a}/{b}"}]}, "E132", "one {name}", id="two"
        ),
        pytest.param(
            {"issuers": [{**STATIC, "issuer": "https://x/{a}}"}]}, "E132", "brace", id="stray"
        ),
        pytest.param({"issuers": [{**STATIC, "issuer": ENTRA}]}, "E133", "any tenant", id="open"),
        pytest.param(
            {"issuers": [{**STATIC, "allowed": ["t"]}]}, "E133", "no placeholder", id="exact"
        ),
        pytest.param(
            {"issuers": [{**STATIC, "issuer": ENTRA, "allowed": ["a/b"]}]},
            "E133",
            "letters",
            id="slash-value",
        ),
        pytest.param(
            {"issuers": [{"issuer": "https://a/", "algorithms": ["ES256"]}]},
            "E134",
            "never uses another",
            id="no-keys",
        ),
        pytest.param({"issuers": [STATIC, STATIC]}, "E135", "repeats", id="duplicate"),
        pytest.param(
            {
                "issuers": [
                    {"issuer": ENTRA, "allowed": [TENANT], "jwks_discovery": True},
                ],
                "algorithms": ["RS256"],
            },
            "E136",
            "jwks_url",
            id="template-discovery",
        ),
        pytest.param(
            {"issuers": [{**STATIC, "issuer": ENTRA, "allowed": "no_such_module:f"}]},
            "E037",
            "names no function",
            id="allowed-import",
        ),
        pytest.param(
            {"issuers": [{"issuer": "https://a/", "jwks_url": "http://a.example/k"}]},
            "E041",
            "['ISSUERS'][0]['JWKS_URL']",
            id="entry-checked-like-the-top-level",
        ),
        pytest.param({"secret": "x" * 32, "resource": "ftp://a/"}, "E137", "https", id="scheme"),
        pytest.param({"secret": "x" * 32, "resource": "https://a/#f"}, "E137", "frag", id="frag"),
        pytest.param({"secret": "x" * 32, "resource": "https://a/?q=1"}, "E137", "query", id="q"),
        pytest.param(
            {"secret": "x" * 32, "resource": "http://a.example/"}, "E137", "TLS", id="http"
        ),
        pytest.param(
            {"secret": "x" * 32, "resource": "https://a/", "resource_metadata": ["x"]},
            "E138",
            "dict",
            id="metadata-list",
        ),
        pytest.param(
            {"secret": "x" * 32, "resource": "https://a/", "resource_metadata": {"resource": "b"}},
            "E138",
            "RESOURCE",
            id="metadata-resource",
        ),
        pytest.param(
            {"secret": "x" * 32, "resource_metadata": {"resource_name": "Orders"}},
            "E138",
            "is not",
            id="metadata-without-resource",
        ),
        pytest.param(
            {"secret": "x" * 32, "resource": "https://a/", "resource_metadata": {"x": {1, 2}}},
            "E138",
            "JSON",
            id="metadata-not-json",
        ),
    ],
)
def test_bad_issuer_and_resource_settings_fail_at_startup(
    data: dict[str, Any], id_: str, fragment: str
) -> None:
    """Each bad entry, resource or metadata setting is refused with its id, naming the fix."""
    found = problems(data)
    assert any(i == f"jwtgate.{id_}" and fragment in text for i, _, text in found), found


def test_an_entry_problem_names_its_entry() -> None:
    """A problem inside an entry is keyed ISSUERS[i].KEY, so the fix is found at once."""
    broken = {"issuer": "https://b/", "jwks_url": "ftp://b", "algorithms": ["ES256"]}
    found = problems({"issuers": [STATIC, broken]})
    assert [(i, k) for i, k, _ in found] == [("jwtgate.E040", "ISSUERS[1].JWKS_URL")]


def test_audience_defaults_to_the_resource_and_warns_when_it_leaves_it_out() -> None:
    """RFC 8707: the resource is the audience; an audience without it warns (W025)."""
    plain = Settings.from_dict({"secret": "x" * 32, "resource": "https://api.example/mcp"})
    assert plain.audience == ("https://api.example/mcp",)
    assert plain.warnings == ()
    other = Settings.from_dict(
        {"secret": "x" * 32, "resource": "https://api.example/mcp", "audience": API}
    )
    assert [w.id for w in other.warnings] == ["jwtgate.W025"]
    several = Settings.from_dict(
        {"issuers": [STATIC, {**STATIC, "issuer": "https://b/", "audience": API}]}
        | {"resource": "https://api.example/mcp"}
    )
    assert several.issuers[0].settings.audience == ("https://api.example/mcp",)
    assert [(w.id, w.key) for w in several.warnings] == [("jwtgate.W025", "ISSUERS[1].AUDIENCE")]
    # RESOURCE is top-level only: the message names it there, not in the entry.
    assert "JWTGATE['RESOURCE']" in str(several.warnings[0])
    assert "['ISSUERS'][1]['RESOURCE']" not in str(several.warnings[0])


def test_a_template_decided_by_a_function_warns_that_the_metadata_cannot_list_it() -> None:
    """W026: with RESOURCE, a template with an allowed function needs authorization_servers."""
    entry = {**STATIC, "issuer": ENTRA, "allowed": lambda tenant: True}
    settings = Settings.from_dict({"issuers": [entry], "resource": "https://api.example/"})
    assert [w.id for w in settings.warnings] == ["jwtgate.W026"]
    quiet = Settings.from_dict(
        {
            "issuers": [entry],
            "resource": "https://api.example/",
            "resource_metadata": {"authorization_servers": [entra(TENANT)]},
        }
    )
    assert quiet.warnings == ()


def test_one_issuer_settings_are_the_one_entry_unchanged() -> None:
    """Without ISSUERS nothing changes: no entries, the top-level keys verify."""
    settings = KEYS.settings(issuer="https://a.example/")
    assert settings.issuers == ()
    verifier = Verifier(settings)
    assert verifier.key_sources == (settings.keys,)


@pytest.mark.parametrize(
    ("template", "shape"),
    [
        ("https://a.example/", None),
        (ENTRA, ("https://login.microsoftonline.com/", "tenantid", "/v2.0")),
        ("https://{t}.auth0.com/", ("https://", "t", ".auth0.com/")),
    ],
)
def test_split_template(template: str, shape: tuple[str, str, str] | None) -> None:
    """A template is a prefix, one placeholder and a suffix; an exact issuer has none."""
    assert split_template(template) == shape


@pytest.mark.parametrize(
    ("iss", "chosen"),
    [
        pytest.param("https://a.example/", "https://a.example/", id="exact"),
        pytest.param(entra(TENANT), ENTRA, id="allowed-tenant"),
        pytest.param(entra(OTHER_TENANT), None, id="other-tenant"),
        pytest.param(entra(f"{TENANT}/x"), None, id="extra-segment"),
        pytest.param(entra(f"{TENANT}?"), None, id="query"),
        pytest.param(entra(""), None, id="empty-value"),
        pytest.param("https://login.microsoftonline.com/v2.0", None, id="short"),
        pytest.param("https://a.example", None, id="no-trailing-slash"),
    ],
)
def test_the_issuer_table_chooses_by_iss(iss: str, chosen: str | None) -> None:
    """Exact issuers match exactly; a template only with an allowed, plain value."""
    settings = Settings.from_dict(
        {"issuers": [STATIC, {**STATIC, "issuer": ENTRA, "allowed": [TENANT]}]}
    )
    table = IssuerTable(settings.issuers)
    if chosen is None:
        with pytest.raises(UnknownIssuer):
            table.choose(iss)
    else:
        assert table.choose(iss).issuer == chosen


# -- verification against real JWKS servers ----------------------------------------------


@pytest.fixture
def providers(jwtgate_provider: Callable[..., Provider]) -> tuple[Provider, Provider]:
    """Two providers, each serving its own JWKS: A signs ES256, B signs ES256 too."""
    return jwtgate_provider("ES256"), jwtgate_provider("ES256")


def signed_by(provider: Provider, claims: dict[str, Any]) -> str:
    """A token with exactly ``claims`` (PyJWS: PyJWT's encode would refuse a bad iss)."""
    payload = json.dumps({"exp": 4_102_444_800, **claims}).encode()
    header = {"kid": provider.keys.kid}
    return PyJWS().encode(payload, provider.keys.private_pem, provider.keys.algorithm, header)


def several(a: Provider, b: Provider, **top: Any) -> Settings:
    return Settings.from_dict({"issuers": [a.entry(), b.entry()], "audience": API, **top})


def test_two_providers_each_with_its_own_jwks_are_accepted(
    providers: tuple[Provider, Provider],
) -> None:
    """A token of each provider passes, each checked with its provider's keys."""
    a, b = providers
    verifier = Verifier(several(a, b))
    assert verifier.verify(a.token("alice", audience=API, scopes="read")).subject == "alice"
    assert verifier.verify(b.token("bob", audience=API)).subject == "bob"
    assert (a.requests, b.requests) == (1, 1)


def test_a_token_signed_by_a_naming_b_is_refused(providers: tuple[Provider, Provider]) -> None:
    """A's key never vouches for B's issuer: with A's kid (unknown to B) or B's kid."""
    a, b = providers
    verifier = Verifier(several(a, b))
    with pytest.raises(UnknownKey):
        verifier.verify(a.token(audience=API, issuer=b.issuer))
    with pytest.raises(InvalidSignature):
        verifier.verify(a.token(audience=API, issuer=b.issuer, headers={"kid": b.keys.kid}))
    assert a.requests == 0  # A's keys were never asked for


def test_an_unknown_issuer_causes_no_network_call(
    providers: tuple[Provider, Provider], jwtgate_provider: Callable[..., Provider]
) -> None:
    """No entry for iss (or a tenant not allowed, or no iss): refused before any fetch."""
    a, b = providers
    entra_provider = jwtgate_provider("RS256", issuer=entra(OTHER_TENANT))
    settings = Settings.from_dict(
        {
            "issuers": [
                a.entry(),
                b.entry(),
                entra_provider.entry(issuer=ENTRA, allowed=[TENANT]),
            ],
            "audience": API,
        }
    )
    verifier = Verifier(settings)
    stranger = a.token(audience=API, issuer="https://stranger.example/")
    with pytest.raises(UnknownIssuer):
        verifier.verify(stranger)
    with pytest.raises(UnknownIssuer):
        asyncio.run(verifier.verify_async(stranger))
    with pytest.raises(UnknownIssuer):
        verifier.verify(entra_provider.token(audience=API))
    with pytest.raises(MissingClaim):
        verifier.verify(signed_by(a, {"sub": "u", "aud": API}))
    with pytest.raises(InvalidClaim):
        verifier.verify(signed_by(a, {"sub": "u", "aud": API, "iss": 7}))
    assert (a.requests, b.requests, entra_provider.requests) == (0, 0, 0)


def test_an_entra_template_accepts_only_allowed_tenants(
    jwtgate_provider: Callable[..., Provider],
) -> None:
    """Entra's multi-tenant issuer: allowed tenants pass (list or function), others 401."""
    provider = jwtgate_provider("RS256", issuer=entra(TENANT), scopes_claim="scp")
    for allowed in ([TENANT], lambda tenant: tenant == TENANT):
        entry = provider.entry(issuer=ENTRA, allowed=allowed, scopes_claim="scp")
        verifier = Verifier(Settings.from_dict({"issuers": [entry], "audience": API}))
        identity = verifier.verify(provider.token("oid-1", audience=API, scopes="Orders.Read"))
        assert identity.scopes == {"Orders.Read"}
        with pytest.raises(UnknownIssuer):
            verifier.verify(provider.token(audience=API, issuer=entra(OTHER_TENANT)))


def test_an_allowed_function_that_raises_refuses_the_token_with_a_401(
    jwtgate_provider: Callable[..., Provider], caplog: pytest.LogCaptureFixture
) -> None:
    """A broken allow-list function (here: a tenant lookup that fails) is an unknown
    issuer for the request, a 401 through the Gate, never a 500; it is logged."""

    def allowed(tenant: str) -> bool:
        raise LookupError(f"tenant directory down, asked for {tenant}")

    provider = jwtgate_provider("RS256", issuer=entra(TENANT), scopes_claim="scp")
    entry = provider.entry(issuer=ENTRA, allowed=allowed, scopes_claim="scp")
    gate = Gate(Settings.from_dict({"issuers": [entry], "audience": API}))
    token = provider.token("oid-1", audience=API)
    with caplog.at_level(logging.WARNING, logger="jwtgate"):
        result = gate.decide(RequestInfo("GET", "/", (f"Bearer {token}",)))
    assert isinstance(result, Rejection)
    assert result.status == 401
    assert 'error="invalid_token"' in dict(result.headers)["www-authenticate"]
    assert "tenant directory down" in caplog.text
    assert provider.requests == 0


def test_each_entry_has_its_own_audience_algorithms_and_claim_mapping(
    jwtgate_provider: Callable[..., Provider],
) -> None:
    """B reads scp and oid and wants its own audience; A's algorithm is not B's."""
    a = jwtgate_provider("ES256")
    b = jwtgate_provider("RS256", scopes_claim="scp")
    entry_b = b.entry(audience="api://b", identity_claim="oid", scopes_claim="scp")
    verifier = Verifier(Settings.from_dict({"issuers": [a.entry(), entry_b], "audience": API}))
    identity = verifier.verify(b.token(audience="api://b", scopes="x", claims={"oid": "o-1"}))
    assert (identity.subject, identity.scopes) == ("o-1", frozenset({"x"}))
    with pytest.raises(InvalidClaim):  # B's audience is not A's
        verifier.verify(b.token(audience=API, claims={"oid": "o-1"}))
    with pytest.raises(DisallowedAlgorithm):  # RS256 is B's algorithm, not A's
        verifier.verify(b.token(audience=API, issuer=a.issuer))


def test_a_cached_token_of_several_issuers_is_recalled_without_a_fetch(
    providers: tuple[Provider, Provider],
) -> None:
    """The hot path holds for several issuers: a second request costs no fetch."""
    a, b = providers
    gate = Gate(several(a, b))
    token = b.token("bob", audience=API)
    first = gate.decide(RequestInfo("GET", "/", (f"Bearer {token}",)))
    assert gate.verifier.remembered(token) is first
    second = gate.decide(RequestInfo("GET", "/", (f"Bearer {token}",)))
    assert second is first
    assert (a.requests, b.requests) == (0, 1)


def test_prefetch_loads_every_issuers_keys(providers: tuple[Provider, Provider]) -> None:
    """Gate.prefetch (ASGI lifespan startup) fetches each entry's JWKS once."""
    a, b = providers
    assert Gate(several(a, b)).prefetch() is True
    assert (a.requests, b.requests) == (1, 1)


def test_a_verifier_with_several_issuers_takes_no_single_key_source(
    providers: tuple[Provider, Provider],
) -> None:
    """keys= replaces the one key source, which several issuers do not have."""
    a, b = providers
    with pytest.raises(TypeError):
        Verifier(several(a, b), keys=KEYS.settings().keys)
    verifier = Verifier(several(a, b))
    with pytest.raises(TypeError):
        verifier.keys = KEYS.settings().keys
    assert len(verifier.key_sources) == 2


def test_tokens_of_an_independent_library_pass_and_fail_by_issuer() -> None:
    """joserfc signs the tokens (not jwtgate, not PyJWT): its issuer passes, typ checked."""
    key = ECKey.generate_key("P-256", parameters={"kid": "jose-1"})
    other = keypair("ES256")
    with JWKSServer({"keys": [key.as_dict(private=False)]}) as server, JWKSServer(other.jwks) as b:
        settings = Settings.from_dict(
            {
                "issuers": [
                    {"issuer": server.issuer, "jwks_url": server.url},
                    {"issuer": b.issuer, "jwks_url": b.url},
                ],
                "algorithms": ["ES256"],
                "audience": API,
                "require_typ": ["at+jwt"],
            }
        )
        verifier = Verifier(settings)

        def jose(issuer: str, typ: str = "at+jwt") -> str:
            claims = {"iss": issuer, "sub": "svc", "aud": API, "exp": 4_102_444_800}
            return jose_jwt.encode({"alg": "ES256", "kid": "jose-1", "typ": typ}, claims, key)

        assert verifier.verify(jose(server.issuer)).subject == "svc"
        with pytest.raises(DisallowedTokenType):
            verifier.verify(jose(server.issuer, typ="JWT"))
        with pytest.raises(UnknownKey):  # joserfc's key naming the other issuer
            verifier.verify(jose(b.issuer))
        with pytest.raises(UnknownIssuer):
            verifier.verify(jose("https://nobody.example/"))


# -- require_typ (RFC 9068 §4, RFC 8725 §3.11) ----------------------------------------------


@pytest.mark.parametrize(
    ("typ", "accepted"),
    [
        ("at+jwt", True),
        ("AT+JWT", True),
        ("application/at+jwt", True),
        ("Application/At+JWT", True),
        ("JWT", False),
        ("application/jwt", False),
        ("at+jwt; charset=x", False),
        (None, False),
        (123, False),
    ],
)
def test_require_typ_compares_media_types_case_insensitively(
    typ: object, accepted: bool, jwtgate_provider: Callable[..., Provider]
) -> None:
    """RFC 7515 §4.1.9: application/ is optional and case does not matter."""
    provider = jwtgate_provider("ES256")
    settings = Settings.from_dict(
        {"issuers": [provider.entry()], "require_typ": ["application/AT+JWT"]}
    )
    token = provider.token(headers={"typ": typ})
    if accepted:
        assert Verifier(settings).verify(token).subject == "user"
    else:
        with pytest.raises(DisallowedTokenType):
            Verifier(settings).verify(token)
        assert provider.requests == 0  # typ is judged before any key is fetched


def test_require_typ_is_off_by_default_and_set_per_entry(
    jwtgate_provider: Callable[..., Provider],
) -> None:
    """Off: any typ passes; an entry's own require_typ overrides the top level's."""
    a = jwtgate_provider("ES256", typ="JWT")
    b = jwtgate_provider("ES256", typ=None)
    assert normal_typ("Application/AT+JWT") == "at+jwt"
    verifier = Verifier(Settings.from_dict({"issuers": [a.entry(), b.entry()]}))
    assert verifier.verify(a.token()).subject == verifier.verify(b.token()).subject == "user"
    strict = Settings.from_dict(
        {"issuers": [a.entry(require_typ=["jwt"]), b.entry()], "require_typ": ["at+jwt"]}
    )
    assert Verifier(strict).verify(a.token()).subject == "user"
    with pytest.raises(DisallowedTokenType):
        Verifier(strict).verify(b.token())


def test_require_typ_with_one_issuer() -> None:
    """The one-issuer settings take require_typ too (an ID token is refused)."""
    settings = KEYS.settings(require_typ=["at+jwt"])
    import jwt

    def signed(typ: str) -> str:
        claims = {"sub": "u", "exp": 4_102_444_800}
        return jwt.encode(claims, KEYS.private_pem, "ES256", headers={"kid": KEYS.kid, "typ": typ})

    assert Verifier(settings).verify(signed("at+jwt")).subject == "u"
    with pytest.raises(DisallowedTokenType):
        Verifier(settings).verify(signed("JWT"))


# -- the CLI explains -------------------------------------------------------------------------


def test_cli_verify_explains_issuer_and_typ_refusals(
    tmp_path: Any, jwtgate_provider: Callable[..., Provider]
) -> None:
    """verify names the unknown issuer, the template that refused a tenant, and the typ."""
    import io

    from jwtgate.cli import EXIT_FAILED, main

    a = jwtgate_provider("ES256")
    entra_provider = jwtgate_provider("RS256", issuer=entra(OTHER_TENANT))
    path = tmp_path / "settings.json"
    entries = [
        {"issuer": a.issuer, "jwks": a.keys.jwks, "algorithms": ["ES256"]},
        {
            "issuer": ENTRA,
            "allowed": [TENANT],
            "jwks": entra_provider.keys.jwks,
            "algorithms": ["RS256"],
        },
    ]
    path.write_text(json.dumps({"issuers": entries, "require_typ": ["at+jwt"]}))

    def verify(token: str) -> str:
        out = io.StringIO()
        assert main(["verify", "--settings", str(path), token], out=out) == EXIT_FAILED
        return out.getvalue()

    unknown = verify(a.token(issuer="https://stranger.example/"))
    assert "REFUSED: unknown issuer (UnknownIssuer)" in unknown
    assert "'https://stranger.example/' is no issuer of ISSUERS" in unknown
    tenant = verify(entra_provider.token())
    assert f"{{tenantid}} = '{OTHER_TENANT}' is not in its 'allowed' values" in tenant
    typ = verify(a.token(headers={"typ": "JWT"}))
    assert "REFUSED: token type not accepted (DisallowedTokenType)" in typ
    assert "typ 'JWT'; REQUIRE_TYP accepts at+jwt" in typ
    assert (a.requests, entra_provider.requests) == (0, 0)


def test_the_several_issuers_examples_of_the_docs_are_valid_settings() -> None:
    """Each JWTGATE dict docs/jwks.md shows for several issuers builds, with no I/O."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "jwks.md").read_text()
    section = page.split("## Several issuers")[1].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    for block in blocks:
        namespace: dict[str, Any] = {}
        exec(block, namespace)
        settings = Settings.from_dict(namespace["JWTGATE"])
        assert settings.issuers and settings.warnings == ()
    assert settings.issuers[0].allows("72f988bf-86f1-41af-91ab-2d7cd011db47")
