"""Deactivating an organization: its members cannot log in (and are told why), their
sessions end at the next request, their API tokens are refused and revoked; reactivation
revives no old session cookie or token; public /verify of their certificates is unchanged;
audited once, whoever clicks twice."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from app.extensions import db
from app.models import ApiToken, AuditLog, Organization, Role
from app.services import auth as auth_service
from app.services import organizations as org_service
from app.services.context import Actor
from tests.conftest import HX, PASSWORD


def _audit(app, action, resource_id=None):
    with app.app_context():
        stmt = select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        if resource_id is not None:
            stmt = stmt.where(AuditLog.resource_id == str(resource_id))
        return list(db.session.scalars(stmt))


def _set_active(admin_client, org, value):
    return admin_client.post(f"/admin/organizations/{org.id}/active", headers=HX,
                             data={"active": value})


def test_deactivation_ends_sessions_and_tokens_and_login_says_why(
        app, admin_client, new_client, org, staff_user, make_user, bearer):
    colleague = make_user(Role.ORG_ADMIN, org)
    outsider = make_user(Role.STAFF)  # another organization's (none): untouched
    token = bearer(staff_user)
    sessions = {person.id: new_client() for person in (staff_user, colleague, outsider)}
    for person in (staff_user, colleague, outsider):
        sessions[person.id].login(person.email)
    assert _set_active(admin_client, org, "0").status_code == 200

    # Existing sessions end at their next request; the outsider's does not.
    for person in (staff_user, colleague):
        response = sessions[person.id].get("/me")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert sessions[outsider.id].get("/me").status_code == 200
    # Their API tokens are refused (and revoked).
    assert new_client().get("/api/me", headers=token).status_code == 401
    # The login form says why, to someone who knows the password.
    refused = new_client().post("/login", data={"email": staff_user.email,
                                                "password": PASSWORD})
    assert refused.status_code == 401
    assert "organization&#39;s access to Credwright is deactivated" in refused.get_data(
        as_text=True)
    # A wrong password still learns nothing about the organization.
    wrong = new_client().post("/login", data={"email": staff_user.email,
                                              "password": "not-the-password-at-all"})
    assert b"Invalid email or password." in wrong.data and b"deactivated" not in wrong.data
    (entry,) = _audit(app, "DEACTIVATE", org.id)
    assert entry.changes == {"active": [True, False], "sessions_ended": 2,
                             "api_tokens_revoked": 1}
    assert [e.changes["reason"] for e in _audit(app, "TOKEN_REVOKE")] == [
        "organization_deactivated"]

    # Reactivation: they log in again; no old cookie or token comes back to life.
    assert _set_active(admin_client, org, "1").status_code == 200
    for person in (staff_user, colleague):
        assert sessions[person.id].get("/me").status_code == 302
    assert new_client().get("/api/me", headers=token).status_code == 401
    fresh = new_client()
    fresh.login(staff_user.email)
    assert fresh.get("/me").status_code == 200
    assert _audit(app, "REACTIVATE", org.id)[0].changes == {"active": [False, True]}


def test_deactivating_twice_records_once(app, admin_client, org, staff_user):
    assert _set_active(admin_client, org, "0").status_code == 200
    again = _set_active(admin_client, org, "0")
    assert again.status_code == 200 and "Reactivate" in again.get_data(as_text=True)
    assert len(_audit(app, "DEACTIVATE", org.id)) == 1
    assert _set_active(admin_client, org, "1").status_code == 200
    assert _set_active(admin_client, org, "1").status_code == 200
    assert len(_audit(app, "REACTIVATE", org.id)) == 1


def test_bad_value_is_refused_and_changes_nothing(app, admin_client, org):
    for value in ("", "yes", "2", "0; DROP"):
        response = _set_active(admin_client, org, value)
        assert response.status_code == 422
    with app.app_context():
        assert db.session.get(Organization, org.id).active is True
    assert _audit(app, "DEACTIVATE") == []


def test_only_platform_admins_deactivate(org, org_admin_client, staff_client,
                                         manager_client):
    for client in (org_admin_client, staff_client, manager_client):
        assert _set_active(client, org, "0").status_code == 403


def test_service_deactivation_and_the_public_verify_page(app, org, staff_user, issue,
                                                          new_client, bearer, make_track):
    certificate = issue(staff_user, track=make_track())
    before = new_client().get(f"/verify/{certificate.verification_id}?format=json")
    bearer(staff_user)
    with app.app_context():
        row = db.session.get(Organization, org.id)
        org_service.set_organization_active(row, False, Actor.system())
        org_service.set_organization_active(row, False, Actor.system())  # a no-op
        db.session.commit()
        assert db.session.scalar(select(func.count(ApiToken.id)).where(
            ApiToken.revoked_at.is_(None))) == 0
        user = auth_service.find_user_by_email(staff_user.email)
        assert not auth_service.login_allowed(user)
    assert len(_audit(app, "DEACTIVATE", org.id)) == 1
    after = new_client().get(f"/verify/{certificate.verification_id}?format=json")
    assert after.status_code == before.status_code == 200
    assert after.get_json().get("status") == before.get_json().get("status")
    page = new_client().get(f"/verify/{certificate.verification_id}")
    assert page.status_code == 200 and b"VALID" in page.data.upper()


def test_parallel_deactivations_record_once(app, admin_user, org, staff_user, race):
    responses = race(admin_user, "POST", f"/admin/organizations/{org.id}/active", n=8,
                     headers=HX, data={"active": "0"})
    assert Counter(r.status_code for r in responses) == {200: 8}
    assert len(_audit(app, "DEACTIVATE", org.id)) == 1


def test_nobody_acts_on_the_people_of_a_deactivated_organization(
        app, admin_client, manager_client, bearer, admin_user, org, staff_user, make_user,
        make_track, client):
    """They are not offered in the Issue Certificate search or a track's enrol list, a
    certificate, an enrolment or a credential for them is refused (page and API), and the
    users list says why; someone of an active organization is unaffected."""
    from app.models import MicroCredentialDefinition

    track = make_track("Edge Protection", exam=False)
    make_user(Role.STAFF, name="Active Ana")  # of no organization: still offered
    _set_active(admin_client, org, "0")
    found = admin_client.get(f"/admin/certificates/recipients?q={staff_user.name[:4]}",
                             headers=HX).get_data(as_text=True)
    assert staff_user.name not in found
    candidates = manager_client.get(f"/admin/tracks/{track.id}/candidates?q=",
                                    headers=HX).get_data(as_text=True)
    assert staff_user.name not in candidates and "Active Ana" in candidates
    issued = admin_client.post("/admin/certificates", headers=HX, data={
        "user_id": staff_user.id, "course_id": track.courses[0].id, "type": "COMPLETION"})
    assert issued.status_code == 422 and "is deactivated" in issued.get_data(as_text=True)
    enrolled = manager_client.post(f"/admin/tracks/{track.id}/enrol", headers=HX,
                                   data={"user_ids": [staff_user.id]})
    assert enrolled.status_code == 422 and "is deactivated" in enrolled.get_data(as_text=True)
    api = client.post("/api/v1/internal/training/enroll", headers=bearer(admin_user),
                      json={"userId": staff_user.id, "trackId": track.id})
    assert api.status_code == 422
    with app.app_context():
        definition_id = db.session.scalar(select(MicroCredentialDefinition.id))
    assigned = admin_client.post(f"/admin/micro-credentials/{definition_id}/assign",
                                 headers=HX, data={"user_ids": [staff_user.id]})
    assert assigned.status_code == 422
    listing = admin_client.get(f"/admin/users?q={staff_user.email}",
                               headers=HX).get_data(as_text=True)
    assert "Organization inactive" in listing
    with app.app_context():
        from app.models import Certificate, Enrolment, StaffMicroCredential

        for model, column in ((Certificate, Certificate.recipient_id),
                              (Enrolment, Enrolment.user_id),
                              (StaffMicroCredential, StaffMicroCredential.user_id)):
            assert db.session.scalar(select(func.count(model.id)).where(
                column == staff_user.id)) == 0
    # Reactivated, they take part again.
    _set_active(admin_client, org, "1")
    again = manager_client.post(f"/admin/tracks/{track.id}/enrol", headers=HX,
                                data={"user_ids": [staff_user.id]})
    assert again.status_code == 200
