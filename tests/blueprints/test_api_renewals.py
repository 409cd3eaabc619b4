"""/api/admin/renewal-campaigns: start a track's campaign, list them, read one with what
it led to; admins and managers as on the track's page, one campaign per track per day."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.models import Certificate, RenewalCampaign, RenewalInvitation, Role
from app.services import dates


def _expiring(app: Any, certificate: Any, days: int) -> None:
    with app.app_context():
        db.session.get(Certificate, certificate.id).expires_at = dates.today() + timedelta(
            days=days)
        db.session.commit()


def _count(app: Any, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id))) or 0


def test_start_list_and_read_with_counts(app, client, bearer, make_user, make_track, issue,
                                         org):
    track = make_track("Renew API", exam=False)
    soon, later = make_user(Role.STAFF, org), make_user(Role.STAFF, org)
    _expiring(app, issue(soon, track=track), 10)
    _expiring(app, issue(later, track=track), 200)
    headers = bearer(make_user(Role.MANAGER))
    response = client.post(f"/api/admin/tracks/{track.id}/renewal-campaigns", headers=headers,
                           json={"withinDays": 30})
    assert response.status_code == 201, response.get_json()
    campaign_id = response.get_json()["id"]
    # The job ran inline (no Redis in tests): one holder invited.
    body = client.get(f"/api/admin/renewal-campaigns/{campaign_id}", headers=headers).get_json()
    assert body["status"] == "done" and body["withinDays"] == 30
    assert body["counts"] == {"invited": 1, "reEnrolled": 0, "renewed": 0}
    listed = client.get(f"/api/admin/renewal-campaigns?trackId={track.id}",
                        headers=headers).get_json()
    assert [c["id"] for c in listed["data"]] == [campaign_id]
    assert client.get(f"/api/admin/renewal-campaigns?trackId={track.id + 1}",
                      headers=headers).get_json()["data"] == []
    again = client.post(f"/api/admin/tracks/{track.id}/renewal-campaigns", headers=headers,
                        json={"withinDays": 60})
    assert again.status_code == 409 and "started today already" in again.get_json()[
        "error"]["message"]


def test_bad_input_and_who_may(client, bearer, make_user, make_track, org):
    track = make_track("Renew Refusals", exam=False)
    url = f"/api/admin/tracks/{track.id}/renewal-campaigns"
    admin = bearer(make_user(Role.ADMIN))
    for body in ({}, {"withinDays": 0}, {"withinDays": 366}, {"withinDays": "x"},
                 {"withinDays": True}, {"withinDays": 30, "colour": 1}):
        response = client.post(url, headers=admin, json=body)
        assert response.status_code == 422, body
        assert set(response.get_json()["error"]["fields"]) <= {"withinDays", "colour"}
    for bad in ("abc", "0", "-1", "1.5"):  # never read as "every track"
        response = client.get(f"/api/admin/renewal-campaigns?trackId={bad}", headers=admin)
        assert response.status_code == 422 and "trackId" in response.get_json()[
            "error"]["fields"], bad
    assert client.post("/api/admin/tracks/999999/renewal-campaigns", headers=admin,
                       json={"withinDays": 30}).status_code == 404
    assert client.get("/api/admin/renewal-campaigns/999999", headers=admin).status_code == 404
    for role in (Role.STAFF, Role.ORG_ADMIN):
        headers = bearer(make_user(role, org))
        assert client.post(url, headers=headers, json={"withinDays": 30}).status_code == 403
        assert client.get("/api/admin/renewal-campaigns", headers=headers).status_code == 403


def test_an_inactive_track_is_refused(client, bearer, make_user, make_track):
    track = make_track("Closed", exam=False, active=False)
    response = client.post(f"/api/admin/tracks/{track.id}/renewal-campaigns",
                           headers=bearer(make_user(Role.ADMIN)), json={"withinDays": 30})
    assert response.status_code == 422 and "inactive" in response.get_json()["error"]["message"]


def test_parallel_starts_run_one_campaign(app, bearer, make_user, make_track, issue, org,
                                          race):
    """Ten starts at once (a double-click, two admins): one campaign, its job run once,
    each holder invited once; the others are told it started already (409)."""
    track = make_track("Renew Race", exam=False)
    for _ in range(3):
        _expiring(app, issue(make_user(Role.STAFF, org), track=track), 5)
    responses = race(None, "POST", f"/api/admin/tracks/{track.id}/renewal-campaigns",
                     headers=bearer(make_user(Role.ADMIN)), json={"withinDays": 30})
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}
    assert _count(app, RenewalCampaign) == 1
    assert _count(app, RenewalInvitation) == 3
