"""Numbers in query strings: whatever is typed, a page answers (or refuses with a message), never
a 500. '²' and '٣' pass str.isdigit(); int() refuses the first and takes the second."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import make_user, sign_in

from ltc.identity import Role
from ltc.web.params import DB_INT_MAX, page_number, whole_number

pytestmark = pytest.mark.anyio

ODD = ("²", "٣", "-1", "99999999999999999999", "abc", "9" * 5000, "1e3", " 7 ", "")

PAGES = [
    ("/conclusions/", "within"),
    ("/conclusions/", "page_number"),
    ("/conclusions/export.csv", "within"),
    ("/spotchecks/", "organisation"),
    ("/spotchecks/", "page_number"),
    ("/deadlines/", "page_number"),
    ("/regrading/", "page"),
    ("/regrading/", "to"),
]


@pytest.fixture
async def reviewer(client) -> Any:
    await make_user(Role.reviewer, "reviewer")
    assert (await sign_in(client, "reviewer")).status_code == 302
    return client


@pytest.mark.parametrize(("path", "param"), PAGES)
async def test_odd_numbers_in_the_query_are_never_a_server_error(reviewer, path: str,
                                                                 param: str) -> None:
    assert (await reviewer.get(path)).status_code == 200  # signed in: the page itself answers
    for value in ODD:
        typed = f"national-2021@{value}" if param == "to" else value
        response = await reviewer.get(path, params={param: typed})
        assert response.status_code < 500, (path, param, value, response.text[:300])


@pytest.mark.parametrize(("raw", "number"), [
    ("1", 1), ("0", 0), (" 42 ", 42), (str(DB_INT_MAX), DB_INT_MAX), (str(DB_INT_MAX + 1), None),
    ("²", None), ("٣", None), ("-1", None), ("99999999999999999999", None), ("abc", None),
    ("9" * 5000, None), ("", None), (None, None), (7, 7),
])
def test_whole_number(raw: object, number: int | None) -> None:
    assert whole_number(raw) == number


@pytest.mark.parametrize(("raw", "pages", "number"), [
    ("2", 3, 2), ("9", 3, 3), ("0", 3, 1), ("²", 3, 1), (None, 3, 1), ("5", 0, 1),
])
def test_page_number(raw: object, pages: int, number: int) -> None:
    assert page_number(raw, pages) == number
