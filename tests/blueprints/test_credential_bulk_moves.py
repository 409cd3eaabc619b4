"""Bulk moves on a micro-credential's holders list: the ticked holders moved to a status,
each through change_status (one audit row and one notice per credential), with a summary
of mixed outcomes; one already in the status (or moved there a moment ago) counted
"already", not refused; admins only; each class of input answers its own status and none
a 500; two bulk moves at once move each once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, CredentialStatus, StaffMicroCredential
from app.services.context import Actor
from app.services.credentials import bulk_moves
from app.services.credentials.status import change_status
from app.services.errors import AlreadyDone, Conflict
from tests.conftest import HX

C = CredentialStatus


def _summary(response: Any) -> str:
    match = re.search(r'<p class="[^"]*bulk-summary"[^>]*>(.*?)</p>',
                      response.get_data(as_text=True), re.S)
    assert match, response.get_data(as_text=True)
    return " ".join(match.group(1).split())


def _statuses(app: Any, ids: list[int]) -> list[CredentialStatus]:
    with app.app_context():
        found = {c.id: c.status for c in db.session.scalars(
            select(StaffMicroCredential).where(StaffMicroCredential.id.in_(ids)))}
        return [found[i] for i in ids]


def _audits(app: Any, ids: list[int]) -> dict[int, int]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditLog.resource_id, func.count(AuditLog.id))
            .where(AuditLog.resource_type == "staff_micro_credential",
                   AuditLog.action == "UPDATE",
                   AuditLog.resource_id.in_([str(i) for i in ids]))
            .group_by(AuditLog.resource_id)).all()
        return {int(resource): count for resource, count in rows}


def _holders(make_user, make_credential, definition, n, status=C.NOT_STARTED):
    return [make_credential(definition, make_user(name=f"Holder {i}"), status).id
            for i in range(n)]


def test_bulk_move_reports_mixed_outcomes_and_audits_each(app, admin_client, make_user,
                                                          make_definition, make_credential):
    definition, other = make_definition("Reroofing"), make_definition("Other")
    fresh = _holders(make_user, make_credential, definition, 3)
    already = make_credential(definition, make_user(name="Keen"), C.IN_TRAINING).id
    elsewhere = make_credential(other, make_user(name="Elsewhere")).id
    path = f"/admin/micro-credentials/{definition.id}/bulk-move"
    response = admin_client.post(path, headers=HX, data={
        "to_status": "IN_TRAINING", "id": [*fresh, already, elsewhere]})
    assert response.status_code == 200
    assert "credentials-moved" in response.headers["HX-Trigger"]
    assert _summary(response) == ("3 moved to In Training, 1 already in training, 1 refused: "
                                  "It is not a holder of this credential.")
    assert _statuses(app, [*fresh, already, elsewhere]) == [C.IN_TRAINING] * 4 + [C.NOT_STARTED]
    before = _audits(app, fresh)
    assert set(before) == set(fresh)
    # A move the lifecycle refuses is counted under its reason, the rest still move.
    response = admin_client.post(path, headers=HX, data={
        "to_status": "AWARDED", "id": [*fresh[:2], already]})
    assert _summary(response) == ("0 moved to Awarded, 3 refused: A credential cannot move "
                                  "from In Training to Awarded.")
    # Nothing changed: no refresh, so the ticks and the chosen status stay for a retry.
    assert "HX-Trigger" not in response.headers
    # Moving back needs the note, as for one holder.
    response = admin_client.post(path, headers=HX, data={"to_status": "NOT_STARTED",
                                                         "id": fresh[:2]})
    assert "A note is needed" in _summary(response)
    response = admin_client.post(path, headers=HX, data={"to_status": "NOT_STARTED",
                                                         "id": fresh[:2], "note": "Wrong cohort"})
    assert _summary(response) == "2 moved to Not Started."
    assert _statuses(app, fresh) == [C.NOT_STARTED, C.NOT_STARTED, C.IN_TRAINING]


@pytest.mark.parametrize("data, words", [
    ({"to_status": "IN_TRAINING"}, "Select at least one holder"),
    ({"to_status": "FLYING", "id": "1"}, "Choose the status"),
    ({"to_status": "IN_TRAINING", "id": "x"}, "not a holder"),
    ({"to_status": "IN_TRAINING", "id": [str(i) for i in range(1, 102)]}, "At most 100"),
])
def test_refusals_are_shown_in_place(admin_client, make_definition, data, words):
    definition = make_definition()
    response = admin_client.post(f"/admin/micro-credentials/{definition.id}/bulk-move",
                                 headers=HX, data=data)
    assert response.status_code == 422 and words in _summary(response)


@pytest.mark.parametrize("who", ["manager_client", "org_admin_client", "staff_client"])
def test_only_admins_move_in_bulk(request, app, make_user, make_definition, make_credential,
                                  who):
    definition = make_definition()
    (credential,) = _holders(make_user, make_credential, definition, 1)
    client = request.getfixturevalue(who)
    response = client.post(f"/admin/micro-credentials/{definition.id}/bulk-move", headers=HX,
                           data={"to_status": "IN_TRAINING", "id": credential})
    assert response.status_code == 403
    assert _statuses(app, [credential]) == [C.NOT_STARTED]


def test_each_class_of_input_answers_its_own_status(admin_client, make_user,
                                                    make_definition, make_credential):
    definition = make_definition()
    (holder,) = _holders(make_user, make_credential, definition, 1)
    path = f"/admin/micro-credentials/{definition.id}/bulk-move"
    cases = [
        ("a valid move", path, {"to_status": "IN_TRAINING", "id": holder}, 200),
        ("already there", path, {"to_status": "IN_TRAINING", "id": holder}, 200),
        ("a refused move (counted)", path, {"to_status": "AWARDED", "id": holder}, 200),
        ("an id of nobody (counted)", path, {"to_status": "IN_TRAINING", "id": 99999}, 200),
        ("no such definition", "/admin/micro-credentials/99999/bulk-move",
         {"to_status": "IN_TRAINING", "id": holder}, 404),
        ("no status", path, {"id": holder}, 422),
        ("an unknown status", path, {"to_status": "FLYING", "id": holder}, 422),
        ("nothing ticked", path, {"to_status": "IN_TRAINING"}, 422),
        ("an unreadable id", path, {"to_status": "IN_TRAINING", "id": "1e3"}, 422),
        ("a NUL in the note", path, {"to_status": "NOT_STARTED", "id": holder,
                                     "note": "a\x00b"}, 422),
        ("a note too long", path, {"to_status": "NOT_STARTED", "id": holder,
                                   "note": "x" * 1001}, 422),
    ]
    for label, url, data, expected in cases:
        response = admin_client.post(url, headers=HX, data=data)
        assert response.status_code == expected, label


def test_already_in_the_status_is_already_done_not_refused(app, admin_user, make_user,
                                                            make_definition, make_credential):
    from app.models import User

    definition = make_definition()
    ids = _holders(make_user, make_credential, definition, 2, C.IN_TRAINING)
    with app.app_context():
        actor = Actor(user=db.session.get(User, admin_user.id))
        credential = db.session.get(StaffMicroCredential, ids[0])
        try:
            change_status(credential, C.IN_TRAINING, actor)
        except AlreadyDone as error:  # still a Conflict: 409 "conflict" for the API
            assert isinstance(error, Conflict) and error.status == 409
            assert error.to_dict()["error"]["code"] == "conflict"
        else:
            raise AssertionError("moving to the status it has should be AlreadyDone")
        outcome = bulk_moves.move_many(actor, definition, ids, C.IN_TRAINING)
        assert (outcome.moved, outcome.already, outcome.refused) == (0, 2, {})
        db.session.rollback()


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(to_status=st.one_of(st.sampled_from([s.value for s in C]), st.text(max_size=12)),
       ids=st.lists(st.one_of(st.text(max_size=12), st.integers(-3, 2**66).map(str)),
                    max_size=6),
       note=st.text(max_size=30), known=st.booleans())
def test_no_bulk_move_is_a_500(admin_client, make_definition, to_status, ids, note, known):
    path = (f"/admin/micro-credentials/{make_definition().id}/bulk-move" if known
            else "/admin/micro-credentials/99999/bulk-move")
    response = admin_client.post(path, headers=HX,
                                 data={"to_status": to_status, "id": ids, "note": note})
    assert response.status_code < 500, response.status_code


def test_two_bulk_moves_of_the_same_ten_move_each_once(app, admin_user, make_user,
                                                       make_definition, make_credential, race):
    definition = make_definition()
    ids = _holders(make_user, make_credential, definition, 10)
    responses = race(admin_user, "POST", f"/admin/micro-credentials/{definition.id}/bulk-move",
                     n=2, headers=HX, data={"to_status": "IN_TRAINING", "id": ids})
    assert [r.status_code for r in responses] == [200, 200]
    summaries = [_summary(r) for r in responses]
    moved = [int(re.match(r"(\d+) moved", s).group(1)) for s in summaries]
    assert sum(moved) == 10, summaries
    # The other counted each "already in training", never "refused".
    already = [int(m.group(1)) if (m := re.search(r"(\d+) already", s)) else 0
               for s in summaries]
    assert [m + a for m, a in zip(moved, already, strict=True)] == [10, 10], summaries
    assert not any("refused" in s for s in summaries), summaries
    assert _statuses(app, ids) == [C.IN_TRAINING] * 10
    assert _audits(app, ids) == {i: 1 for i in ids}
