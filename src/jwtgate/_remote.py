"""Where remote keys may come from: the validated ``jwks_*`` options and the loopback
rule (plain ``http`` is allowed for this machine only). A leaf module: settings
validation reads it without loading the HTTP client."""

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
