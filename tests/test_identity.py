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


def test_identity_attributes_cannot_be_set_or_deleted() -> None:
    """Every attribute of an Identity (the shared anonymous one too) is frozen."""
    identity = Identity("alice", {"sub": "alice"}, ["read"])
    for target in (identity, ANONYMOUS):
        for name in ("subject", "claims", "scopes", "token", "header", "credentials", "extra"):
            with pytest.raises(AttributeError):
                setattr(target, name, "root")
        with pytest.raises(AttributeError):
            del target.subject
    with pytest.raises(AttributeError):
        identity.credentials._scopes = ("admin",)  # type: ignore[misc]
    assert ANONYMOUS.subject is None
    assert not ANONYMOUS.is_authenticated


def test_claims_are_read_only_all_the_way_down() -> None:
    """Nested arrays and objects in claims refuse every change, yet compare like lists and dicts."""
    claims = {"sub": "alice", "roles": ["user"], "org": {"teams": [{"id": 1}]}}
    identity = Identity("alice", claims)
    changes = [
        lambda: identity.claims["roles"].append("admin"),
        lambda: identity.claims["roles"].extend(["admin"]),
        lambda: identity.claims["roles"].__setitem__(0, "admin"),
        lambda: identity.claims["roles"].__iadd__(["admin"]),
        lambda: identity.claims["org"].update(admin=True),
        lambda: identity.claims["org"]["teams"][0].__setitem__("id", 0),
        lambda: identity.claims.pop("sub"),
        lambda: identity.claims.setdefault("admin", True),
        lambda: identity.claims.__ior__({"admin": True}),
        lambda: identity.header.clear(),
    ]
    for change in changes:
        with pytest.raises(TypeError):
            change()
    assert identity.claims == claims
    assert identity.claims["roles"] == ["user"]
    assert isinstance(identity.claims, dict)
    assert isinstance(identity.claims["roles"], list)
    claims["roles"].append("admin")  # the caller's dict is not shared either
    assert identity.claims["roles"] == ["user"]


def test_copies_of_claims_are_plain_and_mutable() -> None:
    """dict(), copy and deepcopy give ordinary containers; json and pickle round-trip."""
    import copy
    import json
    import pickle

    identity = Identity("alice", {"sub": "alice", "roles": ["user"]})
    deep = copy.deepcopy(identity.claims)
    deep["roles"].append("admin")
    assert type(deep) is dict
    assert type(deep["roles"]) is list
    assert type(copy.copy(identity.claims)) is dict
    assert json.loads(json.dumps(identity.claims)) == {"sub": "alice", "roles": ["user"]}
    assert pickle.loads(pickle.dumps(identity.claims)) == identity.claims
    assert identity.claims["roles"] == ["user"]


def test_deeply_nested_claims_do_not_exhaust_the_stack() -> None:
    """Freezing is iterative: arrays nested far past the recursion limit are fine."""
    nested: list[object] = []
    inner = nested
    for _ in range(5000):
        child: list[object] = []
        inner.append(child)
        inner = child
    identity = Identity("alice", {"sub": "alice", "deep": nested})
    with pytest.raises(TypeError):
        identity.claims["deep"][0][0].append(1)


def test_a_request_cannot_change_the_identity_the_next_request_gets() -> None:
    """Through Starlette: mutations tried in one request fail, and the next request of the
    same token (served from the verified-token cache) sees the original identity."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from conftest import SECRET, make_token
    from jwtgate.asgi import JWTGateMiddleware

    refused: list[str] = []

    async def tamper(request: Request) -> JSONResponse:
        identity = request.user
        attempts = {
            "scopes": lambda: setattr(identity, "scopes", identity.scopes | {"admin"}),
            "roles": lambda: (
                identity.claims["roles"].append("admin")
                if "roles" in identity.claims
                else identity.claims.__setitem__("roles", ["admin"])
            ),
            "subject": lambda: setattr(identity, "subject", "root"),
        }
        for name, attempt in attempts.items():
            try:
                attempt()
            except (AttributeError, TypeError):
                refused.append(name)
        return JSONResponse(
            {"subject": identity.subject, "roles": identity.claims.get("roles"),
             "scopes": sorted(identity.scopes), "auth": request.auth.scopes}
        )  # fmt: skip

    app = JWTGateMiddleware(
        Starlette(routes=[Route("/", tamper)]),
        settings={"secret": SECRET, "credentials_required": False},
    )
    token = make_token({"scope": "read", "roles": ["user"]}, now=__import__("time").time())
    with TestClient(app) as client:
        first = client.get("/", headers={"Authorization": f"Bearer {token}"}).json()
        second = client.get("/", headers={"Authorization": f"Bearer {token}"}).json()
        anonymous = client.get("/").json()
        anonymous_again = client.get("/").json()
    expected = {
        "subject": "alice", "roles": ["user"], "scopes": ["read"], "auth": ["authenticated", "read"]
    }  # fmt: skip
    assert first == second == expected
    assert anonymous == anonymous_again == {
        "subject": None, "roles": None, "scopes": [], "auth": []
    }  # fmt: skip
    assert refused == ["scopes", "roles", "subject"] * 4
