"""Evidence by holders and org admins: the holder (their own credential) and their org
admin upload evidence while the credential awaits assessment, with the evidence
service's checks (type by content, size); other states are refused with a clear message,
other people and other organizations get 404; the admin sees who uploaded it and when;
audited; the same file twice at once is recorded once."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, CredentialStatus, Role, StaffMicroCredential
from tests.conftest import HX

PDF = b"%PDF-1.4 evidence of the assessment"
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 32


def _upload(client, credential, data=PDF, name="assessment.pdf", headers=HX):
    return client.post(f"/credentials/{credential.id}/evidence", headers=headers,
                       data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def _row(app, credential):
    with app.app_context():
        return db.session.get(StaffMicroCredential, credential.id)


def _audits(app, credential):
    """The credential's evidence entries (its status moves are UPDATEs too)."""
    with app.app_context():
        return sum(1 for entry in db.session.scalars(select(AuditLog).where(
            AuditLog.resource_type == "staff_micro_credential",
            AuditLog.resource_id == str(credential.id), AuditLog.action == "UPDATE"))
            if "evidence_key" in entry.changes)


@pytest.fixture
def pending(make_definition, make_credential, staff_user):
    return make_credential(make_definition("Harness use"), staff_user,
                           CredentialStatus.ASSESSMENT_PENDING)


def test_holder_uploads_and_sees_it_listed(app, staff_client, staff_user, pending):
    response = _upload(staff_client, pending)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "assessment.pdf" in html and "Evidence uploaded" in html and "<html" not in html
    assert f"by {staff_user.name}" in html
    row = _row(app, pending)
    assert row.evidence_uploaded_by_id == staff_user.id and row.evidence_sha256
    assert row.status == CredentialStatus.ASSESSMENT_PENDING  # awarding stays the admin's
    assert _audits(app, pending) == 1
    me = staff_client.get("/me").get_data(as_text=True)
    assert "assessment.pdf" in me and "Replace evidence" in me


def test_the_admin_sees_who_uploaded_it_when_awarding(admin_client, staff_client, staff_user,
                                                      pending):
    _upload(staff_client, pending)
    holders = admin_client.get(f"/admin/micro-credentials/{pending.definition_id}/staff")
    html = holders.get_data(as_text=True)
    assert "assessment.pdf" in html and f"by {staff_user.name}" in html
    assert "Award" in html


def test_org_admin_uploads_for_own_staff_only(app, org_admin_client, make_user, make_org,
                                              make_definition, make_credential, pending):
    assert _upload(org_admin_client, pending, PNG, "photo.png").status_code == 200
    assert _row(app, pending).evidence_content_type == "image/png"
    outsider = make_user(Role.STAFF, make_org("Elsewhere"))
    theirs = make_credential(make_definition("Other"), outsider,
                             CredentialStatus.ASSESSMENT_PENDING)
    assert _upload(org_admin_client, theirs).status_code == 404
    assert _row(app, theirs).evidence_key is None


def test_another_staff_member_gets_404(app, new_client, make_user, org, pending):
    colleague = make_user(Role.STAFF, org)
    client = new_client()
    client.login(colleague.email)
    assert _upload(client, pending).status_code == 404
    assert _row(app, pending).evidence_key is None


def test_manager_gets_404(app, manager_client, pending):
    assert _upload(manager_client, pending).status_code == 404


@pytest.mark.parametrize("status", [CredentialStatus.NOT_STARTED, CredentialStatus.IN_TRAINING,
                                    CredentialStatus.AWARDED])
def test_other_states_are_refused_with_a_clear_message(app, staff_client, staff_user,
                                                       make_definition, make_credential,
                                                       status):
    credential = make_credential(make_definition(), staff_user, status)
    response = _upload(staff_client, credential)
    assert response.status_code == 409
    assert "while the credential awaits assessment" in response.get_data(as_text=True)
    assert _row(app, credential).evidence_key is None and _audits(app, credential) == 0


@pytest.mark.parametrize(("data", "name", "status"), [
    (b"", "empty.pdf", 422),
    (b"MZ\x90\x00 not a pdf", "evil.pdf", 422),
    (b"GIF89a", "x.gif", 422),
])
def test_bad_files_get_422_and_change_nothing(app, staff_client, pending, data, name, status):
    response = _upload(staff_client, pending, data, name)
    assert response.status_code == status
    assert 'role="alert"' in response.get_data(as_text=True)
    assert _row(app, pending).evidence_key is None and _audits(app, pending) == 0


def test_no_file_gets_422(staff_client, pending):
    response = staff_client.post(f"/credentials/{pending.id}/evidence", headers=HX, data={})
    assert response.status_code == 422


def test_too_large_gets_413(make_app, new_client, staff_user, pending):
    app = make_app(EVIDENCE_MAX_BYTES=64)
    app.test_client_class = type(new_client())
    client = app.test_client()
    client.login(staff_user.email)
    response = _upload(client, pending, PDF + b"0" * 100)
    assert response.status_code == 413
    assert _row(app, pending).evidence_key is None


def test_without_javascript_it_redirects_back_with_a_message(staff_client, pending):
    response = _upload(staff_client, pending, headers={})
    assert response.status_code == 302 and response.location.endswith("/me")
    assert "Evidence uploaded" in staff_client.get("/me").get_data(as_text=True)


def test_the_same_file_twice_is_recorded_once(app, staff_client, pending):
    assert _upload(staff_client, pending).status_code == 200
    first = _row(app, pending).evidence_key
    assert _upload(staff_client, pending).status_code == 200
    assert _row(app, pending).evidence_key == first and _audits(app, pending) == 1
    assert _upload(staff_client, pending, PNG, "other.png").status_code == 200
    assert _audits(app, pending) == 2


def test_double_submit_records_one_file(app, staff_user, pending, race, storage_dir):
    before = {p for p in storage_dir.rglob("*") if p.is_file()}
    path = f"/credentials/{pending.id}/evidence"
    responses = race(staff_user, calls=[
        ("POST", path, {"headers": HX, "content_type": "multipart/form-data",
                        "data": {"file": (io.BytesIO(PDF), "assessment.pdf")}})
        for _ in range(6)])
    assert Counter(r.status_code for r in responses) == {200: 6}
    assert _audits(app, pending) == 1
    stored = {p for p in storage_dir.rglob("*") if p.is_file()} - before
    assert len(stored) == 1
