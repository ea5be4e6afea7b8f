"""A Griffe extension for the API reference: reST roles in docstrings become code
(see ``roles.py``), so the rendered reference shows no raw ``:class:`` text."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import griffe

sys.path.insert(0, str(Path(__file__).parent))
from roles import plain


class Roles(griffe.Extension):
    """Rewrites every docstring of the loaded package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        pending: list[griffe.Object | griffe.Alias] = [pkg]
        seen: set[str] = set()
        while pending:
            obj = pending.pop()
            if obj.is_alias or obj.path in seen:
                continue
            seen.add(obj.path)
            if obj.docstring is not None:
                obj.docstring.value = plain(obj.docstring.value)
            pending.extend(obj.members.values())
