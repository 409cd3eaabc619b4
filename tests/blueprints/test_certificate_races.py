"""Certificate lifecycle under double-clicks and two admins: of N identical requests at
once exactly one takes effect (one number, one audit row, one notification), through the
htmx page and the JSON API; approve racing reject ends in one consistent state; numbers
stay gapless. Really concurrent on PostgreSQL (CI's second run); serialized on SQLite."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditLog,
    Certificate,
    CertificateStatus,
    Notification,
    NotificationType,
)
from tests.conftest import HX, pending_certificate

S = CertificateStatus
N = 10




def _audits(app: Any, action: str, certificate_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == action, AuditLog.resource_type == "certificate",
            AuditLog.resource_id == str(certificate_id))) or 0


def _notifications(app: Any, user_id: int, type_: NotificationType) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Notification.id)).where(
            Notification.user_id == user_id, Notification.type == type_)) or 0


def _certificate(app: Any, certificate_id: int) -> Certificate:
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        db.session.expunge(certificate)
        return certificate


def _statuses(responses: list[Any]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


@pytest.mark.parametrize("via", ["page", "api"])
def test_parallel_approvals_number_the_certificate_once(app, admin_user, make_user, make_track,
                                                        race, bearer, issue, via):
    track = make_track()
    learner = make_user(name="Double Click")
    certificate_id = pending_certificate(app, learner, track)
    if via == "page":
        responses = race(admin_user, "POST", f"/admin/certificates/{certificate_id}/approve",
                         n=N, headers=HX)
    else:
        responses = race(None, "POST", f"/api/admin/certificates/{certificate_id}/approve",
                         n=N, headers=bearer(admin_user), json={})
    assert _statuses(responses) == {200: 1, 409: N - 1}
    refused = next(r for r in responses if r.status_code == 409)
    if via == "api":
        assert refused.get_json()["error"]["code"] == "conflict"
        assert "Already approved" in refused.get_json()["error"]["message"]
    else:  # the detail panel again, with the message in place: no page inside the page
        html = refused.get_data(as_text=True)
        assert "Already approved" in html and "<html" not in html
    certificate = _certificate(app, certificate_id)
    assert certificate.status == S.ISSUED and certificate.number.endswith("-00001")
    assert _audits(app, "CERT_APPROVE", certificate_id) == 1
    assert _notifications(app, learner.id, NotificationType.CERTIFICATE_ISSUED) == 1
    # Gapless: the next certificate gets the next number.
    following = issue(make_user(), track=track)
    assert following.number.endswith("-00002")


def test_approve_racing_reject_ends_consistent(app, admin_user, make_user, make_track, race):
    track = make_track()
    learner = make_user()
    certificate_id = pending_certificate(app, learner, track)
    base = f"/admin/certificates/{certificate_id}"
    calls = [("POST", f"{base}/approve", {"headers": HX})] * 5 + [
        ("POST", f"{base}/reject", {"headers": HX, "data": {"reason": "Not enough evidence"}})] * 5
    responses = race(admin_user, calls=calls)
    assert _statuses(responses) == {200: 1, 409: 9}
    certificate = _certificate(app, certificate_id)
    if certificate.status == S.ISSUED:
        assert certificate.number and certificate.live_key and not certificate.rejection_reason
        assert _audits(app, "CERT_REJECT", certificate_id) == 0
        assert _audits(app, "CERT_APPROVE", certificate_id) == 1
    else:
        assert certificate.status == S.REJECTED and certificate.number is None
        assert certificate.live_key is None and certificate.rejection_reason
        assert _audits(app, "CERT_APPROVE", certificate_id) == 0
        assert _audits(app, "CERT_REJECT", certificate_id) == 1


def test_parallel_revokes_and_reinstates_take_effect_once(app, admin_user, make_user,
                                                          make_track, race, bearer, issue):
    learner = make_user()
    certificate = issue(learner, track=make_track())
    api = bearer(admin_user)
    revoked = race(None, "POST", f"/api/admin/certificates/{certificate.id}/revoke", n=N,
                   headers=api, json={"reason": "Issued in error", "category": "issued_in_error"})
    assert _statuses(revoked) == {200: 1, 409: N - 1}
    assert _audits(app, "CERT_REVOKE", certificate.id) == 1
    assert _notifications(app, learner.id, NotificationType.CERTIFICATE_REVOKED) == 1
    reinstated = race(admin_user, "POST", f"/admin/certificates/{certificate.id}/reinstate",
                      n=N, headers=HX)
    assert _statuses(reinstated) == {200: 1, 409: N - 1}
    assert _audits(app, "CERT_REINSTATE", certificate.id) == 1
    after = _certificate(app, certificate.id)
    assert after.status == S.ISSUED and after.number == certificate.number
    assert after.revocation_reason is None and after.live_key


def test_parallel_rejects_and_reissues_take_effect_once(app, admin_user, make_user, make_track,
                                                        race, bearer, issue):
    track = make_track()
    pending_id = pending_certificate(app, make_user(), track)
    rejected = race(None, "POST", f"/api/admin/certificates/{pending_id}/reject", n=N,
                    headers=bearer(admin_user), json={"reason": "Incomplete"})
    assert _statuses(rejected) == {200: 1, 409: N - 1}
    assert _audits(app, "CERT_REJECT", pending_id) == 1

    holder = make_user()
    certificate = issue(holder, track=track)
    reissued = race(admin_user, "POST", f"/admin/certificates/{certificate.id}/reissue", n=N,
                    headers=HX)
    assert _statuses(reissued) == {200: 1, 409: N - 1}
    with app.app_context():
        replacements = db.session.scalars(select(Certificate).where(
            Certificate.supersedes_id == certificate.id)).all()
        live = db.session.scalars(select(Certificate).where(
            Certificate.recipient_id == holder.id, Certificate.status == S.ISSUED)).all()
    assert len(replacements) == 1 and len(live) == 1 and live[0].id == replacements[0].id
    assert _certificate(app, certificate.id).status == S.SUPERSEDED
    assert _audits(app, "CERT_SUPERSEDE", certificate.id) == 1


def test_parallel_issues_make_one_certificate(app, admin_user, make_user, make_track, race,
                                              issue):
    track = make_track()
    learner = make_user()
    data = {"user_id": learner.id, "track_id": track.id, "type": "COMPLETION", "notify": "y"}
    responses = race(admin_user, "POST", "/admin/certificates", n=N, headers=HX, data=data)
    assert _statuses(responses) == {200: 1, 409: N - 1}
    with app.app_context():
        made = db.session.scalars(select(Certificate).where(
            Certificate.recipient_id == learner.id)).all()
    assert len(made) == 1 and made[0].number.endswith("-00001")
    assert issue(make_user(), track=track).number.endswith("-00002")


def test_parallel_rejects_tell_the_learner_once(app, admin_user, make_user, make_track, race):
    """Rejecting notifies the learner: N double-clicks on Reject (the page) make one
    rejection, one audit row and one notice with the reason."""
    learner = make_user(name="Told Once")
    pending_id = pending_certificate(app, learner, make_track())
    responses = race(admin_user, "POST", f"/admin/certificates/{pending_id}/reject", n=N,
                     headers=HX, data={"reason": "Logbook missing"})
    assert _statuses(responses) == {200: 1, 409: N - 1}
    assert "Already rejected" in next(r for r in responses if r.status_code == 409).get_data(
        as_text=True)
    assert _audits(app, "CERT_REJECT", pending_id) == 1
    assert _notifications(app, learner.id, NotificationType.CERTIFICATE_REJECTED) == 1
    with app.app_context():
        note = db.session.scalars(select(Notification).where(
            Notification.user_id == learner.id)).one()
        assert "Reason: Logbook missing" in note.body
    assert _certificate(app, pending_id).status == S.REJECTED
