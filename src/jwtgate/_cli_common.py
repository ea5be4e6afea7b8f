"""What every ``jwtgate`` command shares: exit codes, usage errors, reading a settings
file, and human-readable times (a leaf of the CLI modules)."""

from __future__ import annotations

import json
import runpy
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "UsageError",
    "describe_time",
    "human_duration",
    "load_settings_file",
    "printable",
    "refuse_undecodable",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4


class UsageError(Exception):
    """A problem with the command line or its files (exit code 2)."""


def refuse_undecodable(values: Mapping[str, object], paths: frozenset[str]) -> None:
    """Raise UsageError for an argument the locale could not decode: Python keeps such
    bytes as lone surrogates, which no store and no JSON encoder accepts. The
    arguments named in ``paths`` are file names, which may hold any bytes."""
    for name, value in values.items():
        if name in paths:
            continue
        for text in value if isinstance(value, list) else [value]:  # --claim, repeated
            if not isinstance(text, str):
                continue
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise UsageError(
                    f"the {name.replace('_', ' ')} argument is not valid UTF-8"
                ) from None


def printable(text: str) -> str:
    """``text`` as is when every character prints, else quoted with escapes, so an
    argument or a stored value cannot start a line of its own in the output."""
    return text if text.isprintable() else repr(text)


# -- settings files --------------------------------------------------------------


def load_settings_file(path: str) -> dict[str, Any]:
    """Read a settings dict from JSON, TOML or a Python module (its ``JWTGATE``)."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path}: no such file")
    suffix = file.suffix.lower()
    data: object
    try:
        if suffix == ".py":
            data = _run_settings_module(file)
        elif suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                raise UsageError("TOML settings need Python 3.11 or newer; use JSON") from None
            data = tomllib.loads(file.read_text())  # its errors name the line and column
        else:
            data = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise UsageError(f"{path}: not valid JSON at {where}: {exc.msg}") from exc
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{path}: cannot be read as settings ({type(exc).__name__}: {exc})"
        ) from exc
    if isinstance(data, Mapping):
        for table in ("jwtgate", "JWTGATE"):
            if isinstance(data.get(table), Mapping):
                data = data[table]
                break
    if not isinstance(data, Mapping):
        raise UsageError(f"{path}: settings should be a JSON/TOML object or a JWTGATE dict")
    return {key: _anchored(value, file.parent) for key, value in data.items()}


def _anchored(value: object, folder: Path) -> Any:
    """A relative ``file:PATH`` in a settings file names a file beside it, not one in
    whatever directory the command runs from (also inside a dict of keys by id)."""
    if isinstance(value, str) and value.startswith("file:"):
        target = Path(value[len("file:") :]).expanduser()
        return value if target.is_absolute() else f"file:{(folder / target).resolve()}"
    if isinstance(value, Mapping):
        return {k: _anchored(v, folder) for k, v in value.items()}
    return value


def _run_settings_module(file: Path) -> object:
    """A Python settings module's ``JWTGATE``; whatever running it raises is one line."""
    try:
        namespace = runpy.run_path(str(file))
    except SyntaxError as exc:
        raise UsageError(f"{file}: not valid Python at line {exc.lineno}: {exc.msg}") from exc
    except Exception as exc:  # the user's module: say what it raised, in one line
        raise UsageError(f"{file}: running it raised {type(exc).__name__}: {exc}") from exc
    data = namespace.get("JWTGATE")
    if data is None:
        raise UsageError(f"{file}: defines no JWTGATE dict")
    return data


# -- human-readable times --------------------------------------------------------


def human_duration(seconds: float) -> str:
    """``4 min 12 s``, ``2 h 5 min``, ``3 d 4 h``: the two largest units."""
    seconds = abs(int(seconds))
    units = [("d", 86400), ("h", 3600), ("min", 60), ("s", 1)]
    parts: list[str] = []
    for name, size in units:
        if seconds >= size or (name == "s" and not parts):
            amount, seconds = divmod(seconds, size)
            parts.append(f"{amount} {name}")
        if len(parts) == 2:
            break
    return " ".join(parts)


def describe_time(value: object, now: float) -> str:
    """A NumericDate as ISO time plus how far from now it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value!r} (not a NumericDate)"
    try:
        iso = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))
    except (OverflowError, OSError, ValueError):
        return f"{value!r} (out of range)"
    delta = value - now
    when = f"in {human_duration(delta)}" if delta > 0 else f"{human_duration(delta)} ago"
    return f"{iso} ({when})"
