"""The operator commands of the ``jwtgate`` console script, and their exit codes."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SECRET, make_token
from jwtgate import Settings, Verifier
from jwtgate.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_USAGE, human_duration, main


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"SECRET": SECRET, "LEEWAY": 30}))
    return path


def test_no_command_prints_help_and_exits_2() -> None:
    """Without a command the help is shown and the exit code is the usage code."""
    code, out = run()
    assert code == EXIT_USAGE
    assert "keygen" in out and "check-settings" in out


def test_issue_then_verify_round_trip(settings_file: Path) -> None:
    """A token minted by `issue` is reported VALID by `verify` with its scopes."""
    code, token = run(
        "issue", "--settings", str(settings_file), "alice", "--claim", "scope=read write"
    )
    assert code == EXIT_OK
    code, out = run("verify", "--settings", str(settings_file), token.strip())
    assert code == EXIT_OK
    assert "VALID: subject 'alice'" in out
    assert "scopes: read write" in out


def test_issue_parses_json_claim_values(settings_file: Path) -> None:
    """A --claim value that parses as JSON keeps its JSON type."""
    code, token = run("issue", "--settings", str(settings_file), "bob", "--claim", "level=3")
    assert code == EXIT_OK
    identity = Verifier(Settings.from_dict({"secret": SECRET})).verify(token.strip())
    assert identity.claims["level"] == 3


@pytest.mark.parametrize("claim", ["noequals", "exp=5"])
def test_issue_refuses_bad_claims(settings_file: Path, claim: str) -> None:
    """A claim without NAME=VALUE, or one overriding a registered claim, is a usage error."""
    code, _ = run("issue", "--settings", str(settings_file), "bob", "--claim", claim)
    assert code == EXIT_USAGE


def test_verify_explains_expiry_with_human_times(settings_file: Path) -> None:
    """An expired token is REFUSED with how long ago it expired and the leeway."""
    now = time.time()
    token = make_token(now=now - 400, ttl=100)  # expired ~300 s ago
    code, out = run("verify", "--settings", str(settings_file), token)
    assert code == EXIT_FAILED
    assert "REFUSED: token expired (ExpiredToken)" in out
    assert "ago, leeway 30 s" in out
    assert "expired 4 min" in out or "expired 5 min" in out


def test_verify_explains_not_yet_valid(settings_file: Path) -> None:
    """A token from the future is REFUSED with how long until it becomes valid."""
    token = make_token(now=time.time() + 3600)
    code, out = run("verify", "--settings", str(settings_file), token)
    assert code == EXIT_FAILED
    assert "not yet valid" in out
    assert "not valid for another" in out


def test_verify_bad_signature_is_refused(settings_file: Path) -> None:
    """A token signed with another secret is REFUSED with the failed check named."""
    token = make_token(key="another-secret-another-secret-another-secret", now=time.time())
    code, out = run("verify", "--settings", str(settings_file), token)
    assert code == EXIT_FAILED
    assert "signature verification failed" in out


def test_verify_with_invalid_settings_exits_3(tmp_path: Path) -> None:
    """A settings file with problems makes `verify` exit with the configuration code."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"SECRET": "short"}))
    code, _ = run("verify", "--settings", str(path), "a.b.c")
    assert code == EXIT_CONFIG


def test_inspect_labels_output_unverified() -> None:
    """`inspect` prints header, payload and times, clearly labelled unverified."""
    token = make_token(
        {"scope": "x"}, key="whatever-key-whatever-key-whatever-key!", now=time.time()
    )
    code, out = run("inspect", token)
    assert code == EXIT_OK
    assert out.startswith("UNVERIFIED")
    assert '"sub": "alice"' in out
    assert "exp: " in out and "(in 4 min" in out


@pytest.mark.parametrize("token", ["notatoken", "a.b.c", "e30.W10.x"])
def test_inspect_refuses_garbage(token: str) -> None:
    """`inspect` on something that is not a JWS is a usage error, not a traceback."""
    code, _ = run("inspect", token)
    assert code == EXIT_USAGE


def test_check_settings_ok_and_problems(tmp_path: Path, settings_file: Path) -> None:
    """`check-settings` says OK for good settings and lists every problem id otherwise."""
    assert run("check-settings", str(settings_file)) == (EXIT_OK, f"{settings_file}: OK\n")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"SECRET": "short", "LEEWAYS": 1}))
    code, out = run("check-settings", str(bad))
    assert code == EXIT_FAILED
    assert "jwtgate.E007" in out and "jwtgate.E001" in out
    assert "short" not in out.replace("shorter", "")  # the secret itself is never printed


def test_check_settings_names_the_sqlite_file_and_warns_on_a_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check-settings` says which SQLite file is used, and warns (without failing)
    when the path is relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    relative = tmp_path / "relative.json"
    relative.write_text(json.dumps({"SECRET": SECRET, "STORE": "sqlite:///app.db"}))
    code, out = run("check-settings", str(relative))
    assert code == EXIT_OK
    assert "jwtgate.W001" in out
    assert f"store: the SQLite file {tmp_path / 'app.db'}\n" in out
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"SECRET": SECRET, "STORE": "sqlite:////no/such/dir/a.db"}))
    code, out = run("check-settings", str(missing))
    assert code == EXIT_FAILED
    assert "jwtgate.E063" in out


def test_check_settings_reads_toml_and_python(tmp_path: Path) -> None:
    """Settings can come from a TOML [jwtgate] table or a Python module's JWTGATE."""
    toml = tmp_path / "s.toml"
    toml.write_text(f'[jwtgate]\nsecret = "{SECRET}"\nleeway = 5\n')
    py = tmp_path / "s.py"
    py.write_text(f"JWTGATE = {{'SECRET': {SECRET!r}}}\n")
    if sys.version_info >= (3, 11):
        assert run("check-settings", str(toml))[0] == EXIT_OK
    else:  # pragma: no cover - Python 3.10 has no tomllib
        assert run("check-settings", str(toml))[0] == EXIT_USAGE
    assert run("check-settings", str(py))[0] == EXIT_OK


@pytest.mark.parametrize(
    ("name", "content"),
    [("missing.json", None), ("s.json", "{not json"), ("s.json", "[1, 2]"), ("s.py", "X = 1\n")],
)
def test_check_settings_unreadable_files_exit_2(
    tmp_path: Path, name: str, content: str | None
) -> None:
    """A missing, unparsable or shapeless settings file is a usage error."""
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    assert run("check-settings", str(path))[0] == EXIT_USAGE


@pytest.mark.parametrize("alg", ["HS256", "HS512", "RS256", "ES256", "ES384", "ES512", "EdDSA"])
def test_keygen_makes_keys_that_work(
    tmp_path: Path, alg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """keygen writes a key and settings that issue and verify tokens, with a kid."""
    code, _ = run("keygen", "--alg", alg, "--out", str(tmp_path), "--kid", "k1")
    assert code == EXIT_OK
    data = json.loads((tmp_path / "settings.json").read_text())
    if alg.startswith("HS"):
        monkeypatch.setenv("JWTGATE_SECRET", (tmp_path / "secret.txt").read_text().strip())
        assert (tmp_path / "secret.txt").stat().st_mode & 0o077 == 0
    else:
        monkeypatch.chdir(tmp_path)
        jwks = json.loads((tmp_path / "jwks.json").read_text())
        assert jwks["keys"][0]["kid"] == "k1" and "d" not in jwks["keys"][0]
        assert (tmp_path / "private.pem").stat().st_mode & 0o077 == 0
    settings = Settings.from_dict(data)
    from jwtgate import Issuer

    token = Issuer(settings).access_token("carol")
    identity = Verifier(settings).verify(token)
    assert identity.subject == "carol" and identity.header["kid"] == "k1"
    if not alg.startswith("HS"):
        verify_only = Settings.from_dict({"algorithms": [alg], "jwks": "file:jwks.json"})
        assert Verifier(verify_only).verify(token).subject == "carol"


def test_keygen_prints_when_no_out() -> None:
    """Without --out, keygen prints each file under a header line (it is asked for)."""
    code, out = run("keygen", "--alg", "EdDSA")
    assert code == EXIT_OK
    assert "# private.pem" in out and "-----BEGIN PRIVATE KEY-----" in out and "# jwks.json" in out


def test_keygen_unknown_algorithm_is_usage_error() -> None:
    """keygen refuses an algorithm it cannot make a key for."""
    assert run("keygen", "--alg", "none")[0] == EXIT_USAGE


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (59, "59 s"), (252, "4 min 12 s"), (7500, "2 h 5 min"), (90000, "1 d 1 h")],
)
def test_human_duration(seconds: int, text: str) -> None:
    """Durations are shown with their two largest units."""
    assert human_duration(seconds) == text


def test_console_script_runs_as_module() -> None:
    """`python -m jwtgate check-settings` works in a fresh interpreter with its exit code."""
    result = subprocess.run(
        [sys.executable, "-m", "jwtgate", "inspect", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == EXIT_USAGE
    assert "jwtgate inspect:" in result.stderr


@pytest.fixture
def store_settings(tmp_path: Path) -> Path:
    path = tmp_path / "store.json"
    path.write_text(
        json.dumps(
            {"SECRET": SECRET, "STORE": f"sqlite:///{tmp_path / 's.db'}", "CHECK_REVOCATION": True}
        )
    )
    return path


def test_revoke_subject_logs_out_everywhere(store_settings: Path) -> None:
    """`revoke --subject` makes every earlier token of that subject refused by the Gate."""
    from jwtgate import Gate, RequestInfo, Sessions
    from jwtgate.http import Rejection

    settings = Settings.from_dict(json.loads(store_settings.read_text()))
    with Sessions(settings) as sessions:
        pair = sessions.login("alice")
    gate = Gate(settings, clock=lambda: time.time() + 1)
    request = RequestInfo("GET", "/", (f"Bearer {pair.access_token}",))
    assert gate.decide(request).subject == "alice"  # type: ignore[union-attr]
    code, out = run("revoke", "--settings", str(store_settings), "--subject", "alice")
    assert (code, out) == (EXIT_OK, "logged 'alice' out everywhere\n")
    refused = gate.decide(request)
    assert isinstance(refused, Rejection) and refused.error.description == "token revoked"
    gate.close()


def test_revoke_token_and_jti(store_settings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`revoke --token` and `revoke --jti=ID --subject` refuse exactly that token, also
    when the id begins with `-` (one random id in 64 does)."""
    from jwtgate import Gate, Issuer, RequestInfo, issue
    from jwtgate.http import Rejection

    settings = Settings.from_dict(json.loads(store_settings.read_text()))
    issuer = Issuer(settings)
    first = issuer.access_token("bob")
    monkeypatch.setattr(issue, "new_jti", lambda: "-starts-with-a-dash")
    second = issuer.access_token("bob")
    monkeypatch.undo()
    code, out = run("revoke", "--settings", str(store_settings), "--token", first)
    assert code == EXIT_OK and out.startswith("revoked token ")
    jti = Verifier(settings).verify(second).claims["jti"]
    assert (
        run("revoke", "--settings", str(store_settings), f"--jti={jti}", "--subject", "bob")[0] == 0
    )
    gate = Gate(settings)
    for token in (first, second):
        assert isinstance(gate.decide(RequestInfo("GET", "/", (f"Bearer {token}",))), Rejection)
    third = issuer.access_token("bob")
    assert gate.decide(RequestInfo("GET", "/", (f"Bearer {third}",))).subject == "bob"  # type: ignore[union-attr]
    gate.close()


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--jti", "x"], EXIT_USAGE),
        ([], EXIT_USAGE),
        (["--token", "a.b.c"], EXIT_FAILED),
    ],
)
def test_revoke_needs_a_target(store_settings: Path, argv: list[str], code: int) -> None:
    """`revoke` without a target, a --jti without --subject, or a bad --token fail clearly."""
    assert run("revoke", "--settings", str(store_settings), *argv)[0] == code


def test_purge_reports_the_count(store_settings: Path) -> None:
    """`purge` deletes expired entries from the configured store and says how many."""
    code, out = run("purge", "--settings", str(store_settings))
    assert code == EXIT_OK
    assert re.fullmatch(r"purged \d+ expired entries\n", out)


def test_revoke_purge_and_check_settings_print_json(store_settings: Path, tmp_path: Path) -> None:
    """``--json`` on revoke, purge and check-settings: one JSON document, the same exit
    codes as the text."""
    args = ("--settings", str(store_settings), "--json")
    code, out = run("revoke", *args, "--subject", "alice")
    assert (code, json.loads(out)) == (EXIT_OK, {"revoked": "subject", "subject": "alice"})
    code, out = run("revoke", *args, "--jti=-x", "--subject", "bob")
    assert json.loads(out) == {"revoked": "jti", "subject": "bob", "jti": "-x"}
    code, out = run("purge", *args)
    assert code == EXIT_OK and isinstance(json.loads(out)["purged"], int)
    code, out = run("check-settings", str(store_settings), "--json")
    report = json.loads(out)
    assert (code, report["ok"], report["problems"]) == (EXIT_OK, True, [])
    assert report["sqlite_file"] == str(tmp_path / "s.db")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"SECRET": "short", "LEEWAYS": 1}))
    code, out = run("check-settings", str(bad), "--json")
    report = json.loads(out)
    assert (code, report["ok"], report["sqlite_file"]) == (EXIT_FAILED, False, None)
    assert {p["id"] for p in report["problems"]} == {"jwtgate.E007", "jwtgate.E001"}
    assert all(set(p) == {"id", "key", "message", "hint"} for p in report["problems"])


def test_revoke_without_a_store_is_a_configuration_error(settings_file: Path) -> None:
    """Housekeeping against settings without a store exits with the configuration code."""
    assert run("purge", "--settings", str(settings_file))[0] == EXIT_CONFIG


def test_revoke_with_the_store_down_exits_4(tmp_path: Path) -> None:
    """A store that cannot be reached is exit code 4, not a traceback."""
    from jwtgate.cli import EXIT_UNAVAILABLE

    path = tmp_path / "down.json"
    path.write_text(json.dumps({"SECRET": SECRET, "STORE": "redis://127.0.0.1:1/0"}))
    assert run("revoke", "--settings", str(path), "--subject", "x")[0] == EXIT_UNAVAILABLE


# -- no traceback, no surprise (#15) ---------------------------------------------------


def test_keygen_into_a_directory_that_cannot_be_made_is_a_usage_error(tmp_path: Path) -> None:
    """--out under a plain file: exit 2 with the reason, no traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jwtgate",
            "keygen",
            "--alg",
            "ES256",
            "--out",
            str(blocker / "keys"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_USAGE
    assert "Traceback" not in done.stderr
    assert f"cannot write to {blocker / 'keys'}" in done.stderr


def test_keygen_never_replaces_a_key_unless_forced(tmp_path: Path) -> None:
    """A second keygen into the same folder refuses (naming the files); --force replaces
    them and leaves no file of the older key (an HS secret beside a new PEM pair)."""
    assert run("keygen", "--alg", "HS256", "--out", str(tmp_path))[0] == EXIT_OK
    before = (tmp_path / "settings.json").read_text()
    code, _ = run("keygen", "--alg", "ES256", "--out", str(tmp_path))
    assert code == EXIT_USAGE
    assert (tmp_path / "settings.json").read_text() == before
    assert run("keygen", "--alg", "ES256", "--out", str(tmp_path), "--force")[0] == EXIT_OK
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "jwks.json",
        "private.pem",
        "public.pem",
        "settings.json",
    ]


def test_keygen_settings_work_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generated settings name the private key by its absolute path, so `issue` run
    from another directory finds it."""
    keys = tmp_path / "keys"
    assert run("keygen", "--alg", "EdDSA", "--out", str(keys))[0] == EXIT_OK
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, token = run("issue", "--settings", str(keys / "settings.json"), "dora")
    assert code == EXIT_OK
    assert run("verify", "--settings", str(keys / "settings.json"), token.strip())[0] == EXIT_OK


def test_inspect_into_a_closed_pipe_exits_without_a_traceback() -> None:
    """`jwtgate inspect TOKEN | head -0`: the reader is gone before the output; the
    command stops quietly."""
    with subprocess.Popen(
        [sys.executable, "-m", "jwtgate", "inspect", make_token()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # before the interpreter has even started
        errors = process.stderr.read()
        process.wait(60)
    assert "Traceback" not in errors
    assert "BrokenPipeError" not in errors


def test_verify_asks_the_store_when_the_settings_check_revocation(store_settings: Path) -> None:
    """With STORE and CHECK_REVOCATION, `verify` refuses a revoked token as the middleware
    would, and says it asked the store when the token is live."""
    from jwtgate import Sessions

    settings = Settings.from_dict(json.loads(store_settings.read_text()))
    with Sessions(settings) as sessions:
        pair = sessions.login("alice")
        code, out = run("verify", "--settings", str(store_settings), pair.access_token)
        assert code == EXIT_OK
        assert "not revoked (asked the store)" in out
        sessions.logout(pair.refresh_token)
    code, out = run("verify", "--settings", str(store_settings), pair.access_token)
    assert code == EXIT_FAILED
    assert "REFUSED: token revoked" in out


def test_purge_with_the_store_down_exits_4(tmp_path: Path) -> None:
    """`purge` against a Redis that cannot be reached is exit code 4, as documented; it
    used to print "purged 0 expired entries" and exit 0 (#15)."""
    from jwtgate.cli import EXIT_UNAVAILABLE

    path = tmp_path / "down.json"
    path.write_text(json.dumps({"SECRET": SECRET, "STORE": "redis://127.0.0.1:1/0"}))
    code, out = run("purge", "--settings", str(path))
    assert (code, out) == (EXIT_UNAVAILABLE, "")


def test_relative_key_files_are_found_beside_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`file:private.pem` in a settings file names the file next to it, whatever the
    working directory (a settings file written by keygen works from anywhere)."""
    folder = tmp_path / "conf"
    assert run("keygen", "--alg", "ES256", "--out", str(folder))[0] == EXIT_OK
    settings = json.loads((folder / "settings.json").read_text())
    relative = {**settings, "PRIVATE_KEY": "file:private.pem"}
    (folder / "relative.json").write_text(json.dumps(relative))
    monkeypatch.chdir(tmp_path)  # not the settings file's folder
    code, out = run("issue", "--settings", str(folder / "relative.json"), "alice")
    assert code == EXIT_OK, out
    assert out.count(".") == 2  # a compact JWS
