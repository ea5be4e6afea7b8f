"""The DPoP settings: each problem id (E140-E144) and warning (W030, W031)."""

from __future__ import annotations

import pytest

from jwtgate import Settings
from jwtgate.config import check_settings
from jwtgate.errors import ConfigurationError

SECRET = "s" * 48


def ids(**settings: object) -> list[str]:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_dict({"secret": SECRET, **settings})
    return raised.value.ids


def test_dpop_is_off_by_default_and_takes_three_values() -> None:
    assert Settings.from_dict({"secret": SECRET}).dpop == "off"
    assert Settings.from_dict({"secret": SECRET, "DPOP": "require"}).dpop == "require"
    assert ids(dpop="on") == ["jwtgate.E140"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([], "jwtgate.E141"),
        ("ES256", "jwtgate.E141"),
        (["ES256", 1], "jwtgate.E141"),
        (["none"], "jwtgate.E142"),
        (["HS256"], "jwtgate.E142"),
        (["ES999"], "jwtgate.E142"),
    ],
)
def test_proof_algorithms_are_asymmetric(value: object, problem: str) -> None:
    assert ids(dpop="allow", dpop_algorithms=value) == [problem]


def test_the_algorithms_and_window_are_kept() -> None:
    settings = Settings.from_dict(
        {"secret": SECRET, "dpop": "allow", "dpop_algorithms": ["EdDSA"], "dpop_iat_window": 30}
    )
    assert (settings.dpop_algorithms, settings.dpop_iat_window) == (("EdDSA",), 30)
    assert ids(dpop="allow", dpop_iat_window=0) == ["jwtgate.E143"]
    assert ids(dpop="allow", dpop_iat_window=7200) == ["jwtgate.E143"]


def test_a_nonce_key_is_long_enough_or_named_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ids(dpop="allow", dpop_nonce="short") == ["jwtgate.E144"]
    assert ids(dpop="allow", dpop_nonce=3) == ["jwtgate.E144"]
    monkeypatch.delenv("NONCE_KEY", raising=False)
    assert ids(dpop="allow", dpop_nonce="env:NONCE_KEY") == ["jwtgate.E144"]
    monkeypatch.setenv("NONCE_KEY", "k" * 40)
    settings = Settings.from_dict(
        {"secret": SECRET, "dpop": "allow", "dpop_nonce": "env:NONCE_KEY"}
    )
    assert (settings.dpop_nonce, settings.dpop_nonce_key) == (True, b"k" * 40)
    assert "k" * 40 not in repr(settings)


def test_warnings_for_settings_that_do_nothing_or_split_workers() -> None:
    unused = check_settings({"secret": SECRET, "dpop_iat_window": 30}, warnings=True)
    assert [w.id for w in unused] == ["jwtgate.W030"]
    split = check_settings(
        {"secret": SECRET, "dpop": "allow", "dpop_nonce": True, "store": "redis://127.0.0.1/0"},
        warnings=True,
    )
    assert [w.id for w in split] == ["jwtgate.W031"]
    alone = check_settings({"secret": SECRET, "dpop": "allow", "dpop_nonce": True}, warnings=True)
    assert alone == []
