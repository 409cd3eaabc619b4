"""What the admin lists' bulk bars share: the ticked ids a form sends, checked once, one
change at a time each in its own savepoint, and the one-line summary of what a bulk change
did ("3 approved, 1 already approved, 1 refused: <reason>.")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.services.errors import AlreadyDone, ServiceError, ValidationFailed
from app.services.fields import parse_id


def selected_ids(values: Iterable[Any], *, noun: str, limit: int,
                 too_many: str | None = None) -> list[int]:
    """The ticked ids (a form's getlist), in order, without repeats. Raises
    ValidationFailed (field "id") for none, an unreadable one, or more than `limit`;
    `noun` names what is ticked ("certificate", "holder"), `too_many` overrides the
    message for more than `limit`."""
    ids: list[int] = []
    for value in values:
        try:
            ids.append(parse_id(value))
        except (TypeError, ValueError):
            raise ValidationFailed(f"The selection names something that is not a {noun}. "
                                   "Reload the page and select again.",
                                   fields={"id": ["Unreadable selection."]}) from None
    ids = list(dict.fromkeys(ids))
    if not ids:
        message = f"Select at least one {noun}."
        raise ValidationFailed(message, fields={"id": [message]})
    if len(ids) > limit:
        message = too_many or f"At most {limit} {noun}s can be ticked at once."
        raise ValidationFailed(message, fields={"id": [message]})
    return ids


T = TypeVar("T")
BUSY = "Another change was made to it at the same moment; try it again."


@dataclass
class Tally:
    """What a bulk change did: changed, already so, and refusals counted by reason."""
    done: int = 0
    already: int = 0
    refused: Counter[str] = field(default_factory=Counter)


def change_each(items: Iterable[T], change: Callable[[T], Any]) -> Tally:
    """`change(item)` for each item, each in a SAVEPOINT of its own (flushes, never
    commits): AlreadyDone counts as "already", any other ServiceError is counted under
    its message, a deadlock victim (PostgreSQL) under BUSY and only it is undone; nothing
    raises for one item. Callers pass the items in one global lock order."""
    tally = Tally()
    for item in items:
        try:
            with db.session.begin_nested():
                change(item)
            tally.done += 1
        except AlreadyDone:
            db.session.expire_all()
            tally.already += 1
        except ServiceError as error:
            db.session.expire_all()
            tally.refused[error.message] += 1
        except OperationalError:
            db.session.expire_all()
            tally.refused[BUSY] += 1
    return tally


def summary(done: str, already: str | None, refused: Mapping[str, int]) -> str:
    """"<done>, <already>, <n> refused: <reason>, ..." as one sentence: `done` ("3
    approved") always, `already` ("1 already approved") when given, the refusals most
    frequent first."""
    parts = [done]
    if already:
        parts.append(already)
    for message, count in sorted(refused.items(), key=lambda item: -item[1]):
        parts.append(f"{count} refused: {message}")
    text = ", ".join(parts)
    return text if text.endswith((".", "!", "?")) else text + "."
