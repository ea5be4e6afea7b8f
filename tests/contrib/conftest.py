"""Fixtures of the framework tests (the test Django project is set up in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


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
