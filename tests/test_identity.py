"""Identity: the verified subject (or anonymous), read-only claims, scopes, Starlette shape."""

from __future__ import annotations

import pytest

from jwtgate import ANONYMOUS, Credentials, Identity
from jwtgate.identity import parse_scopes


def test_anonymous() -> None:
    """The anonymous identity is falsy, unauthenticated and has no claims or scopes."""
    assert not ANONYMOUS
    assert not ANONYMOUS.is_authenticated
    assert ANONYMOUS.subject is None
    assert ANONYMOUS.display_name == ""
    assert ANONYMOUS.identity == ""
    assert dict(ANONYMOUS.claims) == {}
    assert ANONYMOUS.scopes == frozenset()
    assert ANONYMOUS.token is None
    assert repr(ANONYMOUS) == "Identity(anonymous)"


def test_authenticated_identity() -> None:
    """A subject makes the identity truthy, with Starlette's display_name and identity."""
    identity = Identity("alice", {"sub": "alice", "n": 1}, ["write", "read"], token="t.t.t")
    assert identity
    assert identity.is_authenticated
    assert identity.display_name == "alice"
    assert identity.identity == "alice"
    assert identity.scopes == frozenset({"read", "write"})
    assert identity.has_scopes("read")
    assert identity.has_scopes("read", "write")
    assert not identity.has_scopes("read", "admin")
    assert repr(identity) == "Identity(subject='alice', scopes=['read', 'write'])"
    assert "t.t.t" not in repr(identity)


def test_claims_and_header_are_read_only_copies() -> None:
    """claims and header cannot be changed, and do not follow the caller's dict."""
    source = {"sub": "alice"}
    identity = Identity("alice", source, header={"alg": "HS256"})
    source["sub"] = "mallory"
    assert identity.claims["sub"] == "alice"
    with pytest.raises(TypeError):
        identity.claims["sub"] = "mallory"  # type: ignore[index]
    with pytest.raises(TypeError):
        identity.header["alg"] = "none"  # type: ignore[index]


def test_has_starlette_base_user_shape() -> None:
    """Every public member of Starlette's BaseUser exists on Identity with the same kind."""
    from starlette.authentication import BaseUser

    members = [name for name in vars(BaseUser) if not name.startswith("_")]
    assert members
    for name in members:
        assert isinstance(getattr(Identity, name), property), name


def test_credentials() -> None:
    """Credentials carry a sorted scope list, like Starlette's AuthCredentials."""
    credentials = Credentials({"write", "read"})
    assert credentials.scopes == ["read", "write"]
    assert repr(credentials) == "Credentials(scopes=['read', 'write'])"
    assert Credentials().scopes == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("read write", frozenset({"read", "write"}), id="space-delimited"),
        pytest.param(" read  write ", frozenset({"read", "write"}), id="extra-spaces"),
        pytest.param("", frozenset(), id="empty-string"),
        pytest.param(["read", "write"], frozenset({"read", "write"}), id="list"),
        pytest.param([], frozenset(), id="empty-list"),
        pytest.param(5, None, id="number"),
        pytest.param(["read", 5], None, id="mixed-list"),
        pytest.param({"read": True}, None, id="object"),
        pytest.param(None, None, id="null"),
    ],
)
def test_parse_scopes(value: object, expected: frozenset[str] | None) -> None:
    """Scopes come from a space-delimited string or a list of strings; nothing else."""
    assert parse_scopes(value) == expected
