"""The certificate lifecycle: request (a completed track's pending COMPLETION), issue,
approve, reject, revoke (with a reason and category), reinstate and re-issue. Issuing
gives the number, dates, verification id/code, frozen snapshot and signed credential,
and queues the PDF job after commit; every action is audited and may notify. One live
certificate per recipient, subject and type: the `live_key` unique constraint decides
races.

Superseding (status SUPERSEDED, never reinstated):
- A re-issue supersedes the certificate it replaces (ISSUED -> SUPERSEDED, then the
  replacement is issued with `supersedes_id` naming it).
- Track certificates are live per major version (the live key ends with ":v<major>"):
  completing a new major version requests a new pending certificate while the old one
  still stands; when a track certificate of major version N is issued (approved or
  issued directly), the recipient's issued certificates of the same track and type of
  an older major version become SUPERSEDED in the same transaction (one conditional
  UPDATE each: of two approvals at once only the winner supersedes), the newest of them
  named by `supersedes_id`."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select

from app.extensions import db
from app.models import (
    AuditAction,
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificationTrack,
    Course,
    Enrolment,
    NotificationType,
    User,
)
from app.models.base import utcnow
from app.models.certificates import major_of
from app.services import audit, signing, urls
from app.services.certificates import templates
from app.services.certificates.numbering import (
    hold_counter,
    new_verification_code,
    next_number,
    next_numbers,
    snapshot,
    subject_name,
    track_of,
)
from app.services.certificates.queries import already_live, live_certificate
from app.services.certificates.renderings import render_pdf_later
from app.services.context import Actor
from app.services.dates import add_months, today
from app.services.errors import AlreadyDone, Conflict, NotFound, ServiceError, ValidationFailed
from app.services.notifications import NewNotification, notify, notify_many
from app.services.open_badges import status as badge_status
from app.services.persistence import flush_or_raise
from app.services.transitions import transition

S = CertificateStatus
REVOCATION_CATEGORIES = ("issued_in_error", "misconduct", "requirements_not_met",
                         "superseded", "other")
RENDER_PDF_JOB = "app.jobs.certificates.render_certificate_pdf"  # old rows; now batched: renderings


def _issued_at(issued_on: date | None) -> datetime:
    now = utcnow()
    return now if issued_on is None or issued_on == now.date() else datetime.combine(
        issued_on, time(12, 0), tzinfo=now.tzinfo)


def _stamp(certificate: Certificate, actor: Actor, issued_at: datetime, number: str,
           template_version_id: int | None, expires_on: date | None = None) -> None:
    """What issuing writes on a certificate, bar its signature: status, number, dates,
    verification id/code, track version and the frozen snapshot (with the template
    version in force, templates.version_id_for). `expires_on` (a direct issue's own
    date) replaces the track's validity."""
    certificate.status = S.ISSUED
    certificate.issued_at = issued_at
    certificate.issued_by_id = actor.user.id if actor.user else None
    certificate.number = number
    track = track_of(certificate)
    certificate.expires_at = expires_on or (
        add_months(issued_at.date(), track.validity_months)
        if track is not None and track.validity_months else None)
    certificate.verification_id = secrets.token_urlsafe(24)
    certificate.verification_code = new_verification_code()
    certificate.pdf_key = None
    certificate.pdf_sha256 = None
    if certificate.track_id is not None and certificate.course_id is None \
            and certificate.track_version is None and track is not None:
        certificate.track_version = track.version
    certificate.snapshot = snapshot(certificate, actor.user, template_version_id)


def _finalise_issue(certificate: Certificate, actor: Actor, issued_on: date | None) -> None:
    """An approval's issue (one certificate, already stored): `_stamp` with the year's
    next number, signed, its status-list entry, older majors superseded, the PDF job."""
    issued_at = _issued_at(issued_on)
    version_id = templates.version_id_for(certificate)  # read before the counter is held
    _stamp(certificate, actor, issued_at, next_number(issued_at.year), version_id)
    db.session.flush()
    certificate.credential_jws = _sign_credential(certificate)
    badge_status.assign(certificate)  # its random index in the Open Badges status list
    db.session.flush()
    _supersede_older_majors(certificate, actor)
    render_pdf_later(certificate.id)


def _supersede(old: Certificate, actor: Actor, reason: str,
               by: Certificate | None = None) -> Certificate:
    """ISSUED -> SUPERSEDED (conditional UPDATE; Conflict if it is not issued any more):
    out of the live set, its Open Badges status bit set (no longer valid), audited."""
    transition(old, to=S.SUPERSEDED, expected=S.ISSUED, values={
        "live_key": None, "revocation_reason": reason, "revocation_category": "superseded",
        "revoked_at": utcnow(), "revoked_by_id": actor.user.id if actor.user else None,
    }, refused=_only(S.ISSUED, "superseded"))
    badge_status.set_status(old, suspended=True)
    audit.record(actor, AuditAction.CERT_SUPERSEDE, "certificate", old.id,
                 {"status": ["ISSUED", "SUPERSEDED"], "reason": reason,
                  "superseded_by": by.number if by is not None else None})
    return old


def _supersede_older_majors(certificate: Certificate, actor: Actor) -> None:
    """A track certificate of major version N supersedes the recipient's issued ones of
    the same track and type of older major versions (see the module docstring)."""
    major = certificate.covered_major
    if certificate.track_id is None or certificate.course_id is not None or not major:
        return
    older = [Certificate.make_live_key(certificate.recipient_id, None, certificate.track_id,
                                       certificate.type, m) for m in range(1, major)]
    if not older:
        return
    for old in db.session.scalars(select(Certificate).where(
            Certificate.live_key.in_(older), Certificate.status == S.ISSUED)
            .order_by(Certificate.id)).all():
        try:
            _supersede(old, actor, f"Superseded by {certificate.number} (version "
                                   f"{certificate.track_version}).", certificate)
        except Conflict:  # revoked (or superseded) a moment ago: it stays as it is
            continue
        certificate.supersedes_id = old.id
    db.session.flush()


def _hold_track_line(recipient_id: int, track_id: int | None, course_id: int | None,
                     type_: CertificateType, major: int | None) -> None:
    """Before a track certificate becomes issued (issue, approve, re-issue, reinstate):
    hold the recipient's row, so these serialize per person (PostgreSQL; SQLite's writes
    are serialized already) and always in the same lock order (person, then
    certificates: no deadlock against a concurrent supersede), then refuse an older
    major version while a newer one is issued: that one stands, and an older copy
    issued after it would be valid beside it.

    Raises Conflict naming the newer certificate (NotFound: the person was deleted).
    The one-line case of `_held_lines`."""
    if track_id is None or course_id is not None or not major:
        return
    (refusal,) = _held_lines([(recipient_id, track_id, type_, major)])
    if refusal is not None:
        raise refusal


def _hold_line_of(certificate: Certificate) -> None:
    _hold_track_line(certificate.recipient_id, certificate.track_id, certificate.course_id,
                     certificate.type, certificate.covered_major)


def _hold_for_replacement(certificate: Certificate) -> date:
    """Before a write that supersedes `certificate` and then issues its replacement
    (re-issue, renewal): its holder's line held, then today's year's number counter, and
    today (UTC), the day to issue the replacement on (so it counts on the counter held).
    Every certificate write takes its locks in this order: the person, the year's
    counter, the audit chain head. `_supersede` takes the head (its audit row); were the
    counter taken only by the issue after it, an issue at the same moment (holding the
    counter, waiting for the head) and this (holding the head, waiting for the counter)
    would deadlock."""
    _hold_line_of(certificate)
    day = today()
    hold_counter(day.year)
    return day


def _sign_credential(certificate: Certificate) -> str | None:
    """The Open Badges credential, signed now with the current key."""
    return signing.sign_open_badge(certificate)


def _notify(certificate: Certificate, type_: NotificationType, title: str, body: str) -> None:
    """Tell the recipient. "Certificate issued" (and reinstated) links to the holder's own
    PDF download (login required; the email's link is on PUBLIC_BASE_URL)."""
    link = "/me"
    if type_ == NotificationType.CERTIFICATE_ISSUED:
        link = urls.site_path("main.certificate_pdf", certificate_id=certificate.id)
        body = _issued_body(body)
    notify(certificate.recipient, type_, title, body, link=link)


# --- Lifecycle -------------------------------------------------------------------------

def request_completion(enrolment: Enrolment, actor: Actor) -> Certificate:
    """A pending COMPLETION certificate for a completed track, unless one is live already
    for the same major version (pending or issued): completing twice never makes two.
    The version completed is recorded in `track_version` (the issue keeps it, even if
    the track moves on meanwhile); a live certificate of an older major version does not
    block it (it is superseded when this one is issued)."""
    major = major_of(enrolment.completed_version)
    existing = live_certificate(enrolment.user_id, None, enrolment.track_id,
                                CertificateType.COMPLETION, major)
    if existing is not None:
        return existing
    certificate = Certificate(
        type=CertificateType.COMPLETION, status=S.PENDING,
        recipient_id=enrolment.user_id, track_id=enrolment.track_id,
        live_key=Certificate.make_live_key(enrolment.user_id, None, enrolment.track_id,
                                           CertificateType.COMPLETION, major),
        recommended_at=utcnow(), progress_percent=100.0,
        notes=f"Completed version {enrolment.completed_version}.",
        track_version=enrolment.completed_version,
    )
    try:
        flush_or_raise(already_live(), add=[certificate])
    except Conflict:  # another request made it a moment ago; that one stands
        return live_certificate(enrolment.user_id, None, enrolment.track_id,
                                CertificateType.COMPLETION, major)  # type: ignore[return-value]
    audit.record(actor, AuditAction.CREATE, "certificate", certificate.id,
                 {"type": "COMPLETION", "status": "PENDING", "recipient_id": enrolment.user_id,
                  "track_id": enrolment.track_id})
    return certificate


@dataclass(frozen=True)
class IssueRequest:
    """One certificate to issue directly (the arguments of `issue_certificate`)."""

    recipient: User
    type_: CertificateType
    course: Course | None = None
    track: CertificationTrack | None = None
    notes: str | None = None
    notify_recipient: bool = True
    issued_on: date | None = None
    version: str | None = None
    replacing: bool = False
    expires_on: date | None = None


def issue_certificate(actor: Actor, *, recipient: User, type_: CertificateType,
                      course: Course | None = None, track: CertificationTrack | None = None,
                      notes: str | None = None, notify_recipient: bool = True,
                      issued_on: date | None = None, version: str | None = None,
                      replacing: bool = False, expires_on: date | None = None) -> Certificate:
    """Issue a certificate directly (the admin's "Issue Certificate"). A track
    certificate covers the track's current version (`version`: the one a re-issue
    carries over) and supersedes the recipient's certificates of older major versions.

    `replacing`: a re-issue (its course may be archived, its holder's organization
    deactivated since: it corrects a certificate, it certifies nothing new). Raises
    ValidationFailed (no subject, an archived course, a future issue date, an expiry date
    not after it, an inactive recipient or one in a deactivated organization) and Conflict
    ("User already has this certificate") when a live one exists, also under a race.

    The one-certificate case of `issue_certificates` (the same rules, the same writes).
    """
    (outcome,) = issue_certificates(actor, [IssueRequest(
        recipient=recipient, type_=type_, course=course, track=track, notes=notes,
        notify_recipient=notify_recipient, issued_on=issued_on, version=version,
        replacing=replacing, expires_on=expires_on)])
    if isinstance(outcome, ServiceError):
        raise outcome
    return outcome


def issue_certificates(actor: Actor, requests: Sequence[IssueRequest]
                       ) -> list[Certificate | ServiceError]:
    """Issue several certificates directly in a few statements whatever their number (a
    bulk import's batch): for each request, in order, the certificate issued or the
    ServiceError `issue_certificate` would raise for it (check_issue's refusals, a newer
    major version standing, a live one already, also earlier in `requests`). Set-based:
    the recipients' lines held and the live keys looked up for all at once, the numbers
    reserved per year in one UPDATE, the certificates, status-list entries, audit rows
    (the chain's head taken last, so it is held for the shortest time) and notifications
    each inserted together.

    Raises Conflict (already_live) when the insert itself is refused (a parallel issue of
    one of them won the race): nothing of the call is left (its SAVEPOINT rolled back);
    a caller of many may issue them one by one to find which."""
    outcomes: list[Certificate | ServiceError | None] = [None] * len(requests)
    keys: dict[int, tuple[int | None, int | None, str | None, int | None]] = {}
    for i, r in enumerate(requests):
        try:
            check_issue(recipient=r.recipient, type_=r.type_, course=r.course, track=r.track,
                        issued_on=r.issued_on, expires_on=r.expires_on, replacing=r.replacing)
        except ServiceError as refused:
            outcomes[i] = refused
            continue
        version = r.version or (r.track.version if r.track is not None else None)
        keys[i] = (r.course.id if r.course else None, r.track.id if r.track else None,
                   version, major_of(version))
    _hold_track_lines(requests, keys, outcomes)
    live_keys = {i: Certificate.make_live_key(requests[i].recipient.id, course_id, track_id,
                                              requests[i].type_, major)
                 for i, (course_id, track_id, _, major) in keys.items()
                 if outcomes[i] is None}
    taken = set(db.session.scalars(select(Certificate.live_key).where(
        Certificate.live_key.in_(set(live_keys.values()))))) if live_keys else set()
    for i, key in live_keys.items():
        if key in taken:  # live already (or earlier in this call)
            outcomes[i] = already_live()
        taken.add(key)
    todo = [i for i in live_keys if outcomes[i] is None]
    if not todo:
        return outcomes  # type: ignore[return-value]
    # One SAVEPOINT from the numbers on: a refused insert (or anything raising after the
    # counter moved) gives the numbers back with the rest, so a caller that catches the
    # Conflict and commits leaves no gap in the year's numbering.
    with db.session.begin_nested():
        certificates = _write_issues(actor, requests, keys, live_keys, todo)
    for i, certificate in certificates.items():
        outcomes[i] = certificate
    return outcomes  # type: ignore[return-value]


def _write_issues(actor: Actor, requests: Sequence[IssueRequest],
                  keys: dict[int, tuple[int | None, int | None, str | None, int | None]],
                  live_keys: dict[int, str], todo: list[int]) -> dict[int, Certificate]:
    """issue_certificates' writes for the requests `todo` (checked, lines held): the
    numbers, the certificates, their status-list entries, older majors superseded, the
    PDF jobs, the notifications and the audit rows. Raises Conflict (already_live)."""
    certificates: dict[int, Certificate] = {}
    for i in todo:
        r = requests[i]
        course_id, track_id, version, _major = keys[i]
        certificates[i] = Certificate(
            type=r.type_, status=S.PENDING, recipient=r.recipient, recipient_id=r.recipient.id,
            course=r.course, course_id=course_id, track=r.track, track_id=track_id,
            live_key=live_keys[i], notes=(r.notes or "").strip() or None,
            track_version=version if r.track is not None else None)
    # Read before the numbers: the counter's lock, held from here to the commit,
    # serializes every issuer (two bulk jobs too), so as little as can comes after it.
    template_versions = dict(zip(certificates, templates.version_ids_for(
        list(certificates.values())), strict=True))
    issued_at = {i: _issued_at(requests[i].issued_on) for i in todo}
    numbers: dict[int, str] = {}
    for year in sorted({at.year for at in issued_at.values()}):
        of_year = [i for i in todo if issued_at[i].year == year]
        numbers.update(zip(of_year, next_numbers(year, len(of_year)), strict=True))
    for i, certificate in certificates.items():
        _stamp(certificate, actor, issued_at[i], numbers[i], template_versions[i],
               requests[i].expires_on)
    for certificate, signed in zip(certificates.values(), signing.sign_open_badges(
            list(certificates.values())), strict=True):
        certificate.credential_jws = signed
    flush_or_raise(already_live(), add=certificates.values())
    badge_status.assign_new(list(certificates.values()))
    for certificate in certificates.values():
        _supersede_older_majors(certificate, actor)
        render_pdf_later(certificate.id)
    _notify_issued([(c, requests[i]) for i, c in certificates.items()
                    if requests[i].notify_recipient])
    audit.record_many(actor, AuditAction.CERT_ISSUE, "certificate", [
        (c.id, {"number": c.number, "type": c.type.value, "recipient_id": c.recipient_id,
                "course_id": c.course_id, "track_id": c.track_id})
        for c in certificates.values()])
    return certificates


def _hold_track_lines(requests: Sequence[IssueRequest],
                      keys: dict[int, tuple[int | None, int | None, str | None, int | None]],
                      outcomes: list[Certificate | ServiceError | None]) -> None:
    """`_hold_track_line` for the track requests at once (`_held_lines`): a request
    refused gets its Conflict (or NotFound) in `outcomes`."""
    lines = [i for i, key in keys.items() if key[1] is not None and key[0] is None and key[3]]
    for i, refusal in zip(lines, _held_lines([
            (requests[i].recipient.id, keys[i][1], requests[i].type_, keys[i][3])
            for i in lines]), strict=True):
        if refusal is not None:
            outcomes[i] = refusal


def _held_lines(lines: Sequence[tuple[int, int | None, CertificateType, int | None]]
                ) -> list[ServiceError | None]:
    """The newer-major rule, for each (recipient id, track id, type, major) line of a
    track certificate about to be issued: the recipients' rows held in id order (one
    SELECT ... FOR UPDATE: a global order, so two holders wait instead of deadlocking),
    their issued certificates of those tracks read in one query; a line under an issued
    certificate of a newer major version gets its Conflict (a person deleted: NotFound),
    the others None."""
    if not lines:
        return []
    recipient_ids = sorted({recipient_id for recipient_id, *_ in lines})
    held = hold_people(recipient_ids)
    issued = db.session.scalars(select(Certificate).where(
        Certificate.recipient_id.in_(recipient_ids),
        Certificate.track_id.in_({track_id for _, track_id, _, _ in lines}),
        Certificate.course_id.is_(None), Certificate.status == S.ISSUED)).all()
    refusals: list[ServiceError | None] = []
    for recipient_id, track_id, type_, major in lines:
        refusal: ServiceError | None = None
        if recipient_id not in held:
            refusal = NotFound("This was removed a moment ago. Reload the page.")
        else:
            for newer in issued:
                if newer.recipient_id == recipient_id and newer.track_id == track_id \
                        and newer.type == type_ and (newer.covered_major or 0) > (major or 0):
                    refusal = _newer_stands(newer)
                    break
        refusals.append(refusal)
    return refusals


def hold_people(user_ids: Iterable[int]) -> set[int]:
    """Lock the people's rows now, in id order, in one SELECT ... FOR NO KEY UPDATE (PG;
    SQLite's writes are serialized already); the ids of those that exist. The person is
    the first lock of every certificate write (person, the year's counter, the audit
    head), so a write that will touch several people (a bulk action, a bulk import's
    batch) holds them all before its first counter or audit row: taken one by one later,
    it would hold the head while waiting for a person whom a single issue holds while
    waiting for the head.

    FOR NO KEY UPDATE: it excludes the other holders (and an update of the person) but
    not the key-share lock a row naming the person takes (a notification, a course
    certificate's approval), which a write holding a certificate row may need while a
    bulk action holds its people."""
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    return set(db.session.scalars(select(User.id).where(User.id.in_(ids))
                                  .order_by(User.id).with_for_update(key_share=True)))


def _newer_stands(newer: Certificate) -> Conflict:
    return Conflict(f"Certificate {newer.number} of version {newer.track_version} "
                    "stands: a certificate of an earlier version can no longer be "
                    "issued or reinstated.")


def _notify_issued(issued: list[tuple[Certificate, IssueRequest]]) -> None:
    """_notify(CERTIFICATE_ISSUED) for each newly issued certificate, in one insert."""
    if not issued:
        return
    notify_many([NewNotification(
        user_id=c.recipient_id, type=NotificationType.CERTIFICATE_ISSUED,
        title=f"Certificate issued: {subject_name(c)}",
        body=_issued_body(f"Your {r.type_.label.lower()} certificate {c.number} is ready."),
        link=urls.site_path("main.certificate_pdf", certificate_id=c.id), dedupe_key=None)
        for c, r in issued])


def _issued_body(body: str) -> str:
    return f"{body} Open this message to download its PDF (it is on My page too)."


def check_issue(*, recipient: User, type_: CertificateType, course: Course | None = None,
                track: CertificationTrack | None = None, issued_on: date | None = None,
                expires_on: date | None = None, replacing: bool = False,
                check_live: bool = False) -> None:
    """The rules of a direct issue that need no lock (`issue_certificate` checks them
    first; a bulk import's preview checks each row with them). `check_live` also refuses
    a live certificate of the same subject and type (issue_certificate checks that after
    holding the recipient's line). Raises what issue_certificate raises."""
    if (course is None) == (track is None):
        raise ValidationFailed("Choose a course or a track.",
                               fields={"course_id": ["Choose a course."]})
    if issued_on is not None and issued_on > today():
        raise ValidationFailed("The issue date cannot be in the future.",
                               fields={"issued_on": ["Today or earlier."]})
    if course is not None and course.archived_at is not None and not replacing:
        raise ValidationFailed(f"{course.title} is archived: it is no longer part of its "
                               "track.", fields={"course_id": [f"{course.title} is archived."]})
    if not recipient.active:
        raise ValidationFailed("This account is inactive.", fields={"user_id": ["Inactive."]})
    if not recipient.takes_part and not replacing:
        message = f"{recipient.organization.name} is deactivated."
        raise ValidationFailed(f"{message} Its people cannot be issued certificates.",
                               fields={"user_id": [message]})
    if expires_on is not None and expires_on <= (issued_on or today()):
        raise ValidationFailed("The expiry date must be after the issue date.",
                               fields={"expires_on": ["After the issue date."]})
    if check_live:
        major = major_of(track.version) if track is not None else None
        if live_certificate(recipient.id, course.id if course else None,
                            track.id if track else None, type_, major) is not None:
            raise already_live()


def _only(expected: CertificateStatus, verb: str) -> Callable[[Certificate], str | Conflict]:
    """The refusal when a certificate is no longer in the state an action needs: an
    AlreadyDone when it is in the state the action would have given it."""

    def message(certificate: Certificate) -> str | Conflict:
        if certificate.status == S.ISSUED and verb == "approved":
            return AlreadyDone(f"Already approved: certificate {certificate.number} is issued.")
        if certificate.status == S.REVOKED and verb == "revoked":
            return AlreadyDone(f"Already revoked: certificate {certificate.number} is revoked.")
        if certificate.status == S.REJECTED and verb == "rejected":
            return AlreadyDone("Already rejected.")
        if certificate.status == S.ISSUED and verb == "reinstated":
            return AlreadyDone(f"Already reinstated: certificate {certificate.number} is valid.")
        if certificate.status == S.SUPERSEDED:
            if verb == "re-issued":
                return AlreadyDone("Already re-issued: this certificate is superseded. "
                                   "Reload to see the replacement.")
            successor = successor_of(certificate)
            named = f" {successor.number}" if successor is not None else ""
            return (f"Certificate {certificate.number} was superseded and cannot be "
                    f"{verb}; its replacement{named} stands.")
        wanted = expected.label.lower()
        article = "an" if wanted[0] in "aeiou" else "a"
        return (f"Only {article} {wanted} certificate can be {verb}; this one is "
                f"{certificate.status.label.lower()}.")

    return message


def approve(certificate: Certificate, actor: Actor, *,
            notify_recipient: bool = True, automatic: bool = False) -> Certificate:
    """PENDING -> ISSUED, numbered. Raises Conflict if it is not pending (any more): of
    several approvals at once, one wins and the others get "Already approved"; and when
    a newer major version's certificate of the same track is issued already.

    `automatic`: the track's auto-issue rule approved it on completion (the system is
    the actor; the audit row says "automatic")."""
    _hold_line_of(certificate)
    transition(certificate, to=S.ISSUED, expected=S.PENDING,
               refused=_only(S.PENDING, "approved"))
    _finalise_issue(certificate, actor, None)
    audit.record(actor, AuditAction.CERT_APPROVE, "certificate", certificate.id,
                 {"status": ["PENDING", "ISSUED"], "number": certificate.number,
                  **({"automatic": True} if automatic else {})})
    if notify_recipient:
        replaced = (db.session.get(Certificate, certificate.supersedes_id)
                    if certificate.supersedes_id else None)
        _notify(certificate, NotificationType.CERTIFICATE_ISSUED,
                f"Certificate issued: {subject_name(certificate)}",
                f"Your certificate {certificate.number} has been approved."
                + (f" It replaces {replaced.number}." if replaced is not None else ""))
    return certificate


def reject(certificate: Certificate, actor: Actor, reason: str, *,
           notify_recipient: bool = True) -> Certificate:
    """PENDING -> REJECTED, with a reason; the learner is told, with the reason
    (CERTIFICATE_REJECTED: in-app, and by email per their training-email setting). Raises
    ValidationFailed (no reason) and Conflict (not pending any more: of two rejections at
    once one wins; one audit row, one notice)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give a reason for rejecting.",
                               fields={"reason": ["Give a reason for rejecting."]})
    transition(certificate, to=S.REJECTED, expected=S.PENDING,
               values={"rejection_reason": reason[:2000], "live_key": None},
               refused=_only(S.PENDING, "rejected"))
    audit.record(actor, AuditAction.CERT_REJECT, "certificate", certificate.id,
                 {"status": ["PENDING", "REJECTED"], "reason": certificate.rejection_reason})
    if notify_recipient:
        _notify(certificate, NotificationType.CERTIFICATE_REJECTED,
                f"Certificate not approved: {subject_name(certificate)}",
                f"Your {certificate.type.label.lower()} certificate for "
                f"{subject_name(certificate)} was not approved. Reason: "
                f"{certificate.rejection_reason}")
    return certificate


def revoke(certificate: Certificate, actor: Actor, reason: str, category: str = "other", *,
           notify_recipient: bool = True) -> Certificate:
    """ISSUED -> REVOKED with a reason (required) and a category. Raises ValidationFailed
    (no reason, unknown category) and Conflict (not issued any more)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give a reason for revoking.",
                               fields={"reason": ["Give a reason for revoking."]})
    if category not in REVOCATION_CATEGORIES:
        raise ValidationFailed("Unknown revocation category.",
                               fields={"category": [f"One of {', '.join(REVOCATION_CATEGORIES)}."]})
    transition(certificate, to=S.REVOKED, expected=S.ISSUED, values={
        "live_key": None, "revocation_reason": reason[:2000], "revocation_category": category,
        "revoked_at": utcnow(), "revoked_by_id": actor.user.id if actor.user else None,
    }, refused=_only(S.ISSUED, "revoked"))
    badge_status.set_status(certificate, suspended=True)
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

    Raises Conflict (409) when it is not revoked (any more), is SUPERSEDED ("... was
    superseded and cannot be reinstated; its replacement CERT-... stands"), or another
    live certificate took its place (also one of a newer major version of its track).
    """
    previous = {"reason": certificate.revocation_reason,
                "category": certificate.revocation_category}
    _hold_line_of(certificate)
    transition(certificate, to=S.ISSUED, expected=S.REVOKED, values={
        "revocation_reason": None, "revocation_category": None, "revoked_at": None,
        "revoked_by_id": None, "pdf_key": None, "pdf_sha256": None,
    }, refused=_only(S.REVOKED, "reinstated"))
    # Live again: the unique live key refuses it if another live certificate took its place.
    certificate.live_key = Certificate.make_live_key(
        certificate.recipient_id, certificate.course_id, certificate.track_id, certificate.type,
        certificate.covered_major)
    flush_or_raise(already_live())
    badge_status.set_status(certificate, suspended=False)
    audit.record(actor, AuditAction.CERT_REINSTATE, "certificate", certificate.id,
                 {"status": ["REVOKED", "ISSUED"], "was": previous})
    render_pdf_later(certificate.id)
    if notify_recipient:
        _notify(certificate, NotificationType.CERTIFICATE_ISSUED,
                f"Certificate reinstated: {subject_name(certificate)}",
                f"Certificate {certificate.number} is valid again.")
    return certificate


def reissue(certificate: Certificate, actor: Actor) -> Certificate:
    """A new certificate saying what is true now (names, titles), superseding this one
    (ISSUED -> SUPERSEDED; the replacement covers the same track version and names it
    in `supersedes_id`). Raises Conflict when it is not issued (any more): re-issuing
    twice at once makes one replacement."""
    if certificate.status != S.ISSUED:
        refusal = _only(S.ISSUED, "re-issued")(certificate)
        raise refusal if isinstance(refusal, Conflict) else Conflict(refusal)
    day = _hold_for_replacement(certificate)  # the person, the counter, then the head
    try:
        _supersede(certificate, actor, "Re-issued with current details.")
    except Conflict as lost:  # another re-issue (or a revoke) won the race
        raise Conflict("Already re-issued or revoked a moment ago. Reload to see the "
                       "replacement.") from lost
    replacement = issue_certificate(
        actor, recipient=certificate.recipient, type_=certificate.type,
        course=certificate.course, track=certificate.track, notes=certificate.notes,
        notify_recipient=True, replacing=True,  # an archived course's certificate too
        version=certificate.track_version if certificate.track else None, issued_on=day)
    replacement.supersedes_id = certificate.id
    db.session.flush()
    return replacement


def successor_of(certificate: Certificate) -> Certificate | None:
    """The certificate that superseded this one (the newest naming it), if any."""
    return db.session.scalar(select(Certificate).where(
        Certificate.supersedes_id == certificate.id).order_by(Certificate.id.desc()).limit(1))
