"""Superseded certificates and re-certification on a track's major version: the public
standing (one function), the grace period, the new version's certificate superseding the
old one, the notices, and minor versions changing nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditLog,
    Certificate,
    CertificateStatus,
    CertificationTrack,
    Enrolment,
    Notification,
    NotificationType,
    ProgressStatus,
    User,
)
from app.services import certificates as certs
from app.services import training, verification
from app.services.certificates.status import Standing, recertification_due_on
from app.services.context import Actor
from app.services.dates import today
from app.services.errors import Conflict, ValidationFailed
from app.services.open_badges import status as badge_status

S = CertificateStatus


def _complete(app, user, track) -> Certificate:
    """Enrol and complete the (exam-less) track; returns the certificate it requested."""
    with app.app_context():
        track_row = db.session.get(CertificationTrack, track.id)
        enrolment = training.find_enrolment(user.id, track.id) or training.enrol(
            db.session.get(User, user.id), track_row, Actor.system())
        for course in track_row.courses:
            progress = training.progress_for(enrolment, course)
            if progress.status != ProgressStatus.COMPLETED:
                training.complete_course(progress, Actor.system())
        db.session.commit()
        assert enrolment.status == ProgressStatus.COMPLETED
        return db.session.scalars(select(Certificate).where(
            Certificate.recipient_id == user.id, Certificate.track_id == track.id)
            .order_by(Certificate.id.desc())).first()


def _bump(track, *, major=True, **kwargs) -> int:
    count = training.bump_version(db.session.get(CertificationTrack, track.id), Actor.system(),
                                  major=major, **kwargs)
    db.session.commit()
    return count


def _answer(certificate):
    return verification.answer_for(verification.by_verification_id(certificate.verification_id))


def test_reissue_makes_the_old_one_superseded_by_the_new_one(app, make_user, make_track,
                                                             issue):
    old = issue(make_user(), track=make_track(exam=False))
    with app.app_context():
        new = certs.reissue(db.session.get(Certificate, old.id), Actor.system())
        db.session.commit()
        answer = _answer(db.session.get(Certificate, old.id))
        assert answer["status"] == Standing.SUPERSEDED
        assert answer["certificate"]["superseded_by"] == {
            "number": new.number, "status": "VALID",
            "verify_url": answer["certificate"]["superseded_by"]["verify_url"]}
        assert answer["certificate"]["superseded_by"]["verify_url"].endswith(new.verification_id)
        assert answer["certificate"]["superseded_on"] == today().isoformat()
        assert answer["certificate"]["revoked_on"] is None
        # The successor's own standing, now: revoking it says so on the old one's page.
        certs.revoke(new, Actor.system(), "Issued in error", "issued_in_error")
        db.session.commit()
        assert _answer(db.session.get(Certificate, old.id))["certificate"]["superseded_by"][
            "status"] == "REVOKED"
        # The Open Badges status list: no longer valid.
        assert badge_status.entry_of(db.session.get(Certificate, old.id)).is_set
        actions = db.session.scalars(select(AuditLog.action).where(
            AuditLog.resource_type == "certificate", AuditLog.resource_id == str(old.id))
            .order_by(AuditLog.seq)).all()
        assert actions == ["CERT_ISSUE", "CERT_SUPERSEDE"]


def test_a_superseded_certificate_is_not_reinstated_or_revoked(app, make_user, make_track,
                                                               issue):
    old = issue(make_user(), track=make_track(exam=False))
    with app.app_context():
        new = certs.reissue(db.session.get(Certificate, old.id), Actor.system())
        db.session.commit()
        superseded = db.session.get(Certificate, old.id)
        with pytest.raises(Conflict, match=f"its replacement {new.number} stands") as refused:
            certs.reinstate(superseded, Actor.system())
        assert refused.value.status == 409
        with pytest.raises(Conflict):
            certs.revoke(superseded, Actor.system(), "No", "other")
        with pytest.raises(Conflict, match="Already re-issued"):
            certs.reissue(superseded, Actor.system())


def test_a_major_version_requires_recertification_at_once_by_default(app, make_user,
                                                                      make_track):
    track, holder = make_track(exam=False), make_user()
    old = _complete(app, holder, track)
    with app.app_context():
        certs.approve(db.session.get(Certificate, old.id), Actor.system())
        db.session.commit()
        certificate = db.session.get(Certificate, old.id)
        assert certificate.track_version == "1.0" and certs.verification_status(
            certificate) == Standing.VALID
        assert _bump(track) == 1
        certificate = db.session.get(Certificate, old.id)
        assert certs.verification_status(certificate) == Standing.RECERTIFICATION_REQUIRED
        answer = _answer(certificate)
        assert answer["status"] == "RECERTIFICATION_REQUIRED"
        assert answer["certificate"]["version"] == "1.0"
        assert answer["certificate"]["current_version"] == "2.0"
        notices = db.session.scalars(select(Notification).where(
            Notification.user_id == holder.id,
            Notification.type == NotificationType.RECERTIFICATION_REQUIRED)).all()
        assert len(notices) == 1 and "no longer valid for the current one" in notices[0].body
        held = training.tracks.recertification_holders(db.session.get(CertificationTrack,
                                                                      track.id))
        assert [(c.id, s) for c, s, _ in held] == [(old.id, Standing.RECERTIFICATION_REQUIRED)]


def test_the_grace_period_keeps_old_certificates_valid_until_it_ends(app, make_user,
                                                                     make_track, issue):
    track = make_track(exam=False, recertification_grace_days=30)
    holder = make_user()
    old = issue(holder, track=track)  # a direct issue: no enrolment, still a holder
    with app.app_context():
        assert _bump(track) == 1
        certificate = db.session.get(Certificate, old.id)
        due = recertification_due_on(certificate)
        assert due == today() + timedelta(days=30)
        assert certs.verification_status(certificate) == Standing.VALID
        assert certs.verification_status(certificate, due - timedelta(days=1)) == "VALID"
        assert certs.verification_status(certificate, due) == "RECERTIFICATION_REQUIRED"
        notice = db.session.scalar(select(Notification.body).where(
            Notification.user_id == holder.id,
            Notification.type == NotificationType.RECERTIFICATION_REQUIRED))
        assert f"stays valid until {due.isoformat()}" in notice
        # Two major versions behind: required at once, grace or not.
        _bump(track)
        assert certs.verification_status(db.session.get(Certificate, old.id)) == \
            Standing.RECERTIFICATION_REQUIRED


def test_expiry_comes_before_recertification(app, make_user, make_track, issue):
    track = make_track(exam=False)
    old = issue(make_user(), track=track)
    with app.app_context():
        _bump(track)
        certificate = db.session.get(Certificate, old.id)
        certificate.expires_at = today() - timedelta(days=1)
        db.session.commit()
        assert certs.verification_status(certificate) == Standing.EXPIRED


def test_a_minor_version_changes_nothing(app, make_user, make_track, issue):
    track, holder = make_track(exam=False), make_user()
    old = issue(holder, track=track)
    with app.app_context():
        assert _bump(track, major=False) == 0
        certificate = db.session.get(Certificate, old.id)
        assert db.session.get(CertificationTrack, track.id).version == "1.1"
        assert recertification_due_on(certificate) is None
        assert certs.verification_status(certificate) == Standing.VALID
        assert db.session.get(CertificationTrack, track.id).major_version_changed_at is None
        assert db.session.scalar(select(func.count(Notification.id)).where(
            Notification.user_id == holder.id,
            Notification.type == NotificationType.RECERTIFICATION_REQUIRED)) == 0


def test_completing_the_new_version_supersedes_the_old_certificate_on_approval(
        app, make_user, make_track):
    track, holder = make_track(exam=False), make_user()
    old = _complete(app, holder, track)
    with app.app_context():
        certs.approve(db.session.get(Certificate, old.id), Actor.system())
        db.session.commit()
        _bump(track)
    new = _complete(app, holder, track)  # the old live certificate does not block it
    with app.app_context():
        assert new.id != old.id and new.status == S.PENDING and new.track_version == "2.0"
        told = db.session.scalar(select(Notification.body).where(
            Notification.user_id == holder.id,
            Notification.type == NotificationType.TRAINING_COMPLETED)
            .order_by(Notification.id.desc()).limit(1))
        assert f"once approved it replaces {db.session.get(Certificate, old.id).number}" in told
        # A minor version meanwhile: the certificate still says the version completed.
        _bump(track, major=False)
        approved = certs.approve(db.session.get(Certificate, new.id), Actor.system())
        db.session.commit()
        superseded = db.session.get(Certificate, old.id)
        assert superseded.status == S.SUPERSEDED and superseded.live_key is None
        assert approved.supersedes_id == old.id and approved.snapshot["version"] == "2.0"
        assert certs.verification_status(approved) == Standing.VALID
        assert _answer(superseded)["certificate"]["superseded_by"]["number"] == approved.number
        issued = db.session.scalar(select(Notification.body).where(
            Notification.user_id == holder.id,
            Notification.type == NotificationType.CERTIFICATE_ISSUED)
            .order_by(Notification.id.desc()).limit(1))
        assert f"It replaces {superseded.number}" in issued
        # The track page's list: nobody left on an earlier version.
        assert training.tracks.recertification_holders(
            db.session.get(CertificationTrack, track.id)) == []
        # A second approval is refused.
        with pytest.raises(Conflict):
            certs.approve(db.session.get(Certificate, new.id), Actor.system())


def test_completing_the_same_version_again_keeps_the_live_certificate(app, make_user,
                                                                      make_track):
    track, holder = make_track(exam=False), make_user()
    first = _complete(app, holder, track)
    with app.app_context():
        enrolment = training.find_enrolment(holder.id, track.id)
        again = certs.request_completion(db.session.get(Enrolment, enrolment.id),
                                         Actor.system())
        assert again.id == first.id
        from app.services.training.progress import completion_message
        assert completion_message(again) == "Your certificate is waiting for approval."
        certs.approve(again, Actor.system())
        assert "stays valid" in completion_message(again)


def test_a_version_bump_from_a_stale_page_is_refused(app, make_track):
    track = make_track(exam=False)
    with app.app_context():
        _bump(track, from_version="1.0")
        with pytest.raises(Conflict, match="at version 2.0 already"):
            _bump(track, from_version="1.0")
        assert db.session.get(CertificationTrack, track.id).version == "2.0"


def test_the_grace_period_is_checked(app, make_track):
    track = make_track(exam=False)
    with app.app_context():
        row = db.session.get(CertificationTrack, track.id)
        for bad in (-1, 3651, "x", True):
            with pytest.raises(ValidationFailed) as refused:
                training.update_track(row, Actor.system(), recertification_grace_days=bad)
            assert "recertification_grace_days" in refused.value.fields
        training.update_track(row, Actor.system(), recertification_grace_days=None)
        assert row.recertification_grace_days == 0
        training.update_track(row, Actor.system(), recertification_grace_days=14)
        db.session.commit()
        assert db.session.get(CertificationTrack, track.id).recertification_grace_days == 14


def test_an_older_version_is_not_issued_beside_a_newer_one(app, make_user, make_track):
    """A v1 request left pending over the bump, and a revoked v1, stay as they are once v2
    is issued: approving or reinstating them is refused, naming the v2 certificate."""
    track, holder, other = make_track(exam=False), make_user(), make_user()
    stale = _complete(app, holder, track)          # pending v1.0, never approved
    revoked = _complete(app, other, track)
    with app.app_context():
        certs.revoke(certs.approve(db.session.get(Certificate, revoked.id), Actor.system()),
                     Actor.system(), "Issued in error", "issued_in_error")
        db.session.commit()
        _bump(track)
    newer = {person.id: _complete(app, person, track) for person in (holder, other)}
    with app.app_context():
        for cert in newer.values():
            certs.approve(db.session.get(Certificate, cert.id), Actor.system())
        db.session.commit()
        v2 = db.session.get(Certificate, newer[holder.id].id)
        with pytest.raises(Conflict, match=f"{v2.number} of version 2.0 stands"):
            certs.approve(db.session.get(Certificate, stale.id), Actor.system())
        db.session.rollback()
        with pytest.raises(Conflict, match="of version 2.0 stands"):
            certs.reinstate(db.session.get(Certificate, revoked.id), Actor.system())
        db.session.rollback()
        assert db.session.get(Certificate, stale.id).status == S.PENDING
        assert db.session.get(Certificate, revoked.id).status == S.REVOKED
        # The stale request can still be turned down.
        certs.reject(db.session.get(Certificate, stale.id), Actor.system(), "Out of date")
        db.session.commit()


def test_holders_of_earlier_versions_are_listed_by_version_as_numbers():
    from app.services.training.tracks import _version_key

    versions = ["10.0", "9.2", "9.10", "1.0", None]
    assert sorted(versions, key=_version_key) == [None, "1.0", "9.2", "9.10", "10.0"]
