"""/org: an org admin's staff x credential matrix, filters and CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from app.models import CredentialStatus, Role
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


def test_csv_export_is_own_org_and_formula_safe(org_admin_client, org_setup):
    response = org_admin_client.get("/org/credentials.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:5] == ["Name", "Email", "Credential", "Level", "Status"]
    names = [r[0] for r in rows[1:]]
    assert "Ana Aroha" in names and "'=Ben Formula" in names
    assert "Olga Outsider" not in names
    ana = next(r for r in rows if r[0] == "Ana Aroha")
    assert ana[4] == "Awarded" and ana[7] == "20"


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
