"""The remote-key options: what ``Settings`` keeps of the ``jwks_*`` keys (a leaf module).

``Settings`` validates these options and holds them; whoever verifies builds the
key source from them (:func:`jwtgate._keysource.key_source_for`). They live here,
with the loopback test the https rule uses, so that ``jwtgate.config`` needs no
network client: :mod:`jwtgate.jwks` re-exports both names.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from ._fields import DEFAULTS

__all__ = ["JWKSOptions", "is_loopback_host", "is_loopback_url"]


@dataclass(frozen=True)
class JWKSOptions:
    """How a remote JWKS is fetched and cached (the ``jwks_*`` settings, validated)."""

    # The defaults are the settings' own, from the one field table.
    cache_ttl: float = DEFAULTS["jwks_cache_ttl"]
    cache_ttl_min: float = DEFAULTS["jwks_cache_ttl_min"]
    cache_ttl_max: float = DEFAULTS["jwks_cache_ttl_max"]
    refetch_interval: float = DEFAULTS["jwks_refetch_interval"]
    fetch_timeout: float = DEFAULTS["jwks_fetch_timeout"]
    max_stale: float = DEFAULTS["jwks_max_stale"]
    max_bytes: int = DEFAULTS["jwks_max_bytes"]
    allow_insecure_url: bool = DEFAULTS["allow_insecure_jwks_url"]
    allow_hmac: bool = DEFAULTS["allow_hmac_jwks"]
    discovery: bool = False  # set when keys come from discovery (no jwks_url)
    redirects: str = DEFAULTS["jwks_redirects"]  # "same-host", "none" or "any"


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host is not None and is_loopback_host(host)
