"""Renewal campaigns: a manager starts one on a track's page; holders whose certificate
of the track expires within N days (1-365) are invited once (in-app, email per their
compliance setting) with a link that re-enrols them; the campaign counts invited and
re-enrolled; double-clicks, two admins, a re-run job invite nobody twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import renewals as renewal_jobs
from app.models import (
    Certificate,
    CertificateType,
    CourseProgress,
    Enrolment,
    Notification,
    NotificationType,
    ProgressStatus,
    RenewalCampaign,
    RenewalInvitation,
    Role,
    User,
)
from app.services import dates
from app.services import renewals as renewals_service
from tests.conftest import HX


def _expiring(app: Any, certificate: Any, days: int) -> None:
    with app.app_context():
        db.session.get(Certificate, certificate.id).expires_at = dates.today() + timedelta(
            days=days)
        db.session.commit()


def _campaigns(app: Any) -> list[RenewalCampaign]:
    with app.app_context():
        return list(db.session.scalars(select(RenewalCampaign).order_by(RenewalCampaign.id)))


def _invitations(app: Any, user: Any | None = None) -> list[RenewalInvitation]:
    with app.app_context():
        stmt = select(RenewalInvitation).order_by(RenewalInvitation.id)
        if user is not None:
            stmt = stmt.where(RenewalInvitation.user_id == user.id)
        return list(db.session.scalars(stmt))


def _invites(app: Any, user: Any) -> list[Notification]:
    with app.app_context():
        return list(db.session.scalars(select(Notification).where(
            Notification.user_id == user.id,
            Notification.type == NotificationType.RENEWAL_INVITATION)))


def test_a_campaign_invites_holders_expiring_within_the_window(
        app, make_track, issue, make_user, org, manager_client):
    track = make_track("Renew Track", exam=False)
    soon, later, other_track = (make_user(Role.STAFF, org, name=n)
                                for n in ("Soon", "Later", "Other"))
    _expiring(app, issue(soon, track=track), 20)
    _expiring(app, issue(later, track=track), 90)
    _expiring(app, issue(other_track, track=make_track("Elsewhere", exam=False)), 5)
    response = manager_client.post(f"/admin/tracks/{track.id}/renewals",
                                   data={"within_days": "30"}, headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    (campaign,) = _campaigns(app)
    assert campaign.invited_count == 1 and campaign.status == "DONE"  # inline job ran
    assert '<td class="invited-count">1</td>' in manager_client.get(
        f"/admin/tracks/{track.id}").get_data(as_text=True) or "invited-count" in html
    (invitation,) = _invitations(app)
    assert invitation.user_id == soon.id
    (notice,) = _invites(app, soon)
    assert notice.link == f"/renewals/{invitation.id}"
    assert "expires on" in notice.body
    assert _invites(app, later) == [] and _invites(app, other_track) == []
    with app.app_context():  # email per their compliance setting (on by default)
        assert db.session.get(Notification, notice.id).delivery["email"] is True


def test_double_click_and_a_rerun_invite_nobody_twice(app, make_track, issue, staff_user,
                                                      manager_client):
    track = make_track("Twice Track", exam=False)
    _expiring(app, issue(staff_user, track=track), 10)
    first = manager_client.post(f"/admin/tracks/{track.id}/renewals",
                                data={"within_days": "30"}, headers=HX)
    again = manager_client.post(f"/admin/tracks/{track.id}/renewals",
                                data={"within_days": "60"}, headers=HX)
    assert first.status_code == again.status_code == 200
    assert "started today already (1 invited)" in again.get_data(as_text=True)
    (campaign,) = _campaigns(app)
    with app.app_context():
        assert renewal_jobs.run_campaign(campaign.id)["invited"] == 0  # the job again
    assert len(_invitations(app)) == 1 and len(_invites(app, staff_user)) == 1


def test_parallel_starts_make_one_campaign_and_one_invitation(app, make_track, issue,
                                                              staff_user, make_user, race):
    track = make_track("Race Renew", exam=False)
    _expiring(app, issue(staff_user, track=track), 10)
    manager = make_user(Role.MANAGER)
    responses = race(manager, "POST", f"/admin/tracks/{track.id}/renewals",
                     data={"within_days": "30"}, headers=HX)
    assert all(r.status_code == 200 for r in responses)
    assert len(_campaigns(app)) == 1
    assert len(_invitations(app)) == 1 and len(_invites(app, staff_user)) == 1


def test_the_invitee_re_enrols_from_the_link_once(app, make_track, issue, staff_user,
                                                  staff_client, manager_client, new_client,
                                                  make_user, org):
    track = make_track("Again Track", exam=False, validity_months=12)
    # Completed once (an enrolment), then the certificate nears its expiry.
    assert staff_client.post(f"/learn/tracks/{track.id}/enrol").status_code == 302
    (course,) = track.courses
    staff_client.post(f"/learn/courses/{course.id}/complete")
    with app.app_context():
        from app.services import certificates
        from app.services.context import Actor

        pending = db.session.scalar(select(Certificate).where(
            Certificate.recipient_id == staff_user.id))
        certificates.approve(pending, Actor.system())
        db.session.commit()
        certificate_id = pending.id
    with app.app_context():
        db.session.get(Certificate, certificate_id).expires_at = dates.today() + timedelta(7)
        db.session.commit()
    manager_client.post(f"/admin/tracks/{track.id}/renewals", data={"within_days": "14"})
    (invitation,) = _invitations(app)
    page = staff_client.get(f"/renewals/{invitation.id}")
    assert page.status_code == 200 and "Re-enrol in Again Track" in page.get_data(as_text=True)
    # Nobody else sees or uses it.
    stranger = new_client()
    stranger.login(make_user(Role.STAFF, org).email)
    assert stranger.get(f"/renewals/{invitation.id}").status_code == 404
    assert stranger.post(f"/renewals/{invitation.id}/re-enrol").status_code == 404
    done = staff_client.post(f"/renewals/{invitation.id}/re-enrol")
    assert done.status_code == 302 and done.headers["Location"].endswith(
        f"/learn/tracks/{track.id}")
    again = staff_client.post(f"/renewals/{invitation.id}/re-enrol")
    assert again.status_code == 302
    with app.app_context():
        enrolment = db.session.scalar(select(Enrolment).where(
            Enrolment.user_id == staff_user.id))
        assert enrolment.status == ProgressStatus.IN_PROGRESS
        assert db.session.scalar(select(CourseProgress.status).where(
            CourseProgress.enrolment_id == enrolment.id)) == ProgressStatus.NOT_STARTED
        assert db.session.get(Certificate, certificate_id).status == "ISSUED"  # stands
    (campaign,) = _campaigns(app)
    assert campaign.re_enrolled_count == 1
    assert "re-enrolled-count\">1<" in manager_client.get(
        f"/admin/tracks/{track.id}").get_data(as_text=True)

    # Completing the track again renews the certificate at once: the old one is
    # superseded by a new one valid from today.
    staff_client.post(f"/learn/courses/{course.id}/complete")
    with app.app_context():
        old = db.session.get(Certificate, certificate_id)
        renewed = db.session.scalar(select(Certificate).where(
            Certificate.supersedes_id == certificate_id))
        assert old.status == "SUPERSEDED" and renewed.status == "ISSUED"
        assert renewed.expires_at > old.expires_at and renewed.issued_by_id is None
        assert db.session.get(RenewalInvitation, invitation.id).renewed_certificate_id \
            == renewed.id
        body = db.session.scalar(select(Notification.body).where(
            Notification.user_id == staff_user.id,
            Notification.type == NotificationType.TRAINING_COMPLETED)
            .order_by(Notification.id.desc()).limit(1))
        assert f"renewed certificate {renewed.number}" in body
        # Another completion later renews nothing more.
        assert renewals_service.renewal_of(
            db.session.scalar(select(Enrolment).where(Enrolment.user_id == staff_user.id)),
            renewed) is None


def test_a_holder_of_mastery_and_completion_is_invited_about_completion_and_renewed(
        app, make_track, issue, staff_user, staff_client, manager_client):
    # Mastery expires first, but completing the track again renews only the COMPLETION
    # certificate: the campaign invites about that one, once.
    track = make_track("Both Kinds", exam=False, validity_months=12)
    mastery = issue(staff_user, track=track, type_=CertificateType.MASTERY)
    completion = issue(staff_user, track=track)
    _expiring(app, mastery, 5)
    _expiring(app, completion, 20)
    manager_client.post(f"/admin/tracks/{track.id}/renewals", data={"within_days": "30"})
    (invitation,) = _invitations(app)
    assert invitation.certificate_id == completion.id
    assert len(_invites(app, staff_user)) == 1
    assert staff_client.post(f"/renewals/{invitation.id}/re-enrol").status_code == 302
    (course,) = track.courses
    staff_client.post(f"/learn/courses/{course.id}/complete")
    with app.app_context():
        renewed = db.session.scalar(select(Certificate).where(
            Certificate.supersedes_id == completion.id))
        assert renewed is not None and renewed.status == "ISSUED"
        assert renewed.type == CertificateType.COMPLETION
        assert db.session.get(Certificate, completion.id).status == "SUPERSEDED"
        assert db.session.get(Certificate, mastery.id).status == "ISSUED"  # untouched
        assert db.session.get(RenewalInvitation, invitation.id).renewed_certificate_id \
            == renewed.id


def test_deactivated_holders_are_not_invited(app, make_track, issue, staff_user,
                                             manager_client):
    track = make_track("Inactive Holder", exam=False)
    _expiring(app, issue(staff_user, track=track), 3)
    with app.app_context():
        db.session.get(User, staff_user.id).active = False
        db.session.commit()
    manager_client.post(f"/admin/tracks/{track.id}/renewals", data={"within_days": "30"})
    assert _invitations(app) == []


def test_only_admins_and_managers_start_campaigns(app, make_track, staff_client,
                                                  org_admin_client, client):
    track = make_track("Guarded", exam=False)
    for who in (staff_client, org_admin_client):
        assert who.post(f"/admin/tracks/{track.id}/renewals",
                        data={"within_days": "30"}).status_code == 403
    assert client.post(f"/admin/tracks/{track.id}/renewals", data={"within_days": "30"},
                       headers={"X-CSRFToken": client.csrf_token()}).status_code in (302, 401)
    assert _campaigns(app) == []


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=st.one_of(st.text(max_size=12), st.integers(-10**6, 10**6).map(str)))
def test_any_days_value_is_checked_never_a_500(app, make_track, admin_client, days):
    track = getattr(test_any_days_value_is_checked_never_a_500, "_track", None)
    if track is None or track.get("app") is not app:
        track = {"app": app, "track": make_track("Days Track", exam=False)}
        test_any_days_value_is_checked_never_a_500._track = track  # type: ignore[attr-defined]
    track_id = track["track"].id
    with app.app_context():
        db.session.execute(RenewalCampaign.__table__.delete())
        db.session.commit()
    response = admin_client.post(f"/admin/tracks/{track_id}/renewals",
                                 data={"within_days": days}, headers=HX)
    valid = days.strip().isascii() and days.strip().isdigit() and 1 <= int(days.strip()) <= 365
    assert response.status_code == (200 if valid else 422), (days, response.status_code)
    with app.app_context():
        count = db.session.scalar(select(func.count(RenewalCampaign.id)))
    assert count == (1 if valid else 0)
