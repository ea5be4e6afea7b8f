"""jwtgate.stores._storable: how the stores with limited text columns keep any string."""

from __future__ import annotations

import pytest

from jwtgate.stores._storable import MARK, Stored, as_read_back, storable

TRICKY = [
    "alice",
    "alice ",
    "Alice",
    "",
    " ",
    "a" * 255,
    "a" * 256,
    "nul\x00",
    "\x01",
    "\x01sha256:" + "0" * 64,
    "\x01sha256:" + "0" * 63,
    "lone \ud800",
    "ünïcödé",
    "\U0001f600",
]


@pytest.mark.parametrize("value", ["alice", "ünïcödé", "a" * 255, "", "x y", "\U0001f600"])
def test_a_value_that_fits_is_kept_as_itself(value: str) -> None:
    assert storable(value) == value


@pytest.mark.parametrize("value", TRICKY)
def test_what_is_kept_fits_every_limited_column(value: str) -> None:
    kept = storable(value)
    assert len(kept) <= 255 and "\x00" not in kept and not kept.endswith(" ")
    kept.encode("utf-8")  # no lone surrogate left
    assert storable(Stored(kept)) == kept  # read back from the store, it goes in unchanged
    assert type(storable(Stored(kept))) is str


def test_distinct_values_stay_distinct() -> None:
    kept = [storable(value) for value in TRICKY]
    assert len(set(kept)) == len(TRICKY)
    assert storable("alice ").startswith(MARK) and storable("a" * 256).startswith(MARK)


def test_a_given_value_spelling_a_digest_is_not_taken_for_one() -> None:
    """Only a value read back from the store passes as a digest: a subject that merely
    spells another subject's digest is a different subject."""
    digest = storable("x" * 300)
    assert storable(digest) != digest
    assert storable(Stored(digest)) == digest


def test_an_operator_pasting_a_listed_digest_gets_it_as_read_back() -> None:
    digest = storable("x" * 300)
    assert type(as_read_back(digest)) is Stored and storable(as_read_back(digest)) == digest
    for other in ("alice", MARK + "z" * 64, MARK + "0" * 63, digest + "0"):
        assert type(as_read_back(other)) is str
