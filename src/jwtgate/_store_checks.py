"""The check of a Redis store URL (id E110), part of the settings checks
(:mod:`jwtgate._checks`): the store schemes jwtgate knows, and whether a
``redis://``, ``redis+cluster://`` or ``redis+sentinel://`` URL can work at all
(:func:`jwtgate.stores._redis_connect.parse` says what is wrong with it), so a
URL that could only fail later is refused at startup.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ._problems import Report
from .stores._redis_connect import SCHEMES as REDIS_SCHEMES
from .stores._redis_connect import parse

__all__ = ["STORE_SCHEMES", "StoreChecks"]

STORE_SCHEMES = ("memory", "sqlite", *sorted(REDIS_SCHEMES), "django")


class StoreChecks(Report):
    """The Redis part of the ``store`` check, adding to the report."""

    def check_redis_url(self, value: str) -> str | None:
        """``value``, or None (and ``jwtgate.E110``) for a Redis URL that cannot work."""
        if urlsplit(value).scheme not in REDIS_SCHEMES:
            return value
        try:
            parse(value, "jwtgate:")
        except ValueError as exc:
            self.add(
                "E110",
                "store",
                f"{self.ref('store')} is not a usable Redis URL: {exc}.",
                "See docs/stores.md: 'redis://host:6379/0', "
                "'redis+cluster://host:7000,host:7001' or "
                "'redis+sentinel://host:26379,host:26380/service/0'.",
            )
            return None
        return value
