"""The platform-wide list of awarded micro-credentials (/admin/micro-credentials/awarded)
and the admin dashboard's "Micro-credentials expiring" figures (issue 14): each band's
figure is the number of rows its link lists, under the credentials domain's rule for a
valid award (one due today is expired); the list filters by expiry range, credential,
organization and person, sorts and pages with the filters kept; non-admins get nothing;
hostile query values are a clear 422 or 400, never a 500."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from app.extensions import db
from app.models import CredentialStatus, StaffMicroCredential
from app.services import dates
from tests.conftest import HX

ROW = re.compile(r'<tr id="awarded-(\d+)"')
BAND = re.compile(r'<a href="(/admin/micro-credentials/awarded\?[^"]*)">\s*'
                  r'<span class="chart-hlabel">([^<]*)</span>.*?'
                  r'<span class="chart-hvalue">([\d,]+) credentials?</span>', re.S)
URL = "/admin/micro-credentials/awarded"
REFUSALS = ("YYYY-MM-DD", "ends before it starts", "Choose a micro-credential",
            "Choose an organization", "valid or expired", "control characters")


@pytest.fixture
def app(make_app: Any) -> Any:
    return make_app(PAGE_SIZE=3)


def _set_expiry(app: Any, credential_id: int, day: date | None) -> None:
    """An expiry date the award form refuses (today, the past): as the nightly sweep
    would find it before marking it."""
    with app.app_context():
        db.session.execute(update(StaffMicroCredential)
                           .where(StaffMicroCredential.id == credential_id)
                           .values(expiry_date=day))
        db.session.commit()


@pytest.fixture
def awards(app: Any, make_user: Any, make_org: Any, org: Any, make_definition: Any,
           make_credential: Any) -> dict[str, Any]:
    """One person per case, named by days until expiry: the bands' edges (0 = today,
    expired already; 1, 30 | 31, 60 | 61, 90 | 91), one that never expires, one
    EXPIRED, one in training; two organizations, two credentials."""
    today = dates.today()
    height = make_definition("Working at Height")
    roofing = make_definition("Reroofing")
    rival = make_org("Rival Roofing")
    people: dict[str, Any] = {}
    for days in (0, 1, 30, 31, 60, 61, 90, 91):
        person = make_user(organization=org if days % 2 else rival, name=f"Day {days:02d}")
        credential = make_credential(height if days < 60 else roofing, person,
                                     CredentialStatus.AWARDED,
                                     expiry_date=today + timedelta(days=max(days, 1)))
        if days == 0:
            _set_expiry(app, credential.id, today)
        people[f"d{days}"] = credential
    people["forever"] = make_credential(height, make_user(organization=org, name="Never Ends"),
                                        CredentialStatus.AWARDED)
    _set_expiry(app, people["forever"].id, None)
    # Marked EXPIRED by the sweep three days ago.
    people["expired"] = make_credential(height, make_user(organization=org, name="Ex Pired"),
                                        CredentialStatus.AWARDED,
                                        expiry_date=today + timedelta(days=5))
    _set_expiry(app, people["expired"].id, today - timedelta(days=3))
    with app.app_context():
        db.session.execute(update(StaffMicroCredential)
                           .where(StaffMicroCredential.id == people["expired"].id)
                           .values(status=CredentialStatus.EXPIRED))
        db.session.commit()
    people["training"] = make_credential(height, make_user(organization=org, name="In Training"),
                                         CredentialStatus.IN_TRAINING)
    people.update(height=height, roofing=roofing, rival=rival, org=org)
    return people


def _rows(client: Any, url: str, **kwargs: Any) -> list[int]:
    """Every row the list shows for `url`, following its Next links."""
    seen: list[int] = []
    while url:
        response = client.get(url, **kwargs)
        assert response.status_code == 200, (url, response.status_code)
        html = response.get_data(as_text=True)
        seen += [int(i) for i in ROW.findall(html)]
        nxt = re.search(r'href="([^"]*)"[^>]*rel="next"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
    return seen


def test_each_expiry_figure_is_the_rows_its_link_lists(admin_client: Any,
                                                       awards: dict[str, Any]) -> None:
    page = admin_client.get("/admin/").get_data(as_text=True)
    chart = page[page.index('id="chart-credentials-expiring"'):]
    bands = [(url.replace("&amp;", "&"), label, int(n.replace(",", "")))
             for url, label, n in BAND.findall(chart)][:3]
    assert [label for _, label, _ in bands] == ["0–30 days", "31–60 days", "61–90 days"]
    expected = [{"d1", "d30"}, {"d31", "d60"}, {"d61", "d90"}]
    for (url, label, count), keys in zip(bands, expected, strict=True):
        listed = _rows(admin_client, url)
        assert len(listed) == count == 2, (label, listed)
        assert set(listed) == {awards[k].id for k in keys}, label
        # Sorted soonest first, the same rows as the htmx fragment's.
        assert listed == sorted(listed, key=lambda i: next(
            int(k[1:]) for k in keys if awards[k].id == i))
        assert _rows(admin_client, url, headers=HX) == listed
    # Due today is expired already (status.py): in no band, and listed as expired.
    today = dates.today().isoformat()
    assert awards["d0"].id not in _rows(admin_client, f"{URL}?expires_to={today}")
    assert awards["d0"].id in _rows(admin_client, f"{URL}?state=expired")


def test_the_list_filters_by_credential_organization_and_person(
        admin_client: Any, awards: dict[str, Any]) -> None:
    every = _rows(admin_client, URL)
    valid = {awards[k].id for k in ("d1", "d30", "d31", "d60", "d61", "d90", "d91", "forever")}
    assert set(every) == valid and len(every) == len(valid)
    assert every[-1] == awards["forever"].id  # no expiry date: last
    height = _rows(admin_client, f"{URL}?definition_id={awards['height'].id}")
    assert set(height) == {awards[k].id for k in ("d1", "d30", "d31", "forever")}
    rival = _rows(admin_client, f"{URL}?organization_id={awards['rival'].id}")
    assert set(rival) == {awards[k].id for k in ("d30", "d60", "d90")}
    assert _rows(admin_client, f"{URL}?q=day%2031") == [awards["d31"].id]
    expired = _rows(admin_client, f"{URL}?state=expired")
    assert set(expired) == {awards["d0"].id, awards["expired"].id}
    assert awards["training"].id not in every + expired


def test_sorting_and_paging_keep_the_filters(admin_client: Any, awards: dict[str, Any]) -> None:
    url = f"{URL}?organization_id={awards['org'].id}&sort=name&dir=desc"
    html = admin_client.get(url).get_data(as_text=True)
    assert "aria-sort=\"descending\"" in html
    nxt = re.search(r'href="([^"]*)"[^>]*rel="next"', html).group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(nxt).query)
    assert query["organization_id"] == [str(awards["org"].id)]
    assert query["sort"] == ["name"] and query["dir"] == ["desc"] and query["page"] == ["2"]
    names = re.findall(r"Day \d\d|Never Ends", "".join(
        admin_client.get(u).get_data(as_text=True) for u in (url, nxt)))
    assert names == sorted(names, reverse=True) and len(names) == 5
    # A sort header keeps the filters; the form keeps the sort (hidden inputs).
    header = re.search(r'href="([^"]*sort=credential[^"]*)"', html).group(1)
    assert f"organization_id={awards['org'].id}" in header
    assert '<input type="hidden" name="sort" value="name" form="awarded-filters">' in html


def test_non_admins_get_no_awarded_list(staff_client: Any, org_admin_client: Any,
                                        manager_client: Any, awards: dict[str, Any]) -> None:
    for client in (staff_client, org_admin_client, manager_client):
        response = client.get(URL)
        assert response.status_code == 403
        assert "Day 01" not in response.get_data(as_text=True)
        assert client.get(URL, headers=HX).status_code == 403


@pytest.mark.parametrize(("query", "field", "words"), [
    ("expires_from=2026-13-45", "expires_from", "YYYY-MM-DD"),
    ("expires_to=tomorrow", "expires_to", "YYYY-MM-DD"),
    ("expires_from=2026-05-02&expires_to=2026-05-01", "expires_to", "ends before it starts"),
    ("definition_id=99999999999999999999", "definition_id", "Choose a micro-credential"),
    ("organization_id=-1", "organization_id", "Choose an organization"),
    ("organization_id=%C2%B2", "organization_id", "Choose an organization"),
    ("state=revoked", "state", "valid or expired"),
])
def test_an_unreadable_filter_is_a_clear_422(admin_client: Any, query: str, field: str,
                                             words: str) -> None:
    page = admin_client.get(f"{URL}?{query}")
    assert page.status_code == 422 and words in page.get_data(as_text=True)
    fragment = admin_client.get(f"{URL}?{query}", headers=HX)
    assert fragment.status_code == 422 and fragment.headers["HX-Retarget"] == "#flashes"
    assert words in fragment.get_data(as_text=True)


def test_edge_values_are_a_page(admin_client: Any, awards: dict[str, Any]) -> None:
    for query in ("expires_from=0001-01-01&expires_to=9999-12-31", "page=99999999999999",
                  "page=-3&sort=nonsense&dir=sideways", "definition_id=2147483647",
                  "q=%25_%25", "q=" + "x" * 5000):
        assert admin_client.get(f"{URL}?{query}").status_code == 200, query
    assert admin_client.get(f"{URL}?q=a%00b").status_code == 400  # the input guard


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.dictionaries(
    st.sampled_from(["expires_from", "expires_to", "definition_id", "organization_id", "q",
                     "state", "sort", "dir", "page"]),
    st.one_of(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=25),
              st.integers(min_value=-2**70, max_value=2**70).map(str),
              st.dates().map(date.isoformat)), max_size=5))
def test_any_query_is_a_page_or_a_clear_refusal(admin_client: Any, args: dict[str, str]) -> None:
    for headers in ({}, HX):
        response = admin_client.get(URL, query_string=args, headers=headers)
        assert response.status_code in (200, 400, 422), (args, response.status_code)
        if response.status_code != 200:  # says what to change
            assert any(words in response.get_data(as_text=True) for words in REFUSALS), args
