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

__all__ = ["JWKSOptions", "is_loopback_host", "is_loopback_url"]


@dataclass(frozen=True)
class JWKSOptions:
    """How a remote JWKS is fetched and cached (the ``jwks_*`` settings, validated)."""

    cache_ttl: float = 300
    cache_ttl_min: float = 60
    cache_ttl_max: float = 86400
    refetch_interval: float = 30
    fetch_timeout: float = 5
    max_stale: float = 21600
    max_bytes: int = 262144
    allow_insecure_url: bool = False
    allow_hmac: bool = False
    discovery: bool = False
    redirects: str = "same-host"  # or "none", "any" (jwks_redirects)


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
