"""Earner profiles: publish from /me, the public page at /p/<slug> (valid certificates
and awarded micro-credentials only, nothing else about the holder), Open Graph cards on
it and on /verify, embed snippets, unpublish at once, slugs never reused, down for
deactivated people and organizations, no N+1, double-clicks and races."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from app.extensions import db
from app.models import (
    AuditLog,
    Certificate,
    CredentialStatus,
    EarnerProfile,
    Organization,
    Role,
    User,
)
from app.services import certificates
from app.services.context import Actor
from tests.conftest import HX

LINK = re.compile(r'id="profile-link"[^>]*>(http[^<]+)</a>')


def _publish(client: Any, **data: Any) -> str:
    response = client.post("/me/profile/publish", data=data, headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    match = LINK.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _profiles(app: Any, user: User) -> list[EarnerProfile]:
    with app.app_context():
        return list(db.session.scalars(select(EarnerProfile).where(
            EarnerProfile.user_id == user.id).order_by(EarnerProfile.id)))


def test_off_by_default_and_published_from_me(app, staff_client, staff_user, make_track,
                                              issue, new_client):
    me = staff_client.get("/me").get_data(as_text=True)
    assert "Your profile is not published" in me and 'id="publish-profile"' in me
    assert _profiles(app, staff_user) == []
    track = make_track("Roof Safety")
    certificate = issue(staff_user, track=track)
    url = _publish(staff_client)
    assert url.startswith(app.config["PUBLIC_BASE_URL"].rstrip("/") + "/p/")
    slug = url.rsplit("/", 1)[1]
    assert len(slug) >= 22  # 128 random bits

    anonymous = new_client()
    page = anonymous.get(_path(url))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Sam Staff" in html and certificate.number in html
    assert f"/verify/{certificate.verification_id}" in html
    assert staff_user.email not in html  # nothing else about them
    assert "Acme Roofing" not in html  # no organization unless they choose
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Robots-Tag"] == "noindex"
    assert "Set-Cookie" not in page.headers  # starts no session
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    image = re.search(r'<meta property="og:image" content="([^"]+)"', html).group(1)
    assert image == f"{base}/achievements/track/{track.id}/completion/image.png"
    assert anonymous.get(_path(image)).status_code == 200
    assert re.search(r'<meta property="og:title" content="Sam Staff', html)
    assert '<meta name="twitter:card"' in html
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.resource_type == "earner_profile")) == 1


def test_showing_the_organization_is_the_holders_choice(app, staff_client, staff_user,
                                                        new_client):
    url = _publish(staff_client, show_organization="1")
    assert "Acme Roofing" in new_client().get(_path(url)).get_data(as_text=True)
    staff_client.post("/me/profile/organization", data={}, headers=HX)
    assert "Acme Roofing" not in new_client().get(_path(url)).get_data(as_text=True)


def test_unpublish_takes_it_down_at_once_and_slugs_are_never_reused(
        app, staff_client, staff_user, new_client):
    first = _publish(staff_client)
    anonymous = new_client()
    assert anonymous.get(_path(first)).status_code == 200
    response = staff_client.post("/me/profile/unpublish", headers=HX)
    assert response.status_code == 200
    assert "Your profile is not published" in response.get_data(as_text=True)
    assert anonymous.get(_path(first)).status_code == 404
    second = _publish(staff_client)
    assert second != first
    assert anonymous.get(_path(first)).status_code == 404
    assert anonymous.get(_path(second)).status_code == 200
    # "New link": the current one is 404 at once, the new one works.
    response = staff_client.post("/me/profile/new-link", headers=HX)
    third = LINK.search(response.get_data(as_text=True)).group(1)
    assert third not in (first, second)
    assert anonymous.get(_path(second)).status_code == 404
    assert anonymous.get(_path(third)).status_code == 200
    slugs = [p.slug for p in _profiles(app, staff_user)]
    assert len(set(slugs)) == 3 and sum(p.published for p in _profiles(app, staff_user)) == 1


def test_only_valid_certificates_and_awarded_credentials_are_listed(
        app, staff_client, staff_user, make_track, issue, make_definition, make_credential,
        new_client):
    valid = issue(staff_user, track=make_track("Valid Track"))
    revoked = issue(staff_user, track=make_track("Revoked Track"))
    expired = issue(staff_user, track=make_track("Expired Track"))
    replaced = issue(staff_user, track=make_track("Reissued Track"))
    with app.app_context():
        certificates.revoke(db.session.get(Certificate, revoked.id), Actor.system(), "Wrong")
        db.session.get(Certificate, expired.id).expires_at = date.today() - timedelta(days=1)
        replacement = certificates.reissue(db.session.get(Certificate, replaced.id),
                                           Actor.system())
        replacement_number = replacement.number
        db.session.commit()
    awarded = make_credential(make_definition("Reclad Awarded"), staff_user,
                              CredentialStatus.AWARDED)
    make_credential(make_definition("Still Training"), staff_user, CredentialStatus.IN_TRAINING)
    html = new_client().get(_path(_publish(staff_client))).get_data(as_text=True)
    assert valid.number in html and replacement_number in html
    for gone in (revoked, expired, replaced):
        assert gone.number not in html
    assert "Reclad Awarded" in html and "Still Training" not in html
    assert f"/achievements/micro-credential/{awarded.definition_id}/image.png" in html


def test_down_while_the_holder_or_their_organization_is_deactivated(
        app, staff_client, staff_user, org, new_client):
    path = _path(_publish(staff_client))
    anonymous = new_client()
    with app.app_context():
        db.session.get(Organization, org.id).active = False
        db.session.commit()
    assert anonymous.get(path).status_code == 404
    with app.app_context():
        db.session.get(Organization, org.id).active = True
        db.session.commit()
    assert anonymous.get(path).status_code == 200
    with app.app_context():
        db.session.get(User, staff_user.id).active = False
        db.session.commit()
    assert anonymous.get(path).status_code == 404


def test_the_listing_has_no_n_plus_one(app, staff_client, staff_user, make_track, issue,
                                       make_definition, make_credential, new_client):
    path = _path(_publish(staff_client))
    anonymous = new_client()

    def statements() -> int:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert anonymous.get(path).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    issue(staff_user, track=make_track("One"))
    make_credential(make_definition("Cred One"), staff_user, CredentialStatus.AWARDED)
    anonymous.get(path)  # warm caches (keys, config)
    few = statements()
    for n in range(4):
        issue(staff_user, track=make_track(f"More {n}"))
        make_credential(make_definition(f"Cred More {n}"), staff_user, CredentialStatus.AWARDED)
    assert statements() == few


def test_verify_page_previews_with_the_badge_image(app, staff_user, make_track, issue,
                                                   new_client):
    track = make_track("Preview Track")
    certificate = issue(staff_user, track=track)
    html = new_client().get(f"/verify/{certificate.verification_id}").get_data(as_text=True)
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    assert (f'<meta property="og:image" content="{base}/achievements/track/{track.id}'
            '/completion/image.png">') in html
    assert f'<meta property="og:title" content="Certificate {certificate.number}' in html
    assert f'<meta property="og:url" content="{base}/verify/{certificate.verification_id}">' \
        in html
    assert "og:image" not in new_client().get("/verify/nothing-here").get_data(as_text=True)


def test_the_twitter_card_is_large_with_a_certificate_image_and_plain_without(
        app, staff_client, staff_user, make_user, org, make_track, issue, new_client):
    card = re.compile(r'<meta name="twitter:card" content="([^"]+)">')
    issue(staff_user, track=make_track("Card Track"))
    html = new_client().get(_path(_publish(staff_client))).get_data(as_text=True)
    assert '<meta name="twitter:image" content="' in html
    assert card.findall(html) == ["summary_large_image"]
    nobody = new_client()  # published, but nothing to show: no image, the plain card
    nobody.login(make_user(Role.STAFF, org, name="Noah None").email)
    html = new_client().get(_path(_publish(nobody))).get_data(as_text=True)
    assert "og:image" not in html and "twitter:image" not in html
    assert card.findall(html) == ["summary"]


def test_me_offers_an_embed_snippet_per_valid_certificate(app, staff_client, staff_user,
                                                          make_track, issue):
    certificate = issue(staff_user, track=make_track("Embed Track"))
    html = staff_client.get("/me").get_data(as_text=True)
    snippet = re.search(rf'<textarea id="embed-{certificate.id}"[^>]*>([^<]+)</textarea>',
                        html).group(1)
    assert f"/verify/{certificate.verification_id}&#34;" in snippet  # escaped markup
    assert "<script" not in snippet and "iframe" not in snippet


def test_double_click_publishes_once_and_unpublish_twice_is_a_notice(
        app, staff_client, staff_user):
    _publish(staff_client)
    again = staff_client.post("/me/profile/publish", headers=HX)
    assert again.status_code == 200 and "published already" in again.get_data(as_text=True)
    staff_client.post("/me/profile/unpublish", headers=HX)
    again = staff_client.post("/me/profile/unpublish", headers=HX)
    assert again.status_code == 200 and "not published" in again.get_data(as_text=True)
    assert len(_profiles(app, staff_user)) == 1


def test_parallel_publishes_make_one_profile(app, staff_user, race):
    responses = race(staff_user, "POST", "/me/profile/publish", headers=HX)
    assert all(r.status_code == 200 for r in responses)
    assert len(_profiles(app, staff_user)) == 1


def test_parallel_unpublishes_take_it_down_once(app, staff_client, staff_user, race):
    _publish(staff_client)
    responses = race(staff_user, "POST", "/me/profile/unpublish", headers=HX)
    assert all(r.status_code == 200 for r in responses)
    (profile,) = _profiles(app, staff_user)
    assert not profile.published
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.resource_type == "earner_profile")) == 2  # publish + one unpublish


def test_controls_need_a_login(client):
    for path in ("/me/profile/publish", "/me/profile/unpublish", "/me/profile/new-link",
                 "/me/profile/organization"):
        response = client.post(path, headers={"X-CSRFToken": client.csrf_token()})
        assert response.status_code in (302, 401), path
    # Nobody has a profile: nothing to find.
    assert client.get("/p/anything").status_code == 404


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(slug=st.text(min_size=1, max_size=120).filter(lambda s: "/" not in s))
def test_any_slug_is_a_404_never_a_500(client, slug):
    from urllib.parse import quote

    response = client.get("/p/" + quote(slug, safe=""))
    assert response.status_code in (400, 404), response.status_code


def test_a_certificate_needing_re_certification_is_not_listed(app, staff_client, staff_user,
                                                              make_track, issue, new_client):
    from app.models import CertificationTrack
    from app.services import training

    track = make_track("Major Track")
    old = issue(staff_user, track=track)
    path = _path(_publish(staff_client))
    assert old.number in new_client().get(path).get_data(as_text=True)
    with app.app_context():  # a new major version, no grace: it needs re-certification
        training.bump_version(db.session.get(CertificationTrack, track.id), Actor.system(),
                              major=True)
        db.session.commit()
    assert old.number not in new_client().get(path).get_data(as_text=True)
