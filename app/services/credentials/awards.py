"""Awarding a micro-credential directly, with the date it was earned: an admin recording
an award made elsewhere (an assessment day, a file of last year's cohort), without
walking the credential through IN_TRAINING and ASSESSMENT_PENDING.

The same rules as an assignment and an award in the lifecycle (status.py), in one place:
- who may hold it: an active staff member or org admin whose organization is active
  (`assignments.ASSIGNABLE_ROLES`, `User.takes_part`);
- the award date is today or earlier (today when not given);
- the expiry date: the one given (after the award date), else the award date plus the
  definition's validity (none when it has no validity); an award whose expiry date has
  come already is refused (it would be expired the day it is recorded);
- a credential AWARDED and still valid is not awarded again (AlreadyDone, a Conflict);
  an EXPIRED one, one AWARDED whose date has come but not yet swept, and one anywhere
  earlier in the lifecycle are awarded (a renewal, or skipping the steps).
`award_directly` creates the credential when the person has none (NOT_STARTED, audited as
an assignment), holds its row (`lock`), then moves it to AWARDED through the transition
from the status it was found in: of two awards at once one is made, audited
(MCRED_AWARD, with `direct`) and notified; the other gets AlreadyDone. The Open Badges
status entry is put in good standing, and a note is stamped onto the credential's notes
(`status.add_note`: bounded, the oldest lines giving way; the audit keeps every note).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import (
    AuditAction,
    CredentialStatus,
    MicroCredentialDefinition,
    StaffMicroCredential,
    User,
)
from app.models.base import utcnow
from app.services import audit, dates
from app.services.context import Actor
from app.services.credentials.assignments import ASSIGNABLE_ROLES
from app.services.credentials.membership import holder_organizations
from app.services.credentials.status import _notify_status, add_note, is_valid
from app.services.dates import add_months
from app.services.errors import AlreadyDone, Conflict, ValidationFailed
from app.services.open_badges import status as badge_status
from app.services.persistence import flush_or_raise
from app.services.transitions import lock, transition

S = CredentialStatus


def already_awarded(user: User | Any, definition: MicroCredentialDefinition,
                    expiry_date: date | None) -> AlreadyDone:
    until = f", valid until {expiry_date:%d %b %Y}" if expiry_date else ""
    return AlreadyDone(f"{user.email} already holds {definition.title}{until}.")


def award_expiry(definition: MicroCredentialDefinition, awarded_on: date,
                 expires_on: date | None, today: date) -> date | None:
    """The expiry date of an award made on `awarded_on` (see the module docstring).
    Raises ValidationFailed for a date the rules refuse."""
    if awarded_on > today:
        raise ValidationFailed("The award date cannot be in the future.",
                               fields={"awarded_on": ["Today or earlier."]})
    if expires_on is not None:
        if expires_on <= awarded_on:
            raise ValidationFailed("The expiry date must be after the award date.",
                                   fields={"expiry_date": ["After the award date."]})
        if expires_on <= today:
            raise ValidationFailed("The expiry date has passed: this award would be expired "
                                   "already.", fields={"expiry_date": ["A future date."]})
        return expires_on
    if not definition.validity_months:
        return None
    expiry = add_months(awarded_on, definition.validity_months)
    if expiry <= today:
        raise ValidationFailed(
            f"Awarded on {awarded_on:%d %b %Y}, {definition.title} (valid "
            f"{definition.validity_months} months) expired on {expiry:%d %b %Y}: "
            "give a later award date or an expiry date.",
            fields={"awarded_on": ["The award would be expired already."]})
    return expiry


def check_holder(user: User) -> None:
    """Whether `user` may hold micro-credentials. Raises ValidationFailed."""
    if not user.active:
        raise ValidationFailed("This account is inactive.", fields={"user_id": ["Inactive."]})
    if not user.takes_part:
        message = f"{user.organization.name} is deactivated."
        raise ValidationFailed(f"{message} Its people cannot be awarded credentials.",
                               fields={"user_id": [message]})
    if user.role not in ASSIGNABLE_ROLES:
        message = f"{user.email} is {user.role.label.lower()}: only staff and org admins hold " \
                  "credentials."
        raise ValidationFailed(message, fields={"user_id": [message]})


def award_directly(actor: Actor, *, user: User, definition: MicroCredentialDefinition,
                   awarded_on: date | None = None, expires_on: date | None = None,
                   note: str | None = None, notify_holder: bool = True,
                   today: date | None = None) -> StaffMicroCredential:
    """Award `definition` to `user` as of `awarded_on` (see the module docstring).
    Raises ValidationFailed (the person, the dates), AlreadyDone (awarded and valid,
    also when another admin awarded it a moment ago) or Conflict (a race the caller may
    retry). Flushes."""
    today = today or dates.today()
    awarded_on = awarded_on or today
    check_holder(user)
    expiry = award_expiry(definition, awarded_on, expires_on, today)
    note = (note or "").strip() or None

    credential = _credential(user, definition)
    if credential is None:
        credential = StaffMicroCredential(
            definition_id=definition.id, user_id=user.id,
            organization_id=holder_organizations([user.id])[user.id], status=S.NOT_STARTED)
        flush_or_raise(Conflict(f"Someone just assigned {definition.title} to {user.email}; "
                                "try again."), add=[credential])
        audit.record(actor, AuditAction.MCRED_ASSIGN, "staff_micro_credential", credential.id,
                     {"definition_id": definition.id, "user_id": user.id,
                      "status": S.NOT_STARTED.value, "direct_award": True})
    lock(credential)
    old = credential.status
    if is_valid(old, credential.expiry_date, today):
        raise already_awarded(user, definition, credential.expiry_date)
    now = utcnow()
    awarded_at = now if awarded_on == now.date() else datetime.combine(
        awarded_on, time(12, 0), tzinfo=now.tzinfo)
    old_expiry = credential.expiry_date
    values: dict[str, Any] = {"awarded_at": awarded_at,
                              "awarded_by_id": actor.user.id if actor.user else None,
                              "expiry_date": expiry}
    if note:
        values["notes"] = add_note(credential.notes, note, actor, today)
    transition(credential, to=S.AWARDED, expected=old, values=values, refused=lambda now_: (
        already_awarded(user, definition, now_.expiry_date)
        if is_valid(now_.status, now_.expiry_date, today) else
        f"It was moved to {now_.status.label} a moment ago. Try again."))
    badge_status.assign(credential)
    changes: dict[str, Any] = {"status": [old.value, S.AWARDED.value], "direct": True,
                               "awarded_on": awarded_on.isoformat(),
                               "expiry_date": [old_expiry, expiry]}
    if note:
        changes["note"] = note
    audit.record(actor, AuditAction.MCRED_AWARD, "staff_micro_credential", credential.id,
                 changes)
    if notify_holder:
        _notify_status(credential, old)
    return credential


def _credential(user: User, definition: MicroCredentialDefinition) -> StaffMicroCredential | None:
    return db.session.scalar(select(StaffMicroCredential).where(
        StaffMicroCredential.user_id == user.id,
        StaffMicroCredential.definition_id == definition.id))
