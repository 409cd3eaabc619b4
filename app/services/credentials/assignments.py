"""Assigning credentials: active staff and org admins only, everyone chosen or no one
(a holder already, or someone assigning at the same moment, is a Conflict), starting
NOT_STARTED and telling each person; finding a credential, a definition's holders and a
person's credentials."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import case, func, select
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
from app.services import audit
from app.services.context import Actor
from app.services.credentials.membership import holder_organizations
from app.services.credentials.status import ORDER
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.notifications import notify
from app.services.pagination import Page, paginate
from app.services.persistence import flush_or_raise
from app.services.sorting import Ascending, Sort, Sorting
from app.services.users import people_matching, taking_part

S = CredentialStatus
ASSIGNABLE_ROLES = (Role.STAFF, Role.ORG_ADMIN)


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
            .where(taking_part(), User.role.in_(ASSIGNABLE_ROLES))
            .order_by(User.name, User.id).limit(limit))
    if organization_id is not None:
        stmt = stmt.where(User.organization_id == organization_id)
    if q.strip():
        stmt = stmt.where(people_matching(q))
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
    unsuitable = [u for u in users if not u.takes_part or u.role not in ASSIGNABLE_ROLES]
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
    organizations = holder_organizations(ids)
    created = [StaffMicroCredential(definition_id=definition.id, user_id=u.id,
                                    organization_id=organizations[u.id],
                                    status=S.NOT_STARTED, notes=notes or None) for u in users]
    flush_or_raise(Conflict("Someone just assigned this credential to one of these staff "
                            "members; reload and try again."), add=created)
    for credential, user in zip(created, users, strict=True):
        audit.record(actor, AuditAction.MCRED_ASSIGN, "staff_micro_credential", credential.id,
                     {"definition_id": definition.id, "user_id": user.id,
                      "status": S.NOT_STARTED.value, **({"note": notes} if notes else {})})
        notify(user, NotificationType.CREDENTIAL_STATUS_CHANGE,
               f"Assigned: {definition.title}",
               f"You have been assigned the micro-credential {definition.title}.", link="/me")
    return created


def _already_has(names: Sequence[str], definition: MicroCredentialDefinition) -> str:
    who = ", ".join(names)
    verb = "already has" if len(names) == 1 else "already have"
    return f"{who} {verb} {definition.title}."



def get_credential(credential_id: int) -> StaffMicroCredential:
    """Raises NotFound."""
    credential = db.session.get(StaffMicroCredential, credential_id)
    if credential is None:
        raise NotFound("Credential not found.")
    return credential


_NAME = Ascending(func.lower(User.name))
#: A definition's holders' sorts (?sort=name|status|awarded|expires): status in its
#: lifecycle order (Not started ... Expired); dates newest / latest first on the first click.
HOLDER_SORTS = Sorting({
    "name": (func.lower(User.name),),
    "status": (case({s: n for n, s in enumerate(ORDER)},
                    value=StaffMicroCredential.status, else_=len(ORDER)), _NAME),
    "awarded": (StaffMicroCredential.awarded_at, _NAME),
    "expires": (StaffMicroCredential.expiry_date, _NAME),
}, default="name", tiebreak=StaffMicroCredential.id,
    first_dir={"awarded": "desc", "expires": "asc"})


def holders(definition: MicroCredentialDefinition, status: str = "", q: str = "",
            page: int = 1, per_page: int = 25,
            sort: Sort | None = None) -> Page[StaffMicroCredential]:
    stmt = (sort or HOLDER_SORTS.default_sort()).apply(
        select(StaffMicroCredential).join(StaffMicroCredential.user)
        .options(selectinload(StaffMicroCredential.user).selectinload(User.organization),
                 selectinload(StaffMicroCredential.awarded_by))
        .where(StaffMicroCredential.definition_id == definition.id))
    if status in CredentialStatus.__members__:
        stmt = stmt.where(StaffMicroCredential.status == CredentialStatus(status))
    if q.strip():
        stmt = stmt.where(people_matching(q))
    return paginate(stmt, page, per_page)


def credentials_of(user: User) -> list[StaffMicroCredential]:
    return list(db.session.scalars(
        select(StaffMicroCredential)
        .options(selectinload(StaffMicroCredential.definition))
        .join(StaffMicroCredential.definition)
        .where(StaffMicroCredential.user_id == user.id)
        .order_by(MicroCredentialDefinition.level.desc(), MicroCredentialDefinition.title)))
