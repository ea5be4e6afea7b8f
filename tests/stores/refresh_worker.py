"""One process of the concurrent-refresh test (test_concurrent_refresh.py).

Run as ``python refresh_worker.py CONFIG_JSON``: sets up the store (and Django, for
a ``django://`` store, with the database entry given), connects, prints
``ready``, waits for a line on stdin, refreshes the refresh token once and
prints the outcome: ``ok`` or the refusal's class name.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def setup_django(database: dict[str, Any]) -> None:
    import django
    from django.conf import settings

    if database["ENGINE"].endswith("mysql"):
        import pymysql

        pymysql.install_as_MySQLdb()
    # CONN_MAX_AGE None: the connection made before "ready" is the one the refresh uses.
    settings.configure(
        DATABASES={"default": {**database, "CONN_MAX_AGE": None}},
        INSTALLED_APPS=["jwtgate.contrib.django_store"],
        USE_TZ=True,
    )
    django.setup()


def main() -> None:
    config = json.loads(sys.argv[1])
    if config.get("django_database"):
        setup_django(config["django_database"])
    from jwtgate import Sessions
    from jwtgate.errors import JWTGateError

    with Sessions({**config["settings"], "store": config["store"]}) as sessions:
        sessions.store.is_revoked("warm-up", None, None, None)  # connect before the start
        print("ready", flush=True)
        sys.stdin.readline()
        try:
            sessions.refresh(config["refresh_token"])
        except JWTGateError as exc:
            print(type(exc).__name__, flush=True)
        else:
            print("ok", flush=True)
    if config.get("django_database"):
        from django.db import connections

        connections.close_all()


if __name__ == "__main__":
    main()
