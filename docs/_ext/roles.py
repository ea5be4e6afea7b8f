"""Sphinx cross-reference roles rendered as inline code (no dependency: tests import it).

jwtgate's docstrings use Sphinx roles (``:class:`~jwtgate.Identity```,
``:meth:`Gate.decide <jwtgate.Gate.decide>```), which read well in the source and in
``help()``; the Markdown renderer of the docs site does not know them and would print
them raw. :func:`plain` turns each into inline code showing what Sphinx would show:
the explicit title, or the last dotted part after ``~``, or the name as written.
"""

from __future__ import annotations

import re

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|exc|data|obj|const):`([^`]+)`")
RAW = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|exc|data|obj|const):`")


def _shown(target: str) -> str:
    titled = re.fullmatch(r"(.+?)\s*<[^>]+>", target)
    if titled:
        return titled.group(1)
    if target.startswith("~"):
        return target[1:].rsplit(".", 1)[-1]
    return target


def plain(text: str) -> str:
    """``text`` with every cross-reference role replaced by inline code."""
    return ROLE.sub(lambda match: f"`{_shown(match.group(1))}`", text)
