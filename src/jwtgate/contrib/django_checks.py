"""Django system checks for jwtgate, registered by ``jwtgate.contrib.django.JWTGateConfig``.

* :func:`check_jwtgate_settings`: every problem in ``settings.JWTGATE``, with the
  ids of :class:`~jwtgate.ConfigurationError`; and ``jwtgate.E062`` when the
  URLconf mounts the token views but ``JWTGATE`` names no ``STORE`` for them.
* :func:`check_middleware_order`: ``jwtgate.E090`` when ``LOAD_USER`` is on and
  ``JWTGateMiddleware`` comes before ``AuthenticationMiddleware``.
* :func:`check_store_database`: for a ``django://`` ``STORE``, ``jwtgate.E120``
  when it names no database of ``DATABASES``, ``jwtgate.E121`` when
  ``jwtgate.contrib.django_store`` is not installed, ``jwtgate.W020`` when the
  database is an in-memory SQLite one (each connection would see its own).

Both are importable from ``jwtgate.contrib.django``. This module imports no other
jwtgate Django module (it finds the middleware by its dotted path).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings as django_settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string

from jwtgate.config import Settings, check_settings
from jwtgate.errors import ConfigurationError

__all__ = [
    "check_jwtgate_settings",
    "check_middleware_order",
    "check_store_database",
    "django_store_alias",
]

SETTING = "JWTGATE"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"
JWTGATE_MIDDLEWARE = "jwtgate.contrib.django.JWTGateMiddleware"
TOKEN_VIEW_ATTR = "_jwtgate_token_view"
STORE_APP = "jwtgate.contrib.django_store"


def middleware_position(middleware: list[str], wanted: str) -> int | None:
    """The index of the first entry of ``middleware`` that is ``wanted`` or a subclass."""
    try:
        cls = import_string(wanted)
    except ImportError:
        return None
    for index, path in enumerate(middleware):
        if path == wanted:
            return index
        try:
            found = import_string(path)
        except ImportError:
            continue
        if isinstance(found, type) and issubclass(found, cls):
            return index
    return None


def check_middleware_order(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Django system check: with ``LOAD_USER`` on, jwtgate's middleware must come after
    ``AuthenticationMiddleware``, which would otherwise replace ``request.user``."""
    raw = getattr(django_settings, SETTING, None)
    if not isinstance(raw, Mapping) or not any(
        isinstance(key, str) and key.lower() == "load_user" and value is True
        for key, value in raw.items()
    ):
        return []
    middleware = list(getattr(django_settings, "MIDDLEWARE", None) or ())
    ours = middleware_position(middleware, JWTGATE_MIDDLEWARE)
    auth = middleware_position(middleware, AUTH_MIDDLEWARE)
    if ours is None or auth is None or ours > auth:
        return []
    return [
        checks.Error(
            f"{middleware[ours]!r} comes before {middleware[auth]!r} in MIDDLEWARE while "
            f"{SETTING}['LOAD_USER'] is on: AuthenticationMiddleware then replaces "
            "request.user, so a valid token's user is lost (the request looks anonymous).",
            hint=f"Move {JWTGATE_MIDDLEWARE!r} after {AUTH_MIDDLEWARE!r} in MIDDLEWARE.",
            id="jwtgate.E090",
        )
    ]


def _mounts_token_views(patterns: list[URLPattern | URLResolver]) -> bool:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if _mounts_token_views(pattern.url_patterns):
                return True
        elif getattr(pattern.callback, TOKEN_VIEW_ATTR, False):
            return True
    return False


def _token_views_without_store() -> list[checks.CheckMessage]:
    try:
        settings = Settings.from_dict(getattr(django_settings, SETTING, None))
    except ConfigurationError:
        return []  # reported by check_settings
    if settings.store is not None:
        return []
    try:
        patterns = get_resolver().url_patterns
    except (ImportError, ImproperlyConfigured):  # Django's own URL checks report it
        return []
    if not _mounts_token_views(patterns):
        return []
    return [
        checks.Error(
            f"The URLconf mounts jwtgate's token views, and {SETTING} names no STORE: "
            "their sessions need one.",
            hint=f"Set {SETTING}['STORE'], e.g. 'sqlite:////var/lib/app/jwtgate.db' "
            "or 'redis://localhost:6379/0' (docs/stores.md).",
            id="jwtgate.E062",
        )
    ]


def check_jwtgate_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Django system check: every problem in ``settings.JWTGATE``, with jwtgate's ids."""
    problems = check_settings(getattr(django_settings, SETTING, None), name=SETTING, warnings=True)
    return [
        (checks.Warning if problem.id.startswith("jwtgate.W") else checks.Error)(
            problem.message, hint=problem.hint or None, id=problem.id
        )
        for problem in problems
    ] + _token_views_without_store()


def django_store_alias() -> str | None:
    """The database alias of a ``django://`` STORE in ``settings.JWTGATE``, else None."""
    raw = getattr(django_settings, SETTING, None)
    if not isinstance(raw, Mapping):
        return None
    for key, value in raw.items():
        if isinstance(key, str) and key.lower() == "store" and isinstance(value, str):
            parts = urlsplit(value)
            if parts.scheme == "django":
                return parts.netloc or DEFAULT_DB_ALIAS
    return None


def _in_memory_sqlite(database: Mapping[str, Any]) -> bool:
    # Django's own test (sqlite3 DatabaseCreation.is_in_memory_db).
    name = str(database.get("NAME", ""))
    engine = str(database.get("ENGINE", ""))
    return engine.endswith("sqlite3") and (name == ":memory:" or "mode=memory" in name)


def check_store_database(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Django system check: a ``django://`` STORE names a database and the installed app."""
    alias = django_store_alias()
    if alias is None:
        return []
    found: list[checks.CheckMessage] = []
    databases = getattr(django_settings, "DATABASES", None) or {}
    if alias not in databases:
        found.append(
            checks.Error(
                f"{SETTING}['STORE'] names the database {alias!r}, which is not in DATABASES.",
                hint=f"Use 'django://' for the default database or one of: "
                f"{', '.join(repr(name) for name in databases) or 'none defined'}.",
                id="jwtgate.E120",
            )
        )
    elif _in_memory_sqlite(databases[alias]):
        found.append(
            checks.Warning(
                f"{SETTING}['STORE'] keeps sessions in the in-memory SQLite database "
                f"{alias!r}: every connection (each thread, each process) sees its own.",
                hint="Use a database file, PostgreSQL or MySQL for the Django store.",
                id="jwtgate.W020",
            )
        )
    if not apps.is_installed(STORE_APP):
        found.append(
            checks.Error(
                f"{SETTING}['STORE'] is a Django store, and {STORE_APP!r} is not in "
                "INSTALLED_APPS, so its tables do not exist.",
                hint=f"Add {STORE_APP!r} to INSTALLED_APPS and run 'manage.py migrate'.",
                id="jwtgate.E121",
            )
        )
    return found
