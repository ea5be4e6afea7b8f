"""The column type of every id the store keeps (subjects, session and token ids)."""

from __future__ import annotations

from typing import Any

from django.db import models

__all__ = ["ID_LENGTH", "IdField"]

ID_LENGTH = 255


class IdField(models.CharField):
    """A ``CharField`` of ``ID_LENGTH`` compared byte for byte on every database.

    MySQL and MariaDB compare text case-insensitively by default, so ``Alice`` and
    ``alice`` would be one subject there (logging one out would log out both);
    their columns get the binary collation ``utf8mb4_bin`` instead. PostgreSQL
    and SQLite already compare exactly.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", ID_LENGTH)
        super().__init__(*args, **kwargs)

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        parameters: dict[str, Any] = super().db_parameters(connection)
        if connection.vendor == "mysql":
            parameters["collation"] = "utf8mb4_bin"
        return parameters
