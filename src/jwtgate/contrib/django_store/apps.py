"""The Django app of the Django ORM store: its label, name and system checks."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

__all__ = ["JWTGateStoreConfig"]


class JWTGateStoreConfig(AppConfig):
    """``jwtgate.contrib.django_store`` in ``INSTALLED_APPS``: models, migrations, admin.

    Its label, ``jwtgate_store``, is not ``jwtgate`` (the label of
    ``jwtgate.contrib.django.JWTGateConfig``), so both apps can be installed.
    """

    name = "jwtgate.contrib.django_store"
    label = "jwtgate_store"
    verbose_name = "jwtgate sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from jwtgate.contrib.django_checks import check_store_database

        checks.register(check_store_database)
