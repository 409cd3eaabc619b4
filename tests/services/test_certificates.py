"""Certificate rules: numbering, one live certificate, frozen snapshot, lifecycle,
instructors and their recommendations."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditLog,
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificationTrack,
    Course,
    Notification,
    User,
)
from app.models.base import utcnow
from app.services import certificates as certs
from app.services import teaching, training
from app.services.context import Actor
from app.services.errors import Conflict, ValidationFailed

S = CertificateStatus


def test_numbers_are_per_year_sequential_and_gapless(app, make_user, make_track, issue):
    track = make_track()
    numbers = [issue(make_user(), track=track).number for _ in range(3)]
    year = utcnow().year
    assert numbers == [f"CERT-{year}-00001", f"CERT-{year}-00002", f"CERT-{year}-00003"]
    with app.app_context():
        # A rolled-back issue gives its number back.
        certs.issue_certificate(Actor.system(), recipient=db.session.get(User, make_user().id),
                                type_=CertificateType.COMPLETION,
                                track=db.session.get(CertificationTrack, track.id))
        db.session.rollback()
    assert issue(make_user(), track=track).number == f"CERT-{year}-00004"


def test_parallel_issues_get_distinct_numbers(make_app, make_user, make_track):
    app = make_app(SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    track = make_track()
    users = [make_user() for _ in range(12)]
    numbers: list[str] = []
    errors: list[Exception] = []
    barrier = threading.Barrier(len(users))

    def work(user):
        barrier.wait(timeout=30)
        try:
            with app.app_context():
                certificate = certs.issue_certificate(
                    Actor.system(), recipient=db.session.get(User, user.id),
                    type_=CertificateType.COMPLETION,
                    track=db.session.get(CertificationTrack, track.id))
                db.session.commit()
                numbers.append(certificate.number)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    year = utcnow().year
    assert sorted(numbers) == [f"CERT-{year}-{n:05d}" for n in range(1, 13)]


def test_parallel_duplicates_make_one_certificate(make_app, make_user, make_track):
    app = make_app(SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    track, user = make_track(), make_user()
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def work():
        barrier.wait(timeout=30)
        with app.app_context():
            try:
                certs.issue_certificate(Actor.system(), recipient=db.session.get(User, user.id),
                                        type_=CertificateType.COMPLETION,
                                        track=db.session.get(CertificationTrack, track.id))
                db.session.commit()
                outcomes.append("issued")
            except Conflict as exc:
                db.session.rollback()
                outcomes.append(exc.message)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("issued") == 1
    assert outcomes.count("User already has this certificate") == 5
    with app.app_context():
        assert db.session.scalar(select(func.count(Certificate.id))) == 1


def test_the_snapshot_is_frozen_at_issue(app, make_user, make_track, issue):
    track = make_track("Harness Safety", validity_months=12)
    user = make_user(name="Tāne Ngāti Pōneke")
    certificate = issue(user, track=track)
    with app.app_context():
        db.session.get(User, user.id).name = "Somebody Else"
        db.session.get(CertificationTrack, track.id).name = "Renamed Track"
        db.session.commit()
        stored = db.session.get(Certificate, certificate.id)
        assert stored.snapshot["recipient_name"] == "Tāne Ngāti Pōneke"
        assert stored.snapshot["subject"] == "Harness Safety"
        assert stored.snapshot["version"] == "1.0" and stored.snapshot["type"] == "COMPLETION"
        assert stored.snapshot["expires_on"] == stored.expires_at.isoformat()
        assert len(stored.verification_id) >= 32  # 192 random bits, not the number
        assert stored.verification_code and len(stored.verification_code) == 11


def test_reissue_supersedes_with_current_details(app, make_user, make_track, issue):
    track, user = make_track("Old Name"), make_user(name="Old Person")
    certificate = issue(user, track=track)
    with app.app_context():
        db.session.get(User, user.id).name = "New Person"
        db.session.commit()
        replacement = certs.reissue(db.session.get(Certificate, certificate.id), Actor.system())
        db.session.commit()
        old = db.session.get(Certificate, certificate.id)
        assert old.status == S.SUPERSEDED and old.revocation_category == "superseded"
        assert old.live_key is None and replacement.live_key
        assert replacement.snapshot["recipient_name"] == "New Person"
        assert replacement.supersedes_id == old.id and replacement.number != old.number
        assert certs.verification_status(old) == "SUPERSEDED"
        with pytest.raises(Conflict, match=f"superseded and cannot be reinstated; its "
                                           f"replacement {replacement.number} stands"):
            certs.reinstate(old, Actor.system())


def test_lifecycle_with_audit_and_notifications(app, make_user, make_track, issue):
    track, user = make_track(), make_user()
    certificate = issue(user, track=track)
    with app.app_context():
        c = db.session.get(Certificate, certificate.id)
        with pytest.raises(ValidationFailed, match="reason"):
            certs.revoke(c, Actor.system(), "  ")
        certs.revoke(c, Actor.system(), "Issued to the wrong person", "issued_in_error")
        assert c.status == S.REVOKED and c.live_key is None
        certs.reinstate(c, Actor.system())
        db.session.commit()
        assert c.status == S.ISSUED and c.revocation_reason is None
        actions = db.session.scalars(select(AuditLog.action).where(
            AuditLog.resource_type == "certificate", AuditLog.resource_id == str(c.id))
            .order_by(AuditLog.seq)).all()
        assert actions == ["CERT_ISSUE", "CERT_REVOKE", "CERT_REINSTATE"]
        kinds = db.session.scalars(select(Notification.type).where(
            Notification.user_id == user.id).order_by(Notification.id)).all()
        assert kinds == ["CERTIFICATE_ISSUED", "CERTIFICATE_REVOKED", "CERTIFICATE_ISSUED"]


def test_reinstating_when_another_took_its_place_is_refused(app, make_user, make_track, issue):
    track, user = make_track(), make_user()
    first = issue(user, track=track)
    with app.app_context():
        certs.revoke(db.session.get(Certificate, first.id), Actor.system(), "mistake")
        db.session.commit()
    issue(user, track=track)
    with app.app_context(), pytest.raises(Conflict, match="User already has this certificate"):
        certs.reinstate(db.session.get(Certificate, first.id), Actor.system())


def test_approve_and_reject_pending(app, make_user, make_track):
    track = make_track()
    with app.app_context():
        pending = [Certificate(type=CertificateType.COMPLETION, status=S.PENDING,
                               recipient_id=make_user().id, track_id=track.id) for _ in range(2)]
        db.session.add_all(pending)
        db.session.commit()
        approved = certs.approve(pending[0], Actor.system())
        assert approved.status == S.ISSUED and approved.number.startswith("CERT-")
        with pytest.raises(Conflict, match="Already approved"):  # a state conflict: 409
            certs.approve(approved, Actor.system())
        with pytest.raises(ValidationFailed, match="reason"):
            certs.reject(pending[1], Actor.system(), "")
        certs.reject(pending[1], Actor.system(), "Not enough evidence")
        db.session.commit()
        assert pending[1].status == S.REJECTED and pending[1].number is None


def test_statuses_for_the_public_check(app, make_user, make_track, issue):
    certificate = issue(make_user(), track=make_track(validity_months=1))
    with app.app_context():
        c = db.session.get(Certificate, certificate.id)
        assert certs.verification_status(c) == "VALID"
        assert certs.verification_status(c, c.expires_at + timedelta(days=1)) == "EXPIRED"
        c.status = S.PENDING
        assert certs.verification_status(c) == "NOT_FOUND"
        assert certs.verification_status(None) == "NOT_FOUND"


def test_instructors_sessions_ratings_and_recommendations(app, make_user, make_track, issue):
    track = make_track()
    course = track.courses[0]
    teacher, learner, stranger = make_user(name="Tina Teacher"), make_user(), make_user()
    issue(teacher, course=course, type_=CertificateType.TEACHING)
    with app.app_context():
        t, lrn = db.session.get(User, teacher.id), db.session.get(User, learner.id)
        c = db.session.get(Course, course.id)
        assert teaching.is_instructor(t, c) and not teaching.is_instructor(lrn, c)
        with pytest.raises(ValidationFailed, match="instructor"):
            teaching.create_session(Actor(lrn), c, title="x", starts_at=utcnow())
        session = teaching.create_session(Actor(t), c, title="Morning", starts_at=datetime.now(
            utcnow().tzinfo))
        # Only learners enrolled in the course's track attend or are recommended.
        with pytest.raises(ValidationFailed, match="not enrolled"):
            teaching.mark_attendance(Actor(t), session, lrn, True)
        training.enrol(lrn, c.track, Actor.system())
        teaching.mark_attendance(Actor(t), session, lrn, True)
        with pytest.raises(ValidationFailed):
            teaching.mark_attendance(Actor(lrn), session, lrn, True)
        teaching.rate_session(Actor(lrn), session, 4)
        with pytest.raises(ValidationFailed):
            teaching.rate_session(Actor(db.session.get(User, stranger.id)), session, 5)
        with pytest.raises(ValidationFailed):
            teaching.rate_session(Actor(lrn), session, 6)
        pending = teaching.recommend(Actor(t), c, lrn)
        db.session.commit()
        assert pending.status == S.PENDING and pending.recommended_by_id == teacher.id
        assert pending.sessions_attended == 1
        with pytest.raises(Conflict, match="User already has this certificate"):
            teaching.recommend(Actor(t), c, lrn)
        figures = teaching.supporting_figures(t, c, CertificateType.TEACHING)
        assert figures.average_rating == 4.0


def test_search_filters(app, make_user, make_track, issue):
    track, other = make_track("Alpha"), make_track("Beta")
    wiremu = make_user(name="Wiremu Tipene")
    issue(wiremu, track=track)
    issue(make_user(), track=other, type_=CertificateType.MASTERY)
    with app.app_context():
        def count(**kw):
            return db.session.scalar(select(func.count()).select_from(
                certs.search(certs.CertificateFilters(**kw)).subquery()))

        assert count(status="issued") == 2 and count(status="pending") == 0
        assert count(q="wiremu") == 1 and count(type="mastery") == 1
        assert count(track_id=track.id) == 1 and count(user_id=wiremu.id) == 1
        today = utcnow().date()
        assert count(date_from=today, date_to=today) == 2
        assert count(date_from=today + timedelta(days=1)) == 0


def test_rejecting_tells_the_learner_with_the_reason(app, make_user, make_track):
    """CERTIFICATE_REJECTED: in-app always, email per the learner's training-email setting;
    a second rejection is refused and tells nobody again."""
    from app.models import DeliveryChannel, NotificationDelivery, NotificationType

    track = make_track("Scaffold Safety")
    emails_on, emails_off = make_user(name="Ana Email"), make_user(name="Ben Quiet")
    with app.app_context():
        db.session.get(User, emails_off.id).email_training = False
        pending = [Certificate(type=CertificateType.COMPLETION, status=S.PENDING,
                               recipient_id=u.id, track_id=track.id)
                   for u in (emails_on, emails_off)]
        db.session.add_all(pending)
        db.session.commit()
        for certificate in pending:
            certs.reject(certificate, Actor.system(), "  Evidence photo is unreadable.  ")
        db.session.commit()
        with pytest.raises(Conflict, match="Already rejected"):
            certs.reject(pending[0], Actor.system(), "Again")
        db.session.rollback()
        for user, emailed in ((emails_on, True), (emails_off, False)):
            [note] = db.session.scalars(select(Notification).where(
                Notification.user_id == user.id)).all()
            assert note.type == NotificationType.CERTIFICATE_REJECTED
            assert note.title == "Certificate not approved: Scaffold Safety"
            assert "Reason: Evidence photo is unreadable." in note.body
            assert note.delivery["email"] is emailed
            channels = list(db.session.scalars(select(NotificationDelivery.channel).where(
                NotificationDelivery.notification_id == note.id)))
            assert channels == ([DeliveryChannel.EMAIL] if emailed else [])
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == "CERT_REJECT")) == 2
        # Told nothing when the admin says so.
        quiet = Certificate(type=CertificateType.MASTERY, status=S.PENDING,
                            recipient_id=emails_on.id, track_id=track.id)
        db.session.add(quiet)
        db.session.commit()
        certs.reject(quiet, Actor.system(), "Duplicate request.", notify_recipient=False)
        db.session.commit()
        assert db.session.scalar(select(func.count(Notification.id)).where(
            Notification.user_id == emails_on.id)) == 1


def test_issuing_many_decides_each_as_one_at_a_time_would(app, make_user, make_track):
    """issue_certificates: a refused request fails alone with issue_certificate's error,
    the same subject twice in one call issues once, numbers follow the requests' order,
    and each issued one has its audit row, notification and status-list entry."""
    from app.models import StatusListEntry
    from app.services.certificates.lifecycle import IssueRequest, issue_certificates

    track = make_track()
    people = [make_user() for _ in range(3)]
    inactive = make_user(active=False)
    with app.app_context():
        t = db.session.get(CertificationTrack, track.id)
        users = [db.session.get(User, p.id) for p in people]
        outcomes = issue_certificates(Actor.system(), [
            IssueRequest(recipient=users[0], type_=CertificateType.COMPLETION, track=t),
            IssueRequest(recipient=db.session.get(User, inactive.id),
                         type_=CertificateType.COMPLETION, track=t),
            IssueRequest(recipient=users[1], type_=CertificateType.COMPLETION, track=t),
            IssueRequest(recipient=users[1], type_=CertificateType.COMPLETION, track=t),
            IssueRequest(recipient=users[2], type_=CertificateType.COMPLETION, track=t)])
        db.session.commit()
        assert isinstance(outcomes[1], ValidationFailed) and "inactive" in outcomes[1].message
        assert isinstance(outcomes[3], Conflict)
        issued = [outcomes[i] for i in (0, 2, 4)]
        year = utcnow().year
        assert [c.number for c in issued] == [f"CERT-{year}-0000{n}" for n in (1, 2, 3)]
        assert all(c.status == S.ISSUED and c.credential_jws for c in issued)
        ids = [c.id for c in issued]
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "CERT_ISSUE", AuditLog.resource_id.in_(map(str, ids)))) == 3
        assert db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.user_id.in_([p.id for p in people]))) == 3
        assert db.session.scalar(select(func.count(func.distinct(StatusListEntry.list_index)))
                                 .where(StatusListEntry.certificate_id.in_(ids))) == 3
        with pytest.raises(Conflict):  # the n=1 case raises what the batch returned
            certs.issue_certificate(Actor.system(), recipient=users[0],
                                    type_=CertificateType.COMPLETION, track=t)
