"""The request boundary: the one place a request's transaction ends.

A view parses, loads, authorizes, calls services (which flush, never commit) and
returns a response. Then, here:
- a write request (POST, PUT, PATCH, DELETE) whose response is a success (< 400) or a
  redirect commits; any other answer rolls back;
- a read request (GET, HEAD, OPTIONS) never commits. A read that flushed a change is a
  bug: it is rolled back, logged, and raises under TESTING so a test catches it;
- an exception rolls back in the error handlers (app/web/errors.py), which turn it into
  the answer for the kind of request.

Views that show a refusal in place (a form with its field errors, a row with its
message) use `attempt()` or `submit()`, which undo the refused call at once and hand the
error back with its status, taken from the exception's type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session

from app.extensions import db
from app.services.errors import Conflict, ServiceError
from app.web.forms import Form

log = logging.getLogger(__name__)

T = TypeVar("T")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WROTE = "credwright_wrote"
_KEEP = "credwright_commit_despite_error"


class ReadWroteError(RuntimeError):
    """A GET (or HEAD/OPTIONS) request changed the database."""


def attempt(action: Callable[[], T]) -> tuple[T | None, ServiceError | None]:
    """Run `action` inside a SAVEPOINT; on a ServiceError undo what it did (only that) and
    return the error.

    For views that answer a refusal themselves (in place, with its status), instead of
    letting the error handler answer it. An answer of 400 or more rolls the rest back
    too; a redirect with a flashed message keeps what came before and after."""
    try:
        with db.session.begin_nested():
            return action(), None
    except ServiceError as error:
        # Rows the refused call changed by a bulk UPDATE (a transition) still hold the
        # undone values in memory: read everything afresh (the SAVEPOINT flushed first,
        # so nothing unsaved is lost).
        db.session.expire_all()
        return None, error


def submit(form: Form, action: Callable[[], T]) -> T | None:
    """Validate `form`, then run `action`. On invalid input or a ServiceError, nothing is
    kept, the messages are on the form (`form.status` is the answer's status: 422 for
    field errors, the exception's own status otherwise) and None comes back."""
    form.status = 200
    if not form.validate():
        form.status = 422
        return None
    result, error = attempt(action)
    if error is not None:
        form.add_service_error(error)
        form.status = error.status
        return None
    return result


def commit_despite_error() -> None:
    """Keep this request's writes although it answers with an error: the failure is the
    record (a failed login's audit row)."""
    g.setdefault(_KEEP, True)


def finish(response: Response) -> Response:
    """Commit or roll back the request's transaction for the response a view returned.
    A commit refused by a constraint (a race the services did not foresee) raises
    Conflict, which the error handler answers. A request that never opened a session (a
    public check reads outside the ORM) has nothing to end: no session is made for it."""
    if not db.session.registry.has():
        return response
    session = db.session
    if request.method in SAFE_METHODS:
        wrote = session.info.pop(_WROTE, False) or bool(session.new or session.dirty
                                                        or session.deleted)
        session.rollback()
        if wrote:
            log.error("%s %s changed the database; the change was rolled back",
                      request.method, request.path)
            if current_app.testing:
                raise ReadWroteError(f"{request.method} {request.path} wrote to the database")
        return response
    session.info.pop(_WROTE, None)
    if response.status_code < 400 or g.get(_KEEP):
        try:
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise Conflict("Someone else changed this at the same moment. Reload the page "
                           "and try again.") from exc
    else:
        session.rollback()
    return response


class BoundaryFlask(Flask):
    """Flask whose dispatch ends every view's transaction at one place (`finish`)."""

    def dispatch_request(self) -> Any:
        return finish(self.make_response(super().dispatch_request()))


def _note_flush(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


def _note_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


def _forget(session: Session, *_args: Any) -> None:
    # A SAVEPOINT's release or rollback also fires these events: only the end of the
    # whole transaction forgets that it wrote.
    if not session.in_transaction():
        session.info.pop(_WROTE, None)


def init_app(app: Flask) -> None:
    if not getattr(init_app, "_listening", False):
        event.listen(Session, "after_flush", _note_flush)
        event.listen(Session, "do_orm_execute", _note_statement)
        event.listen(Session, "after_commit", _forget)
        event.listen(Session, "after_rollback", _forget)
        init_app._listening = True  # type: ignore[attr-defined]
