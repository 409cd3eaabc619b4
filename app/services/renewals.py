"""Renewal campaigns: an admin or manager invites the holders of a track's certificates
that expire within N days (1-365) to re-enrol in the track before they lapse.

- start_campaign() records the campaign (one per track per day: the unique
  (track_id, started_on) decides a double-click, two admins or a stale page; the
  others are told it started already) and queues `app.jobs.renewals.run_campaign`
  through the outbox (a worker for big sets; inline without Redis).
- run_campaign() (the job; idempotent) holds the campaign's row, invites every holder
  not invited by this campaign yet (unique (campaign_id, user_id)), tells each by
  notify_many (RENEWAL_INVITATION: in-app, email per their compliance-email setting;
  one per person and campaign by its dedupe key) and records the count. Running it
  twice, or two workers at once, invites nobody twice.
- accept() is the invitation's link: the invitee re-enrols (a completed enrolment
  starts over with fresh attempts; no enrolment: a new one; one in progress stays) and
  the campaign counts one re-enrolment (a conditional UPDATE: a double-click counts
  once).
- renew_on_completion(): when a re-enrolled invitee completes the track again, the
  certificate the invitation was about is renewed at once: superseded (a conditional
  UPDATE, so it happens once) by a new COMPLETION certificate issued now, with the
  track's validity from today, covering the version completed (the approval given to
  the original stands; audited with the system as the actor, "automatic").

Who is invited: the holder of an ISSUED COMPLETION certificate of the campaign's track
whose expiry falls between the campaign's day and N days later, held by someone taking
part (active, organization active). Only COMPLETION: re-completing the track renews the
completion certificate (roll_up passes that one to renew_on_completion); a Mastery or
Teaching certificate is not earned by completing the track, so an invitation about one
could never be fulfilled."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import (
    AuditAction,
    CampaignStatus,
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificationTrack,
    CourseProgress,
    Enrolment,
    InvitationStatus,
    NotificationType,
    ProgressStatus,
    RenewalCampaign,
    RenewalInvitation,
    User,
)
from app.models.base import utcnow
from app.services import audit, dates, fields, urls
from app.services.context import Actor
from app.services.enqueue import enqueue_after_commit
from app.services.errors import AlreadyDone, NotFound, ServiceError, ValidationFailed
from app.services.notifications import NewNotification, notify_many
from app.services.persistence import flush_or_raise
from app.services.training.enrolment import enrol, find_enrolment
from app.services.transitions import lock, transition
from app.services.users import taking_part

MIN_DAYS, MAX_DAYS = 1, 365
RUN_JOB = "app.jobs.renewals.run_campaign"
DAYS_MESSAGE = "From 1 to 365 days."


def parse_days(value: Any) -> int:
    """The campaign's window in days; ValidationFailed (naming within_days) otherwise."""
    try:
        return fields.parse_int(value if value is not None else "", min=MIN_DAYS, max=MAX_DAYS)
    except (ValueError, TypeError):
        raise ValidationFailed("Choose how many days ahead: " + DAYS_MESSAGE,
                               fields={"within_days": [DAYS_MESSAGE]}) from None


def _started_today(track: CertificationTrack, day: date) -> AlreadyDone:
    existing = db.session.scalar(select(RenewalCampaign).where(
        RenewalCampaign.track_id == track.id, RenewalCampaign.started_on == day))
    counted = (f" ({existing.invited_count} invited)" if existing is not None
               and existing.status == CampaignStatus.DONE else "")
    return AlreadyDone(f"A renewal campaign for {track.name} started today already{counted}.")


def start_campaign(track: CertificationTrack, actor: Actor, within_days: Any) -> RenewalCampaign:
    """Start a campaign for holders whose certificate expires within `within_days`.
    Raises ValidationFailed (days out of range, inactive track) and AlreadyDone (one
    started today already, also under a race)."""
    days = parse_days(within_days)
    if not track.active:
        raise ValidationFailed(f"{track.name} is inactive: nobody can re-enrol in it.")
    today = dates.today()
    if db.session.scalar(select(RenewalCampaign.id).where(
            RenewalCampaign.track_id == track.id, RenewalCampaign.started_on == today)):
        raise _started_today(track, today)
    campaign = RenewalCampaign(track_id=track.id, within_days=days, started_on=today,
                               started_by_id=actor.user.id if actor.user else None,
                               status=CampaignStatus.QUEUED, invited_count=0,
                               re_enrolled_count=0)
    try:
        flush_or_raise(AlreadyDone("started"), add=[campaign])
    except AlreadyDone:
        raise _started_today(track, today) from None
    audit.record(actor, AuditAction.CREATE, "renewal_campaign", campaign.id,
                 {"track_id": track.id, "within_days": days})
    enqueue_after_commit(RUN_JOB, campaign.id)
    return campaign


def expiring_certificates(campaign: RenewalCampaign) -> list[Certificate]:
    """The certificates a campaign is about: each holder's COMPLETION certificate of the
    track (the one re-completing renews), the first to expire if they hold several."""
    until = campaign.started_on + timedelta(days=campaign.within_days)
    rows = db.session.scalars(
        select(Certificate).join(User, User.id == Certificate.recipient_id)
        .where(Certificate.track_id == campaign.track_id, Certificate.course_id.is_(None),
               Certificate.type == CertificateType.COMPLETION,
               Certificate.status == CertificateStatus.ISSUED,
               Certificate.expires_at >= campaign.started_on, Certificate.expires_at <= until,
               taking_part())
        .order_by(Certificate.recipient_id, Certificate.expires_at, Certificate.id))
    first: dict[int, Certificate] = {}
    for certificate in rows:
        first.setdefault(certificate.recipient_id, certificate)
    return list(first.values())


def run_campaign(campaign_id: int) -> int:
    """Invite the campaign's holders not invited yet; returns how many were invited now."""
    campaign = db.session.get(RenewalCampaign, campaign_id)
    if campaign is None:
        return 0
    lock(campaign)  # one run at a time per campaign (PostgreSQL; SQLite serializes)
    track = db.session.get(CertificationTrack, campaign.track_id)
    invited = set(db.session.scalars(select(RenewalInvitation.user_id).where(
        RenewalInvitation.campaign_id == campaign.id)))
    new = [RenewalInvitation(campaign_id=campaign.id, user_id=c.recipient_id,
                             certificate_id=c.id, expires_on=c.expires_at,
                             status=InvitationStatus.INVITED)
           for c in expiring_certificates(campaign) if c.recipient_id not in invited]
    db.session.add_all(new)
    db.session.flush()
    notify_many([NewNotification(
        invitation.user_id, NotificationType.RENEWAL_INVITATION,
        f"Renew your certificate: {track.name}",
        f"Your {track.name} certificate expires on {invitation.expires_on.isoformat()}. "
        "Re-enrol in the track to renew it before it lapses.",
        urls.site_path("renewals.invitation", invitation_id=invitation.id),
        f"renewal:{campaign.id}:{invitation.user_id}") for invitation in new])
    campaign.invited_count = db.session.scalar(select(func.count(RenewalInvitation.id)).where(
        RenewalInvitation.campaign_id == campaign.id)) or 0
    campaign.status = CampaignStatus.DONE
    campaign.finished_at = utcnow()
    db.session.flush()
    return len(new)


def campaigns_of(track: CertificationTrack, limit: int = 20) -> list[RenewalCampaign]:
    return list(db.session.scalars(select(RenewalCampaign).where(
        RenewalCampaign.track_id == track.id).order_by(RenewalCampaign.id.desc()).limit(limit)))


def list_campaigns(track_id: int | None = None) -> Any:
    """Every campaign (or one track's), newest first: a select, for paging."""
    stmt = select(RenewalCampaign).order_by(RenewalCampaign.id.desc())
    return stmt if track_id is None else stmt.where(RenewalCampaign.track_id == track_id)


def get_campaign(campaign_id: int) -> RenewalCampaign:
    campaign = db.session.get(RenewalCampaign, campaign_id)
    if campaign is None:
        raise NotFound("Renewal campaign not found.")
    return campaign


def outcome_counts(campaign: RenewalCampaign) -> dict[str, int]:
    """What the campaign led to: invited, re-enrolled (the campaign's own counters) and
    renewed (invitees whose certificate was renewed on completing the track again)."""
    renewed = db.session.scalar(select(func.count(RenewalInvitation.id)).where(
        RenewalInvitation.campaign_id == campaign.id,
        RenewalInvitation.renewed_certificate_id.is_not(None))) or 0
    return {"invited": campaign.invited_count, "re_enrolled": campaign.re_enrolled_count,
            "renewed": renewed}


def invitation_of(user: User, invitation_id: int) -> RenewalInvitation:
    """The invitee's own invitation; anyone else's (or an unknown id) is NotFound."""
    invitation = db.session.get(RenewalInvitation, invitation_id)
    if invitation is None or invitation.user_id != user.id:
        raise NotFound("Invitation not found.")
    return invitation


def renewal_of(enrolment: Enrolment, certificate: Certificate) -> RenewalInvitation | None:
    """The invitee's re-enrolled, not yet renewed invitation about this (issued)
    certificate, if any."""
    if certificate.status != CertificateStatus.ISSUED:
        return None
    return db.session.scalar(select(RenewalInvitation).where(
        RenewalInvitation.user_id == enrolment.user_id,
        RenewalInvitation.certificate_id == certificate.id,
        RenewalInvitation.status == InvitationStatus.RE_ENROLLED,
        RenewalInvitation.renewed_certificate_id.is_(None))
        .order_by(RenewalInvitation.id.desc()).limit(1))


def renew_on_completion(enrolment: Enrolment, certificate: Certificate,
                        actor: Actor) -> Certificate | None:
    """Renew `certificate` (the live one a completion found) if its holder re-enrolled
    through a renewal invitation about it: returns the new certificate, or None (no
    renewal due, or it cannot be issued now: the old one stands)."""
    from app.services.certificates import lifecycle

    invitation = renewal_of(enrolment, certificate)
    if invitation is None:
        return None
    system = Actor(user=None, ip=actor.ip)
    track = enrolment.track
    try:
        with db.session.begin_nested():
            # The person, the number counter, then (the supersede's audit row) the head.
            day = lifecycle._hold_for_replacement(certificate)
            lifecycle._supersede(certificate, system, f"Renewed: {track.name} completed "
                                 f"again (version {enrolment.completed_version}).")
            renewed = lifecycle.issue_certificate(
                system, recipient=enrolment.user, type_=certificate.type, track=track,
                notes=f"Renewal of {certificate.number}.",
                version=enrolment.completed_version, issued_on=day)
            renewed.supersedes_id = certificate.id
            invitation.renewed_certificate_id = renewed.id
            db.session.flush()
    except ServiceError:
        db.session.expire_all()  # the refused step's values: read afresh
        return None
    audit.record(system, AuditAction.UPDATE, "renewal_invitation", invitation.id,
                 {"renewed": [certificate.number, renewed.number], "automatic": True})
    return renewed


def _restart(enrolment: Enrolment, actor: Actor) -> None:
    """A completed enrolment starts over: courses not started, fresh attempts (a new
    cycle); the certificate it earned stands until it expires."""
    transition(enrolment, to=ProgressStatus.IN_PROGRESS, expected=ProgressStatus.COMPLETED,
               values={"updated_at": utcnow()})
    db.session.execute(
        update(CourseProgress).where(CourseProgress.enrolment_id == enrolment.id)
        .values(status=ProgressStatus.NOT_STARTED, completed_at=None, exam_score=None,
                exam_attempts=0, extra_attempts=0,
                attempt_cycle=CourseProgress.attempt_cycle + 1)
        .execution_options(synchronize_session=False))
    db.session.expire(enrolment)
    audit.record(actor, AuditAction.UPDATE, "enrolment", enrolment.id,
                 {"status": ["COMPLETED", "IN_PROGRESS"], "renewal": True})


def accept(invitation: RenewalInvitation, user: User, actor: Actor) -> Enrolment:
    """The invitee re-enrols in the campaign's track. Raises NotFound (not theirs),
    ValidationFailed (the track closed) and AlreadyDone (re-enrolled already: a
    double-click counts once)."""
    if invitation.user_id != user.id:
        raise NotFound("Invitation not found.")
    track = db.session.get(CertificationTrack, invitation.campaign.track_id)
    if track is None or not track.active:
        raise ValidationFailed("This track is closed: it cannot be re-enrolled in.")
    transition(invitation, to=InvitationStatus.RE_ENROLLED, expected=InvitationStatus.INVITED,
               values={"re_enrolled_at": utcnow()},
               refused=lambda _i: AlreadyDone(f"You re-enrolled in {track.name} already."))
    db.session.execute(
        update(RenewalCampaign).where(RenewalCampaign.id == invitation.campaign_id)
        .values(re_enrolled_count=RenewalCampaign.re_enrolled_count + 1)
        .execution_options(synchronize_session=False))
    enrolment = find_enrolment(user.id, track.id)
    if enrolment is None:
        enrolment = enrol(user, track, actor)
    elif enrolment.status == ProgressStatus.COMPLETED:
        _restart(enrolment, actor)
    audit.record(actor, AuditAction.UPDATE, "renewal_invitation", invitation.id,
                 {"status": ["INVITED", "RE_ENROLLED"]})
    return enrolment


__all__ = ["accept", "campaigns_of", "expiring_certificates", "get_campaign", "invitation_of",
           "list_campaigns", "outcome_counts", "parse_days", "run_campaign", "start_campaign"]
