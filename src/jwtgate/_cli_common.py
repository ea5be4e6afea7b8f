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
    "shown",
    "text_arguments",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4


class UsageError(Exception):
    """A problem with the command line or its files (exit code 2)."""


def text_arguments(args: object, names: tuple[str, ...] = ("subject", "session_id", "jti")) -> None:
    """Refuse (a usage error) a subject or an id that is not UTF-8 text: such bytes reach
    Python as lone surrogates, which no store can keep (a traceback, before)."""
    for name in names:
        value = getattr(args, name, None)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise UsageError(f"the {name} {value!r} is not valid UTF-8") from None


def shown(value: str) -> str:
    """``value`` for a terminal: as it is when printable, else quoted with its escapes (a
    control character in an id or a user agent must not start a line or move the cursor)."""
    return value if value.isprintable() else repr(value)


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
