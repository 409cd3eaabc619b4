"""A staff credential's lifecycle NOT_STARTED -> IN_TRAINING -> ASSESSMENT_PENDING ->
AWARDED -> EXPIRED: forward one step at a time, back only with a note, AWARDED recording
the award and its expiry date (from the definition's validity unless given), EXPIRED only
once that date has come (the daily sweep's expiry phase, app/services/sweep.py, expires
every due credential at once). Each move goes through the atomic transition, is audited
and tells the holder; `expiry_band` says how near the date is.

What a "valid" award is lives here once, as a Python predicate and the SQL expression
that says the same (`is_valid` / `valid_condition`), with its complement among awards,
`expired_condition`: AWARDED and the expiry date not come yet (or none, it never
expires). A credential due today counts as expired already (the nightly sweep has not
marked it yet): the award form, bulk awards, the org dashboard and the matrix all ask
these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement

from app.extensions import db
from app.models import (
    AuditAction,
    CredentialStatus,
    NotificationType,
    StaffMicroCredential,
)
from app.models.base import utcnow
from app.services import audit, dates
from app.services.context import Actor
from app.services.dates import add_months
from app.services.errors import AlreadyDone, ValidationFailed
from app.services.notifications import notify
from app.services.open_badges import status as badge_status
from app.services.transitions import transition

S = CredentialStatus
ORDER = [S.NOT_STARTED, S.IN_TRAINING, S.ASSESSMENT_PENDING, S.AWARDED, S.EXPIRED]
NEXT_STEP = {S.NOT_STARTED: S.IN_TRAINING, S.IN_TRAINING: S.ASSESSMENT_PENDING,
             S.ASSESSMENT_PENDING: S.AWARDED}
EXPIRY_BANDS = (30, 60, 90)


def is_valid(status: CredentialStatus, expiry_date: date | None, today: date) -> bool:
    """An AWARDED credential whose expiry date has not come (or that never expires)."""
    return status == S.AWARDED and (expiry_date is None or expiry_date > today)


def valid_condition(today: date) -> ColumnElement[bool]:
    """`is_valid` as SQL on StaffMicroCredential."""
    expiry = StaffMicroCredential.expiry_date
    return (StaffMicroCredential.status == S.AWARDED) & (expiry.is_(None) | (expiry > today))


def expired_condition(today: date) -> ColumnElement[bool]:
    """Expired, or awarded and due by today (the nightly job has not marked it yet)."""
    return (StaffMicroCredential.status == S.EXPIRED) | (
        (StaffMicroCredential.status == S.AWARDED)
        & (StaffMicroCredential.expiry_date <= today))


# A credential's notes: the assignment's note, then one stamped line per noted move and
# per award. Bounded, so renewals year after year do not grow it without end: past
# NOTES_MAX the oldest lines give way to the newest (each note is also in the audit
# trail, with its move), and the notes say so on their first line.
NOTES_MAX = 4000
NOTES_TRIMMED = "[Earlier notes are in the audit trail.]"


def add_note(notes: str | None, note: str, actor: Actor, today: date) -> str:
    """`notes` with `note` stamped (date, who) on a line of its own, at most NOTES_MAX
    characters: the oldest lines are dropped first; the new note is kept whole unless it
    alone is longer than the cap (then cut, with an ellipsis)."""
    stamp = f"[{today.isoformat()} {actor.user.email if actor.user else 'system'}] "
    text = "\n".join(filter(None, [notes, stamp + note]))
    if len(text) <= NOTES_MAX:
        return text
    lines = text.split("\n")
    if lines[0] == NOTES_TRIMMED:
        lines.pop(0)
    budget = NOTES_MAX - len(NOTES_TRIMMED)  # each kept line costs its length + "\n"
    kept: list[str] = []
    for line in reversed(lines):
        if budget < len(line) + 1:
            break
        kept.append(line)
        budget -= len(line) + 1
    if not kept:  # the new note alone is over the cap
        kept = [lines[-1][:budget - 2] + "…"]
    return "\n".join([NOTES_TRIMMED, *reversed(kept)])


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
    Raises ValidationFailed for an impossible move or a missing note, AlreadyDone (a
    Conflict: 409 for the API) when it is in `new_status` already or was moved there a
    moment ago, and Conflict when it moved elsewhere meanwhile (two admins, a
    double-click): of several identical moves at once, one is made, audited and notified.
    """
    today = today or dates.today()
    old = credential.status
    if new_status == old:  # a double-click or a second admin: the first move stands
        raise AlreadyDone(f"Already {old.label.lower()}.")
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
    transition(credential, to=new_status, expected=old, refused=lambda now: (
        AlreadyDone(f"Already {now.status.label.lower()}.") if now.status == new_status else
        f"It was moved to {now.status.label} a moment ago. Reload and try again."))
    if new_status == S.AWARDED:
        credential.awarded_at = utcnow()
        credential.awarded_by_id = actor.user.id if actor.user else None
        validity = credential.definition.validity_months
        credential.expiry_date = expiry_date or (add_months(today, validity) if validity else None)
        changes["expiry_date"] = [None, credential.expiry_date]
        badge_status.assign(credential)  # in good standing in the Open Badges status list
        action = AuditAction.MCRED_AWARD
    elif new_status == S.EXPIRED:
        action = AuditAction.MCRED_EXPIRE
    else:
        if ORDER.index(new_status) < ORDER.index(S.AWARDED) and credential.awarded_at:
            changes["expiry_date"] = [credential.expiry_date, None]
            credential.awarded_at = None
            credential.awarded_by_id = None
            credential.expiry_date = None
            badge_status.set_status(credential, suspended=True)  # its badge no longer holds
        action = AuditAction.UPDATE
    if note:
        changes["note"] = note
        credential.notes = add_note(credential.notes, note, actor, today)
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
