"""The Django ORM store: jwtgate's sessions and revocations in the project's database.

A Django app. Add it to ``INSTALLED_APPS``, run ``manage.py migrate``, and name
the database in ``JWTGATE["STORE"]``::

    INSTALLED_APPS = [..., "jwtgate.contrib.django.JWTGateConfig", "jwtgate.contrib.django_store"]
    JWTGATE = {"SECRET": "env:JWT_SECRET", "STORE": "django://"}  # or "django://<alias>"

It works on every database Django supports (PostgreSQL, MySQL/MariaDB, SQLite),
with the store contract of every other backend: atomic single-use rotation with
reuse detection (:mod:`jwtgate.contrib.django_store.store`), expired rows purged,
a database failure answered as ``on_store_error`` says. The Django admin lists
the live sessions by user, searches them, and revokes one or logs a user out
everywhere (:mod:`jwtgate.contrib.django_store.admin`).

The app's label is ``jwtgate_store``; its tables are ``jwtgate_session``,
``jwtgate_revoked_jti``, ``jwtgate_logout_mark`` and ``jwtgate_change``.
"""
