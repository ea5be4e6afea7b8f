"""The verified-token cache's eviction (``_cache.SecondChance``, the CLOCK policy)."""

from __future__ import annotations

import threading

import pytest

from jwtgate._cache import SecondChance


class Value:
    def __init__(self, name: str) -> None:
        self.name = name
        self.used = False


def filled(size: int, *keys: str) -> SecondChance[str, Value]:
    cache: SecondChance[str, Value] = SecondChance(size)
    for key in keys:
        cache.put(key, Value(key))
    return cache


def test_the_oldest_unused_entry_goes_first() -> None:
    cache = filled(3, "a", "b", "c")
    cache.put("d", Value("d"))
    assert list(cache.data) == ["b", "c", "d"]
    assert len(cache) == 3


def test_a_hit_keeps_an_entry_through_the_next_eviction() -> None:
    """A used entry gets one more round: the next oldest unused one goes instead."""
    cache = filled(3, "a", "b", "c")
    hit = cache.get("a")
    assert hit is not None and hit.used
    cache.put("d", Value("d"))
    assert list(cache.data) == ["c", "a", "d"]  # b went; a lost its mark, moved back
    assert not cache.data["a"].used
    cache.put("e", Value("e"))  # a is unused now, but c is older
    assert list(cache.data) == ["a", "d", "e"]


def test_when_every_entry_was_used_the_bound_still_holds() -> None:
    cache = filled(3, "a", "b", "c")
    for key in "abc":
        cache.get(key)
    cache.put("d", Value("d"))
    assert len(cache) == 3
    assert "d" in cache.data


def test_a_miss_is_none_and_marks_nothing() -> None:
    cache = filled(2, "a")
    assert cache.get("x") is None
    assert not cache.data["a"].used


def test_discard_and_clear() -> None:
    cache = filled(3, "a", "b")
    cache.discard("a")
    cache.discard("missing")
    assert list(cache.data) == ["b"]
    cache.clear()
    assert len(cache) == 0


def test_a_zero_size_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SecondChance(0)


def test_threads_hitting_and_inserting_keep_the_bound() -> None:
    """Eight threads inserting and hitting at once: no error, at most size entries after."""
    cache: SecondChance[str, Value] = SecondChance(64)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(3000):
                key = f"k{(offset * 7 + i) % 400}"
                if cache.get(key) is None:
                    cache.put(key, Value(key))
        except BaseException as error:  # pragma: no cover - the assertion reports it
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cache.put("last", Value("last"))
    assert errors == []
    assert len(cache) <= 64
