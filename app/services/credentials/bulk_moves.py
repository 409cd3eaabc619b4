"""Moving many holders of one micro-credential to a status at once (the holders list's
bulk bar): each credential through `change_status`, in a SAVEPOINT of its own, so every
rule (one step forward at a time, a note to move back, expiry only after the date),
audit row and notification is per credential, and a refusal undoes only that one. Of
two bulk moves at once each credential moves once: its conditional UPDATE refuses the
second, counted as "already"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import CredentialStatus, MicroCredentialDefinition, StaffMicroCredential
from app.services import fields, selection
from app.services.context import Actor
from app.services.credentials.status import change_status
from app.services.errors import NotFound, ValidationFailed

#: The most ticked holders one request may name (a page shows 25).
MAX_SELECTED = 100


@dataclass
class MoveOutcome:
    status: CredentialStatus
    moved: int = 0
    already: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """"3 moved to Awarded, 1 already awarded, 1 refused: <reason>"."""
        label = self.status.label
        return selection.summary(f"{self.moved} moved to {label}",
                                 f"{self.already} already {label.lower()}" if self.already
                                 else None, self.refused)


def target_status(value: Any) -> CredentialStatus:
    """Raises ValidationFailed unless `value` names a status."""
    name = str(value or "").strip().upper()
    if name not in CredentialStatus.__members__:
        raise ValidationFailed("Choose the status to move them to.",
                               fields={"status": ["Choose a status."]})
    return CredentialStatus(name)


def check_note(value: Any) -> str | None:
    """The one note for all (needed to move back): one line of at most 1,000 characters,
    no control characters. Raises ValidationFailed (field "note")."""
    return fields.optional_text(value, "note", max_len=1000)


def selected_ids(values: Iterable[Any]) -> list[int]:
    """The ticked credential ids, in order, without repeats. Raises ValidationFailed for
    none, an unreadable one, or more than MAX_SELECTED."""
    return selection.selected_ids(values, noun="holder", limit=MAX_SELECTED,
                                  too_many=f"At most {MAX_SELECTED} holders can be moved "
                                           "at once.")


def move_many(actor: Actor, definition: MicroCredentialDefinition, ids: list[int],
              status: CredentialStatus, *, note: str | None = None) -> MoveOutcome:
    """Move each of these holders of `definition` to `status` (flushes, never commits).
    An id that is not a holder of this definition is refused as not found."""
    found = {c.id: c for c in db.session.scalars(select(StaffMicroCredential).where(
        StaffMicroCredential.id.in_(ids),
        StaffMicroCredential.definition_id == definition.id))}

    def move(credential_id: int) -> None:
        credential = found.get(credential_id)
        if credential is None:
            raise NotFound("It is not a holder of this credential.")
        # one already in `status` (or moved there a moment ago) is AlreadyDone
        change_status(credential, status, actor, note=note)

    # (person, id) order: two bulk moves at once take their locks in the same order.
    tally = selection.change_each(
        sorted(ids, key=lambda i: (found[i].user_id, i) if i in found else (0, i)), move)
    return MoveOutcome(status, moved=tally.done, already=tally.already,
                       refused=dict(tally.refused))
