"""Earner profiles: a holder publishes (off by default) a public page at /p/<slug>
listing their VALID certificates and awarded micro-credentials, each with its public
verify (or achievement) link and badge image, and nothing else about them but their
name (and their organization, if they choose).

- The slug is random (secrets.token_urlsafe, 128 bits) and never reused: unpublishing
  ends the row for good (`unpublished_at`, `live_user_id` NULL) and publishing again
  makes a new row with a new slug ("new link" is the same two steps at once).
- One published profile per person: `live_user_id`'s unique constraint decides races
  (two publishes at once give one profile; the other is told it is published already).
- Unpublishing is a conditional UPDATE (transitions.transition): of two at once one
  takes it down, the other is told it is down already.
- A profile is down (404, like an unknown slug) while unpublished, while its holder is
  deactivated, and while their organization is deactivated.
- The listing is two queries whatever its length (certificates with their track, and
  credentials with their definition), plus one for the profile and holder."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.models import (
    AuditAction,
    Certificate,
    CertificateStatus,
    CredentialStatus,
    EarnerProfile,
    StaffMicroCredential,
    User,
)
from app.models.base import utcnow
from app.services import audit, dates, urls
from app.services.certificates.status import Standing, verification_status
from app.services.context import Actor
from app.services.errors import AlreadyDone, NotFound
from app.services.persistence import flush_or_raise
from app.services.transitions import transition

SLUG_BYTES = 16  # 22 URL-safe characters


@dataclass(frozen=True)
class Entry:
    """One line of a profile: what it is, where it is checked, its badge image."""

    title: str
    kind: str  # "certificate" or "micro-credential"
    number: str | None
    issued_on: date | None
    expires_on: date | None
    verify_url: str
    image_url: str


def published_profile_of(user_id: int) -> EarnerProfile | None:
    return db.session.scalar(select(EarnerProfile).where(EarnerProfile.live_user_id == user_id))


def publish(user: User, actor: Actor, *, show_organization: bool = False) -> EarnerProfile:
    """Publish the holder's profile with a new random slug. Raises AlreadyDone when it
    is published already (a double-click, or a second tab)."""
    if published_profile_of(user.id) is not None:
        raise AlreadyDone("Your profile is published already.")
    profile = EarnerProfile(user_id=user.id, live_user_id=user.id,
                            slug=secrets.token_urlsafe(SLUG_BYTES),
                            show_organization=bool(show_organization and user.organization_id))
    flush_or_raise(AlreadyDone("Your profile is published already."), add=[profile])
    audit.record(actor, AuditAction.CREATE, "earner_profile", profile.id,
                 {"published": True, "show_organization": profile.show_organization})
    return profile


def unpublish(user: User, actor: Actor) -> EarnerProfile:
    """Take the holder's profile down at once (its link answers 404 from now on, and is
    never handed out again). Raises AlreadyDone when it is not published."""
    profile = published_profile_of(user.id)
    if profile is None:
        raise AlreadyDone("Your profile is not published.")
    transition(profile, to=None, expected=[user.id], column="live_user_id",
               values={"unpublished_at": utcnow()},
               refused=lambda _p: AlreadyDone("Your profile was taken down a moment ago."))
    audit.record(actor, AuditAction.UPDATE, "earner_profile", profile.id,
                 {"published": [True, False]})
    return profile


def new_link(user: User, actor: Actor) -> EarnerProfile:
    """Retire the current link and publish under a new one (the old one is 404 at once),
    keeping the organization choice."""
    current = published_profile_of(user.id)
    show = current.show_organization if current is not None else False
    if current is not None:
        unpublish(user, actor)
    return publish(user, actor, show_organization=show)


def set_show_organization(user: User, actor: Actor, show: bool) -> EarnerProfile:
    """Name (or stop naming) the holder's organization on their published profile."""
    profile = published_profile_of(user.id)
    if profile is None:
        raise NotFound("Your profile is not published.")
    show = bool(show and user.organization_id)
    if profile.show_organization != show:
        profile.show_organization = show
        db.session.flush()
        audit.record(actor, AuditAction.UPDATE, "earner_profile", profile.id,
                     {"show_organization": [not show, show]})
    return profile


def public_profile(slug: str) -> EarnerProfile | None:
    """The published profile at this slug, with its holder; None when it is unknown,
    unpublished, or its holder or their organization is deactivated."""
    if not slug or len(slug) > 64:
        return None
    profile = db.session.scalar(
        select(EarnerProfile).options(joinedload(EarnerProfile.user).joinedload(User.organization))
        .where(EarnerProfile.slug == slug, EarnerProfile.live_user_id.is_not(None)))
    if profile is None or not profile.user.takes_part:
        return None
    return profile


def valid_certificates(user_id: int, today: date | None = None) -> list[Certificate]:
    """The holder's certificates whose public standing is VALID now, newest first (never
    pending, rejected, revoked, superseded, expired or needing re-certification)."""
    today = today or dates.today()
    rows = db.session.scalars(
        select(Certificate).options(selectinload(Certificate.track))
        .where(Certificate.recipient_id == user_id, Certificate.status == CertificateStatus.ISSUED,
               Certificate.verification_id.is_not(None),
               or_(Certificate.expires_at.is_(None), Certificate.expires_at >= today))
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc()))
    return [c for c in rows if verification_status(c, today) == Standing.VALID]


def awarded_credentials(user_id: int, today: date | None = None) -> list[StaffMicroCredential]:
    """The holder's micro-credentials awarded and not expired."""
    today = today or dates.today()
    return list(db.session.scalars(
        select(StaffMicroCredential).options(selectinload(StaffMicroCredential.definition))
        .where(StaffMicroCredential.user_id == user_id,
               StaffMicroCredential.status == CredentialStatus.AWARDED,
               or_(StaffMicroCredential.expiry_date.is_(None),
                   StaffMicroCredential.expiry_date >= today))
        .order_by(StaffMicroCredential.awarded_at.desc(), StaffMicroCredential.id.desc())))


def _achievement_kind(certificate: Certificate) -> tuple[str, int]:
    if certificate.course_id is not None:
        return "course", certificate.course_id
    return "track", certificate.track_id or 0


def certificate_image_url(certificate: Certificate) -> str:
    """The public badge image of the certificate's achievement (absolute)."""
    kind, subject_id = _achievement_kind(certificate)
    return urls.public_url("badges.certificate_achievement_image", kind=kind,
                           subject_id=subject_id, type_=certificate.type.value.lower())


def certificate_title(certificate: Certificate) -> str:
    snap = certificate.snapshot or {}
    subject = snap.get("subject") or (certificate.course.title if certificate.course
                                      else certificate.track.name if certificate.track else "")
    return f"{subject} \u2014 {certificate.type.label} certificate"


def certificate_entry(certificate: Certificate) -> Entry:
    return Entry(title=certificate_title(certificate), kind="certificate",
                 number=certificate.number,
                 issued_on=certificate.issued_at.date() if certificate.issued_at else None,
                 expires_on=certificate.expires_at,
                 verify_url=urls.verify_url(certificate.verification_id or ""),
                 image_url=certificate_image_url(certificate))


def credential_entry(credential: StaffMicroCredential) -> Entry:
    definition = credential.definition
    return Entry(title=f"{definition.title} (NZQCF level {definition.level})",
                 kind="micro-credential", number=None,
                 issued_on=credential.awarded_at.date() if credential.awarded_at else None,
                 expires_on=credential.expiry_date,
                 verify_url=urls.public_url("badges.micro_credential_achievement",
                                            definition_id=definition.id),
                 image_url=urls.public_url("badges.micro_credential_image",
                                           definition_id=definition.id))


def entries_of(user_id: int) -> list[Entry]:
    """What a profile lists: valid certificates, then awarded micro-credentials."""
    return ([certificate_entry(c) for c in valid_certificates(user_id)]
            + [credential_entry(c) for c in awarded_credentials(user_id)])


def profile_url(profile: EarnerProfile) -> str:
    return urls.public_url("profiles.public", slug=profile.slug)
