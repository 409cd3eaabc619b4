"""The micro-credential catalogue: definitions (title, NQF level, skill standard,
issuing body, requirements, validity) with the three RANZ defaults a new database gets.
A default can't be deleted and is_default can't be set; a definition anyone holds
can't be deleted (also when someone assigns it during the delete)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select

from app.extensions import db
from app.models import (
    AuditAction,
    MicroCredentialDefinition,
    StaffMicroCredential,
)
from app.services import audit
from app.services.context import Actor
from app.services.credentials.status import ORDER
from app.services.errors import Conflict, NotFound
from app.services.pagination import Page, paginate
from app.services.persistence import flush_or_raise

DEFINITION_FIELDS = ("title", "level", "skill_standard", "issuing_body", "requirements",
                     "validity_months")

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
