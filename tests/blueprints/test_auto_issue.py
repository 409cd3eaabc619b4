"""Auto-issue rules: a manager marks a track "issue the certificate on completion";
completing it then issues the COMPLETION certificate at once through the lifecycle's
approve (number, snapshot, Open Badge, PDF job, "Certificate issued" notice), by the
system, audited as automatic. Off by default; a double-clicked completion issues once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditAction,
    AuditLog,
    Certificate,
    CertificateStatus,
    CertificationTrack,
    Notification,
    NotificationType,
)
from tests.conftest import HX


def _set_auto_issue(app: Any, track: Any, on: bool) -> None:
    with app.app_context():
        db.session.get(CertificationTrack, track.id).auto_issue = on
        db.session.commit()


def _complete(client: Any, track: Any) -> None:
    assert client.post(f"/learn/tracks/{track.id}/enrol").status_code == 302
    for course in track.courses:
        assert client.post(f"/learn/courses/{course.id}/complete").status_code in (200, 302)


def _certificates(app: Any, user: Any) -> list[Certificate]:
    with app.app_context():
        return list(db.session.scalars(select(Certificate).where(
            Certificate.recipient_id == user.id)))


def test_off_by_default_completion_waits_for_approval(app, make_track, staff_client,
                                                      staff_user):
    track = make_track("Pending Track", exam=False)
    assert track.auto_issue is False
    _complete(staff_client, track)
    (certificate,) = _certificates(app, staff_user)
    assert certificate.status == CertificateStatus.PENDING and certificate.number is None


def test_completion_issues_directly_when_the_manager_chose_so(app, make_track, staff_client,
                                                              staff_user):
    track = make_track("Auto Track", exam=False, validity_months=24)
    _set_auto_issue(app, track, True)
    _complete(staff_client, track)
    (certificate,) = _certificates(app, staff_user)
    assert certificate.status == CertificateStatus.ISSUED
    assert certificate.number.startswith("CERT-") and certificate.verification_id
    assert certificate.issued_by_id is None and certificate.expires_at is not None
    assert certificate.credential_jws and certificate.pdf_key  # badge signed, PDF job ran
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(
            AuditLog.action == AuditAction.CERT_APPROVE,
            AuditLog.resource_id == str(certificate.id)))
        assert row.actor_id is None and row.changes["automatic"] is True
        kinds = set(db.session.scalars(select(Notification.type).where(
            Notification.user_id == staff_user.id)))
        completed = db.session.scalar(select(Notification.body).where(
            Notification.user_id == staff_user.id,
            Notification.type == NotificationType.TRAINING_COMPLETED))
    assert NotificationType.CERTIFICATE_ISSUED in kinds
    assert f"Your certificate {certificate.number} is issued." in completed
    assert "Valid" in staff_client.get("/me").get_data(as_text=True)


def test_a_double_clicked_completion_issues_once(app, make_track, staff_user, staff_client,
                                                 race):
    track = make_track("Race Track", exam=False)
    _set_auto_issue(app, track, True)
    assert staff_client.post(f"/learn/tracks/{track.id}/enrol").status_code == 302
    (course,) = track.courses
    race(staff_user, "POST", f"/learn/courses/{course.id}/complete", n=6)
    (certificate,) = _certificates(app, staff_user)
    assert certificate.status == CertificateStatus.ISSUED
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == AuditAction.CERT_APPROVE)) == 1
        assert db.session.scalar(select(func.count(Notification.id)).where(
            Notification.type == NotificationType.CERTIFICATE_ISSUED)) == 1


def test_the_manager_turns_it_on_in_the_track_row_and_the_api(app, make_track,
                                                              manager_client, staff_client,
                                                              bearer, make_user):
    track = make_track("Form Track", exam=False)
    row = manager_client.get(f"/admin/tracks/{track.id}/edit", headers=HX)
    assert 'name="auto_issue"' in row.get_data(as_text=True)
    saved = manager_client.post(f"/admin/tracks/{track.id}", headers=HX, data={
        "name": "Form Track", "audience": "CLIENT_EMPLOYEE", "level": "FOUNDATION",
        "active": "y", "auto_issue": "y", "recertification_grace_days": "0"})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert "Issued on completion" in saved.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CertificationTrack, track.id).auto_issue is True
        assert db.session.scalar(select(AuditLog.changes).where(
            AuditLog.resource_type == "track", AuditLog.action == AuditAction.UPDATE)
            .order_by(AuditLog.id.desc()).limit(1))["auto_issue"] == [False, True]
    # Learners cannot change it.
    assert staff_client.post(f"/admin/tracks/{track.id}", headers=HX,
                             data={"auto_issue": "y"}).status_code in (302, 403, 404)
    from app.models import Role

    headers = bearer(make_user(Role.MANAGER))
    off = app.test_client().patch(f"/api/v1/internal/training/tracks/{track.id}",
                                  json={"autoIssue": False}, headers=headers)
    assert off.status_code == 200, off.get_json()
    assert off.get_json()["autoIssue"] is False
