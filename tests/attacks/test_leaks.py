"""Nothing leaks: no token, secret or key in a response, a log record, an exception or a repr.

Every refusal's ``error_description`` comes from a fixed vocabulary, read from the
source itself: the ``description`` of each class in :mod:`jwtgate.errors`, the
string literals the code passes to them, and ``invalid/missing <claim> claim``
for the claims jwtgate checks.
"""

from __future__ import annotations

import ast
import inspect
import json
import logging
import re
from functools import cache
from pathlib import Path

import pytest

import jwtgate
from attacks import test_asgi, test_wsgi
from attacks.cases import CASES, PROFILES, Case
from attacks.stacks import Answer, asgi_request, clock, wsgi_request
from conftest import KEYS, SECRET
from jwtgate import Identity, Settings, Verifier, errors
from jwtgate.errors import InvalidToken, RequestError

SOURCE = Path(jwtgate.__file__).parent
ERROR_CLASSES = {
    name: cls
    for name, cls in vars(errors).items()
    if inspect.isclass(cls) and issubclass(cls, RequestError)
}
# Claims named by the verifier's own constants and by the default settings.
CLAIMS = ("exp", "nbf", "iat", "iss", "sub", "jti", "aud", "scope")
FRAGMENT = re.compile(r"[A-Za-z0-9_\-+/]{12,}")


def _error_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in ERROR_CLASSES:
                    calls.append((f"{path.relative_to(SOURCE)}:{node.lineno}", node))
    return calls


@cache
def vocabulary() -> frozenset[str]:
    """Every error_description jwtgate can send."""
    words = {cls.description for cls in ERROR_CLASSES.values()}
    for cls in ERROR_CLASSES.values():
        try:
            words.add(cls().description)  # the classes that set theirs in __init__
        except TypeError:
            continue  # InvalidClaim and friends: covered by the claim phrases below
    for _, call in _error_calls():
        name = call.func.id if isinstance(call.func, ast.Name) else call.func.attr  # type: ignore[attr-defined]
        args = call.args[1:] if name in {"InvalidClaim", "MissingClaim"} else call.args
        for arg in [*args, *(k.value for k in call.keywords if k.arg == "description")]:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                words.add(arg.value)
    words |= {f"invalid {claim} claim" for claim in CLAIMS}
    words |= {f"missing {claim} claim" for claim in CLAIMS}
    return frozenset(words)


def secrets() -> list[str]:
    """The configured secret and every line of key material in tests/keys."""
    lines = [SECRET]
    for path in KEYS.glob("*.pem"):
        lines += [line for line in path.read_text().splitlines() if len(line) >= 40]
    return lines


def fragments(case: Case) -> set[str]:
    """Every base64-ish run of 12+ characters the request carries (its tokens, in pieces)."""
    found: set[str] = set()
    for value in case.tokens:
        found |= set(FRAGMENT.findall(value))
    return found


def assert_clean(text: str, case: Case) -> None:
    """``text`` holds neither a secret nor any piece of the case's tokens."""
    for secret in secrets():
        assert secret not in text
    for fragment in fragments(case):
        assert fragment not in text, f"{case.id}: a piece of the token leaked"


def test_descriptions_are_literals() -> None:
    """Every error raised in src/ gets a literal description (or a claim name), never data."""
    for where, call in _error_calls():
        name = call.func.id if isinstance(call.func, ast.Name) else call.func.attr  # type: ignore[attr-defined]
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            literal = isinstance(arg, ast.Constant)
            # Claim and scope names, and a rule's max_age, come from the code and the
            # settings, not the token.
            claim_name = name in {
                "InvalidClaim",
                "MissingClaim",
                "InsufficientScope",
                "InsufficientUserAuthentication",
            }
            retry = name.endswith("Unavailable")
            nonce = name == "UseDPoPNonce"  # the server's own fresh nonce, not the proof's
            assert literal or claim_name or retry or nonce, (
                f"{where}: {name}() with a computed argument"
            )


def test_vocabulary_is_small_and_fixed() -> None:
    """The vocabulary is a few dozen short phrases, none of them a format string."""
    words = vocabulary()
    assert 20 <= len(words) <= 80
    assert all(len(w) <= 60 and "{" not in w and "%" not in w for w in words)


@pytest.mark.parametrize("stack", ["asgi", "wsgi"])
def test_nothing_leaks_across_the_table(stack: str, caplog: pytest.LogCaptureFixture) -> None:
    """Across the whole table: fixed descriptions, and no token or key in answers or logs."""
    caplog.set_level(logging.DEBUG, logger="jwtgate")
    refused = 0
    for case in CASES:
        caplog.clear()
        answer: Answer
        if stack == "asgi":
            answer = asgi_request(test_asgi.middleware(case.profile), case)
        else:
            answer = wsgi_request(test_wsgi.middleware(case.profile), case)
        if answer.status != 200:
            refused += 1
            body = json.loads(answer.body)
            assert body["error_description"] in vocabulary()
            challenge = answer.headers["www-authenticate"][0]
            if "error_description" in challenge:
                assert challenge.endswith(f'error_description="{body["error_description"]}"')
            assert_clean(answer.body.decode() + repr(answer.headers), case)
        logged = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
        assert_clean("\n".join(logged), case)
        assert all(r.name.startswith("jwtgate") for r in caplog.records)
    assert refused > 250


def _token(case: Case) -> str | None:
    for name, value in case.headers:
        text = value.decode("latin-1")
        if name == b"authorization" and text.startswith("Bearer ") and " " not in text[7:]:
            return text[7:]
    return None


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _verify(verifier: Verifier, token: str) -> Identity | InvalidToken:
    try:
        return verifier.verify(token)
    except InvalidToken as exc:
        return exc


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_exceptions_and_reprs_hold_no_token(profile: str) -> None:
    """The Verifier's errors (and every exception they chain to) never quote the token."""
    verifier = Verifier(PROFILES[profile], clock=clock())
    checked = 0
    for case in CASES:
        token = _token(case)
        if case.profile != profile or token is None:
            continue
        outcome = _verify(verifier, token)
        if isinstance(outcome, InvalidToken):
            checked += 1
            assert outcome.description in vocabulary()
            for link in _chain(outcome):
                assert_clean(f"{link!s} {link!r} {link.args!r}", case)
        else:
            assert_clean(repr(outcome), case)
    assert checked > 100 if profile == "pk" else checked > 5


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_settings_and_keys_repr_hold_no_key(profile: str) -> None:
    """Settings, their key source and keys show no secret or key material in repr()."""
    settings = Settings.from_dict(PROFILES[profile])
    shown = [repr(settings), str(settings), repr(settings.keys)]
    shown += [repr(key) for key in settings.keys.keys]
    for text in shown:
        for secret in secrets():
            assert secret not in text
