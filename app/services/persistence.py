"""Writing under a unique constraint: the database, not a prior SELECT, has the last word."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.services.errors import ServiceError


def flush_or_raise(error: ServiceError, *, add: Iterable[Any] = (),
                   delete: Iterable[Any] = ()) -> None:
    """Add/delete and flush inside a SAVEPOINT; raise `error` if a constraint refuses.

    Losing a race (two requests inserting the same unique key) then undoes only this
    step: the objects leave the session and the outer transaction stays usable.
    """
    try:
        with db.session.begin_nested():
            db.session.add_all(list(add))
            for obj in delete:
                db.session.delete(obj)
            db.session.flush()
    except IntegrityError as exc:
        raise error from exc
