"""/api/admin/certificates: seed 004's contract."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Certificate, CertificateStatus, CertificateType

BASE = "/api/admin/certificates"


@pytest.fixture
def api(admin_user, bearer):
    return bearer(admin_user)


def test_issue_then_list_get_revoke_reinstate(client, api, make_user, make_track):
    track = make_track()
    learner = make_user(name="Aroha Api")
    issued = client.post(BASE, headers=api, json={
        "user_id": learner.id, "course_id": track.courses[0].id, "type": "completion",
        "notes": "API", "notify": False})
    assert issued.status_code == 201, issued.get_json()
    body = issued.get_json()
    assert body["number"].startswith("CERT-") and body["status"] == "ISSUED"
    assert body["recipient"]["name"] == "Aroha Api" and body["verify_url"].startswith("http")
    assert set(body) >= {"id", "number", "type", "status", "recipient", "course", "issued_at",
                         "verify_url"}
    duplicate = client.post(BASE, headers=api, json={
        "user_id": learner.id, "course_id": track.courses[0].id, "type": "completion"})
    assert duplicate.status_code == 409
    assert duplicate.get_json()["error"]["message"] == "User already has this certificate"
    listed = client.get(f"{BASE}?q=aroha&status=issued&type=completion", headers=api).get_json()
    assert listed["pagination"]["total"] == 1
    one = client.get(f"{BASE}/{body['id']}", headers=api).get_json()
    assert one["number"] == body["number"]
    no_reason = client.post(f"{BASE}/{body['id']}/revoke", headers=api, json={})
    assert no_reason.status_code == 422
    revoked = client.post(f"{BASE}/{body['id']}/revoke", headers=api,
                          json={"reason": "Wrong course", "category": "issued_in_error"})
    assert revoked.get_json()["status"] == "REVOKED"
    assert revoked.get_json()["revocation"]["category"] == "issued_in_error"
    assert client.post(f"{BASE}/{body['id']}/reinstate", headers=api).get_json()[
        "status"] == "ISSUED"
    pdf = client.get(f"{BASE}/{body['id']}/pdf", headers=api)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


def test_pending_shape_approve_and_reject(app, client, api, make_user, make_track):
    track = make_track()
    with app.app_context():
        rows = [Certificate(type=CertificateType.TEACHING, status=CertificateStatus.PENDING,
                            recipient_id=make_user().id, course_id=track.courses[0].id,
                            average_rating=4.5, sessions_attended=3) for _ in range(2)]
        db.session.add_all(rows)
        db.session.commit()
        ids = [r.id for r in rows]
    pending = client.get(f"{BASE}/pending", headers=api).get_json()["certificates"]
    assert len(pending) == 2
    first = pending[0]
    assert set(first) == {"id", "type", "recipient", "course", "track", "recommended_by",
                          "recommended_at", "supporting"}
    assert first["course"] == {"id": track.courses[0].id, "title": track.courses[0].title}
    assert first["track"] is None
    assert first["type"] == "teaching" and first["supporting"]["avg_rating"] == 4.5
    assert set(first["recipient"]) == {"id", "name", "avatar"}
    approved = client.post(f"{BASE}/{ids[0]}/approve", headers=api, json={"notify": False})
    assert approved.get_json()["status"] == "ISSUED"
    again = client.post(f"{BASE}/{ids[0]}/approve", headers=api)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    assert "Already approved" in again.get_json()["error"]["message"]
    assert client.post(f"{BASE}/{ids[1]}/reject", headers=api, json={}).status_code == 422
    assert client.post(f"{BASE}/{ids[1]}/reject", headers=api,
                       json={"reason": "No"}).get_json()["status"] == "REJECTED"


def test_validation_and_404(client, api):
    bad = client.post(BASE, headers=api, json={"user_id": "x", "type": "gold"})
    assert bad.status_code == 422 and {"user_id", "type"} <= set(bad.get_json()["error"]["fields"])
    assert client.get(f"{BASE}/999999", headers=api).status_code == 404
    assert client.get(f"{BASE}/999999/pdf", headers=api).status_code == 404


def test_pending_track_certificate_is_under_track_not_course(app, client, api, make_user,
                                                            make_track):
    """Seed 004: `course` is {id, title} of a course; a track certificate names its track."""
    track = make_track("Go-live Track")
    with app.app_context():
        row = Certificate(type=CertificateType.COMPLETION, status=CertificateStatus.PENDING,
                          recipient_id=make_user(name="Tama Track").id, track_id=track.id,
                          progress_percent=100.0)
        db.session.add(row)
        db.session.commit()
    [one] = client.get(f"{BASE}/pending", headers=api).get_json()["certificates"]
    assert one["course"] is None
    assert one["track"] == {"id": track.id, "name": "Go-live Track"}
    assert one["type"] == "completion" and one["recipient"]["name"] == "Tama Track"
    assert one["supporting"] == {"progress_percent": 100.0, "sessions_attended": 0}


def _pending(app, user_id, course_id):
    with app.app_context():
        row = Certificate(type=CertificateType.MASTERY, status=CertificateStatus.PENDING,
                          recipient_id=user_id, course_id=course_id)
        db.session.add(row)
        db.session.commit()
        return row.id


def test_status_rejected_lists_rejections_and_unknown_status_is_422(app, client, api,
                                                                    make_user, make_track):
    track = make_track()
    learner = make_user(name="Rewi Rejected")
    rejected_id = _pending(app, learner.id, track.courses[0].id)
    pending_id = _pending(app, make_user(name="Pita Pending").id, track.courses[0].id)
    answer = client.post(f"{BASE}/{rejected_id}/reject", headers=api,
                         json={"reason": "Assessment evidence missing."})
    assert answer.status_code == 200
    assert answer.get_json()["rejection_reason"] == "Assessment evidence missing."
    for status in ("rejected", "REJECTED", "Rejected"):
        listed = client.get(f"{BASE}?status={status}", headers=api).get_json()
        assert [c["id"] for c in listed["data"]] == [rejected_id], status
        assert listed["data"][0]["status"] == "REJECTED"
        assert listed["data"][0]["rejection_reason"] == "Assessment evidence missing."
    assert [c["id"] for c in client.get(f"{BASE}?status=pending", headers=api)
            .get_json()["data"]] == [pending_id]
    every = client.get(BASE, headers=api).get_json()
    assert {c["id"] for c in every["data"]} == {rejected_id, pending_id}
    for bad in ("bogus", "approved", "pending,issued", "expired"):
        refused = client.get(f"{BASE}?status={bad}", headers=api)
        assert refused.status_code == 422, bad
        error = refused.get_json()["error"]
        assert error["code"] == "validation_failed" and "status" in error["fields"], bad
        assert "rejected" in error["fields"]["status"][0]


def test_only_admins_list_rejections(client, bearer, staff_user, make_user):
    from app.models import Role

    for user in (staff_user, make_user(Role.MANAGER), make_user(Role.ORG_ADMIN)):
        answer = client.get(f"{BASE}?status=rejected", headers=bearer(user))
        assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "forbidden"



def test_a_list_page_reads_the_people_it_shows_and_not_the_signed_credential(
        app, client, api, make_user, make_track, issue):
    """The API's pages (numbered and by cursor) read a person's id, name and email, not
    their password hash or settings, and leave the signed credential unread (issue 16);
    the answer still names every person."""
    from sqlalchemy import event

    track = make_track()
    for n in (1, 2):
        issue(make_user(name=f"Listed {n}", email=f"listed{n}@example.test"), track=track)
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # noqa: ANN001, ANN002
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        first = client.get(f"{BASE}?status=issued&limit=1", headers=api).get_json()
        after = first["pagination"]["next"]
        second = client.get(f"{BASE}?status=issued&limit=1&after={after}",
                            headers=api).get_json()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    people = {row["recipient"]["email"]: row["recipient"]["name"]
              for body in (first, second) for row in body["data"]}
    assert people == {"listed1@example.test": "Listed 1", "listed2@example.test": "Listed 2"}
    pages = [s for s in statements if "FROM certificates" in s and "count(" not in s]
    assert len(pages) >= 2 and all("password_hash" not in s and "credential_jws" not in s
                                   for s in pages)
