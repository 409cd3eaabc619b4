"""The one way a row changes state: a conditional UPDATE that only the first of any number
of concurrent requests wins.

`transition(row, to=..., expected=...)` runs `UPDATE ... SET status = :to WHERE id = :id
AND status IN (:expected) RETURNING ...` and loads the new values into `row`. A second
request (a double-click, another admin) waits for the first one's row lock on PostgreSQL,
then finds the status changed and updates nothing; on SQLite the write transactions run
one after the other (BEGIN IMMEDIATE) with the same outcome. The loser gets Conflict (409)
saying what the row is now, and the winner does the side effects (a number, the audit
row, a notification, a job) in the same transaction, so they happen exactly once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, inspect, select, update

from app.extensions import db
from app.services.errors import Conflict, NotFound, ServiceError

Row = TypeVar("Row")


def _label(value: Any) -> str:
    label = getattr(value, "label", None)
    if isinstance(label, str):
        return label.lower()
    return str(value.value if isinstance(value, enum.Enum) else value).replace("_", " ").lower()


def transition(row: Row, *, to: Any, expected: Any | Iterable[Any],
               values: dict[str, Any] | None = None, column: str = "status",
               where: Iterable[ColumnElement[bool]] = (),
               refused: Callable[[Row], str | ServiceError] | None = None) -> Row:
    """Move `row` to `to` if its `column` is still `expected` (one value or several) and
    the extra `where` conditions hold, with `values` set in the same UPDATE. Returns the
    row, its attributes fresh from the database.

    Raises Conflict when the row is in another state by the time the UPDATE runs (the
    message from `refused(row)`, the row as it is now, or "It is already <state>."; or
    the ServiceError `refused` returns, e.g. AlreadyDone), and when the row is gone."""
    model = type(row)
    froms = [expected] if isinstance(expected, enum.Enum | str) else list(expected)
    status = getattr(model, column)
    identity = inspect(row).identity
    if identity is None:
        raise ValueError("transition() needs a row that is in the database")
    (primary_key,) = inspect(model).primary_key
    updated = db.session.scalars(
        update(model)
        .where(primary_key == identity[0], status.in_(froms), *where)
        .values({column: to, **(values or {})})
        .returning(model)
        # The RETURNING row overwrites what the session held: `row` is now up to date.
        .execution_options(populate_existing=True, synchronize_session=False)
    ).first()
    if updated is None:
        current = db.session.scalar(select(status).where(primary_key == identity[0]))
        if current is None:
            raise Conflict("It was deleted a moment ago. Reload the page.")
        db.session.refresh(row)  # the state that refused the change
        answer = refused(row) if refused else f"It is already {_label(current)}."
        raise answer if isinstance(answer, ServiceError) else Conflict(answer)
    return row


def lock(row: Row) -> Row:
    """Hold `row`'s lock until the transaction ends and refresh it (SELECT ... FOR UPDATE
    on PostgreSQL; SQLite's write transactions are serialized already). For rules that
    read the row before writing (an attempt count under its limit). Raises NotFound when
    the row is gone (another request deleted it)."""
    model = type(row)
    (primary_key,) = inspect(model).primary_key
    # Fetched, not only executed: the ORM refreshes `row` as the result is read.
    held = db.session.scalars(select(model).where(primary_key == inspect(row).identity[0])
                              .with_for_update().execution_options(populate_existing=True))
    if held.one_or_none() is None:  # deleted by a request that committed while we waited
        db.session.expunge(row)  # gone: never flushed or refreshed again
        raise NotFound("This was removed a moment ago. Reload the page.")
    return row
