"""Older / Newer pages of the admin certificate list, its API and the audit trail: the
links carry the cursor and the filters, a page shows other rows than the one before, an
unreadable cursor is a clear 422 (page, htmx fragment, JSON), never a 500; non-admins get
nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Certificate, CertificateStatus, CertificateType
from app.services import audit
from app.services.context import Actor
from tests.conftest import HX

OLDER = re.compile(r'href="([^"]*)"[^>]*rel="next"')
NEWER = re.compile(r'href="([^"]*)"[^>]*rel="prev"')
ROW = re.compile(r'<tr id="certificate-(\d+)"')
AUDIT_ROW = re.compile(r'<tr id="audit-(\d+)"')


@pytest.fixture
def app(make_app: Any) -> Any:
    return make_app(PAGE_SIZE=3)


@pytest.fixture
def issued(app: Any, make_user: Any, org: Any, make_track: Any) -> list[int]:
    """Eight issued certificates of two people (Whina Whitlock has five), newest first."""
    track = make_track("Paging track", exam=False)
    whina = make_user(name="Whina Whitlock", organization=org)
    other = make_user(name="Aroha Smith", organization=org)
    base = datetime(2026, 5, 1, 8, tzinfo=UTC)
    with app.app_context():
        rows = [Certificate(type=CertificateType.COMPLETION, status=CertificateStatus.ISSUED,
                            recipient_id=(whina if i % 3 else other).id, track_id=track.id,
                            number=f"CERT-2026-{i + 1:05d}", issued_at=base - timedelta(days=i))
                for i in range(8)]
        db.session.add_all(rows)
        db.session.commit()
        return [c.id for c in rows]


def _link(pattern: re.Pattern[str], html: str) -> str | None:
    match = pattern.search(html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_older_and_newer_links_page_through_the_list(admin_client: Any,
                                                     issued: list[int]) -> None:
    first = admin_client.get("/admin/certificates?status=issued").get_data(as_text=True)
    assert [int(i) for i in ROW.findall(first)] == issued[:3]
    assert "3 shown of 8 certificates" in first and _link(NEWER, first) is None
    seen = [int(i) for i in ROW.findall(first)]
    url = _link(OLDER, first)
    while url:
        assert "after=" in url and "status=issued" in url
        html = admin_client.get(url).get_data(as_text=True)
        seen += [int(i) for i in ROW.findall(html)]
        last, url = html, _link(OLDER, html)
    assert seen == issued  # every row once, in order
    back = admin_client.get(_link(NEWER, last)).get_data(as_text=True)
    assert [int(i) for i in ROW.findall(back)] == issued[3:6]
    # A row's View link keeps the page it was on (shareable).
    detail = re.search(r'href="(/admin/certificates/\d+\?[^"]*)"', back).group(1)
    assert "before=" in detail.replace("&amp;", "&")


def test_the_search_and_filters_are_kept_across_pages(admin_client: Any,
                                                      issued: list[int]) -> None:
    html = admin_client.get("/admin/certificates?status=issued&q=whitlock").get_data(
        as_text=True)
    older = _link(OLDER, html)
    query = parse_qs(urlsplit(older).query)
    assert query["q"] == ["whitlock"] and query["status"] == ["issued"]
    second = admin_client.get(older, headers=HX).get_data(as_text=True)
    assert len(ROW.findall(html)) == 3 and len(ROW.findall(second)) == 2
    assert "Aroha Smith" not in html + second
    # The tabs start the other tab from its first page.
    assert "after=" not in re.search(r'href="([^"]*status=revoked[^"]*)"', second).group(1)


@pytest.mark.parametrize("query", ["after=nonsense", "before=1.", "after=n.abc",
                                   "after=99999999999999999999.1", "after=1.1&before=1.1"])
def test_an_unreadable_cursor_is_a_clear_422(admin_client: Any, client: Any, bearer: Any,
                                             admin_user: Any, issued: list[int],
                                             query: str) -> None:
    page = admin_client.get(f"/admin/certificates?status=issued&{query}")
    assert page.status_code == 422
    assert "go back to the first page" in page.get_data(as_text=True) or \
        "not both" in page.get_data(as_text=True)
    fragment = admin_client.get(f"/admin/certificates?status=issued&{query}", headers=HX)
    assert fragment.status_code == 422 and fragment.headers["HX-Retarget"] == "#flashes"
    api = client.get(f"/api/admin/certificates?{query}", headers=bearer(admin_user))
    assert api.status_code == 422 and set(api.get_json()["error"]["fields"]) <= {"after",
                                                                              "before"}
    trail = admin_client.get(f"/admin/audit?{query}")
    assert trail.status_code == 422


def test_the_api_gives_next_and_prev_cursors(client: Any, bearer: Any, admin_user: Any,
                                             issued: list[int]) -> None:
    headers = bearer(admin_user)
    first = client.get("/api/admin/certificates?status=issued&limit=3", headers=headers)
    body = first.get_json()
    assert [c["id"] for c in body["data"]] == issued[:3]
    assert body["pagination"]["page"] == 1 and body["pagination"]["total"] == 8
    seen, cursor = [c["id"] for c in body["data"]], body["pagination"]["next"]
    while cursor:
        page = client.get(f"/api/admin/certificates?status=issued&limit=3&after={cursor}",
                          headers=headers).get_json()
        seen += [c["id"] for c in page["data"]]
        assert page["pagination"]["prev"]
        cursor, last = page["pagination"]["next"], page
    assert seen == issued
    back = client.get(f"/api/admin/certificates?status=issued&limit=3&before="
                      f"{last['pagination']['prev']}", headers=headers).get_json()
    assert [c["id"] for c in back["data"]] == issued[3:6]
    # Numbered pages still work where the count is small; deep ones go by cursor.
    second = client.get("/api/admin/certificates?status=issued&limit=3&page=2",
                        headers=headers).get_json()
    assert [c["id"] for c in second["data"]] == issued[3:6]
    deep = client.get("/api/admin/certificates?limit=25&page=401", headers=headers)
    assert deep.status_code == 422 and "pagination.next" in deep.get_json()["error"]["message"]


def test_the_audit_trail_pages_by_cursor(app: Any, admin_client: Any) -> None:
    with app.app_context():
        for i in range(7):
            audit.record(Actor.system(), "UPDATE", "organization", str(i), {"n": i})
        db.session.commit()
    html = admin_client.get("/admin/audit").get_data(as_text=True)
    seen = AUDIT_ROW.findall(html)
    assert len(seen) == 3 and "shown of" in html
    url = _link(OLDER, html)
    while url:
        html = admin_client.get(url).get_data(as_text=True)
        seen += AUDIT_ROW.findall(html)
        url = _link(OLDER, html)
    with app.app_context():
        expected = [str(i) for i in db.session.scalars(audit.search(audit.AuditFilters()))
                    .all() for i in [i.id]]
    assert seen == expected and len(set(seen)) == len(seen)
    filtered = admin_client.get("/admin/audit?resource_type=organization&resource_id=3")
    assert len(AUDIT_ROW.findall(filtered.get_data(as_text=True))) == 1


def test_non_admins_get_no_list_pages(staff_client: Any, org_admin_client: Any,
                                      issued: list[int]) -> None:
    for client in (staff_client, org_admin_client):
        for url in ("/admin/certificates?status=issued&after=1.1", "/admin/audit?after=1.1"):
            response = client.get(url)
            assert response.status_code in (302, 403, 404)
            assert "CERT-2026-" not in response.get_data(as_text=True)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cursor=st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
                      max_size=30))
def test_any_cursor_in_the_url_is_a_page_or_a_422(admin_client: Any, issued: list[int],
                                                  cursor: str) -> None:
    for path in ("/admin/certificates", "/admin/audit"):
        for name in ("after", "before"):
            response = admin_client.get(path, query_string={"status": "issued", name: cursor})
            assert response.status_code in (200, 422), (path, name, cursor)


def test_a_cursor_past_the_end_offers_the_first_page(admin_client: Any,
                                                     issued: list[int]) -> None:
    html = admin_client.get("/admin/certificates?status=issued&after=1.1").get_data(
        as_text=True)
    assert "Nothing found" in html and ROW.findall(html) == []
    first = re.search(r'href="([^"]*)"[^>]*>« First', html).group(1).replace("&amp;", "&")
    assert "after=" not in first and "status=issued" in first
    assert len(ROW.findall(admin_client.get(first).get_data(as_text=True))) == 3
