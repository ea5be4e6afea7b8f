"""jwtgate.stores._storable: how the stores with limited text columns keep any string."""

from __future__ import annotations

import pytest

from jwtgate.stores._storable import MARK, storable

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
    assert storable(kept) == kept  # a digest read back goes in again unchanged


def test_distinct_values_stay_distinct() -> None:
    kept = [storable(value) for value in TRICKY]
    assert len(set(kept)) == len(TRICKY)
    assert storable("alice ").startswith(MARK) and storable("a" * 256).startswith(MARK)
