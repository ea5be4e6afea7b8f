"""Settings validation: one test per problem id, all problems at once, no secret ever shown."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import HMACAlgorithm, RSAAlgorithm

from conftest import KEYS, NOW, SECRET, FakeClock, make_token, pem
from jwtgate import ConfigurationError, Settings, Verifier
from jwtgate._fields import FIELDS, Field
from jwtgate.config import check_settings
from jwtgate.errors import Problem

SECRET_2 = "second-test-secret-abcdefghijklmnopqrstuvwxyz-0123456789"  # fake
# A distinctive value: if it shows up anywhere in an error or repr, a secret leaked.
LEAKY = "LEAK-CANARY-b7c4e9f2a1d3-do-not-print-0123456789abcdef"


def problems_of(data: Any) -> ConfigurationError:
    """The ConfigurationError that ``Settings.from_dict(data)`` raises."""
    with pytest.raises(ConfigurationError) as info:
        Settings.from_dict(data)
    return info.value


def rsa_jwk(name: str = "rsa_public", **extra: Any) -> dict[str, Any]:
    """The RSA public key tests/keys/<name>.pem as a JWK dict."""
    key = load_pem_public_key(pem(name).encode())
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key, as_dict=True)  # type: ignore[arg-type]
    jwk.update(extra)
    return jwk


def oct_jwk(secret: str = SECRET_2, **extra: Any) -> dict[str, Any]:
    """An HMAC secret as an ``oct`` JWK dict."""
    jwk: dict[str, Any] = HMACAlgorithm.to_jwk(secret.encode(), as_dict=True)
    jwk.update(extra)
    return jwk


# One case per problem id: (settings, the exact ids the error carries, in order).
ID_CASES = [
    pytest.param({"secret": SECRET, "leeways": 5}, ["E001"], id="E001-unknown-key"),
    pytest.param({"secret": SECRET, "secret_key": SECRET}, ["E002"], id="E002-renamed-key"),
    pytest.param({"secret": SECRET, "leeway": "5"}, ["E003"], id="E003-wrong-type"),
    pytest.param({"secret": SECRET, "algorithms": ["HS256", "none"]}, ["E004"], id="E004-alg-none"),
    pytest.param(
        {"secret": SECRET, "algorithms": ["HS256", "HS257"]}, ["E005"], id="E005-unknown-alg"
    ),
    pytest.param(
        {"algorithms": ["HS256", "RS256"], "secret": SECRET, "public_key": pem("rsa_public")},
        ["E006"],
        id="E006-mixed-families",
    ),
    pytest.param({"secret": "too-short"}, ["E007"], id="E007-short-secret"),
    pytest.param({"algorithms": ["RS256"]}, ["E008"], id="E008-alg-without-key"),
    pytest.param(
        {"algorithms": ["RS256"], "public_key": pem("rsa_public"), "secret": SECRET},
        ["E009"],
        id="E009-secret-without-hmac-alg",
    ),
    pytest.param({"secret": SECRET, "leeway": 301}, ["E010"], id="E010-leeway-too-large"),
    pytest.param({"secret": SECRET, "access_token_ttl": 0}, ["E011"], id="E011-zero-ttl"),
    pytest.param({"secret": SECRET, "access_token_ttl": 10**400}, ["E011"], id="E011-huge-ttl"),
    pytest.param({"secret": "env:JWTGATE_TEST_UNSET"}, ["E012"], id="E012-env-unset"),
    pytest.param(
        {"secret": "file:/nonexistent/jwtgate/secret"}, ["E013"], id="E013-file-unreadable"
    ),
    pytest.param({"algorithms": ["RS256"], "public_key": "not a key"}, ["E014"], id="E014-bad-pem"),
    pytest.param(
        {"algorithms": ["RS256"], "public_key": pem("ec256_public")},
        ["E015"],
        id="E015-key-fits-no-alg",
    ),
    pytest.param(
        {"algorithms": ["RS256"], "public_key": pem("rsa1024_public")},
        ["E016"],
        id="E016-rsa-too-small",
    ),
    pytest.param(
        {"secret": SECRET, "token_sources": ["header", "body"]}, ["E017"], id="E017-bad-source"
    ),
    pytest.param({"secret": SECRET, "public_paths": ["re:("]}, ["E018"], id="E018-bad-pattern"),
    pytest.param({"secret": SECRET, "rules": [{"path": "/x"}]}, ["E019"], id="E019-bad-rule"),
    pytest.param({"secret": SECRET, "store": "ftp://host/x"}, ["E020"], id="E020-bad-store"),
    pytest.param(
        {"secret": SECRET, "rules": [{"path": "/x", "scopes": ["a"], "methods": ["PSOT"]}]},
        ["E035"],
        id="E035-misspelt-method",
    ),
    pytest.param(
        {"secret": SECRET, "cors_preflight": "allow"}, ["E036"], id="E036-bad-cors-preflight"
    ),
    pytest.param(
        {"secret": SECRET, "store": "sqlite:////nonexistent-dir/x/jwtgate.db"},
        ["E063"],
        id="E063-sqlite-directory-missing",
    ),
    pytest.param({"secret": SECRET, "store": "sqlite:///"}, ["E020"], id="E020-sqlite-no-path"),
    pytest.param(
        {"secret": SECRET, "store": "redis+sentinel://h1:26379,h2:26379"},
        ["E110"],
        id="E110-sentinel-without-service",
    ),
    pytest.param(
        {"secret": SECRET, "store": "redis+cluster://h1:7000/2"}, ["E110"], id="E110-cluster-db"
    ),
    pytest.param(
        {"secret": SECRET, "store": "redis://h1:6379,h2:6379/0"}, ["E110"], id="E110-two-hosts"
    ),
    pytest.param(
        {"secret": SECRET, "store": "redis+cluster://h1:7000?wait=many"},
        ["E110"],
        id="E110-bad-wait",
    ),
    pytest.param(
        {"secret": SECRET, "store_persistence": "maybe"}, ["E064"], id="E064-bad-persistence"
    ),
    pytest.param(
        {
            "algorithms": ["RS256"],
            "jwks_url": "https://idp.example/jwks",
            "jwks_redirects": "all",
        },
        ["E049"],
        id="E049-bad-jwks-redirects",
    ),
    pytest.param(
        {"secret": SECRET, "on_store_error": "maybe"}, ["E021"], id="E021-bad-on-store-error"
    ),
    pytest.param(
        {"secret": SECRET, "check_revocation": True}, ["E022"], id="E022-revocation-no-store"
    ),
    pytest.param(
        {"secret": {"a": SECRET, "b": SECRET_2}, "key_id": "c"}, ["E023"], id="E023-kid-unknown"
    ),
    pytest.param({"secret": SECRET, "header_name": "X Auth"}, ["E024"], id="E024-bad-header-name"),
    pytest.param({"secret": SECRET, "max_token_bytes": 100}, ["E025"], id="E025-size-range"),
    pytest.param({"secret": SECRET, "issuer": 42}, ["E027"], id="E027-bad-issuer"),
    pytest.param({"secret": SECRET, "LEEWAY": 1, "leeway": 2}, ["E030"], id="E030-key-twice"),
]


@pytest.mark.parametrize(("data", "ids"), ID_CASES)
def test_problem_id(data: dict[str, Any], ids: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each kind of bad setting is reported with its own stable id."""
    monkeypatch.delenv("JWTGATE_TEST_UNSET", raising=False)
    error = problems_of(data)
    assert error.ids == [f"jwtgate.{i}" for i in ids]
    assert all(p.message for p in error.problems)


def test_rule_methods_are_upper_cased_and_get_covers_head() -> None:
    """Rule methods are stored upper-case; a rule for GET also holds HEAD, one for POST does not."""
    rules = Settings.from_dict(
        {
            "secret": SECRET,
            "rules": [
                {"path": "/a", "scopes": ["a"], "methods": ["get", "Post"]},
                {"path": "/b", "scopes": ["b"], "methods": ["POST"]},
            ],
        }
    ).rules
    assert rules[0].methods == frozenset({"GET", "HEAD", "POST"})
    assert rules[1].methods == frozenset({"POST"})


def test_cors_preflight_defaults_to_answer() -> None:
    """jwtgate answers CORS preflights itself unless told a CORS layer sits behind it."""
    assert Settings.from_dict({"secret": SECRET}).cors_preflight == "answer"
    forward = Settings.from_dict({"secret": SECRET, "CORS_PREFLIGHT": "forward"})
    assert forward.cors_preflight == "forward"


def test_a_relative_sqlite_path_is_resolved_once_and_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Three slashes and a relative path: resolved against the working directory at
    settings time (W001, logged, with the four-slash fix); absolute paths are quiet."""
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="jwtgate"):
        settings = Settings.from_dict({"secret": SECRET, "store": "sqlite:///data/j.db?x=1"})
    monkeypatch.chdir(tmp_path / "data")  # elsewhere now: the resolved path stays
    assert settings.store == f"sqlite:///{tmp_path}/data/j.db?x=1"
    assert [w.id for w in settings.warnings] == ["jwtgate.W001"]
    assert f"sqlite:///{tmp_path}/data/j.db" in settings.warnings[0].hint
    assert "jwtgate.W001" in caplog.text
    monkeypatch.chdir(tmp_path)
    assert check_settings({"secret": SECRET, "store": "sqlite:///j.db"}) == []
    warned = check_settings({"secret": SECRET, "store": "sqlite:///j.db"}, warnings=True)
    assert [w.id for w in warned] == ["jwtgate.W001"]
    absolute = Settings.from_dict({"secret": SECRET, "store": f"sqlite:///{tmp_path}/a.db"})
    assert absolute.warnings == ()


def test_a_read_only_sqlite_store_needs_no_writable_directory(tmp_path: Path) -> None:
    """?mode=ro is accepted where the app could not write, as long as the directory exists."""
    url = f"sqlite:///{tmp_path}/r.db?mode=ro"
    assert Settings.from_dict({"secret": SECRET, "store": url}).store == url


def test_every_emitted_id_has_a_test() -> None:
    """Every problem id the package can emit is asserted by some test (ids never go untested)."""
    import re

    root = Path(__file__).parent.parent
    source = "\n".join(p.read_text() for p in sorted((root / "src").rglob("*.py")))
    emitted = set(re.findall(r'"(?:jwtgate\.)?(E\d{3})"', source))
    tests = "\n".join(p.read_text() for p in sorted((root / "tests").rglob("*.py")))
    tested = set(re.findall(r"E\d{3}", tests))
    assert {"E001", "E030", "E031"} <= emitted
    assert emitted <= tested, sorted(emitted - tested)


@pytest.mark.parametrize(
    ("data", "id_", "key"),
    [
        pytest.param("HS256", "E003", "", id="not-a-dict"),
        pytest.param({"secret": SECRET, 3: 4}, "E003", "3", id="non-string-key"),
        pytest.param({"secret": 12345}, "E003", "SECRET", id="secret-int"),
        pytest.param({"secret": ""}, "E003", "SECRET", id="secret-empty"),
        pytest.param({"secret": {"": SECRET}}, "E003", "SECRET", id="secret-dict-empty-kid"),
        pytest.param({"secret": SECRET, "algorithms": []}, "E003", "ALGORITHMS", id="algs-empty"),
        pytest.param(
            {"secret": SECRET, "credentials_required": "yes"},
            "E003",
            "CREDENTIALS_REQUIRED",
            id="bool-as-string",
        ),
        pytest.param({"secret": SECRET, "realm": ""}, "E003", "REALM", id="empty-string"),
        pytest.param({"secret": SECRET, "leeway": True}, "E003", "LEEWAY", id="leeway-bool"),
        pytest.param({"secret": SECRET, "leeway": float("nan")}, "E003", "LEEWAY", id="leeway-nan"),
        pytest.param(
            {"secret": SECRET, "access_token_ttl": 1.5}, "E003", "ACCESS_TOKEN_TTL", id="ttl-float"
        ),
        pytest.param({"secret": SECRET, "rules": {"path": "/"}}, "E003", "RULES", id="rules-dict"),
        pytest.param({"secret": SECRET, "store": 5}, "E003", "STORE", id="store-int"),
        pytest.param({"secret": SECRET, "key_id": 5}, "E003", "KEY_ID", id="key-id-int"),
        pytest.param(
            {"secret": SECRET, "token_sources": []}, "E003", "TOKEN_SOURCES", id="sources-empty"
        ),
        pytest.param(
            {"secret": SECRET, "required_claims": ["exp", ""]},
            "E003",
            "REQUIRED_CLAIMS",
            id="list-with-empty-string",
        ),
        pytest.param({"secret": SECRET, "leeway": -1}, "E010", "LEEWAY", id="leeway-negative"),
        pytest.param(
            {"secret": SECRET, "refresh_token_ttl": -5}, "E011", "REFRESH_TOKEN_TTL", id="ttl-neg"
        ),
        pytest.param(
            {"secret": SECRET, "token_sources": ["header", "header"]},
            "E017",
            "TOKEN_SOURCES",
            id="sources-duplicate",
        ),
        pytest.param(
            {"secret": SECRET, "public_paths": ["health"]}, "E018", "PUBLIC_PATHS", id="no-slash"
        ),
        pytest.param(
            {"secret": SECRET, "rules": [{"path": "re:[", "scopes": ["a"]}]},
            "E018",
            "RULES",
            id="rule-path-bad-regex",
        ),
        pytest.param(
            {"secret": SECRET, "rules": [{"path": "/a", "scopes": "admin"}]},
            "E019",
            "RULES",
            id="rule-scopes-bare-string",
        ),
        pytest.param(
            {"secret": SECRET, "rules": [{"path": "/a", "scopes": ["a b"]}]},
            "E019",
            "RULES",
            id="rule-scope-with-space",
        ),
        pytest.param(
            {"secret": SECRET, "rules": [{"path": "/a", "scopes": ["a"], "methods": "GET"}]},
            "E019",
            "RULES",
            id="rule-methods-bare-string",
        ),
        pytest.param(
            {"secret": SECRET, "rules": [{"path": "/a", "scopes": ["a"], "verbs": ["GET"]}]},
            "E019",
            "RULES",
            id="rule-unknown-member",
        ),
        pytest.param({"secret": SECRET, "rules": ["/admin"]}, "E019", "RULES", id="rule-string"),
        pytest.param(
            {"secret": SECRET, "store": "sqlite://relative.db"}, "E020", "STORE", id="sqlite-rel"
        ),
        pytest.param(
            {"secret": {"k": SECRET}, "key_id": "k", "jwks": {"keys": [oct_jwk(kid="k")]}},
            "E023",
            "KEY_ID",
            id="shared-kid",
        ),
        pytest.param({"secret": SECRET, "realm": 'a"b'}, "E024", "REALM", id="realm-quote"),
        pytest.param({"secret": SECRET, "realm": "api\n"}, "E024", "REALM", id="realm-newline"),
        pytest.param(
            {"secret": SECRET, "header_name": "Authorization\n"},
            "E024",
            "HEADER_NAME",
            id="header-name-newline",
        ),
        pytest.param(
            {"secret": SECRET, "max_token_bytes": 2_000_000},
            "E025",
            "MAX_TOKEN_BYTES",
            id="size-too-large",
        ),
        pytest.param(
            {"algorithms": ["RS256"], "jwks": "not json"}, "E026", "JWKS", id="jwks-not-json"
        ),
        pytest.param({"secret": SECRET, "audience": []}, "E027", "AUDIENCE", id="audience-empty"),
        pytest.param(
            {"secret": SECRET, "audience": ["api", ""]}, "E027", "AUDIENCE", id="audience-blank"
        ),
    ],
)
def test_problem_variants(data: Any, id_: str, key: str) -> None:
    """Other shapes of the same mistakes carry the same id and name the key."""
    error = problems_of(data)
    assert error.ids[0] == f"jwtgate.{id_}"
    assert error.problems[0].key == key


@pytest.mark.parametrize(
    ("data", "id_", "key"),
    [
        pytest.param({"secret": pem("rsa_public")}, "E009", "SECRET", id="pem-as-secret"),
        pytest.param({"secret": "ssh-ed25519 AAAA" + "x" * 40}, "E009", "SECRET", id="ssh-key"),
        pytest.param({"public_key": pem("rsa_public")}, "E009", "PUBLIC_KEY", id="pub-for-hmac"),
        pytest.param(
            {"private_key": pem("rsa_private")}, "E009", "PRIVATE_KEY", id="private-for-hmac"
        ),
        pytest.param(
            {"algorithms": ["RS256"], "public_key": pem("rsa_private")},
            "E014",
            "PUBLIC_KEY",
            id="private-given-as-public",
        ),
        pytest.param(
            {"algorithms": ["RS256"], "private_key": "garbage"},
            "E014",
            "PRIVATE_KEY",
            id="private-unreadable",
        ),
    ],
)
def test_key_material_problems(data: dict[str, Any], id_: str, key: str) -> None:
    """Key material in the wrong place or unreadable is named by its key."""
    error = problems_of(data)
    assert error.ids[0] == f"jwtgate.{id_}"
    assert error.problems[0].key == key


def test_private_key_given_as_public_key_says_so() -> None:
    """A private PEM under PUBLIC_KEY is refused with a message saying what it is."""
    error = problems_of({"algorithms": ["RS256"], "public_key": pem("rsa_private")})
    assert "this is a private key" in error.problems[0].message
    assert "PRIVATE KEY" not in str(error)


@pytest.mark.parametrize("kind", ["x25519", "x448"])
def test_unsupported_key_type_is_refused(kind: str) -> None:
    """A key-agreement key is not a JOSE signing key and is refused with E014.

    (This used DSA until cryptography 51 deprecated it; X25519/X448 keys will stay.)
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x448, x25519

    private = (
        x25519.X25519PrivateKey.generate() if kind == "x25519" else x448.X448PrivateKey.generate()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    error = problems_of({"algorithms": ["RS256"], "public_key": public_pem})
    assert error.ids == ["jwtgate.E014"]
    assert "unsupported key type" in error.problems[0].message
    error = problems_of({"algorithms": ["RS256"], "private_key": private_pem})
    assert error.ids == ["jwtgate.E014"]


def test_certificate_is_accepted_as_public_key() -> None:
    """An X.509 certificate PEM gives its public key, which verifies tokens."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

    private = load_pem_private_key(pem("rsa_private").encode(), password=None)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "jwtgate test")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())  # type: ignore[arg-type]
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .sign(private, hashes.SHA256())  # type: ignore[arg-type]
    )
    settings = Settings.from_dict(
        {"algorithms": ["RS256"], "public_key": cert.public_bytes(Encoding.PEM)}
    )
    token = make_token(key=pem("rsa_private"), algorithm="RS256")
    assert Verifier(settings, clock=FakeClock()).verify(token).subject == "alice"


def test_unknown_key_suggests_the_closest_setting() -> None:
    """A misspelt key is named and the closest valid key suggested."""
    problem = problems_of({"secret": SECRET, "LEEWAYS": 5}).problems[0]
    assert problem.key == "LEEWAYS"
    assert problem.hint == "Did you mean JWTGATE['LEEWAY']?"


def test_unknown_key_without_close_match_points_to_docs() -> None:
    """A key resembling nothing points to the settings reference."""
    problem = problems_of({"secret": SECRET, "zzzzqqqq": 5}).problems[0]
    assert problem.id == "jwtgate.E001"
    assert "docs/settings.md" in problem.hint


def test_renamed_key_names_the_jwtgate_setting() -> None:
    """A PyJWT / simplejwt name gets the jwtgate name in the hint."""
    problem = problems_of({"secret": SECRET, "ACCESS_TOKEN_LIFETIME": 60}).problems[0]
    assert problem.id == "jwtgate.E002"
    assert "JWTGATE['ACCESS_TOKEN_TTL']" in problem.hint


def test_unknown_algorithm_suggests_a_close_one() -> None:
    """A typo in an algorithm name suggests the supported one; nonsense lists them all."""
    assert problems_of({"secret": SECRET, "algorithms": ["HS265"]}).problems[0].hint == (
        "Did you mean 'HS256'?"
    )
    hint = problems_of({"secret": SECRET, "algorithms": ["xyzzy"]}).problems[0].hint
    assert hint.startswith("Supported: ")
    assert "EdDSA" in hint


def test_every_problem_is_reported_at_once() -> None:
    """Several bad keys give one error listing every problem, each with its id."""
    error = problems_of(
        {
            "secret": "short",
            "leeway": 999,
            "leeways": 1,
            "access_token_ttl": -1,
            "token_sources": "header",
            "on_store_error": "sometimes",
        }
    )
    assert sorted(error.ids) == [
        "jwtgate.E001",
        "jwtgate.E003",
        "jwtgate.E007",
        "jwtgate.E010",
        "jwtgate.E011",
        "jwtgate.E021",
    ]
    assert str(error).startswith("jwtgate settings have 6 problems:\n")
    for problem in error.problems:
        assert str(problem) in str(error)


def test_single_problem_message() -> None:
    """One problem reads as "1 problem" and each line gives id, key, message and hint."""
    error = problems_of({"secret": SECRET, "leeway": 301})
    assert str(error) == (
        "jwtgate settings have 1 problem:\n"
        "  - jwtgate.E010 [LEEWAY]: JWTGATE['LEEWAY'] is 301; it should be between 0 and "
        "300 seconds."
    )


def test_problem_str_with_hint() -> None:
    """A problem with a hint renders it after HINT:."""
    assert str(Problem("jwtgate.E999", "KEY", "it is wrong.", "Fix it.")) == (
        "jwtgate.E999 [KEY]: it is wrong. HINT: Fix it."
    )


def test_name_is_used_in_messages() -> None:
    """``name`` changes how problems refer to the dict (Flask's app.config)."""
    error = problems_of_named({"secret": SECRET, "leeway": -1}, "app.config['JWTGATE']")
    assert error.problems[0].message.startswith("app.config['JWTGATE']['LEEWAY'] is -1")


def problems_of_named(data: dict[str, Any], name: str) -> ConfigurationError:
    """The ConfigurationError of ``from_dict(data, name=name)``."""
    with pytest.raises(ConfigurationError) as info:
        Settings.from_dict(data, name=name)
    return info.value


@pytest.mark.parametrize("key", ["LEEWAY", "leeway", "Leeway"])
def test_keys_in_either_case(key: str) -> None:
    """Upper-case (Django style) and lower-case keys mean the same setting."""
    settings = Settings.from_dict({"SECRET": SECRET, key: 30})
    assert settings.leeway == 30


def test_bare_string_where_a_list_is_expected_is_refused() -> None:
    """``"HS256"`` instead of ``["HS256"]`` is an error whose hint shows the list form."""
    problem = problems_of({"secret": SECRET, "algorithms": "HS256"}).problems[0]
    assert problem.id == "jwtgate.E003"
    assert problem.key == "ALGORITHMS"
    assert problem.hint == """Write JWTGATE['ALGORITHMS'] = ["HS256"]."""
    for key in ("required_claims", "public_paths", "token_sources"):
        assert problems_of({"secret": SECRET, key: "/x"}).ids == ["jwtgate.E003"]


def test_defaults_and_conversions() -> None:
    """Valid settings hold checked forms: tuples, defaults, issuer/audience tuples."""
    settings = Settings.from_dict(
        {
            "secret": SECRET,
            "issuer": "https://issuer.example",
            "audience": ["api", "web"],
            "required_claims": ["exp"],
            "rules": [{"path": "/admin/*", "scopes": ["admin"], "methods": ["post"]}],
            "store": "sqlite:////tmp/jwtgate.db",
            "check_revocation": True,
            "on_store_error": "allow",
            "user_field": "username",
        }
    )
    assert settings.algorithms == ("HS256",)
    assert settings.is_hmac
    assert settings.issuer == ("https://issuer.example",)
    assert settings.audience == ("api", "web")
    assert settings.required_claims == ("exp",)
    assert settings.token_sources == ("header",)
    assert settings.leeway == 0
    assert settings.max_token_bytes == 8192
    assert settings.realm == "api"
    assert settings.rules[0].methods == frozenset({"POST"})
    assert settings.rules[0].applies("POST", "/admin/users")
    assert not settings.rules[0].applies("GET", "/admin/users")
    assert settings.signing_key is not None
    assert settings.signing_key.algorithm == "HS256"
    assert settings.on_store_error == "allow"
    assert settings.user_field == "username"
    assert settings.store == "sqlite:////tmp/jwtgate.db"


def test_private_key_with_key_id_next_to_its_public_key() -> None:
    """public_key + private_key + key_id is one key: tokens with or without kid verify."""
    settings = Settings.from_dict(
        {
            "algorithms": ["RS256"],
            "public_key": pem("rsa_public"),
            "private_key": pem("rsa_private"),
            "key_id": "k",
        }
    )
    assert len(settings.keys.keys) == 1
    verifier = Verifier(settings, clock=FakeClock())
    for headers in ({}, {"kid": "k"}):
        token = make_token(key=pem("rsa_private"), algorithm="RS256", headers=headers)
        assert verifier.verify(token).subject == "alice"


def test_private_key_kid_differs_from_public_key_dict_kids() -> None:
    """A key_id not among the public_key kids still verifies the issuer's own tokens."""
    settings = Settings.from_dict(
        {
            "algorithms": ["RS256"],
            "public_key": {"a": pem("rsa_public"), "b": pem("rsa2_public")},
            "private_key": pem("rsa_private"),
            "key_id": "k",
        }
    )
    token = make_token(key=pem("rsa_private"), algorithm="RS256", headers={"kid": "k"})
    assert Verifier(settings, clock=FakeClock()).verify(token).subject == "alice"


def test_duplicate_algorithms_are_kept_once() -> None:
    """An algorithm listed twice is kept once."""
    settings = Settings.from_dict({"secret": SECRET, "algorithms": ["HS256", "HS256"]})
    assert settings.algorithms == ("HS256",)


def test_asymmetric_settings_are_not_hmac() -> None:
    """Public-key settings report ``is_hmac`` False and sign with the private key."""
    settings = Settings.from_dict(
        {
            "algorithms": ["RS256", "PS256"],
            "public_key": pem("rsa_public"),
            "private_key": pem("rsa_private"),
        }
    )
    assert not settings.is_hmac
    assert settings.signing_key is not None
    assert settings.signing_key.algorithm == "RS256"
    assert len(settings.keys.keys) == 1  # the derived public key is the one given


# -- secrets never shown ---------------------------------------------------------------


def test_settings_repr_and_str_hide_secrets() -> None:
    """Neither repr() nor str() of Settings shows the secret, key material or store password."""
    settings = Settings.from_dict(
        {
            "secret": LEAKY,
            "store": f"redis://:{LEAKY}@localhost:6379/0",
        }
    )
    for text in (repr(settings), str(settings), repr(settings.signing_key)):
        assert LEAKY not in text
        assert "Settings(" in text or "SigningKey(" in text
    assert repr(settings.keys.keys[0]).startswith("VerificationKey(")
    assert LEAKY not in repr(settings.keys.keys[0])


def test_private_key_not_in_repr() -> None:
    """The private key's PEM never shows in repr()."""
    settings = Settings.from_dict({"algorithms": ["EdDSA"], "private_key": pem("ed25519_private")})
    body = pem("ed25519_private").splitlines()[1]
    assert body not in repr(settings)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"secret": LEAKY[:20]}, id="short-secret"),
        pytest.param({"secret": LEAKY, "algorithms": ["RS256"]}, id="secret-wrong-family"),
        pytest.param({"secret": "-----BEGIN " + LEAKY}, id="pem-looking-secret"),
        pytest.param({"secret": [LEAKY]}, id="secret-in-list"),
        pytest.param({"secret": {"": LEAKY}}, id="secret-dict-bad-kid"),
        pytest.param({"secret": LEAKY, "jwt_secret_key": LEAKY}, id="renamed-key"),
        pytest.param({"secrte": LEAKY}, id="misspelt-key"),
        pytest.param({"SECRET": LEAKY, "secret": LEAKY}, id="twice"),
        pytest.param(
            {"secret": LEAKY, "store": f"bogus://:{LEAKY}@host"}, id="bad-store-with-password"
        ),
        pytest.param({"algorithms": ["RS256"], "public_key": LEAKY}, id="public-key-garbage"),
        pytest.param({"algorithms": ["RS256"], "private_key": LEAKY}, id="private-key-garbage"),
        pytest.param({"algorithms": ["RS256"], "jwks": LEAKY}, id="jwks-garbage"),
        pytest.param(
            {"secret": {"a": LEAKY, "b": LEAKY + "2"}, "key_id": "zz"}, id="kid-not-found"
        ),
    ],
)
def test_errors_never_show_secrets(data: dict[str, Any]) -> None:
    """No ConfigurationError message, problem or hint contains the secret."""
    error = problems_of(data)
    assert LEAKY not in str(error)
    assert LEAKY not in repr(error)
    for problem in error.problems:
        assert LEAKY not in f"{problem!r} {problem}"


def test_check_settings_never_shows_secrets() -> None:
    """check_settings' problems are as discreet as the exception."""
    problems = check_settings({"secret": LEAKY[:10]})
    assert problems
    assert all(LEAKY[:10] not in str(p) for p in problems)


# -- indirections -----------------------------------------------------------------------


def test_env_secret_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    """``env:NAME`` reads the secret from the environment."""
    monkeypatch.setenv("JWTGATE_TEST_SECRET", SECRET)
    settings = Settings.from_dict({"secret": "env:JWTGATE_TEST_SECRET"})
    assert Verifier(settings, clock=FakeClock()).verify(make_token()).subject == "alice"


def test_env_unset_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset variable is named in the message and the hint."""
    monkeypatch.delenv("JWTGATE_TEST_MISSING", raising=False)
    problem = problems_of({"secret": "env:JWTGATE_TEST_MISSING"}).problems[0]
    assert problem.id == "jwtgate.E012"
    assert "'JWTGATE_TEST_MISSING'" in problem.message
    assert problem.hint == "Set JWTGATE_TEST_MISSING before starting the app."


def test_file_secret_resolves_without_trailing_newline(tmp_path: Path) -> None:
    """``file:PATH`` reads the secret; an editor's trailing newline is not part of it."""
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n")
    settings = Settings.from_dict({"secret": f"file:{path}"})
    assert Verifier(settings, clock=FakeClock()).verify(make_token()).subject == "alice"


def test_file_public_and_private_keys_resolve() -> None:
    """PEM keys can be given as ``file:PATH``."""
    settings = Settings.from_dict(
        {
            "algorithms": ["ES256"],
            "public_key": f"file:{KEYS / 'ec256_public.pem'}",
            "private_key": f"file:{KEYS / 'ec256_private.pem'}",
        }
    )
    token = make_token(key=pem("ec256_private"), algorithm="ES256")
    assert Verifier(settings, clock=FakeClock()).verify(token).subject == "alice"
    assert settings.signing_key is not None
    assert settings.signing_key.algorithm == "ES256"


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    """An unreadable file is named, with the reason."""
    path = tmp_path / "nope.pem"
    problem = problems_of({"algorithms": ["RS256"], "public_key": f"file:{path}"}).problems[0]
    assert problem.id == "jwtgate.E013"
    assert repr(str(path)) in problem.message
    assert "No such file or directory" in problem.message


def test_failed_indirection_suppresses_the_missing_key_follow_up(tmp_path: Path) -> None:
    """When a key cannot be read, no misleading "no key for HS256" follows."""
    assert problems_of({"secret": f"file:{tmp_path / 'x'}"}).ids == ["jwtgate.E013"]


def test_bytes_secret_is_accepted() -> None:
    """A secret may be given as bytes."""
    settings = Settings.from_dict({"secret": SECRET.encode()})
    assert Verifier(settings, clock=FakeClock()).verify(make_token()).subject == "alice"


def test_hmac_secret_length_follows_the_strongest_algorithm() -> None:
    """HS512 needs a 64-byte secret: a 50-byte one is refused naming the minimum."""
    problem = problems_of({"secret": SECRET, "algorithms": ["HS256", "HS512"]}).problems[0]
    assert problem.id == "jwtgate.E007"
    assert "needs at least 64" in problem.message
    assert problem.hint == "Generate one with secrets.token_urlsafe(64)."


# -- JWKS -------------------------------------------------------------------------------


def test_inline_jwks_verifies_by_kid() -> None:
    """Keys from an inline JWKS are chosen by kid."""
    jwks = {"keys": [rsa_jwk(kid="one"), rsa_jwk("rsa2_public", kid="two")]}
    settings = Settings.from_dict({"algorithms": ["RS256"], "jwks": jwks})
    verifier = Verifier(settings, clock=FakeClock())
    token = make_token(key=pem("rsa2_private"), algorithm="RS256", headers={"kid": "two"})
    assert verifier.verify(token).subject == "alice"


def test_jwks_as_json_text_and_alg_narrowing() -> None:
    """A JWKS given as JSON text works; a key's ``alg`` narrows it to that algorithm."""
    import json

    jwks = json.dumps({"keys": [rsa_jwk(kid="one", alg="PS256")]})
    settings = Settings.from_dict({"algorithms": ["PS256"], "jwks": jwks})
    assert [k.algorithms for k in settings.keys.keys] == [frozenset({"PS256"})]
    assert problems_of({"algorithms": ["RS256"], "jwks": jwks}).ids == ["jwtgate.E008"]


def test_jwks_skips_unusable_keys() -> None:
    """Encryption keys, keys without verify, odd kids and broken JWKs are skipped."""
    jwks = {
        "keys": [
            rsa_jwk(kid="enc", use="enc"),
            rsa_jwk(kid="ops", key_ops=["encrypt"]),
            rsa_jwk(kid=7),
            {"kty": "RSA", "n": "broken"},
            "not a dict",
            rsa_jwk(kid="good", key_ops=["verify"]),
        ]
    }
    settings = Settings.from_dict({"algorithms": ["RS256"], "jwks": jwks})
    assert [k.kid for k in settings.keys.keys] == ["good"]


@pytest.mark.parametrize(
    "jwks",
    [
        pytest.param({"keys": [rsa_jwk(use="enc")]}, id="no-signing-keys"),
        pytest.param({"nokeys": []}, id="no-keys-member"),
        pytest.param("[1, 2]", id="not-an-object"),
    ],
)
def test_unusable_jwks_is_refused(jwks: Any) -> None:
    """A JWKS with no usable signing key is E026."""
    assert problems_of({"algorithms": ["RS256"], "jwks": jwks}).ids[0] == "jwtgate.E026"


def test_jwks_short_hmac_key_is_refused() -> None:
    """An ``oct`` JWK shorter than the hash output is E007."""
    assert problems_of({"jwks": {"keys": [oct_jwk("short")]}}).ids == ["jwtgate.E007"]


def test_jwks_hmac_key_verifies() -> None:
    """An ``oct`` JWK of the right size verifies HS256 tokens."""
    settings = Settings.from_dict({"jwks": {"keys": [oct_jwk(SECRET)]}})
    assert Verifier(settings, clock=FakeClock()).verify(make_token()).subject == "alice"


def test_jwks_private_jwk_is_reduced_to_its_public_key() -> None:
    """A private JWK in a JWKS is used only for its public half."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    private = load_pem_private_key(pem("rsa_private").encode(), password=None)
    jwk = RSAAlgorithm.to_jwk(private, as_dict=True)  # type: ignore[arg-type]
    del jwk["key_ops"]  # PyJWT marks a private JWK "sign" only; a verifier wants "verify"
    settings = Settings.from_dict({"algorithms": ["RS256"], "jwks": {"keys": [jwk]}})
    assert isinstance(settings.keys.keys[0].key, rsa.RSAPublicKey)


# -- replace and check_settings --------------------------------------------------------


def test_replace_changes_and_revalidates() -> None:
    """``replace`` returns a changed, validated copy and leaves the original alone."""
    settings = Settings.from_dict({"SECRET": SECRET, "ISSUER": "https://a.example"})
    changed = settings.replace(leeway=30, AUDIENCE="api")
    assert changed.leeway == 30
    assert changed.audience == ("api",)
    assert changed.issuer == ("https://a.example",)
    assert settings.leeway == 0
    assert settings.audience is None
    with pytest.raises(ConfigurationError) as info:
        settings.replace(leeway=301)
    assert info.value.ids == ["jwtgate.E010"]


def test_replace_keeps_the_name() -> None:
    """Problems of a replaced copy still name the dict the settings came from."""
    settings = Settings.from_dict({"secret": SECRET}, name="app.config['JWTGATE']")
    assert settings.replace(leeway=5).name == "app.config['JWTGATE']"
    with pytest.raises(ConfigurationError) as info:
        settings.replace(leeway=301)
    assert info.value.problems[0].message.startswith("app.config['JWTGATE']['LEEWAY'] is 301")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_token_bytes", 1.5),
        ("max_token_bytes", 8192.0),
        ("max_token_bytes", True),
        ("jwks_max_bytes", 4096.5),
        ("verify_cache_size", 10.0),
        ("revocation_cache_size", False),
    ],
)
def test_whole_number_settings_refuse_floats_and_bools(key: str, value: object) -> None:
    """Sizes and counts are whole numbers: a float or a bool is a type problem (E003)."""
    problems = check_settings({"secret": SECRET, key: value})
    assert [(p.id, p.key) for p in problems] == [("jwtgate.E003", key.upper())]


def test_a_whole_number_setting_says_so() -> None:
    """A float where a whole number is expected is a type problem naming the key."""
    (problem,) = check_settings({"secret": SECRET, "max_token_bytes": 1.5})
    assert problem.message == (
        "JWTGATE['MAX_TOKEN_BYTES'] should be a whole number of bytes (like 8192), not 1.5."
    )


SECONDS_FIELDS = [f for f in FIELDS if f.unit == "seconds"]


@pytest.mark.parametrize("field", SECONDS_FIELDS, ids=[f.name for f in SECONDS_FIELDS])
def test_a_quoted_number_of_seconds_says_what_to_write(field: Field) -> None:
    """A number of seconds written as a string (``LEEWAY: "30"``, what an environment
    variable gives) is named as the string it is, with an example and the fix; it used
    to say "should be a number seconds, not str" (#15)."""
    (problem,) = check_settings({"secret": SECRET, field.name: "30"})
    whole = "a whole number" if field.kind == "int" else "a number"
    ref = f"JWTGATE['{field.name.upper()}']"
    assert problem.message == f'{ref} should be {whole} of seconds (like 30), not the string "30".'
    convert = "int" if field.kind == "int" else "float"
    assert problem.hint == (
        f"Write 30 without quotes; convert a value read from the environment with {convert}(...)."
    )


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("soon", "(like 30), not a string."),
        (None, "(like 30), not None."),
        ([30], "(like 30), not a list."),
        (True, "(like 30), not True."),
    ],
)
def test_a_wrong_leeway_is_described_in_words(value: object, said: str) -> None:
    """Other wrong values are named in words, never as a bare type name."""
    (problem,) = check_settings({"secret": SECRET, "leeway": value})
    assert problem.message == f"JWTGATE['LEEWAY'] should be a number of seconds {said}"
    assert problem.hint == ""


def test_a_string_that_is_not_a_number_is_not_repeated() -> None:
    """Only a string that spells a number or a flag word is quoted back; anything else
    may be a secret put in the wrong key, and is only called "a string"."""
    (problem,) = check_settings({"secret": SECRET, "max_token_bytes": LEAKY})
    assert LEAKY not in str(problem)
    assert problem.message.endswith("(like 8192), not a string.")


def test_check_settings_lists_problems_without_raising() -> None:
    """check_settings returns every problem, or an empty list for good settings."""
    assert check_settings({"secret": SECRET}) == []
    problems = check_settings({"secret": SECRET, "leeway": -1, "rules": 3})
    assert [p.id for p in problems] == ["jwtgate.E010", "jwtgate.E003"]
    assert [p.key for p in problems] == ["LEEWAY", "RULES"]


def test_from_dict_none_means_defaults() -> None:
    """``from_dict(None)`` validates the defaults (which need a secret)."""
    assert problems_of(None).ids == ["jwtgate.E008"]


def test_settings_verify_a_token_from_now() -> None:
    """A settings object that exists is one that works (sanity round trip)."""
    settings = Settings.from_dict({"secret": SECRET})
    token = jwt.encode({"sub": "bob", "exp": NOW + 10}, SECRET, algorithm="HS256")
    assert Verifier(settings, clock=FakeClock()).verify(token).subject == "bob"


# -- the key source: built by whoever verifies, one per Settings object ------------------

REMOTE = {"algorithms": ["RS256"], "jwks_url": "https://keys.example/jwks.json"}


def test_one_settings_object_has_one_remote_key_source() -> None:
    """Every Verifier and Gate of one Settings object shares one JWKSKeys (one cache,
    one fetch schedule); a replaced copy builds its own."""
    from jwtgate import Gate
    from jwtgate.jwks import JWKSKeys

    settings = Settings.from_dict(REMOTE)
    source = Verifier(settings).keys
    assert isinstance(source, JWKSKeys)
    assert Verifier(settings).keys is source
    assert Gate(settings).verifier.keys is source
    assert settings.key_source is source
    copy = settings.replace(leeway=5)
    assert copy.key_source is not source
    assert "JWKSKeys" not in repr(settings)


def test_static_keys_are_their_own_source() -> None:
    settings = Settings.from_dict({"secret": SECRET})
    assert settings.key_source is settings.keys
    assert Verifier(settings).keys is settings.keys


def test_settings_need_no_network_client() -> None:
    """Validating remote-key settings imports no JWKS client; the first Verifier does."""
    import subprocess
    import sys

    code = (
        "import sys, jwtgate\n"
        f"settings = jwtgate.Settings.from_dict({REMOTE!r})\n"
        "assert 'jwtgate.jwks' not in sys.modules, 'settings imported jwtgate.jwks'\n"
        "jwtgate.Verifier(settings)\n"
        "assert 'jwtgate.jwks' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
