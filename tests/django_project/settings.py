"""Settings of the test project; the servers started by the tests use them too."""

from __future__ import annotations

import os

# The throwaway token secret of tests/conftest.py (tests check they agree).
SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

SECRET_KEY = "django-insecure-jwtgate-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
ROOT_URLCONF = "django_project.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.sessions",
    "rest_framework",
    "jwtgate.contrib.django.JWTGateConfig",
    "jwtgate.contrib.django_store",
]

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    # The admin's (/admin/ is a public path for jwtgate: the admin logs in with a cookie).
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "jwtgate.contrib.django.JWTGateMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # The real-server tests point this at a file they migrate and fill.
        "NAME": os.environ.get("JWTGATE_TEST_DB", ":memory:"),
    }
}

JWTGATE = {
    "SECRET": SECRET,
    "PUBLIC_PATHS": ["/health", "/api/*", "/admin/*"],  # the API authenticates through DRF
    "RULES": [{"path": "/reports/*", "scopes": ["reports"]}],
    "LOAD_USER": True,
    "STORE": "memory://django-project",  # the token views' sessions
}

if os.environ.get("JWTGATE_TEST_TYPO"):  # for the `django-admin check` test
    JWTGATE["LEEWAYS"] = 30

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["jwtgate.contrib.drf.JWTGateAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

LOGGING = {"version": 1, "disable_existing_loggers": False}
