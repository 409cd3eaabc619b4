"""The request boundary (app/web/boundary.py, app/web/errors.py): one place commits a
write request's success and rolls back everything else; errors answer in the request's
own form (JSON for the API, a message fragment retargeted to #flashes for htmx, a page
otherwise); GETs write nothing; no view commits or rolls back by itself."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify, request
from sqlalchemy import func, select

from app.extensions import db
from app.models import Notification, NotificationType, Organization
from app.services.enqueue import enqueue_after_commit
from app.services.errors import Conflict, ValidationFailed
from app.web.boundary import ReadWroteError, attempt
from tests.conftest import HX

APP_DIR = Path(__file__).resolve().parent.parent / "app"


def _add(slug: str) -> None:
    db.session.add(Organization(name=f"Org {slug}", slug=slug))
    db.session.flush()


@pytest.fixture
def probe_app(make_app: Any) -> Flask:
    """An app with a few throwaway routes that write and then answer in different ways."""
    app = make_app(WTF_CSRF_ENABLED=False)

    @app.post("/_probe/ok")
    def ok() -> Any:
        _add("committed")
        return "ok"

    @app.post("/_probe/form-error")
    def form_error() -> Any:
        _add("form-error")
        return "check the form", 422

    @app.post("/_probe/refused")
    def refused() -> Any:
        _add("refused")
        raise Conflict("Already approved.")

    @app.post("/api/_probe/refused")
    def api_refused() -> Any:
        _add("api-refused")
        raise ValidationFailed("Some fields are not valid.", fields={"name": ["Too short."]})

    @app.post("/_probe/crash")
    def crash() -> Any:
        _add("crash")
        raise RuntimeError("boom")

    @app.post("/_probe/duplicate")
    def duplicate() -> Any:
        # The same slug twice, unflushed: only the commit meets the unique constraint.
        db.session.add(Organization(name="One", slug="same"))
        db.session.add(Organization(name="Two", slug="same"))
        return "ok"

    @app.post("/_probe/attempt")
    def attempted() -> Any:
        _add("kept")

        def refuse() -> None:
            _add("undone")
            raise Conflict("No.")

        _, error = attempt(refuse)
        _add("after")
        return jsonify(status=error.status if error else None)

    @app.post("/_probe/job-then-refusal")
    def job_then_refusal() -> Any:
        user_id = int(request.form["user_id"])
        enqueue_after_commit("app.jobs.welcome.send_welcome_notification", user_id)

        def refuse() -> None:
            _add("undone")
            raise Conflict("No.")

        attempt(refuse)
        return "ok"

    @app.get("/_probe/read-writes")
    def read_writes() -> Any:
        _add("by-a-get")
        return "oops"

    return app


def _slugs(app: Flask) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Organization.slug)))


def test_a_successful_write_commits_and_an_error_answer_rolls_back(probe_app):
    client = probe_app.test_client()
    assert client.post("/_probe/ok").status_code == 200
    assert client.post("/_probe/form-error").status_code == 422
    assert "committed" in _slugs(probe_app) and "form-error" not in _slugs(probe_app)


def test_a_service_error_rolls_back_and_answers_in_the_requests_own_form(probe_app):
    client = probe_app.test_client()
    htmx = client.post("/_probe/refused", headers=HX)
    assert htmx.status_code == 409  # from the exception's type
    assert htmx.headers["HX-Retarget"] == "#flashes" and htmx.headers["HX-Reswap"] == "innerHTML"
    body = htmx.get_data(as_text=True)
    assert "Already approved." in body and "<html" not in body and "<header" not in body
    page = client.post("/_probe/refused")
    assert page.status_code == 409 and "<html" in page.get_data(as_text=True)
    api = client.post("/api/_probe/refused")
    assert api.status_code == 422 and api.get_json() == {"error": {
        "code": "validation_failed", "message": "Some fields are not valid.",
        "fields": {"name": ["Too short."]}}}
    assert not {"refused", "api-refused"} & _slugs(probe_app)


def test_a_crash_rolls_back_and_answers_500(make_app):
    app = make_app(WTF_CSRF_ENABLED=False, PROPAGATE_EXCEPTIONS=False)

    @app.post("/_probe/crash")
    def crash() -> Any:
        _add("crash")
        raise RuntimeError("boom")

    response = app.test_client().post("/_probe/crash", headers=HX)
    assert response.status_code == 500 and response.headers["HX-Retarget"] == "#flashes"
    assert "crash" not in _slugs(app)


def test_a_constraint_refusing_the_commit_answers_409(probe_app):
    response = probe_app.test_client().post("/_probe/duplicate", headers=HX)
    assert response.status_code == 409
    assert "Someone else changed this" in response.get_data(as_text=True)
    assert "same" not in _slugs(probe_app)


def test_attempt_undoes_only_the_refused_call_and_the_request_goes_on(probe_app):
    response = probe_app.test_client().post("/_probe/attempt")
    assert response.get_json() == {"status": 409}
    # attempt() undid only the refused call (a SAVEPOINT): what came before and after it
    # was committed with the successful answer.
    assert {"kept", "after"} <= _slugs(probe_app) and "undone" not in _slugs(probe_app)


def test_a_job_queued_before_a_refused_attempt_still_runs(probe_app, make_user):
    """A SAVEPOINT rolled back by attempt() undoes only its own work: a job the request
    queued before it is still dispatched when the request commits."""
    user = make_user()
    response = probe_app.test_client().post("/_probe/job-then-refusal",
                                            data={"user_id": user.id})
    assert response.status_code == 200
    with probe_app.app_context():
        welcomed = db.session.scalar(select(func.count(Notification.id)).where(
            Notification.user_id == user.id, Notification.type == NotificationType.WELCOME))
    assert welcomed == 1


def test_a_get_that_writes_is_refused_and_rolled_back(probe_app, caplog):
    # Under TESTING the boundary raises ReadWroteError: any test of a page that writes on
    # GET gets a 500 instead of the page it expects.
    response = probe_app.test_client().get("/_probe/read-writes")
    assert response.status_code == 500
    assert "GET /_probe/read-writes changed the database" in caplog.text
    assert ReadWroteError.__name__ in caplog.text
    assert "by-a-get" not in _slugs(probe_app)


def _calls(path: Path, names: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in names):
            found.append(f"{path}:{node.lineno} .{node.func.attr}()")
    return found


def test_no_view_commits_or_rolls_back():
    """Only the boundary ends a request's transaction: blueprints never call commit() or
    rollback()."""
    offenders = [call for path in sorted((APP_DIR / "blueprints").rglob("*.py"))
                 for call in _calls(path, {"commit", "rollback"})]
    assert offenders == []


def test_the_checker_finds_a_commit(tmp_path):
    module = tmp_path / "view.py"
    module.write_text("def view():\n    db.session.commit()\n")
    assert _calls(module, {"commit"}) and not _calls(module, {"rollback"})


def test_nothing_is_written_by_the_probe_routes_unless_asked(probe_app):
    with probe_app.app_context():
        assert db.session.scalar(select(func.count(Organization.id))) == 0


def test_an_already_done_refusal_reads_as_a_notice_in_htmx_and_stays_409_in_the_api(app):
    from app.services.errors import AlreadyDone, Conflict
    from app.web.errors import error_response

    with app.test_request_context("/admin/x", headers={"HX-Request": "true"}):
        notice = error_response(409, "Already approved.", notice=True)
        alert = error_response(409, "Only a pending certificate can be approved.")
    assert 'role="status"' in notice.get_data(as_text=True)
    assert 'role="alert"' in alert.get_data(as_text=True)
    with app.test_request_context("/api/admin/x"):
        body = error_response(409, "Already approved.", "conflict", notice=True)
    assert body.status_code == 409 and body.get_json()["error"]["code"] == "conflict"
    assert issubclass(AlreadyDone, Conflict)  # every Conflict handler still catches it
