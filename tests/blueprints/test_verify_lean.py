"""The public check's hot path costs no more than it must (issue 16): a page rendered for
an anonymous visitor reads the certificate once and never opens an ORM session; the
Open Graph card's badge image comes from that one read."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from app.extensions import db
from app.models import Certificate, CertificateType, CertificationTrack, Course, User
from app.services import certificates, profiles
from app.services.context import Actor


def _issue(app: Flask, user: User, *, track: CertificationTrack | None = None,
           course: Course | None = None,
           type_: CertificateType = CertificateType.COMPLETION) -> int:
    with app.app_context():
        certificate = certificates.issue_certificate(
            Actor.system(), recipient=db.session.get(User, user.id), type_=type_,
            track=db.session.get(CertificationTrack, track.id) if track else None,
            course=db.session.get(Course, course.id) if course else None)
        db.session.commit()
        return certificate.id


def _verification_id(app: Flask, certificate_id: int) -> str:
    with app.app_context():
        return db.session.get(Certificate, certificate_id).verification_id


def _image(app: Flask, certificate_id: int) -> str:
    with app.app_context(), app.test_request_context():
        return profiles.certificate_image_url(db.session.get(Certificate, certificate_id))


@pytest.fixture
def statements(app: Flask) -> Any:
    """The SQL the app runs from now on (the check log's writer thread aside)."""
    import threading

    seen: list[str] = []
    me = threading.get_ident()

    def note(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if threading.get_ident() == me:
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


@pytest.fixture
def sessions_made(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the ORM sessions the scoped session makes."""
    made: list[int] = []
    registry = db.session.registry
    create = registry.createfunc

    def counting() -> Any:
        made.append(1)
        return create()

    monkeypatch.setattr(registry, "createfunc", counting)
    return made


@pytest.mark.parametrize("kind", ["track", "course"])
def test_an_anonymous_page_reads_the_certificate_once_and_cards_its_badge(
        app, new_client, make_user, make_track, statements, kind):
    holder = make_user(name="Aroha Whitlock")
    track = make_track("Lean Track", validity_months=24)
    with app.app_context():
        course = db.session.get(CertificationTrack, track.id).courses[0]
    certificate_id = (_issue(app, holder, track=track) if kind == "track"
                      else _issue(app, holder, course=course, type_=CertificateType.MASTERY))
    verification_id = _verification_id(app, certificate_id)
    expected = _image(app, certificate_id)
    statements.clear()
    html = new_client().get(f"/verify/{verification_id}").get_data(as_text=True)
    reads = [s for s in statements if "certificates" in s.lower()]
    with app.app_context():
        # On PostgreSQL the record is read on a kept driver connection, outside
        # SQLAlchemy's events; on SQLite through them. The card's image needs no more.
        seen_reads = 0 if db.engine.dialect.name == "postgresql" else 1
    assert len(reads) == seen_reads, reads
    image = re.search(r'<meta property="og:image" content="([^"]+)"', html).group(1)
    assert image == expected
    assert f"/achievements/{kind}/" in image


def test_a_public_check_makes_no_orm_session(app, new_client, make_user, make_track,
                                             sessions_made):
    certificate_id = _issue(app, make_user(), track=make_track("Sessionless Track"))
    verification_id = _verification_id(app, certificate_id)
    visitor = new_client()
    sessions_made.clear()
    for path in (f"/verify/{verification_id}", f"/verify/{verification_id}?format=json",
                 f"/verify/{verification_id}"):  # a miss, the JSON, then the cached page
        assert visitor.get(path).status_code == 200
    assert sessions_made == []


def test_a_request_that_uses_the_orm_still_ends_its_transaction(app, client, admin_user,
                                                                sessions_made):
    """The boundary's shortcut is only for requests that never opened a session."""
    client.login(admin_user.email)
    sessions_made.clear()
    assert client.get("/admin/certificates").status_code == 200
    assert sessions_made  # the list reads through the ORM, and its session was ended
    with app.app_context():
        assert not db.session.registry().in_transaction()


@pytest.mark.parametrize(("accept", "json_answer"), [
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),  # a browser
    ("*/*", False),
    ("", False),
    ("application/json", True),
    ("Application/JSON", True),
    ("application/*", True),
    ("text/html;q=0.5, application/json", True),
    ("text/html, application/json;q=0.5", False),
])
def test_the_accept_header_chooses_the_page_or_json_as_before(app, new_client, make_user,
                                                              make_track, accept,
                                                              json_answer):
    certificate_id = _issue(app, make_user(), track=make_track("Accept Track"))
    response = new_client().get(f"/verify/{_verification_id(app, certificate_id)}",
                                headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert (response.mimetype == "application/json") is json_answer
