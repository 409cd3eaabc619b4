"""What the admin lists' bulk bars share: the ticked ids a form sends, checked once, and
the one-line summary of what a bulk change did ("3 approved, 1 already approved,
1 refused: <reason>.")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.services.errors import ValidationFailed
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
