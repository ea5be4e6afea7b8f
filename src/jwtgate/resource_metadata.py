"""OAuth 2.0 Protected Resource Metadata (RFC 9728): the document and where it lives.

With the ``resource`` setting (this resource's own URI, the audience its tokens
carry: RFC 8707), jwtgate describes the resource to clients:

- :func:`metadata_document` is the JSON document: ``resource``, the
  ``authorization_servers`` whose tokens are accepted (the ``issuer``, or every
  issuer ``issuers`` can list), ``scopes_supported`` (every scope the ``rules``
  require), ``bearer_methods_supported`` (from ``token_sources``), with DPoP on
  ``dpop_signing_alg_values_supported`` (and ``dpop_bound_access_tokens_required``
  when it is required), and whatever
  the ``resource_metadata`` setting adds or replaces (``resource_name``,
  ``resource_documentation`` …);
- :func:`metadata_path` is where RFC 9728 §3.1 puts it: the well-known path
  ``/.well-known/oauth-protected-resource``, followed by the resource's own path
  when it has one (``https://api.example/mcp`` →
  ``/.well-known/oauth-protected-resource/mcp``);
- every ``WWW-Authenticate: Bearer`` challenge jwtgate sends then carries
  ``resource_metadata="<metadata_url>"`` (RFC 9728 §5.1).

The ASGI and WSGI middlewares answer ``GET``/``HEAD`` on that path (and on the bare
well-known path, where MCP clients look when a challenge names nothing) from their
one shared :class:`~jwtgate.Gate`, without a token and without calling the app.
:func:`metadata_asgi_app` and :func:`metadata_wsgi_app` serve the same document
as standalone apps, for routes that no jwtgate middleware sees
(``jwtgate.contrib.starlette.metadata_routes`` mounts it in Starlette or FastAPI).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._documents import ASGIApp, document_asgi_app, document_wsgi_app
from .config import Settings
from .errors import MetadataAnswered
from .http import Rejection

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = [
    "WELL_KNOWN_PATH",
    "metadata_asgi_app",
    "metadata_document",
    "metadata_path",
    "metadata_paths",
    "metadata_url",
    "metadata_wsgi_app",
]

WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"
"""The well-known path of RFC 9728 §3 (registered in its §8.3)."""

# RFC 9728 §2 names RFC 6750's methods: a cookie is none of them.
_BEARER_METHODS = {"header": "header", "query": "query"}
# How long clients may cache the document (it changes only with a deploy).
_MAX_AGE = 3600


def metadata_path(resource: str) -> str:
    """The path of ``resource``'s metadata: the well-known path, then the resource's
    own path if it has one (RFC 9728 §3.1)."""
    path = urlsplit(resource).path
    return WELL_KNOWN_PATH if path in ("", "/") else WELL_KNOWN_PATH + path


def metadata_url(resource: str) -> str:
    """The absolute URL of ``resource``'s metadata, as challenges name it."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{metadata_path(resource)}"


def metadata_paths(resource: str) -> tuple[str, ...]:
    """Where the middlewares serve the document: :func:`metadata_path`, and the bare
    well-known path too, where MCP clients look when no challenge named the URL."""
    return tuple(dict.fromkeys((metadata_path(resource), WELL_KNOWN_PATH)))


def _settings(settings: Settings | Mapping[str, Any]) -> Settings:
    return settings if isinstance(settings, Settings) else Settings.from_dict(settings)


def metadata_document(settings: Settings | Mapping[str, Any]) -> dict[str, Any]:
    """The RFC 9728 document of ``settings`` (a ``Settings`` or a settings dict).

    Raises ValueError when ``resource`` is not set: there is no resource to describe.
    """
    settings = _settings(settings)
    if settings.resource is None:
        raise ValueError("the protected resource metadata needs the RESOURCE setting")
    document: dict[str, Any] = {"resource": settings.resource}
    servers: list[str] = list(settings.issuer or ())
    for entry in settings.issuers:
        servers += entry.listed_issuers or ()
    if servers:
        document["authorization_servers"] = list(dict.fromkeys(servers))
    scopes = sorted({scope for rule in settings.rules for scope in rule.scopes})
    if scopes:
        document["scopes_supported"] = scopes
    methods = [_BEARER_METHODS[s] for s in settings.token_sources if s in _BEARER_METHODS]
    if methods:
        document["bearer_methods_supported"] = methods
    if settings.dpop != "off":  # RFC 9728 §2: the proof algorithms, and whether bound only
        document["dpop_signing_alg_values_supported"] = list(settings.dpop_algorithms)
        if settings.dpop == "require":
            document["dpop_bound_access_tokens_required"] = True
    document.update(settings.resource_metadata)
    return document


def metadata_response(settings: Settings) -> tuple[bytes, list[tuple[str, str]]]:
    """The document's body and headers, as every server of it sends them."""
    body = json.dumps(metadata_document(settings), separators=(",", ":")).encode()
    headers = [
        ("content-type", "application/json"),
        ("cache-control", f"public, max-age={_MAX_AGE}"),
        ("content-length", str(len(body))),
    ]
    return body, headers


def metadata_answers(settings: Settings) -> tuple[frozenset[str], tuple[Rejection, ...]]:
    """Where the :class:`~jwtgate.Gate` answers the document (:func:`metadata_paths`), and
    its answers to ``GET`` and ``HEAD`` (the same headers, no body for ``HEAD``); no
    paths and no answers without ``resource``."""
    if settings.resource is None:
        return frozenset(), ()
    body, headers = metadata_response(settings)
    return frozenset(metadata_paths(settings.resource)), (
        Rejection(200, tuple(headers), body, MetadataAnswered()),
        Rejection(200, tuple(headers), b"", MetadataAnswered(head=True)),
    )


def metadata_asgi_app(settings: Settings | Mapping[str, Any]) -> ASGIApp:
    """A raw ASGI app answering ``GET``/``HEAD`` with :func:`metadata_document`; mount it
    at :func:`metadata_path` of the ``resource``."""
    return document_asgi_app(*metadata_response(_settings(settings)))


def metadata_wsgi_app(settings: Settings | Mapping[str, Any]) -> WSGIApplication:
    """A WSGI app answering ``GET``/``HEAD`` with :func:`metadata_document`."""
    return document_wsgi_app(*metadata_response(_settings(settings)))
