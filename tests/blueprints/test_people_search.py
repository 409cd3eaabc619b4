"""One people search (users.people_matching): `%` and `_` typed in a search box match
themselves, on every list that finds people by name or email."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app.models import CertificateType, CredentialStatus, Role

# name typed -> (the person it must find, the look-alike a wildcard would also find)
SEARCHES = {
    "100%": ("Pat 100% Sure", "Pat 1000 Sure"),
    "o_a": ("Jo_Ann Literal", "JoXAnn Wildcard"),
}


@pytest.fixture
def people(app, org, make_user, make_definition, make_credential, make_track, issue):
    """The four people, each holding a credential, an issued certificate and an
    enrolment on one track (another track has no one: its enrol candidates)."""
    from app.extensions import db
    from app.models import CertificationTrack, User
    from app.services import training
    from app.services.context import Actor

    definition = make_definition("Scaffold safety")
    track = make_track("Searchable track", exam=False)
    other = make_track("Empty track", exam=False)
    for wanted, lookalike in SEARCHES.values():
        for name in (wanted, lookalike):
            user = make_user(Role.STAFF, org, name=name)
            make_credential(definition, user, CredentialStatus.IN_TRAINING)
            issue(user, track=track, type_=CertificateType.COMPLETION)
            with app.app_context():
                training.enrol(db.session.get(User, user.id),
                               db.session.get(CertificationTrack, track.id), Actor.system())
                db.session.commit()
    return {"definition": definition, "track": track, "other": other, "org": org}


def _lists(people):
    d, t, o, org = (people["definition"].id, people["track"].id, people["other"].id,
                    people["org"].id)
    return {
        "admin users": "/admin/users?q={q}",
        "certificates list": "/admin/certificates?status=issued&q={q}",
        "micro-credential holders": f"/admin/micro-credentials/{d}/staff?q={{q}}",
        "micro-credential candidates": f"/admin/micro-credentials/{d}/candidates?q={{q}}",
        "org matrix": f"/org?organization_id={org}&q={{q}}",
        "track learners": f"/admin/tracks/{t}?q={{q}}",
        "enrol candidates": f"/admin/tracks/{o}/candidates?q={{q}}",
        "issue-modal recipients": "/admin/certificates/recipients?q={q}",
        "users API": "/api/admin/users?q={q}",
    }


@pytest.mark.parametrize("typed", list(SEARCHES))
def test_percent_and_underscore_match_literally_on_every_people_list(admin_client, people,
                                                                     typed):
    wanted, lookalike = SEARCHES[typed]
    for name, url in _lists(people).items():
        response = admin_client.get(url.format(q=quote(typed)),
                                    headers={"HX-Request": "true"}
                                    if "candidates" in url or "recipients" in url else {})
        assert response.status_code == 200, (name, response.status_code)
        text = response.get_data(as_text=True)
        assert wanted in text, f"{name}: {typed!r} did not find {wanted!r}"
        assert lookalike not in text, f"{name}: {typed!r} matched {lookalike!r} as a wildcard"
