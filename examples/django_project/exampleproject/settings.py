"""Settings of the example project: jwtgate's middleware for every view, DRF's
authentication class for the API."""

from __future__ import annotations

SECRET_KEY = "django-insecure-example-only"  # Django's own key, not jwtgate's
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "exampleproject.urls"
USE_TZ = True
TIME_ZONE = "UTC"
DATABASES: dict[str, dict[str, str]] = {}  # no database: the users are in views.py

INSTALLED_APPS = [
    "django.contrib.auth",  # DRF's anonymous user comes from here
    "django.contrib.contenttypes",
    "rest_framework",
    "jwtgate.contrib.django.JWTGateConfig",  # `manage.py check` validates JWTGATE
]
MIDDLEWARE = [
    "django.middleware.csrf.CsrfViewMiddleware",  # the token views need no CSRF token
    "jwtgate.contrib.django.JWTGateMiddleware",
]

# memory:// lives in this one process; use sqlite:///jwtgate.db or redis:// with
# several worker processes (docs/deploying.md).
JWTGATE = {
    "SECRET": "env:JWTGATE_SECRET",
    "STORE": "memory://example",
    "CHECK_REVOCATION": True,  # a logged-out session's tokens are refused
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["jwtgate.contrib.drf.JWTGateAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
