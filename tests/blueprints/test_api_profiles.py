"""Earner profiles in the JSON API: the caller's own profile only (read, publish,
unpublish, new link, the organization choice), and the public profile as JSON
(anonymous, only while published); double requests and races as on /me."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, EarnerProfile, Organization, Role, User
from app.services import certificates
from app.services.context import Actor

ME = "/api/me/profile"


def _profiles(app: Any, user: User) -> list[EarnerProfile]:
    with app.app_context():
        return list(db.session.scalars(select(EarnerProfile).where(
            EarnerProfile.user_id == user.id).order_by(EarnerProfile.id)))


def _public(url: str) -> str:
    return "/api/public/profiles/" + url.rsplit("/", 1)[1]


def test_publish_read_and_unpublish_own_profile(app, client, new_client, bearer, staff_user,
                                                make_track, issue, org):
    headers = bearer(staff_user)
    assert client.get(ME, headers=headers).get_json()["published"] is False
    certificate = issue(staff_user, track=make_track("Roof API"))
    published = client.post(f"{ME}/publish", headers=headers, json={"showOrganization": True})
    assert published.status_code == 201, published.get_json()
    body = published.get_json()
    assert body["published"] and body["showOrganization"] and "/p/" in body["url"]
    assert [e["number"] for e in body["entries"]] == [certificate.number]
    anonymous = new_client()
    public = anonymous.get(_public(body["url"]))
    assert public.status_code == 200 and public.headers["Cache-Control"] == "no-store"
    data = public.get_json()
    assert data["holder"] == {"name": staff_user.name, "organization": org.name}
    assert data["entries"][0]["verifyUrl"].endswith(certificate.verification_id)
    assert "email" not in str(data) and staff_user.email not in str(data)
    hidden = client.patch(ME, headers=headers, json={"showOrganization": False})
    assert hidden.status_code == 200
    assert anonymous.get(_public(body["url"])).get_json()["holder"]["organization"] is None
    # A second publish is a conflict; a new link retires the old one at once.
    assert client.post(f"{ME}/publish", headers=headers).status_code == 409
    renewed = client.post(f"{ME}/new-link", headers=headers).get_json()
    assert renewed["url"] != body["url"]
    assert anonymous.get(_public(body["url"])).status_code == 404
    assert client.post(f"{ME}/unpublish", headers=headers).status_code == 200
    assert anonymous.get(_public(renewed["url"])).status_code == 404
    assert client.post(f"{ME}/unpublish", headers=headers).status_code == 409
    assert client.patch(ME, headers=headers, json={"showOrganization": True}).status_code == 404
    assert len(_profiles(app, staff_user)) == 2


def test_only_valid_entries_and_nothing_when_down(app, client, new_client, bearer,
                                                  staff_user, make_track, issue, org):
    headers = bearer(staff_user)
    kept = issue(staff_user, track=make_track("Kept"))
    revoked = issue(staff_user, track=make_track("Revoked"))
    with app.app_context():
        certificates.revoke(db.session.get(Certificate, revoked.id), Actor.system(), "Wrong")
        db.session.commit()
    url = client.post(f"{ME}/publish", headers=headers).get_json()["url"]
    anonymous = new_client()
    numbers = [e["number"] for e in anonymous.get(_public(url)).get_json()["entries"]]
    assert numbers == [kept.number]
    with app.app_context():
        db.session.get(Organization, org.id).active = False
        db.session.commit()
    assert anonymous.get(_public(url)).status_code == 404
    assert anonymous.get("/api/public/profiles/not-a-slug").status_code == 404
    assert anonymous.get("/api/public/profiles/" + "x" * 500).status_code == 404


def test_own_profile_only_and_bad_input(app, client, bearer, staff_user, make_user):
    admin = bearer(make_user(Role.ADMIN))
    # An admin's token publishes the admin's own profile: there is no one else's to name.
    assert client.post(f"{ME}/publish", headers=admin, json={"userId": staff_user.id}
                       ).status_code == 422
    assert client.post(f"{ME}/publish", headers=admin).status_code == 201
    assert _profiles(app, staff_user) == []
    headers = bearer(staff_user)
    for body in ({"showOrganization": "yes"}, {"showOrganization": 1}, {}, {"other": True}):
        assert client.patch(ME, headers=headers, json=body).status_code == 422, body
    assert client.post(f"{ME}/publish", headers=headers, json={"showOrganization": "y"}
                       ).status_code == 422
    assert client.post(f"{ME}/publish", headers=headers, data="[1]",
                       content_type="application/json").status_code == 422
    assert client.get(ME).status_code == 401
    assert client.post(f"{ME}/publish").status_code == 401


def test_parallel_publishes_make_one_profile(app, bearer, staff_user, race):
    responses = race(None, "POST", f"{ME}/publish", headers=bearer(staff_user))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}
    assert len(_profiles(app, staff_user)) == 1


def test_parallel_unpublishes_take_it_down_once(app, client, bearer, staff_user, race):
    headers = bearer(staff_user)
    client.post(f"{ME}/publish", headers=headers)
    responses = race(None, "POST", f"{ME}/unpublish", headers=headers)
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 9}
    (profile,) = _profiles(app, staff_user)
    assert not profile.published
