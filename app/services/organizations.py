"""Organizations: the employers and clients whose staff use the portal."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, func, or_, select

from app.extensions import db
from app.models import AuditAction, Organization, User
from app.models.base import utcnow
from app.models.users import new_session_token
from app.services import audit, auth, fields
from app.services.context import Actor
from app.services.errors import Conflict, NotFound
from app.services.persistence import flush_or_raise
from app.services.sorting import Sort, Sorting
from app.services.transitions import transition

AUDITED_FIELDS = (
    "name", "slug", "active", "email_compliance_alerts", "email_system_alerts",
    "sms_credential_alerts", "sms_critical_alerts",
)
SLUG_TAKEN = "Another organization already uses this slug."
NAME_TAKEN = "Another organization already has this name."


def _preference(value: object, field: str) -> bool:
    if field not in AUDITED_FIELDS or field in ("name", "slug", "active"):
        raise ValueError(f"create_organization cannot set {field!r}")
    return fields.boolean(value, field)


# The OrganizationForm's limits, checked again here for every caller.
ORGANIZATION_RULES: dict[str, fields.Rule] = {
    "name": fields.rule(fields.text, max_len=200),
    "slug": fields.slug,
    **{name: _preference for name in AUDITED_FIELDS if name not in ("name", "slug", "active")},
}


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "org"


def get_organization(org_id: int) -> Organization:
    """Raises NotFound."""
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound("Organization not found.")
    return org


def _slug_taken(slug: str, except_id: int | None = None) -> bool:
    stmt = select(Organization.id).where(Organization.slug == slug)
    if except_id is not None:
        stmt = stmt.where(Organization.id != except_id)
    return db.session.scalar(stmt) is not None


def _name_taken(name: str, except_id: int | None = None) -> bool:
    # Names are unique regardless of case (uq_organizations_name_lower): two "Acme Roofing"
    # rows make every picker and the org matrix ambiguous.
    stmt = select(Organization.id).where(func.lower(Organization.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Organization.id != except_id)
    return db.session.scalar(stmt) is not None


def _taken(name: str, slug: str, except_id: int | None = None) -> Conflict | None:
    """The Conflict naming each field another organization already holds, if any."""
    errors = {}
    if _name_taken(name, except_id):
        errors["name"] = [NAME_TAKEN]
    if _slug_taken(slug, except_id):
        errors["slug"] = [SLUG_TAKEN]
    if not errors:
        return None
    return Conflict(NAME_TAKEN if "name" in errors else SLUG_TAKEN, fields=errors)


def _flush_unique(org: Organization, except_id: int | None = None, *,
                  add: bool = False) -> None:
    """Flush under the name and slug constraints; a race lost to another admin answers
    the same Conflict as the check before it (the winner is committed by then)."""
    try:
        flush_or_raise(Conflict(NAME_TAKEN), add=[org] if add else [])
    except Conflict as lost:
        raise _taken(org.name, org.slug, except_id) or lost from lost


def create_organization(actor: Actor, *, name: str, slug: str = "", **prefs: bool) -> Organization:
    """Raises ValidationFailed (name, slug format) or Conflict when another organization
    has the name (in any case) or the slug."""
    checked = fields.Fields()
    name = checked.check(fields.text, name, "name", max_len=200)
    slug = checked.check(fields.slug, slug, "slug")
    prefs = {key: checked.check(_preference, value, key) for key, value in prefs.items()}
    checked.done()
    slug = slugify(slug or name)
    if conflict := _taken(name, slug):
        raise conflict
    org = Organization(name=name, slug=slug, **prefs)
    _flush_unique(org, add=True)
    audit.record(actor, AuditAction.CREATE, "organization", org.id,
                 audit.snapshot(org, AUDITED_FIELDS))
    return org


def update_organization(org: Organization, actor: Actor, **values: Any) -> Organization:
    """Raises ValidationFailed (name, slug format) or Conflict when another organization
    has the new name (in any case) or slug."""
    before = audit.snapshot(org, AUDITED_FIELDS)
    for field in values:
        if field not in AUDITED_FIELDS or field == "active":
            raise ValueError(f"update_organization cannot set {field!r}")
    checked = fields.Fields()
    values = {key: checked.check(ORGANIZATION_RULES[key], value, key)
              for key, value in values.items()}
    checked.done()
    if "slug" in values:
        values["slug"] = slugify(values["slug"] or values.get("name", org.name))
    if conflict := _taken(values.get("name", org.name), values.get("slug", org.slug), org.id):
        raise conflict
    for field, value in values.items():
        setattr(org, field, value)
    _flush_unique(org, org.id)
    changes = audit.changes_between(before, audit.snapshot(org, AUDITED_FIELDS))
    if changes:
        audit.record(actor, AuditAction.UPDATE, "organization", org.id, changes)
    return org


def set_organization_active(org: Organization, active: bool, actor: Actor) -> Organization:
    """Deactivate or reactivate an organization (again is a no-op: of two admins or a
    double click, one audit row).

    While it is inactive its members cannot log in (auth.authenticate says why), their
    sessions end at their next request and their API tokens are refused
    (auth.login_allowed). Deactivating also ends every session cookie and revokes every
    API token of its members, so reactivation revives neither: they log in again and
    make new tokens. Public /verify answers for their certificates do not change (a
    certificate stands on its own status)."""
    try:
        transition(org, to=active, expected=[not active], column="active",
                   values={"updated_at": utcnow()})
    except Conflict:
        return org  # someone else just did it
    changes: dict[str, Any] = {"active": [not active, active]}
    if not active:
        members = list(db.session.scalars(select(User).where(User.organization_id == org.id)))
        for member in members:
            member.session_token = new_session_token()
        revoked = sum(auth.revoke_api_tokens(member, actor, reason="organization_deactivated")
                      for member in members)
        changes.update(sessions_ended=len(members), api_tokens_revoked=revoked)
        db.session.flush()
    audit.record(actor, AuditAction.REACTIVATE if active else AuditAction.DEACTIVATE,
                 "organization", org.id, changes)
    return org


def _member_count() -> Any:
    return (select(func.count(User.id)).where(User.organization_id == Organization.id)
            .correlate(Organization).scalar_subquery())


#: The organizations list's sorts (?sort=name|slug|members&dir=asc|desc).
SORTS = Sorting({
    "name": (func.lower(Organization.name),),
    "slug": (Organization.slug,),
    "members": (_member_count(),),
}, default="name", tiebreak=Organization.id, first_dir={"members": "desc"})


def search_organizations(q: str = "", status: str = "", sort: Sort | None = None) -> Select[Any]:
    """Organizations with their member counts: rows of (Organization, member_count)."""
    member_count = _member_count()
    stmt = (sort or SORTS.default_sort()).apply(
        select(Organization, member_count.label("member_count")))
    if q.strip():
        pattern = q.strip().lower()
        stmt = stmt.where(or_(func.lower(Organization.name).contains(pattern, autoescape=True),
                              Organization.slug.contains(pattern, autoescape=True)))
    if status == "active":
        stmt = stmt.where(Organization.active.is_(True))
    elif status == "inactive":
        stmt = stmt.where(Organization.active.is_(False))
    return stmt


def organization_choices() -> list[tuple[int, str]]:
    """(id, name) of every organization, by name: for pickers, without loading rows."""
    return [(row[0], row[1]) for row in db.session.execute(
        select(Organization.id, Organization.name).order_by(Organization.name))]


def all_organizations() -> list[Organization]:
    return list(db.session.scalars(select(Organization).order_by(Organization.name)))
