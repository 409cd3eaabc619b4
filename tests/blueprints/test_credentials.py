"""/admin/micro-credentials pages: inline definition rows, staff, status, evidence."""

from __future__ import annotations

import io
from datetime import date, timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models import CredentialStatus, MicroCredentialDefinition, StaffMicroCredential
from tests.conftest import HX

S = CredentialStatus
VALID = {"title": "Working at Heights", "level": "3", "issuing_body": "WorkSafe NZ",
         "skill_standard": "US 23229", "requirements": "Harness use", "validity_months": "24"}
PDF = b"%PDF-1.4 evidence"


def _definition_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(MicroCredentialDefinition.id)))


def _default_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(MicroCredentialDefinition.id).where(
            MicroCredentialDefinition.is_default).limit(1))


def test_page_lists_defaults_with_badge_and_fragment(admin_client):
    page = admin_client.get("/admin/micro-credentials").get_data(as_text=True)
    assert "<html" in page and "Reclad/Reroofing Level 5" in page
    assert page.count('class="badge badge-default">Default<') == 3
    assert 'id="definition-new"' in page
    fragment = admin_client.get("/admin/micro-credentials?q=compliance", headers=HX)
    html = fragment.get_data(as_text=True)
    assert html.strip().startswith('<div id="definitions-table">')
    assert "Compliance Practices Level 4" in html and "Reclad" not in html
    assert "HX-Request" in fragment.headers["Vary"]


def test_create_row(app, admin_client):
    response = admin_client.post("/admin/micro-credentials", data=VALID, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="definition-new"' in html and "Working at Heights" in html and "24 months" in html
    with app.app_context():
        created = db.session.scalar(select(MicroCredentialDefinition).where(
            MicroCredentialDefinition.title == "Working at Heights"))
        assert created.is_default is False and created.validity_months == 24


def test_create_row_errors_write_nothing(app, admin_client):
    before = _definition_count(app)
    response = admin_client.post("/admin/micro-credentials", headers=HX, data={
        "title": "ab", "level": "11", "issuing_body": "", "requirements": "x" * 2001,
        "validity_months": "0"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in ("Use 3 to 200 characters.", "Enter a level from 1 to 10.",
                    "Enter the issuing body.", "Use at most 2000 characters.",
                    "Enter 1 to 600 months"):
        assert message in html
    assert _definition_count(app) == before


def test_edit_row_and_save(app, admin_client, make_definition):
    definition = make_definition("Old title")
    edit = admin_client.get(f"/admin/micro-credentials/{definition.id}/edit", headers=HX)
    assert f'id="definition-{definition.id}" class="editing"' in edit.get_data(as_text=True)
    full = admin_client.get(f"/admin/micro-credentials/{definition.id}/edit")
    assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
    assert f'id="definition-{definition.id}" class="editing"' in full.get_data(as_text=True)
    saved = admin_client.post(f"/admin/micro-credentials/{definition.id}", headers=HX,
                              data={**VALID, "title": "New title"})
    assert saved.status_code == 200 and "New title" in saved.get_data(as_text=True)
    bad = admin_client.post(f"/admin/micro-credentials/{definition.id}", headers=HX,
                            data={**VALID, "level": "zero"})
    assert bad.status_code == 422
    with app.app_context():
        assert db.session.get(MicroCredentialDefinition, definition.id).title == "New title"


def test_deleting_a_default_shows_why_and_keeps_it(app, admin_client):
    default_id = _default_id(app)
    response = admin_client.post(f"/admin/micro-credentials/{default_id}/delete", headers=HX)
    assert response.status_code == 409
    assert "Default credentials cannot be deleted." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(MicroCredentialDefinition, default_id) is not None


def test_deleting_an_unused_definition_removes_the_row(app, admin_client, make_definition):
    definition = make_definition()
    response = admin_client.post(f"/admin/micro-credentials/{definition.id}/delete", headers=HX)
    assert response.status_code == 200 and response.get_data(as_text=True).strip() == ""
    with app.app_context():
        assert db.session.get(MicroCredentialDefinition, definition.id) is None


def test_staff_page_candidates_and_assign(app, admin_client, make_definition, make_user, org):
    definition = make_definition("Harness")
    ana, ben = make_user(name="Ana Aroha", organization=org), make_user(name="Ben Bell")
    page = admin_client.get(f"/admin/micro-credentials/{definition.id}/staff")
    assert page.status_code == 200 and "Assign staff" in page.get_data(as_text=True)
    found = admin_client.get(f"/admin/micro-credentials/{definition.id}/candidates?q=aroha",
                             headers=HX).get_data(as_text=True)
    assert "Ana Aroha" in found and "Ben Bell" not in found
    by_org = admin_client.get(
        f"/admin/micro-credentials/{definition.id}/candidates?organization_id={org.id}",
        headers=HX).get_data(as_text=True)
    assert "Ana Aroha" in by_org and "Ben Bell" not in by_org
    assigned = admin_client.post(f"/admin/micro-credentials/{definition.id}/assign", headers=HX,
                                 data={"user_ids": [str(ana.id), str(ben.id)]})
    assert assigned.status_code == 200 and "Assigned to 2 staff members." in assigned.get_data(
        as_text=True)
    assert assigned.headers["HX-Trigger"] == "credentials-assigned"
    again = admin_client.post(f"/admin/micro-credentials/{definition.id}/assign", headers=HX,
                              data={"user_ids": [str(ana.id)]})
    assert again.status_code == 409
    assert "Ana Aroha already has Harness." in again.get_data(as_text=True)
    held = admin_client.get(f"/admin/micro-credentials/{definition.id}/candidates?q=aroha",
                            headers=HX).get_data(as_text=True)
    assert "already assigned" in held and "disabled" in held
    holders = admin_client.get(f"/admin/micro-credentials/{definition.id}/staff",
                               headers=HX).get_data(as_text=True)
    assert holders.strip().startswith('<div id="holders-table">')
    assert "Ana Aroha" in holders and "Ben Bell" in holders


def test_status_buttons_award_and_move_back(app, admin_client, make_definition, make_user,
                                            make_credential):
    credential = make_credential(make_definition(validity_months=12), make_user(),
                                 S.ASSESSMENT_PENDING)
    url = f"/admin/micro-credentials/credentials/{credential.id}/status"
    row = admin_client.get(f"/admin/micro-credentials/credentials/{credential.id}", headers=HX)
    assert 'value="AWARDED"' in row.get_data(as_text=True)
    expiry = (date.today() + timedelta(days=100)).isoformat()
    awarded = admin_client.post(url, headers=HX, data={"status": "AWARDED", "expiry_date": expiry})
    assert awarded.status_code == 200 and expiry in awarded.get_data(as_text=True)
    refused = admin_client.post(url, headers=HX, data={"status": "IN_TRAINING"})
    assert refused.status_code == 422
    assert "A note is needed to move a credential back." in refused.get_data(as_text=True)
    impossible = admin_client.post(url, headers=HX, data={"status": "NOPE"})
    assert impossible.status_code == 422
    back = admin_client.post(url, headers=HX, data={"status": "IN_TRAINING",
                                                     "note": "Re-assess after incident"})
    assert back.status_code == 200
    with app.app_context():
        stored = db.session.get(StaffMicroCredential, credential.id)
        assert stored.status == S.IN_TRAINING and "Re-assess after incident" in stored.notes


def test_evidence_upload_and_download(app, admin_client, make_definition, make_user,
                                      make_credential):
    credential = make_credential(make_definition(), make_user())
    url = f"/admin/micro-credentials/credentials/{credential.id}/evidence"
    bad = admin_client.post(url, headers=HX, content_type="multipart/form-data",
                            data={"file": (io.BytesIO(b"GIF89a not allowed"), "photo.pdf")})
    assert bad.status_code == 422
    assert "Only PDF, PNG or JPEG documents are accepted." in bad.get_data(as_text=True)
    missing = admin_client.post(url, headers=HX, content_type="multipart/form-data", data={})
    assert missing.status_code == 422
    good = admin_client.post(url, headers=HX, content_type="multipart/form-data",
                             data={"file": (io.BytesIO(PDF), "Tāne's certificate.pdf")})
    assert good.status_code == 200 and "Tāne&#39;s certificate.pdf" in good.get_data(as_text=True)
    download = admin_client.get(f"/credentials/{credential.id}/evidence")
    assert download.status_code == 200 and download.data == PDF
    assert download.mimetype == "application/pdf"
    assert "filename*=UTF-8''T%C4%81ne%27s%20certificate.pdf" in download.headers[
        "Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_too_large_evidence_is_413_and_changes_nothing(app, admin_client, make_definition,
                                                       make_user, make_credential):
    app.config["EVIDENCE_MAX_BYTES"] = 100
    credential = make_credential(make_definition(), make_user())
    response = admin_client.post(
        f"/admin/micro-credentials/credentials/{credential.id}/evidence", headers=HX,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(PDF + b"0" * 200), "big.pdf")})
    assert response.status_code == 413
    with app.app_context():
        assert db.session.get(StaffMicroCredential, credential.id).evidence_key is None


def test_evidence_download_is_for_holder_own_org_admin_and_admins(
        app, admin_client, new_client, make_definition, make_user, make_credential, org,
        make_org):
    from app.models import Role

    holder = make_user(organization=org)
    credential = make_credential(make_definition(), holder)
    admin_client.post(f"/admin/micro-credentials/credentials/{credential.id}/evidence",
                      headers=HX, content_type="multipart/form-data",
                      data={"file": (io.BytesIO(PDF), "c.pdf")})
    url = f"/credentials/{credential.id}/evidence"

    def status_for(user) -> int:
        client = new_client()
        client.login(user.email)
        return client.get(url).status_code

    assert status_for(holder) == 200
    assert status_for(make_user(Role.ORG_ADMIN, org)) == 200
    assert status_for(make_user(Role.ORG_ADMIN, make_org())) == 404
    assert status_for(make_user(organization=org)) == 404
    assert new_client().get(url).status_code == 302  # anonymous: log in first


def test_a_rows_own_page_keeps_the_lists_sort(admin_client, make_definition):
    """/<id>/edit and /<id>/row drawn as a whole page (a direct load, a history restore)
    sort as the URL says, not by the default (level, highest first)."""
    low = make_definition("Forklift", level=2)
    high = make_definition("Forklift advanced", level=5)

    def order(html):
        return html.index(f'id="definition-{low.id}"') < html.index(f'id="definition-{high.id}"')

    default = admin_client.get(f"/admin/micro-credentials/{low.id}/edit").get_data(as_text=True)
    assert not order(default)  # level 5 first
    by_title = admin_client.get(f"/admin/micro-credentials/{low.id}/edit?sort=title&dir=asc")
    html = by_title.get_data(as_text=True)
    assert by_title.status_code == 200 and order(html)
    assert 'aria-sort="ascending"' in html and 'class="editing"' in html
    assert 'href="/admin/micro-credentials?sort=title&amp;dir=desc"' in html  # the list's URL
    restore = {**HX, "HX-History-Restore-Request": "true",
               "HX-Current-URL": "http://localhost/admin/micro-credentials?sort=level&dir=asc"}
    row_page = admin_client.get(f"/admin/micro-credentials/{low.id}/row", headers=restore)
    assert row_page.status_code == 200 and "<html" in row_page.get_data(as_text=True)
    assert order(row_page.get_data(as_text=True))
