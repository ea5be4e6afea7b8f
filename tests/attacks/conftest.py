"""Set up the test Django project for the Django and DRF runs of the attack table."""

from __future__ import annotations

import os

try:
    import django
except ImportError:  # a Flask-only environment: the Django runs skip
    django = None

if django is not None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
    django.setup()
