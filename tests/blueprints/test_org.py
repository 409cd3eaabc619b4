"""/org: an org admin's staff x credential matrix, filters and CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from app.extensions import db
from app.models import CredentialStatus, Role, StaffMicroCredential
from tests.conftest import HX

S = CredentialStatus


@pytest.fixture
def org_setup(org, make_org, make_user, make_definition, make_credential):
    heights = make_definition("Working at Heights", level=3)
    asbestos = make_definition("Asbestos Awareness", level=2)
    ana = make_user(name="Ana Aroha", organization=org)
    ben = make_user(name="=Ben Formula", organization=org)
    outsider = make_user(name="Olga Outsider", organization=make_org("Elsewhere"))
    soon = date.today() + timedelta(days=20)
    make_credential(heights, ana, S.AWARDED, expiry_date=soon)
    make_credential(asbestos, ben, S.IN_TRAINING)
    make_credential(heights, outsider, S.AWARDED, expiry_date=soon)
    return {"heights": heights, "asbestos": asbestos, "ana": ana, "ben": ben,
            "outsider": outsider, "soon": soon}


def test_matrix_shows_own_staff_only_with_expiry_warning(org_admin_client, org_setup):
    page = org_admin_client.get("/org").get_data(as_text=True)
    assert "<html" in page
    assert "Ana Aroha" in page and "=Ben Formula" in page
    assert "Olga Outsider" not in page
    assert "Working at Heights" in page and "Asbestos Awareness" in page
    assert 'class="expiry expiry-30"' in page and org_setup["soon"].isoformat() in page


def test_filters_and_fragment(org_admin_client, org_setup):
    response = org_admin_client.get(f"/org?definition_id={org_setup['asbestos'].id}", headers=HX)
    html = response.get_data(as_text=True)
    assert html.strip().startswith('<div id="org-matrix">')
    assert "=Ben Formula" in html and "Ana Aroha" not in html
    assert "Working at Heights" not in html
    awarded = org_admin_client.get("/org?status=AWARDED", headers=HX).get_data(as_text=True)
    assert "Ana Aroha" in awarded and "=Ben Formula" not in awarded


def _csv_rows(response) -> list[list[str]]:
    """The export as Excel reads it: the bytes must start with UTF-8's byte order mark."""
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_export_is_own_org_and_formula_safe(org_admin_client, org_setup):
    response = org_admin_client.get("/org/credentials.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = _csv_rows(response)
    assert rows[0][:5] == ["Name", "Email", "Credential", "Level", "Status"]
    names = [r[0] for r in rows[1:]]
    assert "Ana Aroha" in names and "'=Ben Formula" in names
    assert "Olga Outsider" not in names
    ana = next(r for r in rows if r[0] == "Ana Aroha")
    assert ana[4] == "Awarded" and ana[7] == "20"


def test_csv_export_is_utf8_with_bom_and_keeps_numbers(app, org_admin_client, org, make_user,
                                                      make_definition, make_credential):
    """Excel shows the macrons (the BOM), a negative "days left" stays a number, and
    formula-led text is still neutralized."""
    heights = make_definition("Working at Heights", level=3)
    tane = make_user(name="Tāne Ngāti Pōneke", organization=org)
    plus = make_user(name="+SUM(A1:A9)", organization=org)
    lapsed = make_credential(heights, tane, S.AWARDED,
                             expiry_date=date.today() + timedelta(days=30))
    with app.app_context():  # lapsed 12 days ago, before the nightly sweep marks it
        db.session.get(StaffMicroCredential, lapsed.id).expiry_date = \
            date.today() - timedelta(days=12)
        db.session.commit()
    make_credential(heights, plus, S.AWARDED, expiry_date=date.today() + timedelta(days=3))
    rows = _csv_rows(org_admin_client.get("/org/credentials.csv"))
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["Tāne Ngāti Pōneke"][3] == "3"
    assert by_name["Tāne Ngāti Pōneke"][7] == "-12"
    assert by_name["'+SUM(A1:A9)"][7] == "3"


def test_csv_export_applies_the_matrix_filters(app, org_admin_client, org, org_setup,
                                               make_credential):
    """The dashboard's links (an expiry range, the staff at risk, the valid awards) and
    the page's search narrow the file as they narrow the page."""
    lapsed = make_credential(org_setup["asbestos"], org_setup["ana"], S.AWARDED,
                             expiry_date=date.today() + timedelta(days=30))
    with app.app_context():  # due today: counts as expired, not valid
        db.session.get(StaffMicroCredential, lapsed.id).expiry_date = date.today()
        db.session.commit()

    def exported(query: str) -> set[tuple[str, str]]:
        rows = _csv_rows(org_admin_client.get(f"/org/credentials.csv?{query}"))
        return {(r[0], r[2]) for r in rows[1:]}

    everyone = {("Ana Aroha", "Working at Heights"), ("Ana Aroha", "Asbestos Awareness"),
                ("'=Ben Formula", "Asbestos Awareness")}
    assert exported("") == everyone
    soon = org_setup["soon"].isoformat()
    assert exported(f"expires_from={soon}&expires_to={soon}") == {
        ("Ana Aroha", "Working at Heights")}
    assert exported("risk=expired") == {("Ana Aroha", "Asbestos Awareness")}
    assert exported("valid=1") == {("Ana Aroha", "Working at Heights")}
    assert exported("q=formula") == {("'=Ben Formula", "Asbestos Awareness")}
    assert exported(f"definition_id={org_setup['asbestos'].id}&status=IN_TRAINING") == {
        ("'=Ben Formula", "Asbestos Awareness")}
    # The matrix's Download CSV link carries the page's filters.
    html = org_admin_client.get("/org?risk=expired&q=ana", headers=HX).get_data(as_text=True)
    assert "/org/credentials.csv?q=ana&amp;risk=expired" in html


@pytest.mark.parametrize(("value", "cell"), [
    (-12, "-12"), ("-12", "-12"), ("3.5", "3.5"), ("-3.5", "-3.5"), (0, "0"), (None, ""),
    ("Tāne", "Tāne"), ("=1+1", "'=1+1"), ("+64 21 555", "'+64 21 555"), ("-1+2", "'-1+2"),
    ("-", "'-"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("-12e3", "'-12e3"), ("-١٢", "'-١٢"), ("a=1", "a=1")])
def test_csv_cell_guards_formulas_but_not_numbers(value, cell):
    from app.services.bulk.csvfile import safe_cell as _csv_cell

    assert _csv_cell(value) == cell


def test_org_admin_cannot_pick_another_organization(org_admin_client, org_setup):
    other = org_admin_client.get("/org?organization_id=999").get_data(as_text=True)
    assert "Olga Outsider" not in other


def test_admin_can_view_any_organization(admin_client, org_setup, make_user):
    outsider_org = org_setup["outsider"].organization_id
    html = admin_client.get(f"/org?organization_id={outsider_org}").get_data(as_text=True)
    assert "Olga Outsider" in html and "Ana Aroha" not in html


def test_staff_and_managers_are_refused(staff_client, manager_client):
    assert staff_client.get("/org").status_code == 403
    assert manager_client.get("/org/credentials.csv").status_code == 403


def test_me_lists_own_credentials_only(new_client, org_setup):
    client = new_client()
    client.login(org_setup["ana"].email)
    page = client.get("/me").get_data(as_text=True)
    assert "Working at Heights" in page and "Expires in 20 days" in page
    assert "Asbestos Awareness" not in page  # Ben's, not Ana's


def test_org_admin_without_org_gets_404(new_client, make_user):
    client = new_client()
    client.login(make_user(Role.ORG_ADMIN).email)
    assert client.get("/org").status_code == 404
