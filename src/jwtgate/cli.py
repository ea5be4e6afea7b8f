"""The ``jwtgate`` console script: tools for operators.

Commands::

    jwtgate keygen [--alg HS256|RS256|PS256|ES256|ES384|ES512|EdDSA] [--kid KID] [--out DIR]
    jwtgate issue --settings FILE SUBJECT [--claim NAME=VALUE]... [--ttl SECONDS]
    jwtgate verify --settings FILE TOKEN
    jwtgate inspect TOKEN
    jwtgate check-settings FILE
    jwtgate revoke --settings FILE (--subject S | --jti J --subject S | --token T)
    jwtgate purge --settings FILE
    jwtgate demo [--script] [--port N]

Exit codes: 0 success; 1 the check failed (a token refused, settings with
problems); 2 usage error (bad arguments, a file that cannot be read); 3 the
settings a command needs are invalid; 4 the store cannot be reached. Secrets
and private keys are printed only by ``keygen``, which exists to make them; a
token is printed only by ``issue``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ._explain import explain_issuer
from ._version import __version__
from .config import Settings, check_settings
from .errors import (
    ConfigurationError,
    ExpiredToken,
    ImmatureToken,
    RequestError,
    ServiceUnavailable,
)

__all__ = ["main"]

from ._cli_common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    UsageError,
    describe_time,
    human_duration,
    load_settings_file,
    printable,
    refuse_undecodable,
)
from .stores._storable import as_read_back

# -- unverified decoding ---------------------------------------------------------


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, signature NOT checked."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise UsageError("not a compact JWS (expected three dot-separated segments)")
    decoded = []
    for name, segment in zip(("header", "payload"), parts[:2], strict=True):
        try:
            raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
            value = json.loads(raw)
        except (ValueError, binascii.Error) as exc:
            raise UsageError(f"the {name} is not base64url JSON") from exc
        if not isinstance(value, dict):
            raise UsageError(f"the {name} is not a JSON object")
        decoded.append(value)
    return decoded[0], decoded[1]


# -- commands --------------------------------------------------------------------


def cmd_inspect(args: argparse.Namespace, out: TextIO) -> int:
    header, payload = decode_unverified(args.token)
    now = time.time()
    print("UNVERIFIED: the signature was not checked; do not trust these values.", file=out)
    print("header:", file=out)
    print(json.dumps(header, indent=2, sort_keys=True), file=out)
    print("payload:", file=out)
    print(json.dumps(payload, indent=2, sort_keys=True), file=out)
    for claim in ("iat", "nbf", "exp"):
        if claim in payload:
            print(f"{claim}: {describe_time(payload[claim], now)}", file=out)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    from .revocation import RevocationCheck
    from .verify import Verifier

    settings = Settings.from_dict(load_settings_file(args.settings))
    now = time.time()
    try:
        identity = Verifier(settings, clock=lambda: now).verify(args.token.strip())
        if settings.check_revocation:  # as the middleware would: asked of the store
            check = RevocationCheck(settings.replace(on_store_error="deny"))
            try:
                check.check(identity)
            finally:
                check.close()
    except RequestError as error:
        print(f"REFUSED: {error.description} ({type(error).__name__})", file=out)
        detail = _time_detail(error, args.token, now, settings.leeway) or _issuer_detail(
            error, args.token, settings
        )
        if detail:
            print(detail, file=out)
        return EXIT_FAILED
    dpop = _dpop_lines(args, identity.claims, settings)
    if dpop and dpop[0].startswith("DPoP proof REFUSED"):
        print("\n".join(dpop), file=out)
        return EXIT_FAILED
    print(f"VALID: subject {identity.subject!r}", file=out)
    for line in dpop:
        print(line, file=out)
    if identity.scopes:
        print(f"scopes: {' '.join(sorted(identity.scopes))}", file=out)
    exp = identity.claims.get("exp")
    if exp is not None:
        print(f"expires: {describe_time(exp, now)}", file=out)
    if settings.check_revocation:
        print("not revoked (asked the store)", file=out)
    return EXIT_OK


def _dpop_lines(args: argparse.Namespace, claims: Any, settings: Settings) -> list[str]:
    from ._explain_dpop import check_dpop, explain_binding

    if args.dpop is None:
        binding = explain_binding(claims)
        return [binding] if binding else []
    token = args.token.strip()
    refused = check_dpop(args.dpop.strip(), token, claims, args.method, args.url, settings)
    return refused or ["DPoP proof: valid for this request (replay is the server's to judge)"]


def _time_detail(error: RequestError, token: str, now: float, leeway: float) -> str:
    if not isinstance(error, ExpiredToken | ImmatureToken):
        return ""
    try:
        _, payload = decode_unverified(token)
    except UsageError:  # the verifier parsed it already; tests/test_error_paths.py
        return ""
    if isinstance(error, ExpiredToken):
        ago = now - float(payload["exp"])
        return f"expired {human_duration(ago)} ago, leeway {human_duration(leeway)}"
    starts = max(
        float(payload.get(c, 0)) for c in ("nbf", "iat") if isinstance(payload.get(c), int | float)
    )
    return f"not valid for another {human_duration(starts - now)}, leeway {human_duration(leeway)}"


def _issuer_detail(error: RequestError, token: str, settings: Settings) -> str:
    try:
        header, payload = decode_unverified(token)
    except UsageError:  # the verifier parsed it already
        return ""
    return explain_issuer(error, header, payload, settings)


def cmd_issue(args: argparse.Namespace, out: TextIO) -> int:
    from .issue import Issuer

    settings = Settings.from_dict(load_settings_file(args.settings))
    claims: dict[str, Any] = {}
    for item in args.claim:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--claim {item!r}: use NAME=VALUE")
        try:
            claims[name] = json.loads(value)
        except ValueError:
            claims[name] = value
    try:
        token = Issuer(settings).access_token(args.subject, claims=claims, ttl=args.ttl)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(token, file=out)
    return EXIT_OK


def cmd_check_settings(args: argparse.Namespace, out: TextIO) -> int:
    data = load_settings_file(args.file)
    found = check_settings(data, warnings=True)
    problems = [p for p in found if not p.id.startswith("jwtgate.W")]
    sqlite_file = None
    if not problems:
        store = Settings.from_dict(data).store
        if store is not None and store.startswith("sqlite:///"):
            sqlite_file = store[len("sqlite:///") :]
    if args.json:
        report = {
            "file": args.file,
            "ok": not problems,
            "problems": [dataclasses.asdict(p) for p in found],
            "sqlite_file": sqlite_file,
        }
        print(json.dumps(report, indent=2), file=out)
        return EXIT_FAILED if problems else EXIT_OK
    for problem in found:
        print(str(problem), file=out)
    if not problems:
        if sqlite_file is not None:
            print(f"store: the SQLite file {sqlite_file}", file=out)
        print(f"{args.file}: OK", file=out)
        return EXIT_OK
    noun = "problem" if len(problems) == 1 else "problems"
    print(f"{args.file}: {len(problems)} {noun}", file=out)
    return EXIT_FAILED


KEYGEN_FILES = ("private.pem", "public.pem", "jwks.json", "settings.json", "secret.txt")


def cmd_keygen(args: argparse.Namespace, out: TextIO) -> int:
    from . import keygen

    directory = Path(args.out).resolve() if args.out else None
    try:
        material = keygen.generate(args.alg, kid=args.kid, folder=str(directory or ""))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if directory is None:
        for name, content in material.files().items():
            print(f"# {name}", file=out)
            print(content.rstrip("\n"), file=out)
        return EXIT_OK
    # Never replace a key by surprise; with --force, leave no file of an older key.
    present = [directory / name for name in KEYGEN_FILES if (directory / name).exists()]
    if present and not args.force:
        names = ", ".join(path.name for path in present)
        raise UsageError(f"{directory} already holds {names}; pass --force to replace them")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path in present:
            path.unlink()
        for name, content in material.files().items():
            path = directory / name
            path.write_text(content)
            if "private" in name or name == "secret.txt":
                path.chmod(0o600)
            print(f"wrote {path}", file=out)
    except OSError as exc:
        raise UsageError(f"cannot write to {directory}: {exc.strerror or exc}") from exc
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from . import demo
    from .jwks import is_loopback_host

    if not is_loopback_host(args.host) and not args.allow_remote:
        raise UsageError(
            f"refusing to serve the demo on {args.host}: it has a known password; "
            "pass --allow-remote to do it anyway"
        )
    return demo.serve(
        host=args.host,
        port=args.port,
        script=args.script,
        db=args.db,
        access_ttl=args.access_ttl,
        leeway=args.leeway,
        out=out,
    )


def cmd_revoke(args: argparse.Namespace, out: TextIO) -> int:
    from . import sessions
    from .verify import Verifier

    settings = Settings.from_dict(load_settings_file(args.settings))
    if args.token:
        identity = Verifier(settings).verify(args.token.strip())
        jti = identity.claims.get("jti")
        if not isinstance(jti, str) or identity.subject is None:
            raise UsageError("the token has no jti to revoke; revoke its --subject instead")
        sessions.revoke_jti(settings, identity.subject, jti)
        done = {"revoked": "jti", "subject": identity.subject, "jti": jti}
        text = f"revoked token {printable(jti)} of {identity.subject!r}"
    elif args.jti:
        if not args.subject:
            raise UsageError("--jti needs --subject (revocations are kept per subject)")
        sessions.revoke_jti(settings, as_read_back(args.subject), as_read_back(args.jti))
        done = {"revoked": "jti", "subject": args.subject, "jti": args.jti}
        text = f"revoked token {printable(args.jti)} of {args.subject!r}"
    elif args.subject:
        sessions.revoke_subject(settings, as_read_back(args.subject))
        done = {"revoked": "subject", "subject": args.subject}
        text = f"logged {args.subject!r} out everywhere"
    else:
        raise UsageError("say what to revoke: --subject, --jti with --subject, or --token")
    print(json.dumps(done) if args.json else text, file=out)
    return EXIT_OK


def cmd_purge(args: argparse.Namespace, out: TextIO) -> int:
    from . import sessions

    settings = Settings.from_dict(load_settings_file(args.settings))
    count = sessions.purge_expired(settings)
    print(
        json.dumps({"purged": count}) if args.json else f"purged {count} expired entries", file=out
    )
    return EXIT_OK


# -- entry point -----------------------------------------------------------------


_DETAILS = {
    "demo": "Exit with Ctrl-C. Nothing it stores outlives it unless --db names a file.",
    "revoke": "Exit codes: 0 done, 2 bad arguments, 3 invalid settings, 4 store unreachable.",
    "purge": "Redis and memory stores expire entries by themselves: purge is for SQLite.",
    "sessions": "Exit codes: 0 done, 1 no such session, 2 bad arguments, 3 invalid settings, "
    "4 store unreachable.",
    "keygen": "Without --out the key is printed; --out never replaces files without --force.",
    "issue": "For tests and local development: the token is signed with the settings' key.",
    "verify": "Exit code 0 for a valid token, 1 with the failed check named otherwise.",
    "inspect": "Shows the header and claims as they are: nothing about them is checked.",
    "check-settings": "Exit code 0 when the settings are valid, 1 listing every problem.",
}


def _command(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand: ``summary`` in the command list, and a description for its --help."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=f"{summary[0].upper()}{summary[1:]}. {_DETAILS[name]}"
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jwtgate`` command."""
    parser = argparse.ArgumentParser(
        prog="jwtgate",
        description="JWT bearer authentication middleware: tools for operators.",
    )
    parser.add_argument("--version", action="version", version=f"jwtgate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = _command(sub, "demo", "serve a protected demo app on 127.0.0.1 and show the story")
    p.add_argument(
        "--script",
        action="store_true",
        help="play the walkthrough against the live server and check each status",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (loopback only unless --allow-remote)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    p.add_argument("--db", help="SQLite file for the store (default: a temporary one)")
    p.add_argument("--access-ttl", type=int, help="access token lifetime in seconds")
    p.add_argument("--leeway", type=int, help="leeway in seconds")
    p.set_defaults(func=cmd_demo)

    p = _command(sub, "revoke", "revoke a token or log a subject out everywhere")
    p.add_argument("--settings", required=True, help="settings file naming the store")
    p.add_argument("--subject", help="log this subject out everywhere (or, with --jti, whose)")
    p.add_argument(
        "--jti", help="revoke the token with this jti (write --jti=ID: an id may begin with -)"
    )
    p.add_argument("--token", help="revoke this token (verified first)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_revoke)

    from ._cli_sessions import cmd_sessions_list, cmd_sessions_revoke

    p = _command(sub, "sessions", "list a subject's sessions, or revoke one by its id")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = actions.add_parser("list", help="the live sessions of SUBJECT, oldest first")
    q.add_argument("subject", metavar="SUBJECT")
    q.set_defaults(func=cmd_sessions_list)
    q = actions.add_parser("revoke", help="end the session SESSION_ID (its tokens stop working)")
    q.add_argument(
        "session_id",
        metavar="SESSION_ID",
        help="a session id (an older id beginning with - goes after --: revoke -- -ID)",
    )
    q.set_defaults(func=cmd_sessions_revoke)
    for q in (actions.choices["list"], actions.choices["revoke"]):
        q.add_argument("--settings", required=True, help="settings file naming the store")
        q.add_argument("--json", action="store_true", help="print JSON instead of text")

    p = _command(sub, "purge", "delete expired entries from the configured store")
    p.add_argument("--settings", required=True, help="settings file naming the store")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_purge)

    p = _command(sub, "keygen", "make a signing key (HS secret, or PEM pair + JWKS)")
    p.add_argument(
        "--alg", default="HS256", help="HS256 (default), RS256, PS256, ES256, ES384, ES512 or EdDSA"
    )
    p.add_argument("--kid", help="key id (default: a thumbprint-derived id)")
    p.add_argument("--out", help="write files to this directory instead of printing them")
    p.add_argument("--force", action="store_true", help="replace the key files already in --out")
    p.set_defaults(func=cmd_keygen)

    p = _command(sub, "issue", "mint a token from a settings file (for testing)")
    p.add_argument("--settings", required=True, help="JSON, TOML or Python settings file")
    p.add_argument("subject")
    p.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra claim; VALUE is JSON if it parses, else a string",
    )
    p.add_argument("--ttl", type=int, default=None, help="lifetime in seconds")
    p.set_defaults(func=cmd_issue)

    p = _command(sub, "verify", "verify a token and say which check fails")
    p.add_argument("--settings", required=True, help="JSON, TOML or Python settings file")
    p.add_argument("token")
    p.add_argument("--dpop", metavar="PROOF", help="a DPoP proof sent with the token")
    p.add_argument("--method", default="GET", help="the request method the proof is for")
    p.add_argument("--url", default="", help="the request URL the proof is for")
    p.set_defaults(func=cmd_verify)

    p = _command(sub, "inspect", "decode a token WITHOUT verifying it")
    p.add_argument("token")
    p.set_defaults(func=cmd_inspect)

    p = _command(sub, "check-settings", "validate a settings file, listing every problem")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_check_settings)
    return parser


# Arguments that name files: the operating system takes any bytes in those.
PATH_ARGUMENTS = frozenset({"settings", "out", "file", "db"})


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit code."""
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    try:
        refuse_undecodable(vars(args), PATH_ARGUMENTS)
        return int(args.func(args, out))
    except BrokenPipeError:
        # The reader went away (``jwtgate inspect TOKEN | head``): stop quietly, and
        # point stdout at /dev/null so the interpreter's final flush cannot fail too.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except UsageError as exc:
        print(f"jwtgate {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigurationError as exc:
        print(f"jwtgate {args.command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ServiceUnavailable as exc:  # a store that cannot be reached
        print(f"jwtgate {args.command}: {exc.description}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except RequestError as exc:  # revoke --token with a token that does not verify
        print(f"jwtgate {args.command}: token refused: {exc.description}", file=sys.stderr)
        return EXIT_FAILED
