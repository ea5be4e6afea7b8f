"""The key source of a ``Settings``: built by whoever verifies, once per Settings object.

``Settings`` only holds what the keys are (``keys``, and ``jwks_options`` for a
remote JWKS). The first Verifier (or Gate, or middleware) asks
:func:`key_source_for`, which builds the source then; every later one built from
the same Settings object gets that same source, so they share one key cache and
one fetch schedule. :mod:`jwtgate.jwks` is imported only when a remote JWKS is
configured, so ``import jwtgate`` stays light.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Settings
    from .keys import KeySource

__all__ = ["key_source_for"]

_building = threading.Lock()


def key_source_for(settings: Settings) -> KeySource:
    """The one key source of ``settings``: its static keys, or its remote JWKS source."""
    if settings.jwks_options is None:
        return settings.keys
    built = settings.built_sources
    if "remote" not in built:
        with _building:  # two Verifiers built at once still share one source
            if "remote" not in built:
                from .jwks import JWKSKeys

                built["remote"] = JWKSKeys.from_settings(settings)
    return built["remote"]
