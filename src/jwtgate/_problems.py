"""Problem collection shared by the settings checks and key loading (a leaf module).

A :class:`Report` knows how the settings dict is named (``JWTGATE``,
``app.config['JWTGATE']``) and its raw, lower-cased keys; it collects problems
(``jwtgate.E…``) and warnings (``jwtgate.W…``) instead of raising, so that every
problem is reported at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import Problem

__all__ = ["Report", "describe", "number_in"]


class Report:
    """Problems and warnings about one settings dict, each naming its key."""

    def __init__(self, raw: Mapping[str, Any], name: str) -> None:
        self.raw = raw
        self.name = name
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def ref(self, key: str) -> str:
        """How messages name a key: ``JWTGATE['LEEWAY']``."""
        return f"{self.name}['{key.upper()}']"

    def add(self, id_: str, key: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(f"jwtgate.{id_}", key.upper(), message, hint))

    def warn(self, id_: str, key: str, message: str, hint: str = "") -> None:
        self.warnings.append(Problem(f"jwtgate.{id_}", key.upper(), message, hint))

    def type_error(self, key: str, expected: str, hint: str = "") -> None:
        message = f"{self.ref(key)} should be {expected}, not {describe(self.raw.get(key))}."
        self.add("E003", key, message, hint)


# Words a string may hold in place of a number or a flag: shown in the message, as
# no secret looks like them. Any other string is only named "a string".
_PLAIN_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null"})


def describe(value: object) -> str:
    """A wrong value as a message names it: ``the string "30"``, ``a list``, ``None``."""
    if isinstance(value, str):
        plain = value.strip().lower() in _PLAIN_WORDS or number_in(value) is not None
        if plain and len(value) <= 24:
            return f'the string "{value}"'
        return "a string"
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def number_in(text: str) -> int | float | None:
    """The number a string spells (``"30"``, ``" 2.5 "``), or None."""
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    written_whole = number.is_integer() and not any(c in text for c in ".eE")
    return int(number) if written_whole else number
