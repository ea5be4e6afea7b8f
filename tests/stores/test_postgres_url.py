"""PostgreSQL store URLs: what jwtgate reads from them, and the settings problems
(E100 to E102) and warnings (W040, W041) a URL that cannot or should not work gets."""

from __future__ import annotations

import sys

import pytest

from conftest import SECRET
from jwtgate import Settings
from jwtgate.config import check_settings
from jwtgate.errors import ConfigurationError
from jwtgate.stores._pg_url import parse


def _ids(url: str) -> list[str]:
    return [p.id for p in check_settings({"secret": SECRET, "store": url}, warnings=True)]


def test_options_are_taken_out_and_the_rest_is_libpq_s() -> None:
    """schema, timeout and pool_size are jwtgate's; every other parameter reaches libpq."""
    target = parse(
        "postgresql://app@db:6543/main?schema=auth&timeout=2.5&pool_size=4&sslmode=require"
    )
    assert target.conninfo == "postgresql://app@db:6543/main?sslmode=require"
    assert (target.schema, target.timeout, target.pool_size) == ("auth", 2.5, 4)
    assert target.channel == "auth_changes"
    defaults = parse("postgres://localhost/main")
    assert (defaults.schema, defaults.timeout, defaults.pool_size) == ("jwtgate", None, 10)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql://h/db?schema=Auth", id="schema-upper-case"),
        pytest.param("postgresql://h/db?schema=a;drop", id="schema-not-identifier"),
        pytest.param("postgresql://h/db?timeout=0", id="timeout-zero"),
        pytest.param("postgresql://h/db?timeout=soon", id="timeout-word"),
        pytest.param("postgresql://h/db?pool_size=0", id="pool-empty"),
        pytest.param("postgresql://h/db?pool_size=2.5", id="pool-fraction"),
        pytest.param("postgresql://h:port/db", id="port-word"),
    ],
)
def test_e100_a_url_jwtgate_cannot_use(url: str) -> None:
    """Options out of range, a schema that is not a plain identifier, a bad port: E100."""
    assert _ids(url) == ["jwtgate.E100"]
    with pytest.raises(ConfigurationError, match=r"jwtgate\.E100"):
        Settings.from_dict({"secret": SECRET, "store": url})


def test_e101_psycopg_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PostgreSQL URL without psycopg/psycopg_pool installed: E101, with the install hint."""
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, "jwtgate.stores.postgres", raising=False)  # imported anew
    problems = check_settings({"secret": SECRET, "store": "postgresql://localhost/db"})
    assert [p.id for p in problems] == ["jwtgate.E101"]
    assert "jwtgate[postgres]" in problems[0].hint


def test_e102_a_parameter_libpq_refuses() -> None:
    """A misspelt connection parameter is refused at startup, not at the first request."""
    assert _ids("postgresql://localhost/db?schemaa=x") == ["jwtgate.E102"]


def test_w040_w041_a_password_in_the_url_and_no_tls_to_a_remote_server() -> None:
    """A password in the URL (W040) and a remote host without sslmode=require (W041)
    are warnings: the store works, but should not be set up so."""
    assert _ids("postgresql://app:pw@db.internal/main") == ["jwtgate.W040", "jwtgate.W041"]
    assert _ids("postgresql://app@db.internal/main?sslmode=verify-full") == []
    assert _ids("postgresql://app@localhost/main?password=pw") == ["jwtgate.W040"]
    assert _ids("postgresql:///main?host=/run/postgresql") == []


def test_a_good_url_is_kept_as_given() -> None:
    """A usable URL passes the checks unchanged, under either scheme name."""
    for url in ("postgresql://app@127.0.0.1:5432/main?schema=jwt", "postgres://localhost/m"):
        assert Settings.from_dict({"secret": SECRET, "store": url}).store == url
