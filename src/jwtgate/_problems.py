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

__all__ = ["Report"]


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

    def type_error(self, key: str, expected: str) -> None:
        value = self.raw.get(key)
        self.add("E003", key, f"{self.ref(key)} should be {expected}, not {type(value).__name__}.")
