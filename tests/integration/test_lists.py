"""Every list page (SPEC §11, issue 15): found from the app's route table, so a new list without
a CSV export fails here; walked as each role that has it in the navigation: the page answers
with a search box and filters, its export link and next-page link carry the filters, and the
CSV opens in Excel (BOM, one Chinese header row), shows no unmasked resident ID and is audited
under an action that reads in Chinese. Then the people directory: every way of finding a
person, and pages that walk the whole register once."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from typing import Any

import pytest
from conftest import make_user, sign_in
from support.cases import register
from test_visits import december_world, log, visit

from ltc.app import create_app
from ltc.audit.tables import AuditEvent
from ltc.people.tables import Person
from ltc.regions.tables import Region
from ltc.web.exports import EXCEL_BOM
from ltc.web.navigation import NAVIGATION
from ltc.web.timeline import action_label

pytestmark = pytest.mark.anyio

# Pages that list things but are not (yet) registers with search, filters, paging and CSV,
# each with the reason. A list page not named here must have its `export.csv`.
NOT_REGISTERS = {
    "/assessments": "the assessor's own assignments: a short work queue, no personal search",
    "/assessments/confirmations": "the expert's confirmation queue: a short work queue",
    "/spotchecks/mine": "the expert's spot checks: a short work queue",
    "/review": "the reviewer's conclusions to review: a short work queue",
    "/stays/bed-days": "a monthly report by institution, not a list of people",
    "/provider/statements": "the provider's own monthly statements (PDFs), no people",
    "/provider/declarations": "the provider's own drafts to declare: a short work queue",
    "/payouts/deposits": "one ledger line per organisation, no people",
    "/dashboard": "charts of figures, not a list of people: filtered by town and month, "
                  "each chart with its table and its own CSV (/dashboard/…csv)",
    "/admin/tokens": "configuration: a few API tokens",
    "/admin/policies": "configuration: policy versions",
    "/policy/sandbox": "the sandbox's runs, a few a month, no people; each run's people are "
                       "the register (/policy/sandbox/{id}: search, filters, paging, CSV)",
    "/admin/rulesets": "configuration: assessment rule sets",
    "/admin/regions": "configuration: the region tree",
    "/admin/care-items": "configuration: the care catalogue",
    "/family": "the family portal's home: one person's own plan and progress",
    "/family/visits": "the family's own visits of one month: one person, nobody to search",
    "/family/payments": "the family's own payments: one person, a few lines a month",
    "/family/video": "who viewed the family's own assessment video: one person",
    "/field": "the offline field shell: the user's own worklist, kept and shown on the device",
}
# Lists whose only filter is the time they cover, without a search box.
WITHOUT_SEARCH = {"/evaluation": "one row per provider and month: sorted, not searched"}

PUBLIC_OR_FORMS = re.compile(r"/(new|import|login|healthz)$|^/(api|schema|static|n)(/|$)"
                             r"|\.(csv|pdf)$|\{")
MASKED_ID = re.compile(r"^\d{6}\*{8}\d{3}[\dX]$")
FULL_ID = re.compile(r"(?<!\d)\d{17}[\dX](?!\d)")


def _get_routes() -> dict[str, Any]:
    """GET paths of the app, with their handler."""
    found = {}
    for route in create_app().routes:
        for handler in route.route_handlers:
            if "GET" in (handler.http_methods or ()):
                found[route.path] = handler
    return found


def list_pages() -> list[str]:
    """Pages of signed-in users without a path parameter that are not forms, files or the
    workbench: the app's lists."""
    return sorted(path for path, handler in _get_routes().items()
                  if path != "/" and not PUBLIC_OR_FORMS.search(path)
                  and not handler.opt.get("exclude_from_auth"))


def test_the_route_table_yields_the_lists() -> None:
    pages = list_pages()
    assert {"/applications", "/people", "/agreements", "/visits", "/visit-review"} <= set(pages)
    assert not set(NOT_REGISTERS) - set(pages), "an exemption names no list page"


@pytest.mark.parametrize("path", [p for p in list_pages() if p not in NOT_REGISTERS])
def test_every_list_has_a_csv_export(path: str) -> None:
    assert f"{path}/export.csv" in _get_routes(), f"{path} lists without an export"


def _walks() -> list[tuple[str, str]]:
    pages = set(list_pages()) - set(NOT_REGISTERS)
    return sorted({(str(role), href) for role, entries in NAVIGATION.items()
                   for _, href in entries if href in pages})


def test_every_register_is_in_some_navigation() -> None:
    walked = {href for _, href in _walks()}
    assert walked == set(list_pages()) - set(NOT_REGISTERS)


USERS = {"clerk": "clerk", "reviewer": "reviewer", "provider": "nurse", "admin": "admin",
         "assessor": "assessor1"}


@pytest.fixture
async def world(database_url, monkeypatch):
    """A beneficiary with a plan, a flagged visit, an admin; 2026-12-15."""
    world = await december_world(monkeypatch)
    await log(world.nurse, visit(world, checkin_latitude=36.2040, checkin_longitude=116.7640))
    await make_user("admin", "admin")
    return world


def _links(html: str, path: str) -> list[str]:
    return [unescape(h) for h in re.findall(rf'href="({re.escape(path)}[?/][^"]*)"', html)]


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith(EXCEL_BOM), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(body[len(EXCEL_BOM):].decode("utf-8"))))


@pytest.mark.parametrize(("role", "path"), _walks())
async def test_a_list_page_searches_filters_pages_and_exports(client, world, role: str,
                                                              path: str) -> None:
    assert (await sign_in(client, USERS[role])).status_code == 302
    response = await client.get(path, params={"q": "张"} if path not in WITHOUT_SEARCH else {})
    assert response.status_code == 200, response.text[:300]
    html = response.text
    if path not in WITHOUT_SEARCH:
        assert re.search(r'<form method="get" action="' + re.escape(path) + '"[^>]*role="search"',
                         html), "a search form"
        assert 'name="q"' in html
    assert "<select" in html or 'type="checkbox"' in html or 'type="month"' in html, "filters"
    exports = [link for link in _links(html, path) if link.startswith(f"{path}/export.csv")]
    assert exports, "an export link"
    if path not in WITHOUT_SEARCH:
        assert "q=%E5%BC%A0" in exports[0], "the export keeps the search"
    for link in _links(html, path):
        if "after=" in link:  # the next page keeps the filters
            assert "q=%E5%BC%A0" in link, link
    events = await AuditEvent.count()
    download = await client.get(exports[0])
    assert download.status_code == 200, download.text[:300]
    assert download.headers["content-type"].startswith("text/csv")
    rows = _csv(download.content)
    header = rows[0]
    assert header and all(cell and not cell.isascii() for cell in header), header
    for row in rows[1:]:
        assert len(row) == len(header)
        assert not FULL_ID.search(",".join(row)), row
        for label, cell in zip(header, row, strict=True):
            if "身份证" in label and cell:
                assert MASKED_ID.match(cell), (label, cell)
    if path != "/evaluation":  # figures per organisation, no personal data
        new = await AuditEvent.select(AuditEvent.action).where(AuditEvent.seq > events)
        assert [e["action"] for e in new if e["action"].endswith("exported")], "audited"
        assert all(not action_label(e["action"]).isascii() for e in new)


# --- the people directory ------------------------------------------------------------------

async def _town_of(person_id: int) -> Region:
    path = (await Person.select(Person.region_path).where(Person.id == person_id).first()
            )["region_path"]
    town_path = path.rsplit("/", 1)[0]
    return (await Region.select().where(Region.path == town_path).first())


async def test_the_directory_finds_a_person_every_way(client, world) -> None:
    person = (await Person.select().where(Person.id == world.case.person_id).first())
    town = await _town_of(person["id"])
    assert (await sign_in(client, "clerk")).status_code == 302
    tail = person["resident_id"][-4:]
    for params in ({"q": person["name"]}, {"q": person["name_initials"]},
                   {"q": person["resident_id"]}, {"q": person["phone"]},
                   {"q": tail, "town": town["code"]}):
        html = (await client.get("/people", params=params)).text
        assert f'href="/people/{person["id"]}"' in html, params
    alone = (await client.get("/people", params={"q": tail})).text
    assert "请同时选择乡镇" in alone and f'href="/people/{person["id"]}"' not in alone
    listed = await AuditEvent.count().where(AuditEvent.action == "person.listed")
    assert listed == 6  # every read of the directory


async def test_directory_pages_walk_the_register_once_keeping_the_filters(client, world,
                                                                          monkeypatch) -> None:
    town = await _town_of(world.case.person_id)
    for n in range(60):
        await register(world.staff, name="张" + "甲乙丙丁戊己庚辛壬癸"[n // 10]
                       + "一二三四五六七八九十"[n % 10])
    expected = {r["id"] for r in await Person.select(Person.id).where(
        Person.region_path.like(town["path"] + "/%") & Person.name.like("张%"))}
    assert len(expected) > 50
    assert (await sign_in(client, "clerk")).status_code == 302
    seen: list[int] = []
    url = f"/people?q=%E5%BC%A0&town={town['code']}"
    while url:
        html = (await client.get(url)).text
        seen += [int(i) for i in re.findall(r'<td><a href="/people/(\d+)">', html)]
        following = [link for link in _links(html, "/people") if "after=" in link]
        for link in following:
            assert "q=%E5%BC%A0" in link and f"town={town['code']}" in link
        url = following[0] if following else ""
    assert sorted(seen) == sorted(expected)
    rows = _csv((await client.get(f"/people/export.csv?q=%E5%BC%A0&town={town['code']}"
                                  )).content)
    assert len(rows) - 1 == len(expected)
    assert all(MASKED_ID.match(r[1]) for r in rows[1:])


@pytest.mark.parametrize(("role", "path", "with_town"), [
    ("clerk", "/entitlements", True), ("reviewer", "/entitlements", True),
    ("clerk", "/care-plans", False), ("provider", "/visits", False),
    ("reviewer", "/visit-review", False)])
async def test_lists_of_people_find_them_by_phone_id_and_initials(client, world, role: str,
                                                                  path: str,
                                                                  with_town: bool) -> None:
    person = (await Person.select().where(Person.id == world.case.person_id).first())
    town = await _town_of(person["id"])
    assert (await sign_in(client, USERS[role])).status_code == 302
    searches = [{"q": person["phone"]}, {"q": person["resident_id"]},
                {"q": person["name_initials"]}, {"q": person["name"][1:]}]
    if with_town:
        searches.append({"q": person["resident_id"][-4:], "town": town["code"]})
    for params in searches:
        assert person["name"] in _listed(await client.get(path, params=params)), params
    nobody = await client.get(path, params={"q": "13999999999"})
    assert person["name"] not in _listed(nobody), "a phone that is nobody's"


def _listed(response: Any) -> str:
    """What a list page shows below its search form."""
    assert response.status_code == 200
    return response.text.split('role="search"', 1)[1].split("</form>", 1)[1]
