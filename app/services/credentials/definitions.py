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
from app.services import audit, fields
from app.services.context import Actor
from app.services.credentials.status import ORDER
from app.services.errors import Conflict, NotFound
from app.services.pagination import Page, paginate
from app.services.persistence import flush_or_raise
from app.services.sorting import Ascending, Sort, Sorting

DEFINITION_FIELDS = ("title", "level", "skill_standard", "issuing_body", "requirements",
                     "validity_months")

# The three RANZ defaults of seed 001 (migration 0002 inserts its own frozen copy), each
# with its stable key (migration 0018 gives existing rows theirs): an admin may rename a
# default, and seeding still finds it by key.
RANZ_DEFAULTS: list[dict[str, Any]] = [
    {
        "default_key": "ranz-reclad-reroofing-l5",
        "title": "Reclad/Reroofing Level 5",
        "level": 5,
        "skill_standard": "NZQA Skill Standard - Reclad/Reroofing",
        "issuing_body": "RANZ",
        "requirements": "Completion of RANZ RoofWright Level 5 assessment for reclad and "
        "reroofing projects. Covers scope management, weathertightness detailing, and "
        "compliance documentation.",
    },
    {
        "default_key": "ranz-repairs-maintenance-l5",
        "title": "Repairs/Maintenance Level 5",
        "level": 5,
        "skill_standard": "NZQA Skill Standard - Repairs/Maintenance",
        "issuing_body": "RANZ",
        "requirements": "Completion of RANZ RoofWright Level 5 assessment for repair and "
        "maintenance work. Covers diagnostic assessment, material selection, and warranty "
        "management.",
    },
    {
        "default_key": "ranz-compliance-practices-l4",
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
    """Create any of the RANZ defaults that are missing, matched by their stable key
    (never by title: a renamed default is still there); returns how many were made."""
    existing = set(db.session.scalars(
        select(MicroCredentialDefinition.default_key)
        .where(MicroCredentialDefinition.default_key.is_not(None))))
    missing = [d for d in RANZ_DEFAULTS if d["default_key"] not in existing]
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


#: The catalogue's sorts (?sort=level|title|issuing_body|validity|assigned): by default
#: level 10 to 1, then titles A-Z (seed 001).
_TITLE = Ascending(func.lower(MicroCredentialDefinition.title))
SORTS = Sorting({
    "level": (MicroCredentialDefinition.level, _TITLE),
    "title": (func.lower(MicroCredentialDefinition.title),),
    "issuing_body": (func.lower(MicroCredentialDefinition.issuing_body), _TITLE),
    "validity": (MicroCredentialDefinition.validity_months, _TITLE),
    "assigned": (_assigned_count(), _TITLE),
}, default="level", default_dir="desc", tiebreak=MicroCredentialDefinition.id,
    first_dir={"level": "desc", "assigned": "desc"})


def _definitions_stmt(q: str = "", sort: Sort | None = None) -> Select[Any]:
    stmt = (sort or SORTS.default_sort()).apply(
        select(MicroCredentialDefinition, _assigned_count().label("assigned")))
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


def definitions_page(q: str = "", page: int = 1, per_page: int = 25,
                     sort: Sort | None = None) -> Page[tuple[MicroCredentialDefinition, int]]:
    """One page of list_definitions() in `sort` order: the count runs for the rows
    shown only."""
    return paginate(_definitions_stmt(q, sort), page, per_page, rows=True)


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


# The DefinitionForm's limits (seed 001), checked again here for every caller.
DEFINITION_RULES = {
    "title": fields.rule(fields.text, min_len=3, max_len=200,
                         message="Use 3 to 200 characters."),
    "level": fields.rule(fields.integer, min=1, max=10, message="Enter a level from 1 to 10."),
    "skill_standard": fields.rule(fields.optional_text, max_len=200),
    "issuing_body": fields.rule(fields.text, max_len=200, message="Enter the issuing body."),
    "requirements": fields.rule(fields.optional_text, max_len=2000, multiline=True),
    "validity_months": fields.rule(fields.optional_integer, min=1, max=600,
                                   message="Enter 1 to 600 months, or leave empty."),
}
REQUIRED_FIELDS = ("title", "level", "issuing_body")


def _clean(values: dict[str, Any], *, creating: bool = False) -> dict[str, Any]:
    """Raises ValidationFailed (every field's error at once); ValueError for a field
    that is not a definition's (is_default among them)."""
    return fields.clean(values, DEFINITION_RULES, creating=creating, required=REQUIRED_FIELDS)


def create_definition(actor: Actor, **values: Any) -> MicroCredentialDefinition:
    """A new (never default) definition. Raises ValidationFailed."""
    definition = MicroCredentialDefinition(is_default=False, **_clean(values, creating=True))
    db.session.add(definition)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "micro_credential_definition", definition.id,
                 audit.snapshot(definition, DEFINITION_FIELDS))
    return definition


def update_definition(definition: MicroCredentialDefinition, actor: Actor,
                      **values: Any) -> MicroCredentialDefinition:
    """Change the given fields; is_default is not among them (ValueError if tried).
    Raises ValidationFailed, changing nothing."""
    cleaned = _clean(values)
    before = audit.snapshot(definition, DEFINITION_FIELDS)
    for field, value in cleaned.items():
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
