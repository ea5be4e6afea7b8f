"""The claims table (``claim_once``: DPoP proof replay prevention)."""

from __future__ import annotations

from django.db import migrations, models

import jwtgate.contrib.django_store.fields


class Migration(migrations.Migration):
    dependencies = [("jwtgate_store", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Claim",
            fields=[
                (
                    "key",
                    jwtgate.contrib.django_store.fields.IdField(
                        max_length=255, primary_key=True, serialize=False
                    ),
                ),
                ("expires", models.FloatField(db_index=True)),
            ],
            options={
                "db_table": "jwtgate_claim",
            },
        ),
    ]
