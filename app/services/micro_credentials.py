"""Micro-credentials: the catalogue of definitions, and staff credentials through their
lifecycle NOT_STARTED -> IN_TRAINING -> ASSESSMENT_PENDING -> AWARDED -> EXPIRED."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (
    AuditAction,
    CredentialStatus,
    MicroCredentialDefinition,
    NotificationType,
    Role,
    StaffMicroCredential,
    User,
)
from app.models.base import utcnow
from app.services import audit, storage
from app.services.context import Actor
from app.services.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from app.services.notifications import notify
from app.services.pagination import Page, paginate
from app.services.persistence import flush_or_raise

S = CredentialStatus
ORDER = [S.NOT_STARTED, S.IN_TRAINING, S.ASSESSMENT_PENDING, S.AWARDED, S.EXPIRED]
NEXT_STEP = {S.NOT_STARTED: S.IN_TRAINING, S.IN_TRAINING: S.ASSESSMENT_PENDING,
             S.ASSESSMENT_PENDING: S.AWARDED}
ASSIGNABLE_ROLES = (Role.STAFF, Role.ORG_ADMIN)
DEFINITION_FIELDS = ("title", "level", "skill_standard", "issuing_body", "requirements",
                     "validity_months")
EXPIRY_BANDS = (30, 60, 90)

# The three RANZ defaults of seed 001 (migration 0002 inserts its own frozen copy).
RANZ_DEFAULTS: list[dict[str, Any]] = [
    {
        "title": "Reclad/Reroofing Level 5",
        "level": 5,
        "skill_standard": "NZQA Skill Standard - Reclad/Reroofing",
        "issuing_body": "RANZ",
        "requirements": "Completion of RANZ RoofWright Level 5 assessment for reclad and "
        "reroofing projects. Covers scope management, weathertightness detailing, and "
        "compliance documentation.",
    },
    {
        "title": "Repairs/Maintenance Level 5",
        "level": 5,
        "skill_standard": "NZQA Skill Standard - Repairs/Maintenance",
        "issuing_body": "RANZ",
        "requirements": "Completion of RANZ RoofWright Level 5 assessment for repair and "
        "maintenance work. Covers diagnostic assessment, material selection, and warranty "
        "management.",
    },
    {
        "title": "Compliance Practices Level 4",
        "level": 4,
        "skill_standard": "NZQA Skill Standard - Compliance Practices",
        "issuing_body": "RANZ",
        "requirements": "Completion of RANZ RoofWright Level 4 assessment for building "
        "compliance practices. Covers Building Act requirements, consent processes, and "
        "record of work procedures.",
    },
]

# Content sniffing for evidence: the first bytes decide, never the file name.
EVIDENCE_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


# --- Definitions ---------------------------------------------------------------------

def ensure_default_definitions() -> int:
    """Create any of the RANZ defaults that are missing; returns how many were made."""
    existing = set(db.session.scalars(
        select(MicroCredentialDefinition.title).where(MicroCredentialDefinition.is_default)))
    missing = [d for d in RANZ_DEFAULTS if d["title"] not in existing]
    for values in missing:
        db.session.add(MicroCredentialDefinition(is_default=True, **values))
    db.session.flush()
    return len(missing)


def get_definition(definition_id: int) -> MicroCredentialDefinition:
    """Raises NotFound."""
    definition = db.session.get(MicroCredentialDefinition, definition_id)
    if definition is None:
        raise NotFound("Micro-credential not found.")
    return definition


def _assigned_count() -> Any:
    # count(*), not count(id): the unique (definition_id, user_id) index answers it alone
    # (an index-only scan on PostgreSQL; counting id reads every row from the table).
    return (select(func.count())
            .where(StaffMicroCredential.definition_id == MicroCredentialDefinition.id)
            .correlate(MicroCredentialDefinition).scalar_subquery())


def _definitions_stmt(q: str = "") -> Select[Any]:
    stmt = (select(MicroCredentialDefinition, _assigned_count().label("assigned"))
            .order_by(MicroCredentialDefinition.level.desc(), MicroCredentialDefinition.title))
    if q.strip():
        pattern = q.strip().lower()
        stmt = stmt.where(or_(
            func.lower(MicroCredentialDefinition.title).contains(pattern, autoescape=True),
            func.lower(MicroCredentialDefinition.issuing_body).contains(pattern, autoescape=True),
        ))
    return stmt


def list_definitions(q: str = "") -> list[tuple[MicroCredentialDefinition, int]]:
    """(definition, assigned count) rows, by level descending then title (seed 001)."""
    return [(row[0], row[1]) for row in db.session.execute(_definitions_stmt(q))]


def definitions_page(q: str = "", page: int = 1,
                     per_page: int = 25) -> Page[tuple[MicroCredentialDefinition, int]]:
    """One page of list_definitions(): the count runs for the rows shown only."""
    return paginate(_definitions_stmt(q), page, per_page, rows=True)


def definition_choices() -> list[Any]:
    """(id, title) rows by level then title, for pickers: no counts, no objects."""
    return list(db.session.execute(
        select(MicroCredentialDefinition.id, MicroCredentialDefinition.title)
        .order_by(MicroCredentialDefinition.level.desc(), MicroCredentialDefinition.title)))


def assigned_count(definition: MicroCredentialDefinition) -> int:
    return db.session.scalar(select(func.count(StaffMicroCredential.id)).where(
        StaffMicroCredential.definition_id == definition.id)) or 0


def status_counts(definition: MicroCredentialDefinition) -> dict[str, int]:
    rows = db.session.execute(
        select(StaffMicroCredential.status, func.count(StaffMicroCredential.id))
        .where(StaffMicroCredential.definition_id == definition.id)
        .group_by(StaffMicroCredential.status))
    counts = {status.value: 0 for status in ORDER}
    counts.update({status.value: n for status, n in rows})
    return counts


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    cleaned = {}
    for field, value in values.items():
        if field not in DEFINITION_FIELDS:
            raise ValueError(f"cannot set {field!r} on a definition")
        if isinstance(value, str):
            value = value.strip() or None
        cleaned[field] = value
    return cleaned


def create_definition(actor: Actor, **values: Any) -> MicroCredentialDefinition:
    """A new (never default) definition. Validation is the form's; nothing is raised here."""
    definition = MicroCredentialDefinition(is_default=False, **_clean(values))
    db.session.add(definition)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "micro_credential_definition", definition.id,
                 audit.snapshot(definition, DEFINITION_FIELDS))
    return definition


def update_definition(definition: MicroCredentialDefinition, actor: Actor,
                      **values: Any) -> MicroCredentialDefinition:
    """Change the given fields; is_default is not among them (ValueError if tried)."""
    before = audit.snapshot(definition, DEFINITION_FIELDS)
    for field, value in _clean(values).items():
        setattr(definition, field, value)
    db.session.flush()
    changes = audit.changes_between(before, audit.snapshot(definition, DEFINITION_FIELDS))
    if changes:
        audit.record(actor, AuditAction.UPDATE, "micro_credential_definition", definition.id,
                     changes)
    return definition


def delete_definition(definition: MicroCredentialDefinition, actor: Actor) -> None:
    """Raises Conflict for a default definition or one that is assigned to anyone."""
    if definition.is_default:
        raise Conflict("Default credentials cannot be deleted.")
    count = assigned_count(definition)
    if count:
        people = "staff member" if count == 1 else "staff members"
        raise Conflict(f"This credential is assigned to {count} {people}; "
                       "it cannot be deleted while assignments exist.")
    snapshot = audit.snapshot(definition, DEFINITION_FIELDS)
    definition_id = definition.id
    # Someone may assign it between the count above and this delete.
    flush_or_raise(Conflict("This credential was just assigned; it cannot be deleted."),
                   delete=[definition])
    audit.record(actor, AuditAction.DELETE, "micro_credential_definition", definition_id,
                 snapshot)


def definition_to_api(definition: MicroCredentialDefinition, count: int,
                      counts_by_status: dict[str, int] | None = None) -> dict[str, Any]:
    """Seed 001's JSON shape (camelCase, Prisma-style `_count`)."""
    data = {
        "id": definition.id,
        "title": definition.title,
        "level": definition.level,
        "skillStandard": definition.skill_standard,
        "issuingBody": definition.issuing_body,
        "requirements": definition.requirements,
        "isDefault": definition.is_default,
        "validityMonths": definition.validity_months,
        "createdAt": definition.created_at.isoformat(),
        "updatedAt": definition.updated_at.isoformat(),
        "_count": {"staffCredentials": count},
    }
    if counts_by_status is not None:
        data["statusCounts"] = counts_by_status
    return data


# --- Assignment ----------------------------------------------------------------------

def assignable_staff(definition: MicroCredentialDefinition, q: str = "",
                     organization_id: int | None = None,
                     limit: int = 50) -> list[tuple[User, bool]]:
    """Active staff matching the search, each with whether they already hold it."""
    held = (select(StaffMicroCredential.id)
            .where(StaffMicroCredential.definition_id == definition.id,
                   StaffMicroCredential.user_id == User.id)
            .correlate(User).exists())
    stmt = (select(User, held.label("held")).options(selectinload(User.organization))
            .where(User.active.is_(True), User.role.in_(ASSIGNABLE_ROLES))
            .order_by(User.name, User.id).limit(limit))
    if organization_id is not None:
        stmt = stmt.where(User.organization_id == organization_id)
    if q.strip():
        pattern = q.strip().lower()
        stmt = stmt.where(or_(func.lower(User.name).contains(pattern, autoescape=True),
                              func.lower(User.email).contains(pattern, autoescape=True)))
    return [(row[0], bool(row[1])) for row in db.session.execute(stmt)]


def assign(definition: MicroCredentialDefinition, user_ids: Iterable[int], actor: Actor,
           notes: str | None = None) -> list[StaffMicroCredential]:
    """Assign the definition to each user (status NOT_STARTED), all or nothing.

    Raises ValidationFailed when no one is chosen or someone cannot hold credentials,
    and Conflict when someone already holds it (also when another request just did).
    """
    ids = sorted(set(user_ids))
    if not ids:
        raise ValidationFailed("Choose at least one staff member.",
                               fields={"user_ids": ["Choose at least one staff member."]})
    users = list(db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.name)))
    unsuitable = [u for u in users if not u.active or u.role not in ASSIGNABLE_ROLES]
    if len(users) != len(ids) or unsuitable:
        names = ", ".join(u.name for u in unsuitable) or "unknown people"
        raise ValidationFailed(f"These people cannot hold credentials: {names}.",
                               fields={"user_ids": [f"Cannot be assigned: {names}."]})
    holders = list(db.session.scalars(
        select(User.name).join(StaffMicroCredential, StaffMicroCredential.user_id == User.id)
        .where(StaffMicroCredential.definition_id == definition.id, User.id.in_(ids))
        .order_by(User.name)))
    if holders:
        raise Conflict(_already_has(holders, definition), fields={"user_ids": [
            _already_has(holders, definition)]})
    created = [StaffMicroCredential(definition_id=definition.id, user_id=u.id,
                                    status=S.NOT_STARTED, notes=notes or None) for u in users]
    flush_or_raise(Conflict("Someone just assigned this credential to one of these staff "
                            "members; reload and try again."), add=created)
    for credential, user in zip(created, users, strict=True):
        audit.record(actor, AuditAction.MCRED_ASSIGN, "staff_micro_credential", credential.id,
                     {"definition_id": definition.id, "user_id": user.id,
                      "status": S.NOT_STARTED.value})
        notify(user, NotificationType.CREDENTIAL_STATUS_CHANGE,
               f"Assigned: {definition.title}",
               f"You have been assigned the micro-credential {definition.title}.", link="/me")
    return created


def _already_has(names: Sequence[str], definition: MicroCredentialDefinition) -> str:
    who = ", ".join(names)
    verb = "already has" if len(names) == 1 else "already have"
    return f"{who} {verb} {definition.title}."


# --- Status --------------------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Move:
    status: CredentialStatus
    needs_note: bool
    label: str


def allowed_moves(credential: StaffMicroCredential, today: date) -> list[Move]:
    """The statuses an admin may move this credential to now."""
    current = credential.status
    moves: list[Move] = []
    forward = NEXT_STEP.get(current)
    if forward is not None:
        moves.append(Move(forward, False, "Award" if forward == S.AWARDED else forward.label))
    if current == S.AWARDED and credential.expiry_date and credential.expiry_date <= today:
        moves.append(Move(S.EXPIRED, False, "Mark expired"))
    for earlier in ORDER[:ORDER.index(current)]:
        if earlier not in (S.AWARDED, S.EXPIRED):
            moves.append(Move(earlier, True, f"Back to {earlier.label.lower()}"))
    return moves


def change_status(credential: StaffMicroCredential, new_status: CredentialStatus, actor: Actor,
                  *, note: str | None = None, today: date | None = None,
                  expiry_date: date | None = None) -> StaffMicroCredential:
    """Move a credential to another status, recording who, when and why.

    Forward moves go one step at a time; AWARDED records the award and sets the expiry
    date (from the definition's validity unless one is given); moving back needs a note;
    EXPIRED only follows AWARDED once the expiry date has come.
    Raises ValidationFailed for an impossible move or a missing note.
    """
    today = today or utcnow().date()
    old = credential.status
    move = next((m for m in allowed_moves(credential, today) if m.status == new_status), None)
    if move is None:
        raise ValidationFailed(
            f"A credential cannot move from {old.label} to {new_status.label}.",
            fields={"status": [f"Not possible from {old.label}."]})
    note = (note or "").strip() or None
    if move.needs_note and not note:
        message = "A note is needed to move a credential back."
        raise ValidationFailed(message, fields={"note": [message]})
    if expiry_date is not None and new_status != S.AWARDED:
        raise ValidationFailed("An expiry date is set only on award.",
                               fields={"expiry_date": ["Only on award."]})
    if new_status == S.AWARDED and expiry_date is not None and expiry_date <= today:
        raise ValidationFailed("The expiry date must be in the future.",
                               fields={"expiry_date": ["Choose a date after today."]})

    changes: dict[str, Any] = {"status": [old.value, new_status.value]}
    credential.status = new_status
    if new_status == S.AWARDED:
        credential.awarded_at = utcnow()
        credential.awarded_by_id = actor.user.id if actor.user else None
        validity = credential.definition.validity_months
        credential.expiry_date = expiry_date or (add_months(today, validity) if validity else None)
        changes["expiry_date"] = [None, credential.expiry_date]
        action = AuditAction.MCRED_AWARD
    elif new_status == S.EXPIRED:
        action = AuditAction.MCRED_EXPIRE
    else:
        if ORDER.index(new_status) < ORDER.index(S.AWARDED) and credential.awarded_at:
            changes["expiry_date"] = [credential.expiry_date, None]
            credential.awarded_at = None
            credential.awarded_by_id = None
            credential.expiry_date = None
        action = AuditAction.UPDATE
    if note:
        changes["note"] = note
        stamp = f"[{today.isoformat()} {actor.user.email if actor.user else 'system'}] "
        credential.notes = "\n".join(filter(None, [credential.notes, stamp + note]))
    db.session.flush()
    audit.record(actor, action, "staff_micro_credential", credential.id, changes)
    _notify_status(credential, old)
    return credential


def _notify_status(credential: StaffMicroCredential, old: CredentialStatus) -> None:
    title = credential.definition.title
    new = credential.status
    if new == S.AWARDED:
        expiry = (f" It is valid until {credential.expiry_date:%d %B %Y}."
                  if credential.expiry_date else "")
        body = f"Congratulations: you have been awarded {title}.{expiry}"
    elif new == S.EXPIRED:
        body = f"Your {title} credential expired on {credential.expiry_date:%d %B %Y}."
    else:
        body = f"Your {title} credential moved from {old.label} to {new.label}."
    notify(credential.user, NotificationType.CREDENTIAL_STATUS_CHANGE,
           f"{title}: {new.label}", body, link="/me")


def expire_due(today: date, actor: Actor) -> list[int]:
    """Move every awarded credential whose expiry date has come to EXPIRED.

    Safe to run again: a credential expires once. Returns the ids it expired.
    """
    due = list(db.session.scalars(
        select(StaffMicroCredential)
        .options(selectinload(StaffMicroCredential.definition),
                 selectinload(StaffMicroCredential.user).selectinload(User.organization))
        .where(StaffMicroCredential.status == S.AWARDED,
               StaffMicroCredential.expiry_date <= today)
        .with_for_update(skip_locked=True)))
    for credential in due:
        change_status(credential, S.EXPIRED, actor, today=today)
    return [c.id for c in due]


def get_credential(credential_id: int) -> StaffMicroCredential:
    """Raises NotFound."""
    credential = db.session.get(StaffMicroCredential, credential_id)
    if credential is None:
        raise NotFound("Credential not found.")
    return credential


def holders(definition: MicroCredentialDefinition, status: str = "", q: str = "",
            page: int = 1, per_page: int = 25) -> Page[StaffMicroCredential]:
    stmt = (select(StaffMicroCredential).join(StaffMicroCredential.user)
            .options(selectinload(StaffMicroCredential.user).selectinload(User.organization),
                     selectinload(StaffMicroCredential.awarded_by))
            .where(StaffMicroCredential.definition_id == definition.id)
            .order_by(User.name, StaffMicroCredential.id))
    if status in CredentialStatus.__members__:
        stmt = stmt.where(StaffMicroCredential.status == CredentialStatus(status))
    if q.strip():
        pattern = q.strip().lower()
        stmt = stmt.where(or_(func.lower(User.name).contains(pattern, autoescape=True),
                              func.lower(User.email).contains(pattern, autoescape=True)))
    return paginate(stmt, page, per_page)


def credentials_of(user: User) -> list[StaffMicroCredential]:
    return list(db.session.scalars(
        select(StaffMicroCredential)
        .options(selectinload(StaffMicroCredential.definition))
        .join(StaffMicroCredential.definition)
        .where(StaffMicroCredential.user_id == user.id)
        .order_by(MicroCredentialDefinition.level.desc(), MicroCredentialDefinition.title)))


def expiry_band(credential: StaffMicroCredential, today: date) -> str | None:
    """'expired', '30', '60' or '90' for an awarded or expired credential near its date."""
    if credential.status == S.EXPIRED:
        return "expired"
    if credential.status != S.AWARDED or credential.expiry_date is None:
        return None
    days = (credential.expiry_date - today).days
    if days <= 0:
        return "expired"
    return next((str(b) for b in EXPIRY_BANDS if days <= b), None)


# --- Evidence ------------------------------------------------------------------------

def sniff_evidence_type(data: bytes) -> str | None:
    return next((kind for magic, kind in EVIDENCE_SIGNATURES.items()
                 if data.startswith(magic)), None)


def attach_evidence(credential: StaffMicroCredential, filename: str, data: bytes,
                    actor: Actor) -> StaffMicroCredential:
    """Store a PDF, PNG or JPEG as the credential's evidence (replacing any earlier one,
    which stays in storage and in the audit trail).

    Raises ValidationFailed for an empty file or another type (judged by content),
    PayloadTooLarge over EVIDENCE_MAX_BYTES.
    """
    limit = current_app.config["EVIDENCE_MAX_BYTES"]
    if not data:
        raise ValidationFailed("Choose a file to upload.", fields={"file": ["The file is empty."]})
    if len(data) > limit:
        raise PayloadTooLarge(f"The file is larger than {limit // (1024 * 1024)} MiB.",
                              fields={"file": [f"Up to {limit // (1024 * 1024)} MiB."]})
    content_type = sniff_evidence_type(data)
    if content_type is None:
        message = "Only PDF, PNG or JPEG documents are accepted."
        raise ValidationFailed(message, fields={"file": [message]})
    display_name = _display_name(filename, content_type)
    key, digest = storage.save(data, "evidence")
    changes = {
        "evidence": [credential.evidence_filename, display_name],
        "evidence_key": [credential.evidence_key, key],
        "sha256": digest,
        "size": len(data),
    }
    credential.evidence_key = key
    credential.evidence_filename = display_name
    credential.evidence_content_type = content_type
    credential.evidence_size = len(data)
    credential.evidence_uploaded_at = utcnow()
    credential.evidence_uploaded_by_id = actor.user.id if actor.user else None
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "staff_micro_credential", credential.id, changes)
    return credential


def _display_name(filename: str, content_type: str) -> str:
    # Keep the person's name for display only; strip any path and control characters.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
    extension = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
    return name or f"evidence{extension[content_type]}"


def can_see(viewer: User, credential: StaffMicroCredential) -> bool:
    """Admins, the holder, and the holder's organization admin."""
    if viewer.role == Role.ADMIN or viewer.id == credential.user_id:
        return True
    return (viewer.role == Role.ORG_ADMIN and viewer.organization_id is not None
            and viewer.organization_id == credential.user.organization_id)


# --- The organization matrix ---------------------------------------------------------

@dataclass
class Matrix:
    staff: Page[User]
    definitions: list[MicroCredentialDefinition]
    cells: dict[tuple[int, int], StaffMicroCredential]

    def row(self, user_id: int) -> list[StaffMicroCredential | None]:
        """The user's cells in column order (None where they hold nothing)."""
        return [self.cells.get((user_id, d.id)) for d in self.definitions]


def org_matrix(organization_id: int, *, definition_id: int | None = None, status: str = "",
               q: str = "", page: int = 1, per_page: int = 25) -> Matrix:
    """Staff of one organization x the definitions any of them hold.

    Three queries whatever the size: the page of staff (with its count), the columns,
    and the cells for that page. Filters keep the staff with a matching credential.
    """
    held = select(StaffMicroCredential.id).where(StaffMicroCredential.user_id == User.id)
    if definition_id is not None:
        held = held.where(StaffMicroCredential.definition_id == definition_id)
    if status in CredentialStatus.__members__:
        held = held.where(StaffMicroCredential.status == CredentialStatus(status))
    staff_stmt = (select(User).where(User.organization_id == organization_id,
                                     User.role.in_(ASSIGNABLE_ROLES))
                  .order_by(User.name, User.id))
    if definition_id is not None or status:
        staff_stmt = staff_stmt.where(held.correlate(User).exists())
    if q.strip():
        pattern = q.strip().lower()
        staff_stmt = staff_stmt.where(or_(func.lower(User.name).contains(pattern, autoescape=True),
                                          func.lower(User.email).contains(pattern,
                                                                          autoescape=True)))
    staff = paginate(staff_stmt, page, per_page)

    org_credentials = (select(StaffMicroCredential.definition_id)
                       .join(User, User.id == StaffMicroCredential.user_id)
                       .where(User.organization_id == organization_id))
    columns = (select(MicroCredentialDefinition)
               .where(MicroCredentialDefinition.id.in_(org_credentials.distinct()))
               .order_by(MicroCredentialDefinition.level.desc(), MicroCredentialDefinition.title))
    if definition_id is not None:
        columns = columns.where(MicroCredentialDefinition.id == definition_id)
    definitions = list(db.session.scalars(columns))

    cells: dict[tuple[int, int], StaffMicroCredential] = {}
    user_ids = [u.id for u in staff.items]
    if user_ids and definitions:
        for credential in db.session.scalars(
                select(StaffMicroCredential).where(
                    StaffMicroCredential.user_id.in_(user_ids),
                    StaffMicroCredential.definition_id.in_([d.id for d in definitions]))):
            cells[(credential.user_id, credential.definition_id)] = credential
    return Matrix(staff, definitions, cells)


def org_credentials_for_export(organization_id: int, *, definition_id: int | None = None,
                               status: str = "") -> Select[Any]:
    """The organization's staff credentials as flat rows, for CSV export."""
    stmt = (select(User.name, User.email, MicroCredentialDefinition.title,
                   MicroCredentialDefinition.level, StaffMicroCredential.status,
                   StaffMicroCredential.awarded_at, StaffMicroCredential.expiry_date)
            .join(StaffMicroCredential, StaffMicroCredential.user_id == User.id)
            .join(MicroCredentialDefinition,
                  MicroCredentialDefinition.id == StaffMicroCredential.definition_id)
            .where(User.organization_id == organization_id)
            .order_by(User.name, User.id, MicroCredentialDefinition.level.desc(),
                      MicroCredentialDefinition.title))
    if definition_id is not None:
        stmt = stmt.where(StaffMicroCredential.definition_id == definition_id)
    if status in CredentialStatus.__members__:
        stmt = stmt.where(StaffMicroCredential.status == CredentialStatus(status))
    return stmt

