#!/usr/bin/env python
"""A Django project with a DRF view behind jwtgate: a login route and protected ones.

Run it from the repository root (after ``pip install "jwtgate[drf]"``)::

    JWTGATE_SECRET=dev-secret-change-me-0123456789ab \\
        python examples/django_project/manage.py runserver

Any 32 or more random bytes make a secret. Then, in another terminal::

    curl -s -X POST localhost:8000/auth/token -H 'Content-Type: application/json' \\
         -d '{"username": "alice", "password": "wonderland"}'
    curl -s localhost:8000/api/me -H "Authorization: Bearer <access_token>"
    curl -s localhost:8000/hello -H "Authorization: Bearer <access_token>"
    curl -s -X POST localhost:8000/auth/logout -H "Authorization: Bearer <access_token>"

The settings are in exampleproject/settings.py (``JWTGATE`` and ``REST_FRAMEWORK``).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
