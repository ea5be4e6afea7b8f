"""The field table is the one source of the settings: defaults, checks, the reference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jwtgate._fields import FIELDS, Field
from jwtgate.config import DEFAULTS, Settings

SETTINGS_MD = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def sections() -> dict[str, tuple[str, str]]:
    """Each ``### `name` `` section of docs/settings.md: its first bullets and its
    prose, whitespace collapsed."""
    text = SETTINGS_MD.read_text(encoding="utf-8").split("\n## Problem ids")[0]
    parts = re.split(r"^### `(\w+)`$", text, flags=re.M)
    found = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        bullets, _, prose = body.split("\n## ")[0].strip().partition("\n\n")
        found[name] = (" ".join(bullets.split()), " ".join(prose.split()))
    return found


def test_the_reference_lists_every_field_in_table_order() -> None:
    assert list(sections()) == [f.name for f in FIELDS]


@pytest.mark.parametrize("spec", FIELDS, ids=lambda f: f.name)
def test_the_reference_shows_the_type_default_and_doc_line_of_the_table(spec: Field) -> None:
    bullets, prose = sections()[spec.name]
    match = re.match(r"- \*\*type\*\*: (.*?) · \*\*default\*\*: (.*?)(?: · | - \*\*|$)", bullets)
    assert match, bullets
    assert match.group(1) == spec.type_text
    assert match.group(2).split(" (")[0] == spec.default_text
    assert spec.doc in prose


def test_defaults_come_from_the_table() -> None:
    assert {f.name: f.default for f in FIELDS} == DEFAULTS
    settings = Settings.from_dict({"secret": "x" * 32})
    for spec in FIELDS:
        if spec.kind in ("bool", "int", "number", "str", "choice") and hasattr(settings, spec.name):
            assert getattr(settings, spec.name) == spec.default, spec.name


def test_no_default_is_written_twice() -> None:
    """The remote-key options and the Settings' cache fields take their defaults from
    the table, so a default changed there changes everywhere."""
    import dataclasses
    import inspect

    from jwtgate._remote import JWKSOptions
    from jwtgate.stores import open_feed

    options = JWKSOptions()
    pairs = {
        "cache_ttl": "jwks_cache_ttl",
        "cache_ttl_min": "jwks_cache_ttl_min",
        "cache_ttl_max": "jwks_cache_ttl_max",
        "refetch_interval": "jwks_refetch_interval",
        "fetch_timeout": "jwks_fetch_timeout",
        "max_stale": "jwks_max_stale",
        "max_bytes": "jwks_max_bytes",
        "allow_insecure_url": "allow_insecure_jwks_url",
        "allow_hmac": "allow_hmac_jwks",
        "redirects": "jwks_redirects",
    }
    for option, setting in pairs.items():
        assert getattr(options, option) == DEFAULTS[setting], option
    for field in dataclasses.fields(Settings):
        if field.name in DEFAULTS and field.default is not dataclasses.MISSING:
            assert field.default == DEFAULTS[field.name], field.name
    interval = inspect.signature(open_feed).parameters["interval"].default
    assert interval == DEFAULTS["revocation_poll_interval"]


def test_every_field_has_a_doc_line_and_a_known_kind() -> None:
    kinds = {"bool", "int", "number", "str", "list", "choice", "custom"}
    for spec in FIELDS:
        assert spec.kind in kinds and spec.doc, spec.name
        if spec.kind in ("int", "number"):
            assert spec.low is not None and spec.high is not None and spec.problem != "E003"
