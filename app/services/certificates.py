"""Certificates: request, issue, approve, reject, revoke, reinstate, re-issue.

Rules: one live (pending or issued) certificate per recipient, course/track and type
(the `live_key` unique constraint decides races); numbers CERT-YYYY-NNNNN are given at
issue from a per-year counter row, so they are unique and gapless; what a certificate
says is frozen in `snapshot` at issue. Every action is audited and may notify.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.models import (
    AuditAction,
    Certificate,
    CertificateCounter,
    CertificateStatus,
    CertificateType,
    CertificateVerification,
    CertificationTrack,
    Course,
    CourseProgress,
    CourseSession,
    Enrolment,
    NotificationType,
    ProgressStatus,
    SessionAttendance,
    User,
)
from app.models.base import utcnow
from app.services import audit, verification_log
from app.services.context import Actor
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.micro_credentials import add_months
from app.services.notifications import notify
from app.services.pagination import Page, paginate
from app.services.persistence import flush_or_raise

S = CertificateStatus
ALREADY = "User already has this certificate"
REVOCATION_CATEGORIES = ("issued_in_error", "misconduct", "requirements_not_met",
                         "superseded", "other")
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
NUMBER_QUERY = re.compile(r"CERT-\d{4}-\d{5,}")  # a search for one certificate number


def _already() -> Conflict:
    return Conflict(ALREADY, fields={"user_id": [ALREADY]})


def get_certificate(certificate_id: int) -> Certificate:
    """Raises NotFound."""
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None:
        raise NotFound("Certificate not found.")
    return certificate


def live_certificate(recipient_id: int, course_id: int | None, track_id: int | None,
                     type_: CertificateType) -> Certificate | None:
    key = Certificate.make_live_key(recipient_id, course_id, track_id, type_)
    return db.session.scalar(select(Certificate).where(Certificate.live_key == key))


def subject_name(certificate: Certificate) -> str:
    if certificate.course is not None:
        return certificate.course.title
    return certificate.track.name if certificate.track is not None else ""


# --- Numbers, codes, snapshot ----------------------------------------------------------

def next_number(year: int) -> str:
    """CERT-YYYY-NNNNN from the year's counter row, updated first to hold its lock."""
    bumped = db.session.execute(update(CertificateCounter).where(CertificateCounter.year == year)
                                .values(last_number=CertificateCounter.last_number + 1))
    if bumped.rowcount == 0:
        try:
            flush_or_raise(Conflict("counter race"), add=[CertificateCounter(year=year,
                                                                             last_number=1)])
        except Conflict:  # another issuer created the year's row first: count on it
            db.session.execute(update(CertificateCounter).where(CertificateCounter.year == year)
                               .values(last_number=CertificateCounter.last_number + 1))
    number = db.session.scalar(select(CertificateCounter.last_number).where(
        CertificateCounter.year == year).execution_options(populate_existing=True))
    return f"CERT-{year}-{number:05d}"


def new_verification_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def normalise_code(code: str) -> str:
    cleaned = code.strip().upper().replace(" ", "").replace("-", "")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    return f"{cleaned[:5]}-{cleaned[5:]}" if len(cleaned) == 10 else cleaned


def _track_of(certificate: Certificate) -> CertificationTrack | None:
    if certificate.track is not None:
        return certificate.track
    return certificate.course.track if certificate.course is not None else None


def _snapshot(certificate: Certificate, issued_by: User | None) -> dict[str, Any]:
    track = _track_of(certificate)
    return {
        "number": certificate.number,
        "recipient_name": certificate.recipient.name,
        "type": certificate.type.value,
        "type_label": certificate.type.label,
        "subject": subject_name(certificate),
        "subject_kind": "course" if certificate.course is not None else "track",
        "track": track.name if track is not None else None,
        "version": track.version if track is not None else None,
        "issued_on": certificate.issued_at.date().isoformat() if certificate.issued_at else None,
        "expires_on": certificate.expires_at.isoformat() if certificate.expires_at else None,
        "issuer": current_app.config["ISSUER_NAME"],
        "issued_by": issued_by.name if issued_by is not None else None,
    }


def _finalise_issue(certificate: Certificate, actor: Actor, issued_on: date | None) -> None:
    """Number, dates, verification id/code and the frozen snapshot; then the PDF job."""
    from app.jobs import enqueue_after_commit
    from app.jobs.certificates import render_certificate_pdf

    now = utcnow()
    issued_at = now if issued_on is None or issued_on == now.date() else datetime.combine(
        issued_on, time(12, 0), tzinfo=now.tzinfo)
    certificate.status = S.ISSUED
    certificate.issued_at = issued_at
    certificate.issued_by_id = actor.user.id if actor.user else None
    certificate.number = next_number(issued_at.year)
    track = _track_of(certificate)
    certificate.expires_at = (add_months(issued_at.date(), track.validity_months)
                              if track is not None and track.validity_months else None)
    certificate.verification_id = secrets.token_urlsafe(24)
    certificate.verification_code = new_verification_code()
    certificate.pdf_key = None
    certificate.pdf_sha256 = None
    db.session.flush()
    certificate.snapshot = _snapshot(certificate, actor.user)
    certificate.credential_jws = _sign_credential(certificate)
    db.session.flush()
    enqueue_after_commit(render_certificate_pdf, certificate.id)


def _sign_credential(certificate: Certificate) -> str | None:
    """The Open Badges credential, signed now with the current key (None until the
    signing service exists on this database)."""
    try:
        from app.services import signing
    except ImportError:  # pragma: no cover - the signing module arrives with verification
        return None
    return signing.sign_open_badge(certificate)


def _notify(certificate: Certificate, type_: NotificationType, title: str, body: str) -> None:
    notify(certificate.recipient, type_, title, body, link="/me")


# --- Lifecycle -------------------------------------------------------------------------

def request_completion(enrolment: Enrolment, actor: Actor) -> Certificate:
    """A pending COMPLETION certificate for a completed track, unless one is live already
    (pending or issued): completing twice never makes two."""
    existing = live_certificate(enrolment.user_id, None, enrolment.track_id,
                                CertificateType.COMPLETION)
    if existing is not None:
        return existing
    certificate = Certificate(
        type=CertificateType.COMPLETION, status=S.PENDING,
        recipient_id=enrolment.user_id, track_id=enrolment.track_id,
        live_key=Certificate.make_live_key(enrolment.user_id, None, enrolment.track_id,
                                           CertificateType.COMPLETION),
        recommended_at=utcnow(), progress_percent=100.0,
        notes=f"Completed version {enrolment.completed_version}.",
    )
    try:
        flush_or_raise(_already(), add=[certificate])
    except Conflict:  # another request made it a moment ago; that one stands
        return live_certificate(enrolment.user_id, None, enrolment.track_id,
                                CertificateType.COMPLETION)  # type: ignore[return-value]
    audit.record(actor, AuditAction.CREATE, "certificate", certificate.id,
                 {"type": "COMPLETION", "status": "PENDING", "recipient_id": enrolment.user_id,
                  "track_id": enrolment.track_id})
    return certificate


def issue_certificate(actor: Actor, *, recipient: User, type_: CertificateType,
                      course: Course | None = None, track: CertificationTrack | None = None,
                      notes: str | None = None, notify_recipient: bool = True,
                      issued_on: date | None = None) -> Certificate:
    """Issue a certificate directly (the admin's "Issue Certificate").

    Raises ValidationFailed (no subject, or a future issue date) and Conflict
    ("User already has this certificate") when a live one exists, also under a race.
    """
    if (course is None) == (track is None):
        raise ValidationFailed("Choose a course or a track.",
                               fields={"course_id": ["Choose a course."]})
    if issued_on is not None and issued_on > utcnow().date():
        raise ValidationFailed("The issue date cannot be in the future.",
                               fields={"issued_on": ["Today or earlier."]})
    if not recipient.active:
        raise ValidationFailed("This account is inactive.", fields={"user_id": ["Inactive."]})
    course_id = course.id if course else None
    track_id = track.id if track else None
    if live_certificate(recipient.id, course_id, track_id, type_) is not None:
        raise _already()
    certificate = Certificate(
        type=type_, status=S.PENDING, recipient=recipient, course=course, track=track,
        live_key=Certificate.make_live_key(recipient.id, course_id, track_id, type_),
        notes=(notes or "").strip() or None,
    )
    flush_or_raise(_already(), add=[certificate])
    _finalise_issue(certificate, actor, issued_on)
    audit.record(actor, AuditAction.CERT_ISSUE, "certificate", certificate.id,
                 {"number": certificate.number, "type": type_.value,
                  "recipient_id": recipient.id, "course_id": course_id, "track_id": track_id})
    if notify_recipient:
        _notify(certificate, NotificationType.CERTIFICATE_ISSUED,
                f"Certificate issued: {subject_name(certificate)}",
                f"Your {type_.label.lower()} certificate {certificate.number} is ready.")
    return certificate


def approve(certificate: Certificate, actor: Actor, *,
            notify_recipient: bool = True) -> Certificate:
    """PENDING -> ISSUED. Raises ValidationFailed for any other status."""
    if certificate.status != S.PENDING:
        raise ValidationFailed(f"Only a pending certificate can be approved; this one is "
                               f"{certificate.status.label.lower()}.")
    _finalise_issue(certificate, actor, None)
    audit.record(actor, AuditAction.CERT_APPROVE, "certificate", certificate.id,
                 {"status": ["PENDING", "ISSUED"], "number": certificate.number})
    if notify_recipient:
        _notify(certificate, NotificationType.CERTIFICATE_ISSUED,
                f"Certificate issued: {subject_name(certificate)}",
                f"Your certificate {certificate.number} has been approved.")
    return certificate


def reject(certificate: Certificate, actor: Actor, reason: str) -> Certificate:
    """PENDING -> REJECTED, with a reason. Raises ValidationFailed."""
    reason = (reason or "").strip()
    if certificate.status != S.PENDING:
        raise ValidationFailed("Only a pending certificate can be rejected.")
    if not reason:
        raise ValidationFailed("Give a reason for rejecting.",
                               fields={"reason": ["Give a reason for rejecting."]})
    certificate.status = S.REJECTED
    certificate.rejection_reason = reason[:2000]
    certificate.live_key = None
    db.session.flush()
    audit.record(actor, AuditAction.CERT_REJECT, "certificate", certificate.id,
                 {"status": ["PENDING", "REJECTED"], "reason": certificate.rejection_reason})
    return certificate


def revoke(certificate: Certificate, actor: Actor, reason: str, category: str = "other", *,
           notify_recipient: bool = True) -> Certificate:
    """ISSUED -> REVOKED with a reason (required) and a category. Raises ValidationFailed."""
    reason = (reason or "").strip()
    if certificate.status != S.ISSUED:
        raise ValidationFailed("Only an issued certificate can be revoked.")
    if not reason:
        raise ValidationFailed("Give a reason for revoking.",
                               fields={"reason": ["Give a reason for revoking."]})
    if category not in REVOCATION_CATEGORIES:
        raise ValidationFailed("Unknown revocation category.",
                               fields={"category": [f"One of {', '.join(REVOCATION_CATEGORIES)}."]})
    certificate.status = S.REVOKED
    certificate.live_key = None
    certificate.revocation_reason = reason[:2000]
    certificate.revocation_category = category
    certificate.revoked_at = utcnow()
    certificate.revoked_by_id = actor.user.id if actor.user else None
    db.session.flush()
    audit.record(actor, AuditAction.CERT_REVOKE, "certificate", certificate.id,
                 {"status": ["ISSUED", "REVOKED"], "reason": certificate.revocation_reason,
                  "category": category})
    if notify_recipient:
        _notify(certificate, NotificationType.CERTIFICATE_REVOKED,
                f"Certificate revoked: {subject_name(certificate)}",
                f"Certificate {certificate.number} was revoked: {certificate.revocation_reason}")
    return certificate


def reinstate(certificate: Certificate, actor: Actor, *,
              notify_recipient: bool = True) -> Certificate:
    """REVOKED -> ISSUED (number and dates kept; the PDF is rendered again).

    Raises ValidationFailed, and Conflict when another live certificate took its place.
    """
    from app.jobs import enqueue_after_commit
    from app.jobs.certificates import render_certificate_pdf

    if certificate.status != S.REVOKED:
        raise ValidationFailed("Only a revoked certificate can be reinstated.")
    if certificate.revocation_category == "superseded":
        raise ValidationFailed("A superseded certificate is not reinstated; its "
                               "replacement stands.")
    certificate.status = S.ISSUED
    certificate.live_key = Certificate.make_live_key(
        certificate.recipient_id, certificate.course_id, certificate.track_id, certificate.type)
    previous = {"reason": certificate.revocation_reason,
                "category": certificate.revocation_category}
    certificate.revocation_reason = None
    certificate.revocation_category = None
    certificate.revoked_at = None
    certificate.revoked_by_id = None
    certificate.pdf_key = None
    certificate.pdf_sha256 = None
    flush_or_raise(_already())
    audit.record(actor, AuditAction.CERT_REINSTATE, "certificate", certificate.id,
                 {"status": ["REVOKED", "ISSUED"], "was": previous})
    enqueue_after_commit(render_certificate_pdf, certificate.id)
    if notify_recipient:
        _notify(certificate, NotificationType.CERTIFICATE_ISSUED,
                f"Certificate reinstated: {subject_name(certificate)}",
                f"Certificate {certificate.number} is valid again.")
    return certificate


def reissue(certificate: Certificate, actor: Actor) -> Certificate:
    """A new certificate saying what is true now (names, titles), superseding this one."""
    if certificate.status != S.ISSUED:
        raise ValidationFailed("Only an issued certificate can be re-issued.")
    revoke(certificate, actor, "Re-issued with current details.", "superseded",
           notify_recipient=False)
    replacement = issue_certificate(
        actor, recipient=certificate.recipient, type_=certificate.type,
        course=certificate.course, track=certificate.track, notes=certificate.notes,
        notify_recipient=True)
    replacement.supersedes_id = certificate.id
    db.session.flush()
    return replacement


def is_expired(certificate: Checkable, today: date | None = None) -> bool:
    return certificate.expires_at is not None and certificate.expires_at < (
        today or utcnow().date())


# --- Instructors, sessions, recommendations ------------------------------------------

def is_instructor(user: User, course: Course) -> bool:
    """An issued, unexpired TEACHING certificate for the course makes an instructor."""
    certificate = live_certificate(user.id, course.id, None, CertificateType.TEACHING)
    return (certificate is not None and certificate.status == S.ISSUED
            and not is_expired(certificate))


def taught_courses(user: User) -> list[Course]:
    today = utcnow().date()
    return list(db.session.scalars(
        select(Course).join(Certificate, Certificate.course_id == Course.id)
        .where(Certificate.recipient_id == user.id, Certificate.type == CertificateType.TEACHING,
               Certificate.status == S.ISSUED,
               or_(Certificate.expires_at.is_(None), Certificate.expires_at >= today))
        .order_by(Course.title)))


def _require_instructor(user: User | None, course: Course) -> User:
    if user is None or not is_instructor(user, course):
        raise ValidationFailed("Only an instructor of this course (an active teaching "
                               "certificate) can do that.")
    return user


def create_session(actor: Actor, course: Course, *, title: str, starts_at: datetime,
                   location: str | None = None) -> CourseSession:
    instructor = _require_instructor(actor.user, course)
    session = CourseSession(course_id=course.id, instructor_id=instructor.id,
                            title=title.strip() or course.title, starts_at=starts_at,
                            location=(location or "").strip() or None)
    db.session.add(session)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "course_session", session.id,
                 {"course_id": course.id, "title": session.title})
    return session


def mark_attendance(actor: Actor, session: CourseSession, learner: User,
                    attended: bool) -> SessionAttendance:
    """The session's instructor marks a learner present or absent."""
    if actor.user is None or actor.user.id != session.instructor_id:
        raise ValidationFailed("Only the session's instructor marks attendance.")
    row = db.session.scalar(select(SessionAttendance).where(
        SessionAttendance.session_id == session.id, SessionAttendance.user_id == learner.id))
    if row is None:
        row = SessionAttendance(session_id=session.id, user_id=learner.id)
        flush_or_raise(Conflict("Attendance was just recorded; reload."), add=[row])
    row.attended = attended
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "session_attendance", row.id,
                 {"user_id": learner.id, "attended": attended})
    return row


def rate_session(actor: Actor, session: CourseSession, rating: int) -> SessionAttendance:
    """A learner who attended rates the session 1-5."""
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationFailed("Rate from 1 to 5.", fields={"rating": ["From 1 to 5."]})
    row = db.session.scalar(select(SessionAttendance).where(
        SessionAttendance.session_id == session.id,
        SessionAttendance.user_id == (actor.user.id if actor.user else -1)))
    if row is None or not row.attended:
        raise ValidationFailed("Only someone who attended can rate a session.")
    row.rating = rating
    db.session.flush()
    return row


@dataclass(frozen=True)
class Supporting:
    progress_percent: float | None
    sessions_attended: int
    average_rating: float | None


def supporting_figures(learner: User, course: Course, type_: CertificateType) -> Supporting:
    """Progress on the course, sessions of it attended, and (teaching) the average rating
    of the sessions the learner ran."""
    progress = db.session.scalar(
        select(CourseProgress).join(Enrolment, Enrolment.id == CourseProgress.enrolment_id)
        .where(Enrolment.user_id == learner.id, CourseProgress.course_id == course.id))
    percent = None
    if progress is not None:
        percent = 100.0 if progress.status == ProgressStatus.COMPLETED else (
            50.0 if progress.status == ProgressStatus.IN_PROGRESS else 0.0)
    attended = db.session.scalar(
        select(func.count(SessionAttendance.id)).join(CourseSession)
        .where(SessionAttendance.user_id == learner.id, SessionAttendance.attended.is_(True),
               CourseSession.course_id == course.id)) or 0
    rating = None
    if type_ == CertificateType.TEACHING:
        rating = db.session.scalar(
            select(func.avg(SessionAttendance.rating)).join(CourseSession)
            .where(CourseSession.instructor_id == learner.id,
                   CourseSession.course_id == course.id, SessionAttendance.rating.is_not(None)))
    return Supporting(percent, int(attended), round(float(rating), 2) if rating else None)


def recommend(actor: Actor, course: Course, learner: User,
              type_: CertificateType = CertificateType.COMPLETION,
              notes: str | None = None) -> Certificate:
    """An instructor recommends a certificate: it waits, pending, for an admin.

    Raises ValidationFailed (not an instructor) and Conflict (already live).
    """
    instructor = _require_instructor(actor.user, course)
    if live_certificate(learner.id, course.id, None, type_) is not None:
        raise _already()
    figures = supporting_figures(learner, course, type_)
    certificate = Certificate(
        type=type_, status=S.PENDING, recipient_id=learner.id, course_id=course.id,
        live_key=Certificate.make_live_key(learner.id, course.id, None, type_),
        recommended_by_id=instructor.id, recommended_at=utcnow(),
        notes=(notes or "").strip() or None, progress_percent=figures.progress_percent,
        sessions_attended=figures.sessions_attended, average_rating=figures.average_rating)
    flush_or_raise(_already(), add=[certificate])
    audit.record(actor, AuditAction.CREATE, "certificate", certificate.id,
                 {"type": type_.value, "status": "PENDING", "recipient_id": learner.id,
                  "course_id": course.id, "recommended_by": instructor.id})
    notify(learner, NotificationType.CERTIFICATE_PENDING, f"Recommended: {course.title}",
           f"{instructor.name} recommended you for a {type_.label.lower()} certificate.",
           link="/me")
    return certificate


# --- Finding -------------------------------------------------------------------------

@dataclass(frozen=True)
class CertificateFilters:
    status: str = ""
    q: str = ""
    course_id: int | None = None
    track_id: int | None = None
    user_id: int | None = None
    type: str = ""
    date_from: date | None = None
    date_to: date | None = None


def search(filters: CertificateFilters) -> Select[tuple[Certificate]]:
    """Certificates matching the filters: newest issue first (pending: oldest first)."""
    stmt = (select(Certificate)
            # Many-to-one, so joined in the page's own query (one round trip, no IN lists).
            .options(joinedload(Certificate.recipient), joinedload(Certificate.course),
                     joinedload(Certificate.track), joinedload(Certificate.issued_by),
                     joinedload(Certificate.recommended_by)))
    if filters.status.upper() in S.__members__:
        stmt = stmt.where(Certificate.status == S(filters.status.upper()))
    q = filters.q.strip()
    if NUMBER_QUERY.fullmatch(q.upper()):
        stmt = stmt.where(Certificate.number == q.upper())
    elif q:
        # The people first (an IN, not an OR across a join): the certificates are then
        # read by recipient, or in list order, never all joined to their people.
        pattern = q.lower()
        people = select(User.id).where(or_(
            func.lower(User.name).contains(pattern, autoescape=True),
            func.lower(User.email).contains(pattern, autoescape=True)))
        stmt = stmt.where(Certificate.recipient_id.in_(people))
    if filters.course_id is not None:
        stmt = stmt.where(Certificate.course_id == filters.course_id)
    if filters.track_id is not None:
        stmt = stmt.where(Certificate.track_id == filters.track_id)
    if filters.user_id is not None:
        stmt = stmt.where(Certificate.recipient_id == filters.user_id)
    if filters.type.upper() in CertificateType.__members__:
        stmt = stmt.where(Certificate.type == CertificateType(filters.type.upper()))
    if filters.date_from:
        stmt = stmt.where(Certificate.issued_at >= audit._utc_midnight(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(Certificate.issued_at < audit._utc_midnight(
            date.fromordinal(filters.date_to.toordinal() + 1)))
    if filters.status.upper() == "PENDING":
        return stmt.order_by(Certificate.recommended_at.asc().nulls_last(), Certificate.id)
    return stmt.order_by(Certificate.issued_at.desc().nulls_last(), Certificate.id.desc())


# Counting stops here (the page shows "of 10000+"): an exact count of a million-row tab
# reads every index entry of it, ~200 ms, on every page view.
COUNT_LIMIT = 10_000


def find(filters: CertificateFilters, page: int, per_page: int) -> Page[Certificate]:
    return paginate(search(filters), page, per_page, count_limit=COUNT_LIMIT)


def pending_count() -> int:
    return db.session.scalar(select(func.count(Certificate.id)).where(
        Certificate.status == S.PENDING)) or 0


def certificates_of(user_id: int) -> list[Certificate]:
    return list(db.session.scalars(
        select(Certificate).options(selectinload(Certificate.course),
                                    selectinload(Certificate.track))
        .where(Certificate.recipient_id == user_id, Certificate.status.in_(
            [S.PENDING, S.ISSUED, S.REVOKED])).order_by(Certificate.created_at.desc())))


def verifications_of(user_id: int, limit: int = 20) -> list[tuple[Certificate, Any]]:
    """The latest checks of the user's certificates: (certificate, verification)."""
    rows = db.session.execute(
        select(Certificate, CertificateVerification)
        .join(CertificateVerification, CertificateVerification.certificate_id == Certificate.id)
        .where(Certificate.recipient_id == user_id)
        .order_by(CertificateVerification.verified_at.desc()).limit(limit))
    return [(row[0], row[1]) for row in rows]


def sessions_to_rate(user_id: int) -> list[CourseSession]:
    """Sessions the user attended and has not rated yet."""
    return list(db.session.scalars(
        select(CourseSession).join(SessionAttendance)
        .options(selectinload(CourseSession.instructor))
        .where(SessionAttendance.user_id == user_id, SessionAttendance.attended.is_(True),
               SessionAttendance.rating.is_(None))
        .order_by(CourseSession.starts_at.desc()).limit(20)))


def to_api(certificate: Certificate) -> dict[str, Any]:
    from flask import url_for

    def person(user: User | None) -> dict[str, Any] | None:
        return None if user is None else {"id": user.id, "name": user.name, "email": user.email}

    return {
        "id": certificate.id, "number": certificate.number, "type": certificate.type.value,
        "status": certificate.status.value,
        "expired": certificate.status == S.ISSUED and is_expired(certificate),
        "recipient": person(certificate.recipient),
        "course": ({"id": certificate.course.id, "title": certificate.course.title}
                   if certificate.course else None),
        "track": ({"id": certificate.track.id, "name": certificate.track.name}
                  if certificate.track else None),
        "issued_at": certificate.issued_at.isoformat() if certificate.issued_at else None,
        "issued_by": person(certificate.issued_by),
        "expires_at": certificate.expires_at.isoformat() if certificate.expires_at else None,
        "recommended_by": person(certificate.recommended_by),
        "recommended_at": (certificate.recommended_at.isoformat()
                           if certificate.recommended_at else None),
        "notes": certificate.notes,
        "supporting": {"progress_percent": certificate.progress_percent,
                       "sessions_attended": certificate.sessions_attended,
                       "avg_rating": certificate.average_rating},
        "rejection_reason": certificate.rejection_reason,
        "revocation": ({"reason": certificate.revocation_reason,
                        "category": certificate.revocation_category,
                        "at": certificate.revoked_at.isoformat() if certificate.revoked_at
                        else None} if certificate.status == S.REVOKED else None),
        "snapshot": certificate.snapshot or None,
        "pdf_ready": certificate.pdf_key is not None,
        "verify_url": (url_for("verify.certificate", verification_id=certificate.verification_id,
                               _external=True) if certificate.verification_id else None),
        "supersedes_id": certificate.supersedes_id,
    }


def pending_to_api(certificate: Certificate) -> dict[str, Any]:
    """Seed 004's pending-certificate shape."""
    return {
        "id": certificate.id, "type": certificate.type.value.lower(),
        "recipient": {"id": certificate.recipient.id, "name": certificate.recipient.name,
                      "avatar": None},
        "course": ({"id": certificate.course.id, "title": certificate.course.title}
                   if certificate.course else
                   {"id": certificate.track.id, "title": certificate.track.name}
                   if certificate.track else None),
        "recommended_by": ({"id": certificate.recommended_by.id,
                            "name": certificate.recommended_by.name}
                           if certificate.recommended_by else None),
        "recommended_at": (certificate.recommended_at.isoformat()
                           if certificate.recommended_at else None),
        "supporting": {"progress_percent": certificate.progress_percent,
                       "sessions_attended": certificate.sessions_attended or 0,
                       **({"avg_rating": certificate.average_rating}
                          if certificate.type == CertificateType.TEACHING else {})},
    }


class Checkable(Protocol):
    """What the public status needs: an ORM certificate, or the verify page's row."""

    @property
    def status(self) -> CertificateStatus: ...
    @property
    def expires_at(self) -> date | None: ...


def verification_status(certificate: Checkable | None, today: date | None = None) -> str:
    """VALID, EXPIRED, REVOKED or NOT_FOUND for the public check (pending and rejected
    certificates do not exist publicly)."""
    if certificate is None or certificate.status not in (S.ISSUED, S.REVOKED):
        return "NOT_FOUND"
    if certificate.status == S.REVOKED:
        return "REVOKED"
    return "EXPIRED" if is_expired(certificate, today) else "VALID"


def record_verification(certificate_id: int, channel: str) -> None:
    """Log a public check for the holder's list on /me: buffered, written within about a
    second by app/services/verification_log.py (not part of the caller's transaction)."""
    verification_log.record(certificate_id, channel)

