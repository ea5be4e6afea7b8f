"""The README's Flask and Django examples, executed as written.

Each example is the README code block whose first line is ``# example: NAME``.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from frameworks import assert_refused, refusal, scope_refusal
from jwtgate import Issuer, Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def example(name: str) -> str:
    """The code of the README block marked ``# example: <name>``."""
    blocks = re.findall(r"```python\n(# example: ([\w-]+)\n.*?)```", README.read_text(), re.S)
    found = [code for code, marker in blocks if marker == name]
    assert len(found) == 1, f"README has {len(found)} blocks marked {name!r}"
    return found[0]


def run(name: str, module: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Execute the example as module ``module`` (in sys.modules for the test); its namespace."""
    mod = types.ModuleType(module)
    monkeypatch.setitem(sys.modules, module, mod)
    exec(compile(example(name), f"README.md:{name}", "exec"), mod.__dict__)
    return mod.__dict__


def token_for(jwtgate: dict[str, Any], subject: str = "alice", scope: str = "") -> dict[str, str]:
    """An Authorization header with a token minted by jwtgate's Issuer for these settings."""
    issued = Issuer(Settings.from_dict(jwtgate)).access_token(subject, claims={"scope": scope})
    return {"Authorization": f"Bearer {issued}"}


def test_flask_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Flask example protects /me, leaves /health open and checks the reports scope."""
    namespace = run("flask", "readme_flask_app", monkeypatch)
    app = namespace["app"]
    client = app.test_client()
    jwtgate = app.config["JWTGATE"]

    assert client.get("/health").json == {"ok": True}
    assert_refused(client.get("/me"), refusal("missing"))
    assert client.get("/me", headers=token_for(jwtgate)).json == {"subject": "alice"}
    assert client.get("/greeting").json == {"hello": "stranger"}
    assert client.get("/greeting", headers=token_for(jwtgate)).json == {"hello": "alice"}
    denied = client.post("/reports", headers=token_for(jwtgate, scope="reports:read"))
    assert_refused(denied, scope_refusal("reports:write"))
    created = client.post("/reports", headers=token_for(jwtgate, scope="reports:write"))
    assert created.status_code == 201
    assert created.json == {"created_by": "alice"}


@pytest.mark.django_db
@pytest.mark.usefixtures("users")
def test_django_example(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Django settings and urls examples run in the test project as written."""
    config = run("django-settings", "readme_django_settings", monkeypatch)
    run("django-urls", "readme_django_urls", monkeypatch)
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
        me = client.get("/me", headers=token_for(jwtgate))
        assert me.json() == {"subject": "alice", "user": "alice"}
        denied = client.get("/reports", headers=token_for(jwtgate, scope="other"))
        assert_refused(denied, scope_refusal("reports:read"))
        reports = client.get("/reports", headers=token_for(jwtgate, scope="reports:read"))
        assert reports.json() == {"reports": [], "for": "alice"}
