"""What a Gate reads from a request, so an adapter's reader fetches only that."""

from __future__ import annotations

from typing import NamedTuple, Protocol

__all__ = ["Reads", "reads_everything"]


class Reads(Protocol):
    """What a Gate reads from a request, so an adapter's reader fetches only that."""

    @property
    def header_bytes(self) -> bytes:
        """The token header's name, lower-case, as ASGI spells header names."""

    @property
    def header_key(self) -> str:
        """The token header's CGI environ key (``X-Token`` is ``HTTP_X_TOKEN``)."""

    @property
    def reads_cookie(self) -> bool:
        """Whether tokens come from a cookie (the ``Cookie`` header is read)."""

    @property
    def reads_query(self) -> bool:
        """Whether tokens come from the query string."""

    @property
    def judges_paths(self) -> bool:
        """Whether paths decide anything, so the raw path is read too."""

    @property
    def reads_dpop(self) -> bool:
        """Whether DPoP is on, so the ``DPoP`` header and the request's URL are read."""


class _ReadsEverything(NamedTuple):
    header_bytes: bytes
    header_key: str
    reads_cookie: bool = True
    reads_query: bool = True
    judges_paths: bool = True
    reads_dpop: bool = True


def reads_everything(header_name: str = "authorization") -> Reads:
    """A :class:`Reads` asking for every field, with ``header_name`` as the token header."""
    name = header_name.lower()
    return _ReadsEverything(name.encode("latin-1"), "HTTP_" + name.upper().replace("-", "_"))
