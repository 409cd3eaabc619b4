"""Users: create, edit, deactivate, find."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import AuditAction, Organization, Role, User
from app.services import accounts, audit, fields
from app.services.auth import (
    end_sessions,
    login_allowed,
    new_password_hash,
    normalise_email,
    revoke_account_links,
    set_password,
)
from app.services.context import Actor
from app.services.enqueue import enqueue_after_commit
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.persistence import flush_or_raise
from app.services.sorting import Sort, Sorting

AUDITED_FIELDS = ("email", "name", "role", "organization_id", "active", "phone")
EMAIL_TAKEN = "A user with this email already exists."
WELCOME_JOB = accounts.WELCOME_JOB
PHONE_FORMAT = re.compile(r"\+?[0-9 ()-]{6,31}")  # the UserForm's


def _phone(value: Any, field: str) -> str | None:
    phone = fields.optional_text(value, field, max_len=32)
    if phone is not None and not PHONE_FORMAT.fullmatch(phone):
        raise ValidationFailed("Enter a phone number such as +64 21 555 0100.", fields={
            field: ["Enter a phone number such as +64 21 555 0100."]})
    return phone


# The UserForm's limits, checked again here for every caller.
NAME = fields.rule(fields.text, max_len=200)
PHONE = _phone


def get_user(user_id: int) -> User:
    """Raises NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


def _check_organization(role: Role, organization_id: int | None) -> None:
    if organization_id is not None:
        org = db.session.get(Organization, organization_id)
        if org is None:
            raise ValidationFailed("Unknown organization.",
                                   fields={"organization_id": ["Choose an existing organization."]})
    if role == Role.ORG_ADMIN and organization_id is None:
        raise ValidationFailed(
            "An organization admin needs an organization.",
            fields={"organization_id": ["An organization admin needs an organization."]},
        )


def _email_conflict() -> Conflict:
    return Conflict(EMAIL_TAKEN, fields={"email": [EMAIL_TAKEN]})


def _email_taken(email: str, except_id: int | None = None) -> bool:
    stmt = select(User.id).where(func.lower(User.email) == email)
    if except_id is not None:
        stmt = stmt.where(User.id != except_id)
    return db.session.scalar(stmt) is not None


def create_user(
    actor: Actor,
    *,
    email: str,
    name: str,
    role: Role,
    organization_id: int | None = None,
    password: str | None = None,
    phone: str | None = None,
) -> User:
    """Raises ValidationFailed (a field's rule, the password policy, bad organization
    for the role) or Conflict (email taken).

    Without a password (the admin pages and the API) the person is invited: they get an
    email with a single-use link to set it (accounts.invite). A password (the demo seed)
    must pass the policy; they get the welcome notification instead."""
    checked = fields.Fields()
    name = checked.check(NAME, name, "name")
    phone = checked.check(PHONE, phone, "phone")
    organization_id = checked.check(fields.ident, organization_id, "organization_id",
                                    required=False)
    checked.done()
    email = normalise_email(email)
    _check_organization(role, organization_id)
    if _email_taken(email):
        raise _email_conflict()
    password_hash = new_password_hash(password, email=email, name=name) if password else None
    user = User(
        email=email, name=name, role=role, organization_id=organization_id,
        phone=phone, password_hash=password_hash,
    )
    flush_or_raise(_email_conflict(), add=[user])
    audit.record(actor, AuditAction.CREATE, "user", user.id,
                 audit.snapshot(user, AUDITED_FIELDS))
    if password_hash:
        enqueue_after_commit(WELCOME_JOB, user.id)
    else:
        accounts.invite(user, actor)
    return user


def update_user(user: User, actor: Actor, **values: Any) -> User:
    """Change the given fields (those of AUDITED_FIELDS, and `password`).

    Raises ValidationFailed or Conflict; an admin cannot take away their own admin role.
    """
    before = audit.snapshot(user, AUDITED_FIELDS)
    checked = fields.Fields()
    for field, rule in (("name", NAME), ("phone", PHONE)):
        if field in values:
            values[field] = checked.check(rule, values[field], field)
    if values.get("organization_id") is not None:
        values["organization_id"] = checked.check(fields.ident, values["organization_id"],
                                                  "organization_id")
    checked.done()
    if "email" in values:
        values["email"] = normalise_email(values["email"])
        if _email_taken(values["email"], except_id=user.id):
            raise _email_conflict()
    role = values.get("role", user.role)
    organization_id = values.get("organization_id", user.organization_id)
    _check_organization(role, organization_id)
    if actor.user is not None and actor.user.id == user.id and role != user.role:
        raise ValidationFailed("You cannot change your own role.",
                               fields={"role": ["You cannot change your own role."]})
    password = values.pop("password", None)
    for field, value in values.items():
        if field not in AUDITED_FIELDS or field == "active":
            raise ValueError(f"update_user cannot set {field!r}")
        # A Role is a str too: only plain text is stripped (the enum must stay an enum).
        plain_text = isinstance(value, str) and not isinstance(value, Role)
        setattr(user, field, value.strip() if plain_text else value)
    moved = user.organization_id != before["organization_id"]
    flush_or_raise(_email_conflict())
    if moved:
        # After the flush: the person's row, updated, is the lock a credential being
        # created for them waits on (membership.py). Imported here: the credentials
        # package imports this module.
        from app.services.credentials.membership import follow_move

        follow_move(user.id, user.organization_id)
    if password:  # the policy, then every session and API token of theirs ends
        set_password(user, password, actor)
    changes = audit.changes_between(before, audit.snapshot(user, AUDITED_FIELDS))
    if changes:
        audit.record(actor, AuditAction.UPDATE, "user", user.id, changes)
    if "email" in changes:
        # A link mailed to the old address must not open the account any more (a mistyped
        # invitation corrected): it ends, and someone still to set a password is invited
        # again at the new address.
        revoke_account_links(user)
        if not user.password_hash and login_allowed(user):
            accounts.invite(user, actor)
    return user


def set_user_active(user: User, active: bool, actor: Actor) -> User:
    """Deactivate (which also ends their sessions) or reactivate a user.

    Raises ValidationFailed when an admin tries to deactivate themselves.
    """
    if not active and actor.user is not None and actor.user.id == user.id:
        raise ValidationFailed("You cannot deactivate your own account.")
    if user.active == active:
        return user
    user.active = active
    if not active:
        end_sessions(user)  # and their API tokens stop answering (auth.login_allowed)
    audit.record(actor, AuditAction.REACTIVATE if active else AuditAction.DEACTIVATE,
                 "user", user.id, {"active": [not active, active]})
    db.session.flush()
    return user


def people_matching(q: str) -> ColumnElement[bool]:
    """The one people search: a name or email containing `q`, case-insensitively, with
    `%` and `_` matched as themselves. Every list that finds people by name uses it."""
    return people_like(people_pattern(q))


def people_pattern(q: str) -> str:
    """`q` as people_matching() looks for it: trimmed, lower-cased, LIKE's wildcards and
    its escape character escaped (as autoescape=True escapes a literal, "/" the escape
    character: a bind parameter cannot be autoescaped)."""
    return q.strip().lower().replace("/", "//").replace("%", "/%").replace("_", "/_")


def people_like(pattern: Any) -> ColumnElement[bool]:
    """people_matching() of a people_pattern(), or of a bind parameter that holds one
    (a statement built once and run with each search's pattern, issue 16)."""
    # Emails are stored lower-cased, so only the name needs lower().
    return or_(func.lower(User.name).contains(pattern, escape="/"),
               User.email.contains(pattern, escape="/"))


def taking_part() -> ColumnElement[bool]:
    """User.takes_part in SQL: active, and internal or in an active organization."""
    return and_(User.active.is_(True), or_(
        User.organization_id.is_(None),
        exists().where(Organization.id == User.organization_id, Organization.active.is_(True))))


#: The users list's sorts (?sort=name|email|role|organization&dir=asc|desc).
SORTS = Sorting({
    "name": (func.lower(User.name),),
    "email": (User.email,),
    "role": (User.role,),
    "organization": (select(func.lower(Organization.name))
                     .where(Organization.id == User.organization_id)
                     .correlate(User).scalar_subquery(), func.lower(User.name)),
}, default="name", tiebreak=User.id)


def search_users(
    q: str = "",
    *,
    role: str = "",
    organization_id: int | None = None,
    status: str = "",
    sort: Sort | None = None,
) -> Select[tuple[User]]:
    """Users matching a name/email fragment and filters, by name or the given sort."""
    stmt = (sort or SORTS.default_sort()).apply(
        select(User).options(selectinload(User.organization)))
    if q.strip():
        stmt = stmt.where(people_matching(q))
    if role:
        stmt = stmt.where(User.role == Role(role))
    if organization_id is not None:
        stmt = stmt.where(User.organization_id == organization_id)
    if status == "active":  # who can take part: not in a deactivated organization either
        stmt = stmt.where(taking_part())
    elif status == "inactive":
        stmt = stmt.where(~taking_part())
    return stmt


def to_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "organization": (
            {"id": user.organization.id, "name": user.organization.name}
            if user.organization else None
        ),
        "active": user.active,
        "invitation_pending": user.password_hash is None,  # no password set yet
        "phone": user.phone,
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
        "created_at": user.created_at.isoformat(),
    }
