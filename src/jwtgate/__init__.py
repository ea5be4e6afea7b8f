"""jwtgate: JWT bearer authentication for ASGI and WSGI apps, correct by default.

``import jwtgate`` loads only the framework-neutral core (PyJWT, cryptography and
anyio); the framework adapters live in ``jwtgate.asgi``, ``jwtgate.wsgi`` and
``jwtgate.contrib.*`` and are imported only when you import them.
"""

from __future__ import annotations

from . import errors
from ._version import __version__
from .config import Rule, Settings
from .errors import ConfigurationError, JWTGateError
from .gate import Gate, RequestInfo
from .http import Rejection
from .identity import ANONYMOUS, Credentials, Identity
from .issue import Issuer
from .sessions import AsyncSessions, Sessions, TokenPair
from .verify import Verifier

__all__ = [
    "ANONYMOUS",
    "AsyncSessions",
    "ConfigurationError",
    "Credentials",
    "Gate",
    "Identity",
    "Issuer",
    "JWTGateError",
    "Rejection",
    "RequestInfo",
    "Rule",
    "Sessions",
    "Settings",
    "TokenPair",
    "Verifier",
    "__version__",
    "errors",
]
