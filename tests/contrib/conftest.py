"""Configure the test Django project (tests/django_project) when Django is installed.

pytest-django provides the database and client fixtures; the settings module is
set here rather than in the ini so that runs without Django (a Flask-only tox
env) are not affected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

try:
    import django
except ImportError:  # a Flask-only environment
    django = None

if django is not None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
    django.setup()


@pytest.fixture(autouse=True, scope="session")
def _close_django_connections() -> Iterator[None]:
    """Close Django's database connections after the session (no ResourceWarning at exit)."""
    yield
    if django is not None:
        from django.db import connections

        connections.close_all()


@pytest.fixture
def calls() -> Iterator[list[str]]:
    """The names of the Django project's views that ran during the test."""
    from django_project import views

    views.CALLS.clear()
    yield views.CALLS
    views.CALLS.clear()


@pytest.fixture
def users(django_user_model: Any) -> None:
    """Django users alice (active) and carol (inactive)."""
    django_user_model.objects.create_user("alice", "alice@example.com")
    django_user_model.objects.create_user("carol", "carol@example.com", is_active=False)
