"""Where tokens come from: the Authorization header, a cookie, the query string."""

from __future__ import annotations

import pytest

from jwtgate._bearer import from_cookie, from_header, from_query
from jwtgate.errors import InvalidRequest, RequestError, TokenTooLarge

MAX = 64
TOKEN = "aaa.bbb.ccc"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param((), None, id="no-header"),
        pytest.param((f"Bearer {TOKEN}",), TOKEN, id="bearer"),
        pytest.param((f"bearer {TOKEN}",), TOKEN, id="lower-case-scheme"),
        pytest.param((f"BEARER {TOKEN}",), TOKEN, id="upper-case-scheme"),
        pytest.param((f"BeArEr {TOKEN}",), TOKEN, id="mixed-case-scheme"),
        pytest.param((f"  Bearer   {TOKEN}\t",), TOKEN, id="extra-whitespace"),
        pytest.param(("Bearer abc/+_-~.==",), "abc/+_-~.==", id="token68-alphabet-and-padding"),
        pytest.param(("Basic dXNlcjpwYXNz",), None, id="other-scheme"),
        pytest.param(("Bearerx abc",), None, id="scheme-prefix-is-other-scheme"),
        pytest.param(("Negotiate",), None, id="other-scheme-without-credentials"),
    ],
)
def test_header_accepted(values: tuple[str, ...], expected: str | None) -> None:
    """A Bearer header gives its token; another scheme is not ours (no token)."""
    assert from_header(values, "Bearer", MAX) == expected


@pytest.mark.parametrize(
    ("values", "error", "description"),
    [
        pytest.param(
            (f"Bearer {TOKEN}", f"Bearer {TOKEN}"),
            InvalidRequest,
            "more than one authorization header",
            id="two-headers",
        ),
        pytest.param(
            (f"Bearer {TOKEN}", "Basic dXNlcjpwYXNz"),
            InvalidRequest,
            "more than one authorization header",
            id="two-headers-of-different-schemes",
        ),
        pytest.param(("Bearer",), InvalidRequest, "missing token", id="empty-token"),
        pytest.param(("Bearer    ",), InvalidRequest, "missing token", id="blank-token"),
        pytest.param(
            ("",), InvalidRequest, "malformed authorization header", id="empty-header-value"
        ),
        pytest.param(
            ("B@arer abc",), InvalidRequest, "malformed authorization header", id="bad-scheme"
        ),
        pytest.param(
            ("Bearer a b",), InvalidRequest, "malformed authorization header", id="space-inside"
        ),
        pytest.param(("Bearer a,b",), InvalidRequest, "malformed authorization header", id="comma"),
        pytest.param(
            ('Bearer "abc"',), InvalidRequest, "malformed authorization header", id="quoted"
        ),
        pytest.param(
            ("Bearer tök",), InvalidRequest, "malformed authorization header", id="non-ascii"
        ),
        pytest.param(
            ("Bearer =abc",), InvalidRequest, "malformed authorization header", id="leading-eq"
        ),
        pytest.param(
            ("Bearer " + "a" * (MAX + 1),), TokenTooLarge, "token too large", id="oversized"
        ),
    ],
)
def test_header_refused(
    values: tuple[str, ...], error: type[RequestError], description: str
) -> None:
    """Ill-formed Bearer credentials are a 400 invalid_request; oversized a 401."""
    with pytest.raises(error) as info:
        from_header(values, "Bearer", MAX)
    exc = info.value
    assert type(exc) is error
    assert exc.description == description
    if error is InvalidRequest:
        assert (exc.status, exc.error) == (400, "invalid_request")
    else:
        assert (exc.status, exc.error) == (401, "invalid_token")


def test_header_with_custom_scheme() -> None:
    """header_scheme changes the scheme looked for; Bearer then is another scheme."""
    assert from_header((f"jwt {TOKEN}",), "JWT", MAX) == TOKEN
    assert from_header((f"Bearer {TOKEN}",), "JWT", MAX) is None


def test_header_at_the_size_limit() -> None:
    """A token of exactly max bytes is accepted."""
    assert from_header(("Bearer " + "a" * MAX,), "Bearer", MAX) == "a" * MAX


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        pytest.param(None, None, id="no-cookie-header"),
        pytest.param("", None, id="empty"),
        pytest.param("session=1", None, id="other-cookie"),
        pytest.param(f"access_token={TOKEN}", TOKEN, id="only"),
        pytest.param(f"a=1; access_token={TOKEN}; b=2", TOKEN, id="among-others"),
        pytest.param(f'access_token="{TOKEN}"', TOKEN, id="quoted"),
        pytest.param(f"access_token= {TOKEN} ", TOKEN, id="spaces"),
        pytest.param(f"access_token={TOKEN}; access_token=second", TOKEN, id="first-wins"),
        pytest.param("access_token=", None, id="empty-value"),
        pytest.param(f"my_access_token={TOKEN}", None, id="name-is-a-suffix"),
        pytest.param(f"access_token_old={TOKEN}", None, id="name-is-a-prefix"),
        pytest.param("access_token", None, id="no-equals"),
        pytest.param(f"access_token; access_token={TOKEN}", TOKEN, id="no-equals-then-pair"),
        pytest.param(f"\taccess_token \t=\t{TOKEN}\t;x=1", TOKEN, id="tabs-around"),
        pytest.param(f"x=access_token=a; access_token={TOKEN}", TOKEN, id="name-inside-a-value"),
        # Two Cookie lines (HTTP/2 sends one per cookie) joined with "," by gunicorn,
        # waitress and Django's ASGIRequest; a cookie value never holds a comma.
        pytest.param(f"access_token={TOKEN},other=1", TOKEN, id="comma-joined-lines"),
        pytest.param(f"other=1, access_token={TOKEN}", TOKEN, id="comma-joined-lines-second"),
    ],
)
def test_cookie(cookie: str | None, expected: str | None) -> None:
    """The named cookie's value is the token; other cookies are ignored."""
    assert from_cookie(cookie, "access_token", MAX) == expected


def test_cookie_oversized() -> None:
    """A cookie token larger than max bytes is refused before parsing."""
    with pytest.raises(TokenTooLarge):
        from_cookie("access_token=" + "a" * (MAX + 1), "access_token", MAX)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", None, id="empty"),
        pytest.param("page=2", None, id="other-parameter"),
        pytest.param(f"access_token={TOKEN}", TOKEN, id="only"),
        pytest.param(f"page=2&access_token={TOKEN}&x=1", TOKEN, id="among-others"),
        pytest.param("access_token=a%2Eb%2Ec", "a.b.c", id="percent-encoded-value"),
        pytest.param(f"access%5Ftoken={TOKEN}", TOKEN, id="percent-encoded-name"),
        pytest.param(f"x_access_token={TOKEN}", None, id="name-is-a-suffix"),
        pytest.param(f"access_tokenx={TOKEN}", None, id="name-is-a-prefix"),
        pytest.param(f"%61ccess%5ftoke%6E={TOKEN}", TOKEN, id="percent-encoded-lowercase-hex"),
        pytest.param(f"access+token={TOKEN}", None, id="plus-is-a-space"),
        pytest.param(f"a=1&access_token={TOKEN}&b", TOKEN, id="among-keys-without-values"),
        pytest.param(f"%zz&access_token={TOKEN}", TOKEN, id="after-a-broken-escape"),
    ],
)
def test_query(query: str, expected: str | None) -> None:
    """The named query parameter's value is the token."""
    assert from_query(query, "access_token", MAX) == expected


@pytest.mark.parametrize(
    ("query", "error"),
    [
        pytest.param("access_token=", InvalidRequest, id="empty-value"),
        pytest.param("page=1&access_token=&x=2", InvalidRequest, id="empty-among-others"),
        pytest.param("access_token=a&access_token=b", InvalidRequest, id="twice"),
        pytest.param("access_token=a&access_token=", InvalidRequest, id="twice-one-empty"),
        pytest.param("access_token=a&access_token", InvalidRequest, id="twice-one-bare"),
        pytest.param("access_token=a&access%5Ftoken=b", InvalidRequest, id="twice-one-encoded"),
        pytest.param("access_token=" + "a" * (MAX + 1), TokenTooLarge, id="oversized"),
        pytest.param("access_token=" + "%41" * (MAX + 1), TokenTooLarge, id="oversized-encoded"),
    ],
)
def test_query_refused(query: str, error: type[RequestError]) -> None:
    """Two tokens in the query, or an empty one, are a 400; an oversized one a 401."""
    with pytest.raises(error):
        from_query(query, "access_token", MAX)


@pytest.mark.parametrize(
    ("name", "query", "expected"),
    [
        pytest.param("a+b", "a%2Bb=t1", "t1", id="plus-name-percent-encoded"),
        pytest.param("a+b", "a+b=t1", None, id="plus-name-literal-is-a-space"),
        pytest.param("a%b", "a%b=t1", "t1", id="percent-name-literal"),
        pytest.param("a%b", "a%25b=t1", "t1", id="percent-name-encoded"),
        pytest.param("a%bc", "a%bc=t1", None, id="percent-name-literal-that-is-an-escape"),
    ],
)
def test_query_names_with_plus_and_percent(name: str, query: str, expected: str | None) -> None:
    """A query_param holding '+' or '%' matches exactly the keys unquote_plus turns into it."""
    assert from_query(query, name, MAX) == expected
