"""Bulk issue of certificates from a CSV: preview, confirm, issue (by a job), report.

- `preview(actor, stream, filename)` reads the upload as it streams (csvfile.read_rows)
  and stores one row per line with its verdict, found by the rules of a direct issue
  (`check_issue`, the Issue Certificate modal's): READY, INVITE (no account with that
  email: the admin may invite them), INVALID (bad date, unknown or archived course,
  unknown track or type, inactive person or organization ...) or DUPLICATE (a live
  certificate of that subject already, the same row earlier in the file, or "already
  issued by import #N": an earlier import's row with the same key issued it).
- `confirm(bulk, actor, invite_unknown=...)` moves the import PREVIEW -> QUEUED in one
  conditional UPDATE (a double-click or a second admin gets AlreadyDone: one job), its
  READY rows (and INVITE ones when chosen) to PENDING, and queues the job after commit.
- The job (app.jobs.bulk) runs `begin`, then `process_batch` (which claims the next
  COMMIT_EVERY pending rows and issues each in a SAVEPOINT of its own, writing a row's
  outcome only while it is still PENDING: of two runs at once each row is decided once)
  and commits after each batch with a heartbeat, then `finish`. A job that dies midway
  keeps what it did; RQ's retries and Resume go on with the rows still pending. A row
  raising an unexpected error is FAILED (logged) and the others go on. A row's
  `done_key` (unique) takes its key when it issues: the same row never issues twice, in
  one import or across imports, while that certificate is live.
- An import whose retries ran out, whose confirming admin may no longer act, or whose
  job went silent for STALE_AFTER shows as failed with Resume (`resume`: queued once
  however often it is clicked).

Row key: SHA-256 of the normalised content (email in lower case, the resolved course and
track ids, type, dates, notes) and the target (kind "certificates").

The pipeline serves every kind of import (bulk.kinds): preview, confirm, the job's
functions, progress, Resume and the report take what is particular to a kind (its
columns, its row checks, what "done" means, how a row is carried out) from the `Kind`
registered for `bulk.kind`; this module registers "certificates", bulk.awards "awards".
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO, Any

from flask import current_app
from rq import Retry
from sqlalchemy import and_, bindparam, func, insert, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import (
    AuditAction,
    BulkImport,
    BulkImportRow,
    Certificate,
    CertificateType,
    CertificationTrack,
    Course,
    ImportStatus,
    Organization,
    Role,
    RowStatus,
    User,
)
from app.models.base import utcnow
from app.models.certificates import major_of
from app.services import audit, fields, jobs
from app.services import users as user_service
from app.services.auth import normalise_email
from app.services.bulk.csvfile import csv_line, read_rows
from app.services.bulk.kinds import Checked, Kind, Words, kind_of, register
from app.services.certificates.lifecycle import (
    IssueRequest,
    check_issue,
    hold_people,
    issue_certificate,
    issue_certificates,
)
from app.services.certificates.numbering import hold_counter
from app.services.certificates.queries import already_live
from app.services.context import Actor, active_admin
from app.services.dates import today
from app.services.enqueue import enqueue_after_commit
from app.services.errors import AlreadyDone, Conflict, NotFound, ServiceError, ValidationFailed
from app.services.transitions import transition

log = logging.getLogger(__name__)

KIND = "certificates"
COLUMNS = ("email", "name", "organization", "course", "track", "type", "issue_date", "expiry",
           "notes")
REQUIRED = ("email", "type")
ALIASES = {"recipient_email": "email", "recipient": "email", "e_mail": "email",
           "recipient_name": "name", "issued_on": "issue_date", "issue": "issue_date",
           "date": "issue_date", "expires_on": "expiry", "expiry_date": "expiry",
           "expires": "expiry", "certificate_type": "type", "org": "organization"}
TEMPLATE_ROWS = (
    ("ana.ngata@example.com", "Ana Ngata", "", "", "Roofing Fundamentals", "completion",
     "2026-11-30", "", "Cohort November"),
    ("li.wei@example.com", "Li Wei", "Demo Roofing Ltd", "Flashings", "Roofing Fundamentals",
     "mastery", "", "2028-11-30", ""),
)
PROCESS_JOB = "app.jobs.bulk.process_bulk_import"
JOB_TIMEOUT = 3600
#: RQ tries a job that raised this many times more, after these waits (seconds).
RETRY: dict[str, Any] = {"max": 3, "interval": [10, 60, 300]}
#: A running job beats after every batch (seconds apart); silent this long, it is dead.
STALE_AFTER = timedelta(minutes=5)
#: A queued import no worker took this long (its job was lost) can be resumed too.
QUEUED_STALE_AFTER = timedelta(minutes=15)
UNEXPECTED = ("Not issued: an unexpected error (logged for the administrators). Upload "
              "this row again in a new file to try it again.")
NOT_ADMIN = ("Stopped: the admin who confirmed it can no longer issue certificates "
             "(deactivated, or no longer an admin). Another admin can resume it.")
COMMIT_EVERY = 25
CHUNK = 500
PREVIEW_LIST = 500  # rows with a problem listed on the preview page (the report has all)

S = RowStatus
PREVIEW_STATUSES = (S.READY, S.INVITE, S.INVALID, S.DUPLICATE)
DONE_STATUSES = (S.ISSUED, S.SKIPPED, S.FAILED)


def max_rows() -> int:
    return int(current_app.config.get("BULK_MAX_ROWS", 10_000))


def max_bytes() -> int:
    return int(current_app.config.get("BULK_MAX_BYTES", 5 * 1024 * 1024))


def template_csv(kind: str = KIND) -> str:
    k = kind_of(kind)
    return csv_line(k.columns) + "".join(csv_line(row) for row in k.template_rows)


# --- Preview ----------------------------------------------------------------------------

@dataclass
class _Catalogue:
    """Courses, tracks and organizations by lower-case name (and id), read once."""

    courses: dict[str, list[Course]]
    tracks: dict[str, list[CertificationTrack]]
    organizations: dict[str, Organization]

    @classmethod
    def load(cls) -> _Catalogue:
        courses: dict[str, list[Course]] = {}
        for course in db.session.scalars(select(Course)):
            courses.setdefault(course.title.strip().lower(), []).append(course)
            courses.setdefault(str(course.id), []).append(course)
        tracks: dict[str, list[CertificationTrack]] = {}
        for track in db.session.scalars(select(CertificationTrack)):
            tracks.setdefault(track.name.strip().lower(), []).append(track)
            tracks.setdefault(str(track.id), []).append(track)
        organizations: dict[str, Organization] = {}
        for org in db.session.scalars(select(Organization)):
            organizations[org.name.strip().lower()] = org
            organizations[org.slug.lower()] = org
        return cls(courses, tracks, organizations)


class RowProblem(ValidationFailed):
    """One row's refusal (the preview stores its message)."""


def _date(value: str, label: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    for sep in ("/", "."):  # 30/11/2026, the way New Zealand writes dates
        parts = value.split(sep)
        if len(parts) == 3 and all(p.isascii() and p.isdigit() for p in parts) \
                and len(parts[2]) == 4:
            try:
                return date(int(parts[2]), int(parts[1]), int(parts[0]))
            except ValueError:
                break
    raise RowProblem(f"The {label} '{value[:40]}' is not a date: use YYYY-MM-DD "
                     "(or DD/MM/YYYY).")


def _type(value: str) -> CertificateType:
    cleaned = value.strip().upper()
    if not cleaned:
        return CertificateType.COMPLETION
    try:
        return CertificateType(cleaned)
    except ValueError:
        known = ", ".join(t.value.lower() for t in CertificateType)
        raise RowProblem(f"Unknown type '{value.strip()[:40]}': use one of {known}.") from None


def _subject(raw: dict[str, str], catalogue: _Catalogue) -> tuple[Course | None,
                                                                   CertificationTrack | None]:
    course_name = raw.get("course", "").strip()
    track_name = raw.get("track", "").strip()
    if not course_name and not track_name:
        raise RowProblem("Name a course or a track.")
    track = None
    if track_name:
        tracks = catalogue.tracks.get(track_name.lower(), [])
        if not tracks:
            raise RowProblem(f"Unknown track '{track_name[:80]}'.")
        if len(tracks) > 1:
            raise RowProblem(f"Several tracks are called '{track_name[:80]}': use its number.")
        track = tracks[0]
    if not course_name:
        return None, track
    courses = catalogue.courses.get(course_name.lower(), [])
    if track is not None:
        courses = [c for c in courses if c.track_id == track.id]
    if not courses:
        where = f" in {track.name}" if track is not None else ""
        raise RowProblem(f"Unknown course '{course_name[:80]}'{where}.")
    if len(courses) > 1:
        raise RowProblem(f"Several courses are called '{course_name[:80]}': name its track too.")
    return courses[0], None


def _row_key(values: dict[str, Any]) -> str:
    content = json.dumps({"target": KIND, **values}, sort_keys=True, default=str)
    return hashlib.sha256(content.encode()).hexdigest()


def _live_key(raw: dict[str, str], catalogue: _Catalogue, users: dict[str, User]) -> str | None:
    """The live key a row's certificate would take (Certificate.make_live_key), or None
    when the row names no known person and subject (its check says why)."""
    user = users.get(normalise_email(raw.get("email", "")))
    if user is None:
        return None
    try:
        type_ = _type(raw.get("type", ""))
        course, track = _subject(raw, catalogue)
    except RowProblem:
        return None
    return Certificate.make_live_key(user.id, course.id if course else None,
                                     track.id if track else None, type_,
                                     major_of(track.version) if track is not None else None)


def _live_keys(chunk: list[tuple[int, dict[str, str]]], catalogue: _Catalogue,
               users: dict[str, User]) -> set[str]:
    """The chunk's live keys already taken: one query for 500 rows, instead of the live
    check's query per row (check_issue(check_live=True) asks the same of one row)."""
    keys = {k for _, raw in chunk if (k := _live_key(raw, catalogue, users)) is not None}
    if not keys:
        return set()
    return set(db.session.scalars(select(Certificate.live_key)
                                  .where(Certificate.live_key.in_(keys))))


def _check_row(raw: dict[str, str], catalogue: _Catalogue, users: dict[str, User],
               live: set[str]) -> tuple[RowStatus, str | None, dict[str, Any], str]:
    """(status, message, normalised data, row key) of one CSV row; `live`: the live keys
    taken (see _live_keys)."""
    data: dict[str, Any] = {k: (raw.get(k) or "").strip()[:300] for k in COLUMNS}
    email = normalise_email(raw.get("email", ""))
    data["email"] = email
    key = _row_key({"unreadable": data})
    try:
        if not email:
            raise RowProblem("Enter the recipient's email address.")
        if len(email) > 254 or fields.has_control(email) or not fields.is_email(email):
            raise RowProblem(f"'{email[:80]}' is not a valid email address.")
        type_ = _type(raw.get("type", ""))
        course, track = _subject(raw, catalogue)
        issued_on = _date(raw.get("issue_date", ""), "issue date")
        expires_on = _date(raw.get("expiry", ""), "expiry date")
        notes = fields.optional_text(raw.get("notes"), "notes", max_len=2000)
        name = fields.optional_text(raw.get("name"), "name", max_len=200)
        data.update(type=type_.value, course_id=course.id if course else None,
                    track_id=track.id if track else None,
                    issue_date=issued_on.isoformat() if issued_on else None,
                    expiry=expires_on.isoformat() if expires_on else None, notes=notes,
                    name=name)
        key = _row_key({k: data[k] for k in ("email", "type", "course_id", "track_id",
                                              "issue_date", "expiry", "notes")})
        user = users.get(email)
        if user is None:
            org_name = raw.get("organization", "").strip()
            org = catalogue.organizations.get(org_name.lower()) if org_name else None
            if org_name and org is None:
                raise RowProblem(f"No account for {email}, and no organization "
                                 f"'{org_name[:80]}' to invite them into.")
            if org is not None and not org.active:
                raise RowProblem(f"{org.name} is deactivated: its people cannot be issued "
                                 "certificates.")
            data["organization_id"] = org.id if org else None
            # The rules that do not need the person (dates, archived course) still hold.
            check_issue(recipient=_Nobody(), type_=type_, course=course, track=track,
                        issued_on=issued_on, expires_on=expires_on)
            return (S.INVITE, f"No account for {email}: invite them to issue this one.",
                    data, key)
        org_name = raw.get("organization", "").strip()
        if org_name:  # the file says where they work: an account elsewhere is not them
            org = catalogue.organizations.get(org_name.lower())
            if org is None or org.id != user.organization_id:
                raise RowProblem(f"{email} has an account, but not in an organization "
                                 f"named '{org_name[:80]}'.")
        data["user_id"] = user.id
        check_issue(recipient=user, type_=type_, course=course, track=track,
                    issued_on=issued_on, expires_on=expires_on)
        if _live_key(raw, catalogue, users) in live:
            raise already_live()
    except Conflict as exc:  # a live certificate of this subject and type
        return S.DUPLICATE, f"{exc.message.rstrip('.')} (live now).", data, key
    except ServiceError as exc:
        return S.INVALID, _message(exc), data, key
    return S.READY, None, data, key


class _Nobody:
    """A recipient-to-be for check_issue: active, taking part (their org is checked here)."""

    id = 0
    active = True
    takes_part = True


def _message(exc: ServiceError) -> str:
    if isinstance(exc, RowProblem) or not exc.fields:
        return exc.message
    field_messages = [m for ms in exc.fields.values() for m in ms]
    return exc.message if exc.message not in ("Some fields are not valid.",) else \
        "; ".join(field_messages)


def _chunks(rows: Iterator[tuple[int, dict[str, str]]],
            size: int) -> Iterator[list[tuple[int, dict[str, str]]]]:
    chunk: list[tuple[int, dict[str, str]]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check_chunk(chunk: list[tuple[int, dict[str, str]]], catalogue: _Catalogue,
                 users: dict[str, User]) -> list[Checked]:
    live = _live_keys(chunk, catalogue, users)
    return [(line, *_check_row(raw, catalogue, users, live)) for line, raw in chunk]


def _subject_of(data: dict[str, Any]) -> tuple[Any, ...]:
    return (data["email"], data.get("course_id"), data.get("track_id"), data.get("type"))


def preview(actor: Actor, stream: IO[bytes], filename: str | None,
            kind: str = KIND) -> BulkImport:
    """Read the CSV and store its rows with their verdicts (see the module docstring).
    Raises ValidationFailed / PayloadTooLarge for a file that cannot be taken at all."""
    k = kind_of(kind)
    bulk = BulkImport(kind=k.name, status=ImportStatus.PREVIEW,
                      filename=(filename or "upload.csv")[-200:],
                      created_by_id=actor.user.id if actor.user else None)
    db.session.add(bulk)
    db.session.flush()
    catalogue = k.load()
    seen_keys: dict[str, int] = {}
    seen_subjects: dict[tuple[Any, ...], int] = {}
    total = 0
    rows = read_rows(stream, columns=k.columns, required=k.required, aliases=k.aliases,
                     max_rows=max_rows(), max_bytes=max_bytes())
    for chunk in _chunks(rows, CHUNK):
        emails = {normalise_email(raw.get("email", "")) for _, raw in chunk}
        # The people the session held already (the admin uploading, current_user) stay
        # in it; only those read for this chunk leave it afterwards.
        held = set(db.session.identity_map.keys())
        users = {u.email.lower(): u for u in db.session.scalars(
            select(User).where(func.lower(User.email).in_(emails)))}
        # Nothing is pending in the session while rows are checked: without autoflush each
        # check's query skips scanning the session (which made 10,000 rows quadratic).
        with db.session.no_autoflush:
            checked = k.check_chunk(chunk, catalogue, users)
        keys = [key for _, status, _, _, key in checked
                if status in (S.READY, S.INVITE, S.DUPLICATE)]
        done = k.live_done(keys)
        values = []
        for line, status, message, data, key in checked:
            earlier = None
            if status in (S.READY, S.INVITE, S.DUPLICATE):
                if key in done:
                    earlier = done[key]
                    status, message = S.DUPLICATE, \
                        f"Already {k.words.past} by import #{earlier}."
                elif key in seen_keys:
                    status, message = S.DUPLICATE, f"The same as line {seen_keys[key]}."
                else:
                    subject = k.subject(data)
                    if subject in seen_subjects and status != S.DUPLICATE:
                        status, message = S.INVALID, k.same_subject.format(
                            line=seen_subjects[subject])
                    seen_subjects.setdefault(subject, line)
                seen_keys.setdefault(key, line)
            values.append({"import_id": bulk.id, "line": line, "data": data, "row_key": key,
                           "status": status, "message": message,
                           "issued_by_import_id": earlier})
        db.session.execute(insert(BulkImportRow), values)
        total += len(values)
        for user in users.values():  # memory stays flat: the next chunk has its own people
            if inspect(user).identity_key not in held:
                db.session.expunge(user)
    if total == 0:
        raise ValidationFailed("The file has a header but no rows.",
                               fields={"file": ["No rows."]})
    bulk.total_rows = total
    db.session.flush()
    return bulk


# --- Reading ----------------------------------------------------------------------------

def get_import(import_id: int, kind: str = KIND) -> BulkImport:
    """Raises NotFound (also for an import of another kind)."""
    bulk = db.session.get(BulkImport, import_id)
    if bulk is None or bulk.kind != kind:
        raise NotFound("Import not found.")
    return bulk


def counts(bulk: BulkImport) -> dict[str, int]:
    """Rows per status, every status listed."""
    found = dict(db.session.execute(
        select(BulkImportRow.status, func.count()).where(BulkImportRow.import_id == bulk.id)
        .group_by(BulkImportRow.status)).all())
    return {s.value: int(found.get(s, 0)) for s in RowStatus}


def progress(bulk: BulkImport) -> dict[str, Any]:
    """What the progress bar shows: rows to process, rows done, and the outcome counts."""
    c = counts(bulk)
    done = c["ISSUED"] + c["SKIPPED"] + c["FAILED"]
    todo = done + c["PENDING"]
    shown = shown_status(bulk)
    return {"counts": c, "done": done, "total": todo,
            "percent": round(100 * done / todo) if todo else 100,
            "status": shown, "failed": shown == ImportStatus.FAILED,
            "error": shown_error(bulk),
            "finished": shown in (ImportStatus.DONE, ImportStatus.FAILED)}


def rows(bulk: BulkImport, statuses: Iterable[RowStatus] | None = None,
         limit: int | None = None) -> list[BulkImportRow]:
    stmt = select(BulkImportRow).where(BulkImportRow.import_id == bulk.id)
    if statuses is not None:
        stmt = stmt.where(BulkImportRow.status.in_(list(statuses)))
    stmt = stmt.order_by(BulkImportRow.line)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def recent_imports(limit: int = 10, kind: str = KIND) -> list[BulkImport]:
    return list(db.session.scalars(select(BulkImport).where(BulkImport.kind == kind)
                                   .order_by(BulkImport.id.desc()).limit(limit)))


REPORT_COLUMNS = ("line", "email", "course", "track", "type", "result", "message",
                  "certificate")


def rows_with_numbers(bulk: BulkImport) -> Iterator[tuple[BulkImportRow, str | None]]:
    """Every row with the number of the certificate it issued, in line order, read in
    pages of 1,000."""
    last = 0
    while True:
        page = list(db.session.execute(
            select(BulkImportRow, Certificate.number)
            .outerjoin(Certificate, Certificate.id == BulkImportRow.certificate_id)
            .where(BulkImportRow.import_id == bulk.id, BulkImportRow.line > last)
            .order_by(BulkImportRow.line).limit(1000)).all())
        if not page:
            return
        yield from page
        last = page[-1][0].line


def report_lines(bulk: BulkImport) -> Iterator[str]:
    """The result report as CSV lines (formulas neutralised), as the import's kind writes
    it."""
    return kind_of(bulk.kind).report_lines(bulk)


def api_rows(bulk: BulkImport) -> list[dict[str, Any]]:
    """Every row's outcome, as the import's kind shows it in the API."""
    return kind_of(bulk.kind).api_rows(bulk)


def _report_lines(bulk: BulkImport) -> Iterator[str]:
    yield csv_line(REPORT_COLUMNS)
    for row, number in rows_with_numbers(bulk):
        d = row.data or {}
        yield csv_line((row.line, d.get("email"), d.get("course"), d.get("track"),
                        d.get("type"), row.status.label, row.message or "", number or ""))


def row_to_api(row: BulkImportRow, number: str | None = None) -> dict[str, Any]:
    d = row.data or {}
    return {"line": row.line, "email": d.get("email"), "course": d.get("course") or None,
            "track": d.get("track") or None, "type": d.get("type"),
            "status": row.status.value.lower(), "message": row.message,
            "certificate_id": row.certificate_id, "certificate_number": number,
            "issued_by_import_id": row.issued_by_import_id}


def to_api(bulk: BulkImport, *, with_rows: bool = False) -> dict[str, Any]:
    data = {"id": bulk.id, "status": bulk.status.value.lower(), "filename": bulk.filename,
            "total_rows": bulk.total_rows, "created_at": bulk.created_at.isoformat(),
            "confirmed_at": bulk.confirmed_at.isoformat() if bulk.confirmed_at else None,
            "finished_at": bulk.finished_at.isoformat() if bulk.finished_at else None,
            "counts": {k.lower(): v for k, v in counts(bulk).items()},
            "error": shown_error(bulk), "shown_status": shown_status(bulk).value.lower()}
    if with_rows:
        shown = kind_of(bulk.kind).row_to_api
        data["rows"] = [shown(r) for r in rows(bulk, limit=PREVIEW_LIST * 2)]
    return data


# --- Confirm ----------------------------------------------------------------------------

def confirm(bulk: BulkImport, actor: Actor, *, invite_unknown: bool = False,
            notify_recipients: bool = True) -> BulkImport:
    """PREVIEW -> QUEUED and the job queued (see the module docstring). Raises
    ValidationFailed when no row would issue anything, AlreadyDone when it was confirmed
    already (a double-click, another admin: one job all the same)."""
    c = counts(bulk)
    verb = kind_of(bulk.kind).words.verb
    wanted = [S.READY] + ([S.INVITE] if invite_unknown else [])
    if bulk.status == ImportStatus.PREVIEW and not sum(c[s.value] for s in wanted):
        db.session.refresh(bulk)  # confirmed a moment ago by the other click: its rows moved
        if bulk.status != ImportStatus.PREVIEW:
            raise AlreadyDone(f"Import #{bulk.id} was confirmed already: it is "
                              f"{bulk.status.label.lower()}.")
        message = (f"Nothing to {verb}: no row is ready" + (
            f" (tick 'Invite' to {verb} to the people without an account)"
            if c["INVITE"] else "") + ".")
        raise ValidationFailed(message, fields={"confirm": [message]})
    transition(bulk, to=ImportStatus.QUEUED, expected=ImportStatus.PREVIEW, values={
        "confirmed_by_id": actor.user.id if actor.user else None, "confirmed_at": utcnow(),
        "invite_unknown": invite_unknown, "notify_recipients": notify_recipients,
        "heartbeat_at": utcnow(),
    }, refused=lambda now: AlreadyDone(f"Import #{now.id} was confirmed already: it is "
                                       f"{now.status.label.lower()}."))
    db.session.execute(update(BulkImportRow).where(
        BulkImportRow.import_id == bulk.id, BulkImportRow.status.in_(wanted))
        .values(status=S.PENDING, message=None).execution_options(synchronize_session=False))
    audit.record(actor, AuditAction.UPDATE, "bulk_import", bulk.id,
                 {"status": ["PREVIEW", "QUEUED"], "rows": sum(c[s.value] for s in wanted),
                  "invite_unknown": invite_unknown, "filename": bulk.filename})
    _queue(bulk)
    return bulk


# --- The job ---------------------------------------------------------------------------
# app.jobs.bulk runs these: begin, then process_batch until it finds nothing, then finish,
# committing after each step (the functions here only flush).

def runs_for(pending: int) -> int:
    """How many jobs carry out an import with `pending` rows: BULK_RUNS (one per RQ
    worker), but no more than it has batches. Side by side, each claims batches the
    others do not hold (process_batch); the year's number counter and the audit chain
    head, which every issuer waits for, are taken at the end of a batch's writes, so
    the jobs overlap on the rest (reading, checking, the template versions)."""
    batches = -(-pending // COMMIT_EVERY)
    return max(1, min(int(current_app.config.get("BULK_RUNS", 2)), batches))


def _queue(bulk: BulkImport) -> None:
    # A job that raises is tried again (the rows still pending are what is left); the last
    # try marks the import FAILED, and Resume queues it once more.
    pending = db.session.scalar(select(func.count()).select_from(BulkImportRow).where(
        BulkImportRow.import_id == bulk.id, BulkImportRow.status == S.PENDING)) or 0
    for _ in range(runs_for(pending)):
        enqueue_after_commit(PROCESS_JOB, bulk.id, job_timeout=JOB_TIMEOUT,
                             retry=Retry(max=RETRY["max"], interval=RETRY["interval"]))


def is_stale(bulk: BulkImport, now: datetime | None = None) -> bool:
    """A RUNNING import whose job has not beaten for STALE_AFTER (its worker was killed),
    or a QUEUED one no worker took for QUEUED_STALE_AFTER (its job was lost)."""
    beat = bulk.heartbeat_at or bulk.confirmed_at or bulk.created_at
    return jobs.went_silent(bulk.status, beat, now or utcnow(), running=STALE_AFTER,
                            queued=QUEUED_STALE_AFTER)


def shown_status(bulk: BulkImport) -> ImportStatus:
    """What the page shows: a stale import is FAILED (the poll stops, Resume is offered)
    although only Resume or a job writes that down (a GET never writes)."""
    return ImportStatus.FAILED if is_stale(bulk) else bulk.status


def shown_error(bulk: BulkImport) -> str | None:
    if bulk.status == ImportStatus.FAILED or not is_stale(bulk):
        return bulk.error
    return (f"The worker stopped (no sign of it for "
            f"{int(STALE_AFTER.total_seconds() // 60)} minutes); the rows still pending "
            "were not issued.")


def resume(bulk: BulkImport, actor: Actor) -> BulkImport:
    """A failed (or stale) import back to QUEUED, issued from now on in the name of the
    admin resuming it, and its job queued again: it goes on with the rows still pending.
    Raises AlreadyDone when it is not failed any more (a double-click, another admin:
    one job all the same)."""
    now = utcnow()
    was = shown_status(bulk)
    transition(bulk, to=ImportStatus.QUEUED,
               expected=[ImportStatus.FAILED, ImportStatus.RUNNING, ImportStatus.QUEUED],
               where=[or_(BulkImport.status == ImportStatus.FAILED,
                          and_(BulkImport.status == ImportStatus.RUNNING,
                               BulkImport.heartbeat_at < now - STALE_AFTER),
                          and_(BulkImport.status == ImportStatus.QUEUED,
                               BulkImport.heartbeat_at < now - QUEUED_STALE_AFTER))],
               values={"error": None, "finished_at": None, "heartbeat_at": now,
                       "confirmed_by_id": actor.user.id if actor.user else None},
               refused=lambda now: AlreadyDone(
                   f"Import #{now.id} is {shown_status(now).label.lower()} already."))
    audit.record(actor, AuditAction.UPDATE, "bulk_import", bulk.id,
                 {"status": [was.value, "QUEUED"], "resumed": True,
                  "pending": counts(bulk)["PENDING"]})
    _queue(bulk)
    return bulk


def begin(import_id: int) -> tuple[BulkImport | None, str | None]:
    """(the import, None) when this run should issue its rows (QUEUED -> RUNNING, or
    RUNNING already: a second run works beside the first, each on the rows it claims),
    else (None, why not). Flushes."""
    bulk = db.session.get(BulkImport, import_id)
    if bulk is None:
        return None, "import is gone"
    if bulk.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return None, f"import is {bulk.status.value.lower()}"
    now = utcnow()
    try:
        transition(bulk, to=ImportStatus.RUNNING,
                   expected=[ImportStatus.QUEUED, ImportStatus.RUNNING],
                   values={"attempts": BulkImport.attempts + 1, "heartbeat_at": now,
                           "error": None, "started_at": func.coalesce(BulkImport.started_at,
                                                                      now)})
    except Conflict:
        return None, f"import is {bulk.status.value.lower()}"
    return bulk, None


def import_actor(bulk: BulkImport) -> Actor | None:
    """The confirming admin, if they may still act (active, still an admin)."""
    return active_admin(bulk.confirmed_by_id)


def fail(bulk: BulkImport, error: str) -> None:
    """The import FAILED with `error` (flushes); the rows still pending stay so."""
    try:
        transition(bulk, to=ImportStatus.FAILED,
                   expected=[ImportStatus.QUEUED, ImportStatus.RUNNING],
                   values={"error": error, "finished_at": utcnow(), "heartbeat_at": utcnow()})
    except Conflict:
        pass  # done or failed by the other run meanwhile: that outcome stands


def stopped(import_id: int, exc: BaseException, *, last_attempt: bool) -> None:
    """After a run raised (rolled back): FAILED on the last try, else QUEUED for RQ's
    next one, with what happened. Flushes."""
    bulk = db.session.get(BulkImport, import_id)
    if bulk is None:
        return
    c = counts(bulk)
    done = c["ISSUED"] + c["SKIPPED"] + c["FAILED"]
    error = (f"Stopped after {done} of {done + c['PENDING']} rows "
             f"({type(exc).__name__}).")
    if last_attempt:
        fail(bulk, error)
        return
    try:
        transition(bulk, to=ImportStatus.QUEUED, expected=ImportStatus.RUNNING,
                   values={"error": error + " Trying again.", "heartbeat_at": utcnow()})
    except Conflict:
        pass


def finish(bulk: BulkImport) -> bool:
    """DONE once no row is pending (flushes); False while another run still holds some.
    From FAILED too: with BULK_RUNS jobs, one may fail for good (`stopped`) while another
    goes on and does every row left; the import is then done, and what the failed one
    said no longer stands."""
    if db.session.scalar(select(func.count()).select_from(BulkImportRow).where(
            BulkImportRow.import_id == bulk.id, BulkImportRow.status == S.PENDING)):
        return False
    try:
        transition(bulk, to=ImportStatus.DONE,
                   expected=[ImportStatus.RUNNING, ImportStatus.QUEUED, ImportStatus.FAILED],
                   values={"finished_at": utcnow(), "heartbeat_at": utcnow(), "error": None})
    except Conflict:
        return False
    return True


def _recipient(row: BulkImportRow, actor: Actor, bulk: BulkImport) -> User:
    data = row.data
    user = db.session.get(User, data["user_id"]) if data.get("user_id") else \
        _user_by_email(data["email"])
    if user is not None:
        return user
    if not bulk.invite_unknown:
        raise ValidationFailed(f"No account for {data['email']}.")
    name = data.get("name") or data["email"].split("@", 1)[0]
    try:
        return user_service.create_user(actor, email=data["email"], name=name,
                                        role=Role.STAFF,
                                        organization_id=data.get("organization_id"))
    except Conflict:
        # Invited a moment ago (another import, an admin): issue to that account.
        user = _user_by_email(data["email"])
        if user is None:
            raise
        return user


def _user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email))


def _request(row: BulkImportRow, recipient: User, bulk: BulkImport) -> IssueRequest:
    """The issue a confirmed row asks for. Raises ValidationFailed when its course or
    track was deleted after the preview."""
    data = row.data
    course = db.session.get(Course, data["course_id"]) if data.get("course_id") else None
    track = db.session.get(CertificationTrack, data["track_id"]) if data.get("track_id") \
        else None
    if (data.get("course_id") and course is None) or (data.get("track_id") and track is None):
        raise ValidationFailed("The course or track was deleted after the preview.")
    return IssueRequest(
        recipient=recipient, type_=CertificateType(data["type"]), course=course, track=track,
        notes=data.get("notes"), notify_recipient=bulk.notify_recipients,
        issued_on=date.fromisoformat(data["issue_date"]) if data.get("issue_date") else None,
        expires_on=date.fromisoformat(data["expiry"]) if data.get("expiry") else None)


def _issued(certificate: Certificate) -> dict[str, Any]:
    return {"status": S.ISSUED, "certificate_id": certificate.id,
            "message": f"Issued {certificate.number}."}


def _hold_people(rows: list[BulkImportRow]) -> None:
    """Before a batch's first write (Kind.hold): the rows' people who have an account
    (named by id, or by email), in id order (lifecycle.hold_people). A batch that invites
    someone takes the counter and the audit head next (_hold_numbers_before_invites,
    the invitation's audit row), before `issue_certificates` gets to the other rows'
    people; holding those people only then, it would deadlock against another job's
    batch (or a single issue) holding one of them and waiting for the counter. Held
    outside the batch's SAVEPOINT, they stay held if the batch goes row by row."""
    hold_people(row_people(rows))


def row_people(rows: list[BulkImportRow]) -> set[int]:
    """The ids of the rows' people who have an account (named by id, or by email)."""
    ids = {row.data["user_id"] for row in rows if row.data.get("user_id")}
    emails = {row.data["email"] for row in rows
              if not row.data.get("user_id") and row.data.get("email")}
    if emails:
        ids.update(db.session.scalars(select(User.id).where(
            func.lower(User.email).in_(emails))))
    return ids


def _hold_numbers_before_invites(rows: list[BulkImportRow]) -> None:
    """Before `rows` go through `_recipient` (which may invite someone): the number
    counters of every year they issue in, taken now, in year order. An invitation writes an
    audit row (the chain head); every issuer takes the counter before the head (the
    lock order, lifecycle._hold_for_replacement), so taking the head first here would
    deadlock against another job's batch holding the counter."""
    for year in sorted({date.fromisoformat(row.data["issue_date"]).year
                        if row.data.get("issue_date") else today().year for row in rows}):
        hold_counter(year)


def _issue_row(row: BulkImportRow, actor: Actor, bulk: BulkImport) -> dict[str, Any]:
    _hold_numbers_before_invites([row])  # (row by row: the issue takes it next anyway)
    request = _request(row, _recipient(row, actor, bulk), bulk)
    return _issued(issue_certificate(
        actor, recipient=request.recipient, type_=request.type_, course=request.course,
        track=request.track, notes=request.notes, notify_recipient=request.notify_recipient,
        issued_on=request.issued_on, expires_on=request.expires_on))


def _issue_rows(rows: list[BulkImportRow], actor: Actor,
                bulk: BulkImport) -> list[dict[str, Any] | ServiceError]:
    """`_issue_row` for a batch (Kind.apply_many): the recipients read in one query (one
    without an account, or invited, goes through `_recipient` in a SAVEPOINT of its
    own), then one `issue_certificates` call for the rows that got this far."""
    ids = {row.data["user_id"] for row in rows if row.data.get("user_id")}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} \
        if ids else {}
    outcomes: list[dict[str, Any] | ServiceError | None] = [None] * len(rows)
    requests: dict[int, IssueRequest] = {}
    invited: set[int] = set()
    _hold_numbers_before_invites([row for row in rows
                                  if people.get(row.data.get("user_id") or 0) is None])
    for i, row in enumerate(rows):
        try:
            recipient = people.get(row.data.get("user_id") or 0)
            if recipient is None:
                with db.session.begin_nested():
                    recipient = _recipient(row, actor, bulk)
                invited.add(i)
            requests[i] = _request(row, recipient, bulk)
        except ServiceError as refused:
            outcomes[i] = refused
    issued = issue_certificates(actor, list(requests.values()))
    for i, outcome in zip(requests, issued, strict=True):
        outcomes[i] = outcome if isinstance(outcome, ServiceError) else _issued(outcome)
    if any(isinstance(outcomes[i], ServiceError) for i in invited):
        # A person invited for a row that is then refused must not keep the account (and
        # its invitation): row by row undoes both together (_row's one SAVEPOINT).
        raise _InvitedButRefused()
    return outcomes  # type: ignore[return-value]


class _InvitedButRefused(Exception):
    """A batch invited someone for a row it then refused: redo it row by row."""


def live_done(keys: Iterable[str]) -> dict[str, int]:
    """{row key: the import that issued it} for the keys whose certificate is still live
    (a revoked, superseded or deleted one no longer counts: the single-issue rule)."""
    keys = list(keys)
    if not keys:
        return {}
    return dict(db.session.execute(
        select(BulkImportRow.done_key, BulkImportRow.import_id)
        .join(Certificate, Certificate.id == BulkImportRow.certificate_id)
        .where(BulkImportRow.done_key.in_(keys), Certificate.live_key.is_not(None))).all())


def _release(key: str) -> None:
    """Clear the done_key of an earlier row with this key whose certificate is no longer
    live, so that the row may issue again."""
    _release_many([key])


def _release_many(keys: list[str]) -> None:
    """_release for each of `keys`, in one UPDATE."""
    if not keys:
        return
    live = select(Certificate.id).where(Certificate.live_key.is_not(None))
    db.session.execute(update(BulkImportRow).where(
        BulkImportRow.done_key.in_(keys),
        or_(BulkImportRow.certificate_id.is_(None), BulkImportRow.certificate_id.not_in(live)))
        .values(done_key=None).execution_options(synchronize_session=False))


class _Taken(Exception):
    """The row was not PENDING any more when its outcome was written (another run)."""


def _record(row_id: int, **values: Any) -> None:
    """Write a claimed row's outcome, only while it is still PENDING (else _Taken)."""
    result = db.session.execute(
        update(BulkImportRow).where(BulkImportRow.id == row_id, BulkImportRow.status == S.PENDING)
        .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise _Taken()


def _already(earlier: int | None, past: str = "issued") -> dict[str, Any]:
    return {"status": S.SKIPPED, "issued_by_import_id": earlier,
            "message": f"Already {past} by import #{earlier}." if earlier
            else f"Already {past} by another import a moment ago."}


def _claim(bulk: BulkImport, after: int) -> list[tuple[int, int]]:
    """(id, line) of the next COMMIT_EVERY pending rows, locked until the batch commits
    (PostgreSQL: rows another run holds are skipped; SQLite runs one writer at a time)."""
    return [(r.id, r.line) for r in db.session.execute(
        select(BulkImportRow.id, BulkImportRow.line)
        .where(BulkImportRow.import_id == bulk.id, BulkImportRow.status == S.PENDING,
               BulkImportRow.line > after)
        .order_by(BulkImportRow.line).limit(COMMIT_EVERY)
        .with_for_update(skip_locked=True))]


def process_batch(bulk: BulkImport, actor: Actor, did: dict[str, int],
                  after: int = 0) -> int | None:
    """Claim the next batch of pending rows (after line `after`) and decide each, its
    outcome written only while the row is still pending: of two runs at once each row is
    decided by one. Adds to `did`; returns the batch's last line, None when nothing was
    left. Flushes.

    A kind with `apply_many` (certificates) does the batch set-based in one SAVEPOINT
    (`_batch`): the same checks and outcomes per row, a few statements per batch. Should
    that raise (a race on a live key or a row key, a row's unexpected error), it is
    undone and the batch goes row by row (`_row`), each row in a SAVEPOINT of its own: a
    row raising anything is FAILED (an unexpected error logged with its traceback) and
    the batch goes on."""
    claimed = _claim(bulk, after)
    if not claimed:
        return None
    k = kind_of(bulk.kind)
    loaded = {row.id: row for row in db.session.scalars(select(BulkImportRow).where(
        BulkImportRow.id.in_([row_id for row_id, _ in claimed])))}
    rows = [loaded[row_id] for row_id, _ in claimed
            if row_id in loaded and loaded[row_id].status == S.PENDING]
    if rows and k.hold is not None:
        k.hold(rows)
    if rows and k.apply_many is not None and k.release_many is not None:
        counted: Counter[str] = Counter()
        try:
            with db.session.begin_nested():
                _batch(k, rows, actor, bulk, counted)
            for name, n in counted.items():
                did[name] += n
            rows = []
        except Exception:  # noqa: BLE001 - undone; row by row finds and records it
            log.info("bulk import %s: batch after line %s goes row by row", bulk.id, after,
                     exc_info=True)
            db.session.expire_all()
    for row in rows:
        _row(k, row, actor, bulk, did)
    db.session.execute(update(BulkImport).where(BulkImport.id == bulk.id)
                       .values(heartbeat_at=utcnow())
                       .execution_options(synchronize_session=False))
    return claimed[-1][1]


def _batch(k: Kind, rows: list[BulkImportRow], actor: Actor, bulk: BulkImport,
           did: Counter[str]) -> None:
    """The batch set-based: what `_row` does for each, in a few statements. Raises
    _Taken when a row was not pending any more, IntegrityError on a row key's race."""
    keys = [row.row_key for row in rows]
    earlier = k.live_done(keys)
    outcomes: dict[int, dict[str, Any]] = {}
    todo = []
    for row in rows:
        if row.row_key in earlier:
            outcomes[row.id] = _already(earlier[row.row_key], k.words.past)
        else:
            todo.append(row)
    k.release_many([row.row_key for row in todo])  # type: ignore[misc]
    for row, outcome in zip(todo, k.apply_many(todo, actor, bulk),  # type: ignore[misc]
                            strict=True):
        if isinstance(outcome, Conflict):
            outcomes[row.id] = {"status": S.SKIPPED, "message": outcome.message}
        elif isinstance(outcome, ServiceError):
            outcomes[row.id] = {"status": S.FAILED, "message": _message(outcome)}
        else:
            outcomes[row.id] = {"done_key": row.row_key, **outcome}
    _record_many(outcomes)
    for outcome in outcomes.values():
        status = outcome["status"]
        did["issued" if status == S.ISSUED else
            "skipped" if status == S.SKIPPED else "failed"] += 1


def _record_many(outcomes: dict[int, dict[str, Any]]) -> None:
    """_record for many rows: one UPDATE per set of columns written (executemany).
    Raises _Taken unless every row was still PENDING."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_id, values in outcomes.items():
        groups.setdefault(tuple(sorted(values)), []).append({"row_id": row_id, **values})
    table = BulkImportRow.__table__
    for params in groups.values():
        result = db.session.execute(
            # SET: the params' other keys (`columns`), the same in each of the group.
            table.update().where(table.c.id == bindparam("row_id"),
                                 table.c.status == S.PENDING), params)
        if result.rowcount != len(params):
            raise _Taken()


def _row(k: Kind, row: BulkImportRow, actor: Actor, bulk: BulkImport,
         did: dict[str, int]) -> None:
    """One row in a SAVEPOINT of its own (see process_batch)."""
    row_id, key = row.id, row.row_key
    try:
        with db.session.begin_nested():
            earlier = k.live_done([key]).get(key)
            if earlier is not None:
                _record(row_id, **_already(earlier, k.words.past))
                did["skipped"] += 1
                return
            k.release(key)
            _record(row_id, done_key=key, **k.apply(row, actor, bulk))
        did["issued"] += 1
        return
    except _Taken:
        did["taken"] += 1
        return
    except IntegrityError:  # another import issued this very row a moment ago
        outcome = _already(k.live_done([key]).get(key), k.words.past)
    except Conflict as exc:
        outcome = {"status": S.SKIPPED, "message": exc.message}
    except ServiceError as exc:
        outcome = {"status": S.FAILED, "message": _message(exc)}
    except Exception:
        log.exception("bulk import %s: line %s failed", bulk.id, row.line)
        outcome = {"status": S.FAILED, "message": UNEXPECTED}
    db.session.expire_all()
    try:
        _record(row_id, **outcome)
    except _Taken:
        did["taken"] += 1
        return
    did["skipped" if outcome["status"] == S.SKIPPED else "failed"] += 1


def _api_rows(bulk: BulkImport) -> list[dict[str, Any]]:
    return [row_to_api(row, number) for row, number in rows_with_numbers(bulk)]


CERTIFICATES = register(Kind(
    name=KIND, words=Words("issue", "issued", "certificate", "certificates",
                           "Bulk issue certificates", "Issuing"),
    columns=COLUMNS, required=REQUIRED, aliases=ALIASES, template_rows=TEMPLATE_ROWS,
    load=_Catalogue.load, check_chunk=_check_chunk, subject=_subject_of,
    same_subject="Line {line} issues the same certificate to the same person.",
    live_done=live_done, release=_release, report_lines=_report_lines,
    # Looked up when called (a test may stand in for it).
    apply=lambda row, actor, bulk: _issue_row(row, actor, bulk),
    apply_many=lambda rows, actor, bulk: _issue_rows(rows, actor, bulk),
    release_many=lambda keys: _release_many(keys),
    hold=lambda rows: _hold_people(rows),
    api_rows=_api_rows, row_to_api=row_to_api))
