"""The audit trail in words (app/services/audit_text.py)."""

from __future__ import annotations

from sqlalchemy import event, select

from app.extensions import db
from app.models import AuditLog, Role, User
from app.services import audit, audit_text
from app.services.context import Actor


def _rows(after: int = 0) -> list[AuditLog]:
    """The trail's rows after position `after` (setup writes rows of its own)."""
    return list(db.session.scalars(
        select(AuditLog).where(AuditLog.seq > after).order_by(AuditLog.seq)))


def _last_seq() -> int:
    return audit.row_count()


def test_a_row_reads_as_a_sentence_with_names_not_ids(app, make_user, make_track):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    holder = make_user(Role.STAFF, name="Wiremu Tānekaha")
    track = make_track("Scaffold Safety")
    with app.app_context():
        start = _last_seq()
        actor = Actor(db.session.get(User, admin.id), "10.0.0.9")
        audit.record(actor, "CERT_REVOKE", "certificate", 4242,
                     {"status": ["ISSUED", "REVOKED"], "reason": None,
                      "recipient_id": holder.id, "track_id": track.id})
        audit.record(actor, "CERT_REINSTATE", "certificate", 4242,
                     {"status": ["REVOKED", "ISSUED"],
                      "was": {"reason": "Typo", "category": "misconduct"}})
        audit.record(Actor.system(), "UPDATE", "user", holder.id,
                     {"name": ["Old Name", "Wiremu Tānekaha"], "active": [True, False]})
        db.session.commit()
        rows = _rows(start)
        described = audit_text.describe(rows)
        revoke, reinstate, rename = (described[r.id] for r in rows)

    assert revoke.sentence == "Ada Admin revoked certificate #4242 (deleted)"
    lines = {line.label: line for line in revoke.changes}
    assert (lines["Status"].before, lines["Status"].after) == ("Issued", "Revoked")
    assert "Reason" not in lines  # an empty fact is left out, never "None"
    assert lines["Recipient"].after == "Wiremu Tānekaha"
    assert lines["Track"].after == "Scaffold Safety"
    # What a reinstatement cleared reads as the values it had: no "was: ->".
    cleared = {line.label: (line.before, line.after) for line in reinstate.changes}
    assert cleared == {"Status": ("Revoked", "Issued"), "Reason": ("Typo", "(none)"),
                       "Category": ("misconduct", "(none)")}
    assert rename.sentence == "System changed person Wiremu Tānekaha"
    active = {line.label: line for line in rename.changes}["Active"]
    assert (active.before, active.after) == ("yes", "no")


def test_a_gone_actor_keeps_their_email_and_logins_name_no_resource(app, make_user):
    user = make_user(Role.STAFF, name="Sam Staff", email="sam@example.test")
    with app.app_context():
        audit.record(Actor(db.session.get(User, user.id)), "LOGIN", "user", user.id)
        db.session.commit()
        row = _rows()[-1]
        row.actor_id = None  # what ON DELETE SET NULL leaves
        text = audit_text.describe([row])[row.id]
        db.session.rollback()
    assert text.sentence == "sam@example.test logged in"


def test_a_page_of_rows_costs_one_query_per_kind_of_thing(app, make_user, make_track):
    people = [make_user(Role.STAFF) for _ in range(5)]
    track = make_track("Working at Height")
    with app.app_context():
        start = _last_seq()
        for person in people:
            actor = Actor(db.session.get(User, person.id))
            audit.record(actor, "UPDATE", "user", person.id, {"track_id": track.id})
        db.session.commit()
        rows = _rows(start)
        statements: list[str] = []
        listen = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            described = audit_text.describe(rows)
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
    assert len(statements) == 2  # the people, the track
    assert {described[r.id].changes[0].after for r in rows} == {"Working at Height"}


def test_timestamps_and_roles_read_as_words():
    from app.services.audit_text import _role, words

    assert words("2026-12-08T11:09:36.943553+00:00") == "2026-12-08 11:09 UTC"
    assert words("2026-13-45T99:99") == "2026-13-45T99:99"  # not a time after all
    assert _role("org_admin") == "Organization admin" and _role("nobody") == "nobody"
    assert words(None) == "(none)" and words("PENDING_REVIEW") == "Pending review"


def test_stored_keys_and_the_action_filter_read_as_words():
    from app.services.audit_text import ACTION_LABELS, words

    assert words("issued_in_error") == "Issued in error"
    assert words("misconduct") == "misconduct" and words("a@b_c.test") == "a@b_c.test"
    assert ACTION_LABELS["CERT_REVOKE"] == "Revoked" and ACTION_LABELS["LOGIN"] == "Logged in"


def test_ids_read_as_names_and_nothing_unchanged_or_empty_is_shown(app, make_user, make_track):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    instructor = make_user(Role.STAFF, name="Irihapeti Instructor")
    track = make_track("Scaffold Safety")
    reading, exam = (c.id for c in track.courses)
    with app.app_context():
        start = _last_seq()
        actor = Actor(db.session.get(User, admin.id))
        audit.record(actor, "UPDATE", "track", track.id,
                     {"course_order": [[reading, exam], [exam, reading]],
                      "name": ["Scaffold Safety", "Scaffold Safety"], "description": [None, ""]})
        audit.record(actor, "CREATE", "certificate", 77,
                     {"recommended_by": instructor.id, "assigned": f"track:{track.id}",
                      "notes": None})
        db.session.commit()
        rows = _rows(start)
        described = audit_text.describe(rows)
        reorder, recommended = (described[r.id] for r in rows)

    assert [(c.label, c.before, c.after) for c in reorder.changes] == [
        ("Course order", "Reading, Exam", "Exam, Reading")]
    lines = {line.label: line.after for line in recommended.changes}
    assert lines == {"Recommended by": "Irihapeti Instructor",
                     "Assigned": "track Scaffold Safety"}
