"""/admin/organizations: inline create/edit rows, search, deactivate."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, Organization
from tests.conftest import HX


def test_full_page_and_fragment(admin_client, org):
    page = admin_client.get("/admin/organizations")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    assert org.name in page.get_data(as_text=True)
    fragment = admin_client.get("/admin/organizations?q=acme", headers=HX).get_data(as_text=True)
    assert fragment.strip().startswith('<div id="organizations-table">')
    assert org.name in fragment


def test_member_counts_are_shown(admin_client, org, make_user):
    make_user(organization=org)
    make_user(organization=org)
    html = admin_client.get("/admin/organizations?q=acme", headers=HX).get_data(as_text=True)
    row = html[html.index(f'id="org-{org.id}"'):]
    assert "<td>2</td>" in row[:800]


def test_create_with_derived_slug_and_audit(app, admin_client):
    response = admin_client.post("/admin/organizations", headers=HX, data={
        "name": "Ngāti Pōneke Roofing", "slug": "", "email_compliance_alerts": "y"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="org-new"' in html and "Ngāti Pōneke Roofing" in html
    with app.app_context():
        org = db.session.scalar(select(Organization).where(Organization.name.like("Ng%")))
        assert org.slug == "ng-ti-p-neke-roofing"
        assert org.email_compliance_alerts is True and org.sms_critical_alerts is False
        assert db.session.scalar(select(AuditLog.action).where(
            AuditLog.resource_type == "organization",
            AuditLog.resource_id == str(org.id))) == "CREATE"


def test_duplicate_slug_is_refused_and_nothing_written(app, admin_client, org):
    with app.app_context():
        before = db.session.scalar(select(func.count(Organization.id)))
    response = admin_client.post("/admin/organizations", headers=HX,
                                 data={"name": "Another", "slug": org.slug})
    assert response.status_code == 409
    assert "Another organization already uses this slug." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Organization.id))) == before


def test_bad_slug_and_missing_name(admin_client):
    response = admin_client.post("/admin/organizations", headers=HX,
                                 data={"name": "", "slug": "Not A Slug!"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a name." in html and "Use lower-case letters, digits and dashes." in html


def test_edit_row_and_save(app, admin_client, org):
    edit = admin_client.get(f"/admin/organizations/{org.id}/edit", headers=HX)
    assert f'id="org-{org.id}" class="editing"' in edit.get_data(as_text=True)
    saved = admin_client.post(f"/admin/organizations/{org.id}", headers=HX, data={
        "name": "Acme Roofing NZ", "slug": org.slug, "sms_critical_alerts": "y"})
    assert saved.status_code == 200 and "Acme Roofing NZ" in saved.get_data(as_text=True)
    with app.app_context():
        stored = db.session.get(Organization, org.id)
        assert stored.name == "Acme Roofing NZ" and stored.sms_critical_alerts is True
        changes = db.session.scalar(select(AuditLog.changes).where(AuditLog.action == "UPDATE"))
        assert changes["name"] == ["Acme Roofing", "Acme Roofing NZ"]


def test_full_page_views_of_a_row(admin_client, org):
    for path in (f"/admin/organizations/{org.id}", f"/admin/organizations/{org.id}/edit"):
        response = admin_client.get(path)
        assert response.status_code == 200
        assert "<html" in response.get_data(as_text=True) and org.name in response.get_data(
            as_text=True)


def test_deactivate(app, admin_client, org):
    response = admin_client.post(f"/admin/organizations/{org.id}/active", data={"active": "0"},
                                 headers=HX)
    assert "Reactivate" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Organization, org.id).active is False


def test_a_name_another_organization_has_is_refused_in_any_case(app, admin_client, org):
    with app.app_context():
        before = db.session.scalar(select(func.count(Organization.id)))
    response = admin_client.post("/admin/organizations", headers=HX,
                                 data={"name": org.name.upper(), "slug": "other-slug"})
    assert response.status_code == 409
    assert "Another organization already has this name." in response.get_data(as_text=True)
    other = admin_client.post("/admin/organizations", headers=HX,
                              data={"name": "Other Roofing", "slug": ""})
    assert other.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(Organization.id))) == before + 1
        other_id = db.session.scalar(select(Organization.id).where(
            Organization.name == "Other Roofing"))
    renamed = admin_client.post(f"/admin/organizations/{other_id}", headers=HX,
                                data={"name": f" {org.name.lower()} ", "slug": "other-roofing"})
    assert renamed.status_code == 409
    assert "Another organization already has this name." in renamed.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Organization, other_id).name == "Other Roofing"


def test_two_admins_creating_the_same_name_at_once_make_one(app, race, admin_user):
    # Each with its own slug: only the name can refuse the losers.
    responses = race(admin_user, calls=[
        ("POST", "/admin/organizations",
         {"headers": HX, "data": {"name": "Kauri Scaffolding", "slug": f"kauri-{n}"}})
        for n in range(6)])
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5
    assert all("Another organization already" in r.get_data(as_text=True)
               for r in responses if r.status_code == 409)
    with app.app_context():
        assert db.session.scalar(select(func.count(Organization.id)).where(
            func.lower(Organization.name) == "kauri scaffolding")) == 1
