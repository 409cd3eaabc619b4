"""Bulk award of micro-credentials from a CSV: the bulk import pipeline (bulk.certificates:
preview, confirm, the job, progress, Resume, the report) with kind "awards".

Each row names a person (email; name and organization for one to invite), a
micro-credential definition (its title, its code - a default's key such as
"ranz-reclad-reroofing-l5" - or its number), the award date (today when blank), an
expiry date (blank: the award date plus the definition's validity) and a note (the
evidence seen, stamped onto the credential's notes). The preview checks each row with the
direct award's rules (credentials.awards: who may hold it, the dates, already awarded and
valid) and the file's own (an unknown person -> invite, an unknown definition, the same
award twice in the file, an account in another organization than the file says); the job
awards each confirmed row with `award_directly` (audited, the holder told).

Idempotent: a row's key (SHA-256 of the email, definition, dates, note and the target
"awards") is its `done_key` once awarded; while that credential stays awarded and valid
the same row is never awarded again (and the direct award refuses a valid one whatever
the file says). Once it has expired or moved back, the row may award it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from sqlalchemy import and_, or_, select, update

from app.extensions import db
from app.models import (
    BulkImport,
    BulkImportRow,
    CredentialStatus,
    MicroCredentialDefinition,
    Organization,
    RowStatus,
    StaffMicroCredential,
    User,
)
from app.services import dates, fields
from app.services.auth import normalise_email
from app.services.bulk import certificates as pipeline
from app.services.bulk.certificates import RowProblem, _date, _message, _recipient
from app.services.bulk.csvfile import csv_line
from app.services.bulk.kinds import Checked, Kind, Words, register
from app.services.context import Actor
from app.services.credentials.awards import (
    already_awarded,
    award_directly,
    award_expiry,
    check_holder,
)
from app.services.credentials.membership import holder_organizations
from app.services.credentials.status import is_valid, valid_condition
from app.services.errors import Conflict, ServiceError, ValidationFailed

KIND = "awards"
COLUMNS = ("email", "name", "organization", "definition", "award_date", "expiry", "notes")
REQUIRED = ("email", "definition")
ALIASES = {"recipient_email": "email", "recipient": "email", "e_mail": "email",
           "recipient_name": "name", "org": "organization",
           "micro_credential": "definition", "credential": "definition", "code": "definition",
           "title": "definition", "definition_code": "definition",
           "awarded_on": "award_date", "awarded": "award_date", "date": "award_date",
           "award": "award_date", "expires_on": "expiry", "expiry_date": "expiry",
           "expires": "expiry", "evidence": "notes", "evidence_note": "notes",
           "note": "notes"}
TEMPLATE_ROWS = (
    ("ana.ngata@example.com", "Ana Ngata", "", "Reclad/Reroofing Level 5", "2026-11-30", "",
     "Assessed on site, Cohort November"),
    ("li.wei@example.com", "Li Wei", "Demo Roofing Ltd", "ranz-compliance-practices-l4", "",
     "2028-11-30", ""),
)
LABELS = {"DUPLICATE": "Already awarded", "ISSUED": "Awarded"}
REPORT_COLUMNS = ("line", "email", "micro_credential", "award_date", "expiry", "result",
                  "message")

S = RowStatus
C = CredentialStatus


@dataclass
class _Catalogue:
    """Definitions by lower-case title, code and number; organizations by name and slug."""

    definitions: dict[str, list[MicroCredentialDefinition]]
    organizations: dict[str, Organization]
    today: date

    @classmethod
    def load(cls) -> _Catalogue:
        definitions: dict[str, list[MicroCredentialDefinition]] = {}
        for d in db.session.scalars(select(MicroCredentialDefinition)):
            definitions.setdefault(d.title.strip().lower(), []).append(d)
            definitions.setdefault(str(d.id), []).append(d)
            if d.default_key:
                definitions.setdefault(d.default_key.lower(), []).append(d)
        organizations: dict[str, Organization] = {}
        for org in db.session.scalars(select(Organization)):
            organizations[org.name.strip().lower()] = org
            organizations[org.slug.lower()] = org
        return cls(definitions, organizations, dates.today())


def _definition(value: str, catalogue: _Catalogue) -> MicroCredentialDefinition:
    name = value.strip()
    if not name:
        raise RowProblem("Name the micro-credential (its title or code).")
    found = catalogue.definitions.get(name.lower(), [])
    if not found:
        raise RowProblem(f"Unknown micro-credential '{name[:80]}'.")
    if len(found) > 1:
        raise RowProblem(f"Several micro-credentials are called '{name[:80]}': use its "
                         "number or code.")
    return found[0]


def _row_key(values: dict[str, Any]) -> str:
    content = json.dumps({"target": KIND, **values}, sort_keys=True, default=str)
    return hashlib.sha256(content.encode()).hexdigest()


def _check_row(raw: dict[str, str], catalogue: _Catalogue, users: dict[str, User],
               held: dict[tuple[int, int], tuple[CredentialStatus, date | None]]
               ) -> tuple[RowStatus, str | None, dict[str, Any], str]:
    data: dict[str, Any] = {k: (raw.get(k) or "").strip()[:300] for k in COLUMNS}
    email = normalise_email(raw.get("email", ""))
    data["email"] = email
    key = _row_key({"unreadable": data})
    today = catalogue.today
    try:
        if not email:
            raise RowProblem("Enter the recipient's email address.")
        if len(email) > 254 or fields.has_control(email) or not fields.is_email(email):
            raise RowProblem(f"'{email[:80]}' is not a valid email address.")
        definition = _definition(raw.get("definition", ""), catalogue)
        awarded_on = _date(raw.get("award_date", ""), "award date")
        expires_on = _date(raw.get("expiry", ""), "expiry date")
        notes = fields.optional_text(raw.get("notes"), "notes", max_len=2000)
        name = fields.optional_text(raw.get("name"), "name", max_len=200)
        data.update(definition_id=definition.id, definition=definition.title,
                    award_date=awarded_on.isoformat() if awarded_on else None,
                    expiry=expires_on.isoformat() if expires_on else None, notes=notes,
                    name=name)
        key = _row_key({k: data[k] for k in ("email", "definition_id", "award_date", "expiry",
                                              "notes")})
        org_name = raw.get("organization", "").strip()
        user = users.get(email)
        if user is None:
            org = catalogue.organizations.get(org_name.lower()) if org_name else None
            if org_name and org is None:
                raise RowProblem(f"No account for {email}, and no organization "
                                 f"'{org_name[:80]}' to invite them into.")
            if org is not None and not org.active:
                raise RowProblem(f"{org.name} is deactivated: its people cannot be awarded "
                                 "credentials.")
            data["organization_id"] = org.id if org else None
            award_expiry(definition, awarded_on or today, expires_on, today)
            return (S.INVITE, f"No account for {email}: invite them to award this one.",
                    data, key)
        if org_name:  # the file says where they work: an account elsewhere is not them
            org = catalogue.organizations.get(org_name.lower())
            if org is None or org.id != user.organization_id:
                raise RowProblem(f"{email} has an account, but not in an organization "
                                 f"named '{org_name[:80]}'.")
        data["user_id"] = user.id
        check_holder(user)
        award_expiry(definition, awarded_on or today, expires_on, today)
        status, expiry = held.get((user.id, definition.id), (None, None))
        if status is not None and is_valid(status, expiry, today):
            raise already_awarded(user, definition, expiry)
    except Conflict as exc:
        return S.DUPLICATE, exc.message, data, key
    except ServiceError as exc:
        return S.INVALID, _message(exc), data, key
    return S.READY, None, data, key


def _check_chunk(chunk: list[tuple[int, dict[str, str]]], catalogue: _Catalogue,
                 users: dict[str, User]) -> list[Checked]:
    """The chunk's rows; the credentials its people hold read in one query."""
    ids = [u.id for u in users.values()]
    held = {(user_id, definition_id): (status, expiry)
            for user_id, definition_id, status, expiry in db.session.execute(
                select(StaffMicroCredential.user_id, StaffMicroCredential.definition_id,
                       StaffMicroCredential.status, StaffMicroCredential.expiry_date)
                .where(StaffMicroCredential.user_id.in_(ids)))} if ids else {}
    return [(line, *_check_row(raw, catalogue, users, held)) for line, raw in chunk]


def _subject(data: dict[str, Any]) -> tuple[Any, ...]:
    return (data["email"], data.get("definition_id"))


def _valid_awards() -> Any:
    """The ids of credentials awarded and valid today."""
    return select(StaffMicroCredential.id).where(valid_condition(dates.today()))


def live_done(keys: Iterable[str]) -> dict[str, int]:
    """{row key: the import that awarded it} for the keys whose credential is still
    awarded and valid."""
    keys = list(keys)
    if not keys:
        return {}
    return dict(db.session.execute(
        select(BulkImportRow.done_key, BulkImportRow.import_id)
        .where(BulkImportRow.done_key.in_(keys),
               BulkImportRow.credential_id.in_(_valid_awards()))).all())


def _release(key: str) -> None:
    """Clear the done_key of an earlier row with this key whose award no longer stands."""
    db.session.execute(update(BulkImportRow).where(
        BulkImportRow.done_key == key,
        or_(BulkImportRow.credential_id.is_(None),
            BulkImportRow.credential_id.not_in(_valid_awards())))
        .values(done_key=None).execution_options(synchronize_session=False))


def _hold_holders(rows: list[BulkImportRow]) -> None:
    """Before a batch's first write (Kind.hold): its rows' people who have an account,
    FOR SHARE in id order (membership.holder_organizations, the lock each award takes of
    its holder). Taken one award at a time, a later row's holder would be locked after the
    first row's audit row took the audit head, while a login or a move of that person
    (their row first, then the head) waits for the head: a deadlock. Held outside the
    batch's SAVEPOINT, they stay held if the batch goes row by row."""
    holder_organizations(pipeline.row_people(rows))


def _award_row(row: BulkImportRow, actor: Actor, bulk: BulkImport) -> dict[str, Any]:
    data = row.data
    definition = db.session.get(MicroCredentialDefinition, data["definition_id"])
    if definition is None:
        raise ValidationFailed("The micro-credential was deleted after the preview.")
    credential = award_directly(
        actor, user=_recipient(row, actor, bulk), definition=definition,
        awarded_on=date.fromisoformat(data["award_date"]) if data.get("award_date") else None,
        expires_on=date.fromisoformat(data["expiry"]) if data.get("expiry") else None,
        note=data.get("notes"), notify_holder=bulk.notify_recipients)
    until = (f", valid until {credential.expiry_date:%d %b %Y}" if credential.expiry_date
             else ", no expiry")
    return {"status": S.ISSUED, "credential_id": credential.id,
            "message": f"Awarded{until}."}


def rows_with_expiry(bulk: BulkImport) -> Iterator[tuple[BulkImportRow, date | None]]:
    """Every row with the expiry date of the credential it awarded, in line order, read
    in pages of 1,000."""
    last = 0
    while True:
        page = list(db.session.execute(
            select(BulkImportRow, StaffMicroCredential.expiry_date)
            .outerjoin(StaffMicroCredential,
                       and_(StaffMicroCredential.id == BulkImportRow.credential_id,
                            BulkImportRow.status == S.ISSUED))
            .where(BulkImportRow.import_id == bulk.id, BulkImportRow.line > last)
            .order_by(BulkImportRow.line).limit(1000)).all())
        if not page:
            return
        yield from page
        last = page[-1][0].line


def _report_lines(bulk: BulkImport) -> Iterator[str]:
    yield csv_line(REPORT_COLUMNS)
    for row, expiry in rows_with_expiry(bulk):
        d = row.data or {}
        yield csv_line((row.line, d.get("email"), d.get("definition"), d.get("award_date"),
                        expiry.isoformat() if expiry else (d.get("expiry") or ""),
                        AWARDS.label(row.status), row.message or ""))


def row_to_api(row: BulkImportRow, expiry: date | None = None) -> dict[str, Any]:
    d = row.data or {}
    return {"line": row.line, "email": d.get("email"),
            "definition": d.get("definition") or None,
            "definition_id": d.get("definition_id"), "award_date": d.get("award_date"),
            "expiry": expiry.isoformat() if expiry else d.get("expiry"),
            "status": row.status.value.lower(), "message": row.message,
            "credential_id": row.credential_id,
            "awarded_by_import_id": row.issued_by_import_id}


def _api_rows(bulk: BulkImport) -> list[dict[str, Any]]:
    return [row_to_api(row, expiry) for row, expiry in rows_with_expiry(bulk)]


AWARDS = register(Kind(
    name=KIND, words=Words("award", "awarded", "micro-credential", "micro-credentials",
                           "Bulk award micro-credentials", "Awarding"),
    columns=COLUMNS, required=REQUIRED, aliases=ALIASES, template_rows=TEMPLATE_ROWS,
    load=_Catalogue.load, check_chunk=_check_chunk, subject=_subject,
    same_subject="Line {line} awards the same micro-credential to the same person.",
    live_done=live_done, release=_release,
    apply=lambda row, actor, bulk: _award_row(row, actor, bulk),  # looked up when called
    hold=lambda rows: _hold_holders(rows),
    report_lines=_report_lines, api_rows=_api_rows, row_to_api=row_to_api, labels=LABELS))


# --- The pipeline, for this kind -----------------------------------------------------------

PREVIEW_LIST = pipeline.PREVIEW_LIST
confirm = pipeline.confirm
resume = pipeline.resume
counts = pipeline.counts
progress = pipeline.progress
rows = pipeline.rows
to_api = pipeline.to_api
report_lines = pipeline.report_lines
api_rows = pipeline.api_rows
max_rows = pipeline.max_rows
max_bytes = pipeline.max_bytes


def preview(actor: Actor, stream: IO[bytes], filename: str | None) -> BulkImport:
    """A preview of an awards file (see bulk.certificates.preview)."""
    return pipeline.preview(actor, stream, filename, kind=KIND)


def get_import(import_id: int) -> BulkImport:
    """Raises NotFound (also for a certificates import)."""
    return pipeline.get_import(import_id, kind=KIND)


def recent_imports(limit: int = 10) -> list[BulkImport]:
    return pipeline.recent_imports(limit, kind=KIND)


def template_csv() -> str:
    return pipeline.template_csv(KIND)
