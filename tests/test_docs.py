"""The docs keep up with the code: every setting and every problem id is documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from jwtgate.config import DEFAULTS, RENAMED, check_settings

ROOT = Path(__file__).parent.parent
SETTINGS_DOC = (ROOT / "docs" / "settings.md").read_text()


def test_every_setting_has_a_heading() -> None:
    """Each key of DEFAULTS has its own `### \\`key\\`` entry in docs/settings.md."""
    documented = set(re.findall(r"^### `([a-z_]+)`$", SETTINGS_DOC, flags=re.MULTILINE))
    assert set(DEFAULTS) - documented == set()
    assert documented - set(DEFAULTS) == set(), "docs mention settings that do not exist"


def test_every_problem_id_is_documented() -> None:
    """Every jwtgate.E0xx id the source can emit is in the problem id table."""
    source = "".join(p.read_text() for p in (ROOT / "src" / "jwtgate").rglob("*.py"))
    emitted = set(re.findall(r'"(E\d{3})"', source)) | {
        m.removeprefix("jwtgate.") for m in re.findall(r'"(jwtgate\.E\d{3})"', source)
    }
    documented = set(re.findall(r"`jwtgate\.(E\d{3})`", SETTINGS_DOC))
    assert emitted, "the id scan found nothing: the test would be vacuous"
    assert emitted - documented == set()


MIGRATING_DOC = (ROOT / "docs" / "migrating.md").read_text()


def migration_rows(heading: str) -> list[tuple[list[str], list[str]]]:
    """(their settings, jwtgate settings) for each row of the settings table under ``heading``."""
    section = MIGRATING_DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"(`[A-Z_]+`(, )?)+( ?, `@\w+`)?", cells[0]):
            continue  # not a row of the settings table
        theirs = re.findall(r"`([A-Z][A-Z_]+)`", cells[0])
        ours = re.findall(r"`([a-z_]+)`", cells[1])
        assert ours or cells[1] == "none", f"unreadable jwtgate cell: {line}"
        rows.append((theirs, ours))
    assert len(rows) > 10, f"the {heading} table was not found"
    return rows


SIMPLEJWT_RENAMED = {
    "algorithm",
    "signing_key",
    "verifying_key",
    "access_token_lifetime",
    "refresh_token_lifetime",
    "auth_header_types",
    "auth_header_name",
    "user_id_claim",
}


@pytest.mark.parametrize(
    ("heading", "must_cover"),
    [
        pytest.param(
            "From Flask-JWT-Extended",
            {k for k in RENAMED if k.startswith("jwt_")},
            id="flask-jwt-extended",
        ),
        pytest.param("From djangorestframework-simplejwt", SIMPLEJWT_RENAMED, id="simplejwt"),
    ],
)
def test_migration_table_agrees_with_the_settings(heading: str, must_cover: set[str]) -> None:
    """Each mapped jwtgate setting exists, and each row agrees with the E002 hint for that name."""
    covered = set()
    for theirs, ours in migration_rows(heading):
        assert set(ours) <= set(DEFAULTS), f"{ours} are not all jwtgate settings"
        for name in (n.lower() for n in theirs):
            covered.add(name)
            if name in DEFAULTS:  # the same name in both libraries
                assert ours == [name]
            elif ours:
                assert name in RENAMED, f"{name} maps to {ours} but is not in config.RENAMED"
                assert RENAMED[name].split(" ")[0] in ours, f"{name}: RENAMED says {RENAMED[name]}"
                problems = check_settings({"secret": "s" * 32, name.upper(): 1})
                assert [(p.id, p.key) for p in problems] == [("jwtgate.E002", name.upper())]
            else:
                assert name not in RENAMED, f"{name} has no jwtgate setting, but RENAMED names one"
    assert must_cover - covered == set(), "names config.RENAMED knows but the table misses"


API_DOC = (ROOT / "docs" / "api.md").read_text()
API_MODULES = [
    "audit",
    "telemetry",
    "sessions",
    "endpoints",
    "stores/__init__",
    "stores/postgres",
    "feed",
    "jwks",
    "resource_metadata",
    "dpop",
    "errors",
    "asgi",
    "wsgi",
    "contrib/flask",
    "contrib/django",
    "contrib/django_views",
    "contrib/drf",
    "contrib/starlette",
    "contrib/fastapi",
    "testing",
]


@pytest.mark.parametrize("path", API_MODULES)
def test_api_reference_lists_every_public_name(path: str) -> None:
    """docs/api.md has a mkdocstrings entry for every name in the module's __all__."""
    tree = ast.parse((ROOT / "src" / "jwtgate" / f"{path}.py").read_text())
    exported = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
    )
    module = "jwtgate." + path.removesuffix("/__init__").replace("/", ".")
    documented = set(re.findall(rf"^::: {re.escape(module)}\.(\w+)$", API_DOC, re.MULTILINE))
    assert set(exported) - documented == set()


def test_every_old_name_is_listed_under_its_setting() -> None:
    """Each name config.RENAMED answers with E002 is in the "formerly" line of its setting."""
    sections = dict(
        re.findall(
            r"^### `([a-z_]+)`\n(.*?)(?=^#{2,3} |\Z)", SETTINGS_DOC, re.MULTILINE | re.DOTALL
        )
    )
    for old, new in RENAMED.items():
        formerly = re.search(
            r"\*\*formerly\*\*:(.*?)(?:\n\n|\n- )", sections[new.split(" ")[0]], re.DOTALL
        )
        assert formerly is not None, f"{new.split(' ')[0]} has no formerly line (for {old})"
        assert f"`{old}`" in formerly.group(1).lower(), f"{old} is not listed as a former name"


def test_every_role_in_the_docstrings_renders_as_code() -> None:
    """The docs' Griffe extension turns each reST role the source uses into inline code
    (CI also greps the built site for any raw role left)."""
    import sys

    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    from roles import RAW, plain

    docstrings = [
        ast.get_docstring(node) or ""
        for path in (ROOT / "src" / "jwtgate").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    with_roles = [text for text in docstrings if RAW.search(text)]
    assert len(with_roles) > 20, "the scan found no roles: the test would be vacuous"
    assert [RAW.findall(plain(text)) for text in with_roles if RAW.search(plain(text))] == []
    assert plain(":meth:`Gate.decide <jwtgate.Gate.decide>`") == "`Gate.decide`"
    assert plain(":class:`~jwtgate.Identity` and :func:`jwtgate.asgi.route_path`") == (
        "`Identity` and `jwtgate.asgi.route_path`"
    )


def test_the_home_page_shows_the_readme_commands() -> None:
    """The docs' home page has the install command and the README's two commands, verbatim."""
    home = (ROOT / "docs" / "index.md").read_text()
    readme = (ROOT / "README.md").read_text()
    commands = [line for line in readme.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2, "the README's two commands were not found"
    for command in commands:
        assert command in home
    assert "pip install jwtgate" in home


def test_the_performance_page_embeds_the_benchmark_charts() -> None:
    """docs/performance.md shows the four charts the benchmark command draws, and the
    run they come from is committed beside them (with its date and machine)."""
    page = (ROOT / "docs" / "performance.md").read_text()
    charts = ROOT / "docs" / "img" / "benchmarks"
    for name in ("overhead", "peers", "throughput", "sizes"):
        assert f"(img/benchmarks/{name}.svg)" in page
        assert (charts / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    import json

    machine = json.loads((charts / "results.json").read_text())["machine"]
    assert machine["when"][:10] in (charts / "overhead.svg").read_text()


def test_the_wsgi_answer_table_shows_the_real_answers() -> None:
    """docs/wsgi.md's table of answers, row by row, against what the WSGI middleware
    sends for that request (the table once named the wrong description)."""
    import re

    from jwtgate.wsgi import JWTGateMiddleware

    requests = {
        "no token": [],
        "two `Authorization` headers (the server joins them into one line)": [
            "Bearer a.b.c",
            "Bearer d.e.f",
        ],
        "`Bearer` without a token": ["Bearer"],
    }
    table = (Path(__file__).parent.parent / "docs" / "wsgi.md").read_text()
    rows = dict(re.findall(r"^\| (.+?) \| \d{3} \| `(.+)` \|$", table, re.MULTILINE))
    app = JWTGateMiddleware(lambda environ, start: [b""], {"SECRET": "s" * 32})
    for outcome, headers in requests.items():
        seen: dict[str, str] = {}
        environ: dict[str, object] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
        if len(headers) == 1:
            environ["HTTP_AUTHORIZATION"] = headers[0]
        elif headers:  # two header lines, as a server that joins them hands them on
            environ["HTTP_AUTHORIZATION"] = ", ".join(headers)
        app(environ, lambda status, pairs, seen=seen: seen.update(dict(pairs)))
        assert rows[outcome] == seen["www-authenticate"], outcome


def test_the_quickstarts_show_their_examples_as_they_are() -> None:
    """Each quickstart shows its example's code itself (GitHub renders no MkDocs
    include), and that code is the example file's, to the byte: a changed example
    fails here until `python docs/_ext/inline_examples.py` copies it in."""
    import importlib.util

    path = Path(__file__).parent.parent / "docs" / "_ext" / "inline_examples.py"
    spec = importlib.util.spec_from_file_location("inline_examples", path)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    shown = 0
    for page in tool.pages():
        text = page.read_text()
        assert "--8<--" not in text, f"{page.name} still includes a file"
        assert tool.inlined(text) == text, f"{page.name}: run python docs/_ext/inline_examples.py"
        shown += len(tool.BLOCK.findall(text))
    assert shown == 7  # flask, django (3 files), starlette, fastapi, wsgi
