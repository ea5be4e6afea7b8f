"""The README's Django and DRF examples, executed as written in the test project."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from frameworks import (
    assert_refused,
    recording,
    refusal,
    run_example,
    scope_refusal,
    token_for,
)


@pytest.mark.django_db
@pytest.mark.usefixtures("users")
def test_django_example(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Django settings and urls examples run in the test project as written."""
    config = run_example("django-settings", "readme_django_settings", monkeypatch)
    urls = run_example("django-urls", "readme_django_urls", monkeypatch)
    ran: list[str] = []
    me = next(p for p in urls["urlpatterns"] if p.callback is urls["me"])
    monkeypatch.setattr(me, "callback", recording("me", me.callback, ran))
    monkeypatch.setattr(urls["Reports"], "get", recording("reports", urls["Reports"].get, ran))
    assert set(config["INSTALLED_APPS"]) <= set(django_settings.INSTALLED_APPS)
    with override_settings(
        MIDDLEWARE=config["MIDDLEWARE"],
        JWTGATE=config["JWTGATE"],
        REST_FRAMEWORK=config["REST_FRAMEWORK"],
        ROOT_URLCONF="readme_django_urls",
    ):
        jwtgate = config["JWTGATE"]
        assert client.get("/health").json() == {"ok": True}
        assert_refused(client.get("/me"), refusal("missing"))
        assert ran == []
        me = client.get("/me", headers=token_for(jwtgate))
        assert me.json() == {"subject": "alice", "user": "alice"}
        denied = client.get("/reports", headers=token_for(jwtgate, scope="other"))
        assert_refused(denied, scope_refusal("reports:read"))
        assert ran == ["me"]
        reports = client.get("/reports", headers=token_for(jwtgate, scope="reports:read"))
        assert reports.json() == {"reports": [], "for": "alice"}
