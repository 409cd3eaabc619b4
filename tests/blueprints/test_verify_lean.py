"""The public check's hot path costs no more than it must (issue 16): a page rendered for
an anonymous visitor reads the certificate once and never opens an ORM session; the
Open Graph card's badge image comes from that one read."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select
from werkzeug.http import parse_date

from app.blueprints.verify import lean
from app.extensions import db
from app.models import (
    Certificate,
    CertificateType,
    CertificateVerification,
    CertificationTrack,
    Course,
    User,
)
from app.services import certificates, profiles, verification_log
from app.services.context import Actor


def _issue(app: Flask, user: User, *, track: CertificationTrack | None = None,
           course: Course | None = None,
           type_: CertificateType = CertificateType.COMPLETION,
           issued_on: date | None = None) -> int:
    with app.app_context():
        certificate = certificates.issue_certificate(
            Actor.system(), recipient=db.session.get(User, user.id), type_=type_,
            track=db.session.get(CertificationTrack, track.id) if track else None,
            course=db.session.get(Course, course.id) if course else None,
            issued_on=issued_on)
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


# --- The lean path (app/blueprints/verify/lean.py) answers as the Flask route does --------

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# Headers whose value is a time: equal to the second, or apart by the seconds between the
# two requests (a rate-limit window starts at an address's first request) and one more
# across a second's edge.
TIMES = {"Date", "X-RateLimit-Reset", "Retry-After"}
FROZEN = datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer's time (iat, checked_at) fixed, so both ways sign the same payload."""
    monkeypatch.setattr("app.services.verification.utcnow", lambda: FROZEN)


@pytest.fixture
def world(app: Flask, make_user: Any, make_track: Any) -> dict[str, str]:
    """Verification ids of a certificate in each public standing."""
    track = make_track("Lean Compare Track", validity_months=24)
    valid, revoked, expired, superseded = (
        _issue(app, make_user(name=f"Tama Ngata {n}"), track=track, issued_on=issued_on)
        for n, issued_on in enumerate((None, None, date(2020, 1, 6), None)))
    with app.app_context():
        certificates.revoke(db.session.get(Certificate, revoked), Actor.system(),
                            "Private reason", "misconduct")
        certificates.reissue(db.session.get(Certificate, superseded), Actor.system())
        db.session.commit()
    ids = {name: _verification_id(app, each) for name, each in
           (("valid", valid), ("revoked", revoked), ("expired", expired),
            ("superseded", superseded))}
    return {**ids, "unknown": "Z" * 32, "malformed": "not-an-id"}


def _send(app: Flask, path: str, *, lean_path: bool, address: str,
          **options: Any) -> tuple[Any, int]:
    """One request, through the lean path (if it takes it) or straight to the Flask
    route; the response and how many the lean path answered (0 or 1)."""
    dispatcher = lean.lean_of(app)
    before = dispatcher.answered
    overrides = {lean.SWITCH: lean_path, "REMOTE_ADDR": address,
                 **options.pop("environ_overrides", {})}
    response = app.test_client(use_cookies=False).open(path, environ_overrides=overrides,
                                                       **options)
    response.get_data()
    return response, dispatcher.answered - before


CSRF = re.compile(rb'(<meta name="csrf-token" content=|name="csrf_token" value=)"[^"]*"')


def _assert_same(lean_answer: Any, route_answer: Any, *, sessions: bool = False,
                 apart: float = 0.0) -> None:
    """Equal status, headers (all, in order) and body. `sessions`: both are the route's
    error pages, which start a session of their own (a random CSRF token and cookie).
    `apart`: the seconds between the two requests (a loaded machine's)."""
    slack = math.ceil(apart) + 1
    assert lean_answer.status == route_answer.status
    ours, theirs = list(lean_answer.headers.items()), list(route_answer.headers.items())
    assert [key for key, _ in ours] == [key for key, _ in theirs]  # every header, in order
    for (key, mine), (_, expected) in zip(ours, theirs, strict=True):
        if sessions and key in ("Set-Cookie", "Content-Length"):
            continue
        if key == "Date":
            assert abs((parse_date(mine) - parse_date(expected)).total_seconds()) <= slack
        elif key in TIMES:
            assert abs(int(mine) - int(expected)) <= slack, key
        else:
            assert mine == expected, key
    if sessions:
        assert (CSRF.sub(b"", lean_answer.get_data()) == CSRF.sub(b"", route_answer.get_data()))
    else:
        assert _body_bytes(lean_answer) == _body_bytes(route_answer)


def _body_bytes(answer: Any) -> bytes:
    """The body as sent, with a gzip member's MTIME (bytes 4-8, RFC 1952) zeroed: two
    compressions a second apart differ there and nowhere else."""
    body = answer.get_data()
    if answer.headers.get("Content-Encoding") == "gzip":
        assert body[:4] == b"\x1f\x8b\x08\x00", body[:4]  # one member, no extra fields
        return body[:4] + b"\0\0\0\0" + body[8:]
    return body


def _compare(app: Flask, path: str, *, cached: bool,
             addresses: tuple[str, str] = ("192.0.2.1", "192.0.2.2"), **options: Any) -> int:
    """The same request both ways (each from its own address, so the two rate-limit
    counters agree), compared; how many the lean path answered."""
    pages = "credwright.verify_pages"
    if cached:  # both find the page cached (a request from a third address rendered it)
        _send(app, path, lean_path=False, address="192.0.2.99", **dict(options))
    else:
        app.extensions.pop(pages, None)
    started = time.monotonic()
    lean_answer, answered = _send(app, path, lean_path=True, address=addresses[0],
                                  **dict(options))
    if not cached:
        app.extensions.pop(pages, None)
    route_answer, by_route = _send(app, path, lean_path=False, address=addresses[1],
                                   **dict(options))
    apart = time.monotonic() - started
    assert by_route == 0
    # Not taken: both are the route's, whose error pages (405, 400) start sessions.
    _assert_same(lean_answer, route_answer, sessions=not answered, apart=apart)
    return answered


CASES = [  # (certificate, query string, headers, method, answered by the lean path)
    ("valid", "", {"Accept": BROWSER}, "GET", True),
    ("valid", "", {}, "GET", True),
    ("valid", "", {"Accept": "*/*"}, "GET", True),
    ("valid", "format=json", {}, "GET", True),
    ("valid", "", {"Accept": "application/json"}, "GET", True),
    ("valid", "", {"Accept": "text/html;q=0.5, application/json"}, "GET", True),
    ("valid", "", {"Accept": "text/html, application/json;q=0.5"}, "GET", True),
    ("valid", "", {"Accept": BROWSER, "Accept-Encoding": "gzip, deflate, br"}, "GET", True),
    ("valid", "format=json", {"Accept-Encoding": "gzip"}, "GET", True),
    ("valid", "", {"Accept-Encoding": "identity"}, "GET", True),
    # Flask-Compress picks no algorithm for these: Vary only, as with no header.
    ("valid", "format=json", {"Accept-Encoding": "identity"}, "GET", True),
    ("valid", "", {"Accept-Encoding": "deflate, zstd"}, "GET", True),
    ("valid", "", {"Accept-Encoding": "gzip;q=0, identity"}, "GET", True),
    ("valid", "", {"Accept-Encoding": "*"}, "GET", True),  # any: the first, br
    ("valid", "", {"Accept-Encoding": "identity;q=0.5, gzip"}, "GET", True),
    ("unknown", "", {"Accept-Encoding": "gzip"}, "GET", True),  # a 404 is not compressed
    ("unknown", "format=json", {"Accept-Encoding": "identity"}, "GET", True),
    ("valid", "", {"Accept-Encoding": "identity"}, "HEAD", True),
    ("valid", "", {"Accept": BROWSER, "Accept-Encoding": "br",
                   "If-None-Match": '"abc"'}, "GET", True),
    ("valid", "", {"Accept": BROWSER}, "HEAD", True),
    ("valid", "format=json", {}, "HEAD", True),
    ("revoked", "", {"Accept": BROWSER}, "GET", True),
    ("revoked", "format=json", {}, "GET", True),
    ("expired", "", {"Accept": BROWSER}, "GET", True),
    ("expired", "format=json", {}, "GET", True),
    ("superseded", "", {"Accept": BROWSER}, "GET", True),
    ("superseded", "format=json", {}, "GET", True),
    ("unknown", "", {"Accept": BROWSER}, "GET", True),
    ("unknown", "format=json", {}, "GET", True),
    ("unknown", "", {"Accept": BROWSER}, "HEAD", True),
    # Not the lean path's: answered by the route, whatever the switch says.
    ("malformed", "", {"Accept": BROWSER}, "GET", False),
    ("valid", "format=JSON", {}, "GET", False),
    ("valid", "format=json&format=json", {}, "GET", False),
    ("valid", "utm_source=mail", {"Accept": BROWSER}, "GET", False),
    ("valid", "", {"HX-Request": "true"}, "GET", False),
    ("valid", "", {"Authorization": "Bearer nonsense"}, "GET", False),
    ("valid", "", {"Cookie": "unrelated=1"}, "GET", False),
    ("valid", "", {}, "OPTIONS", False),
    ("valid", "", {}, "POST", False),
]


@pytest.mark.parametrize("cached", [False, True], ids=["rendered", "cached"])
@pytest.mark.parametrize(("name", "query", "headers", "method", "taken"), CASES)
def test_the_lean_path_answers_exactly_as_the_route(app, world, frozen, cached, name, query,
                                                    headers, method, taken):
    answered = _compare(app, f"/verify/{world[name]}", cached=cached, method=method,
                        query_string=query, headers=headers)
    assert answered == int(taken)


def test_a_signed_in_visitor_is_answered_by_the_route(app, client, admin_user, world):
    client.login(admin_user.email)
    dispatcher = lean.lean_of(app)
    before = dispatcher.answered
    page = client.get(f"/verify/{world['valid']}")
    assert page.status_code == 200 and "Log out" in page.get_data(as_text=True)
    assert dispatcher.answered == before


def _checks(app: Flask) -> dict[str, int]:
    verification_log.flush(app)
    with app.app_context():
        return dict(db.session.execute(
            select(CertificateVerification.channel, func.count())
            .group_by(CertificateVerification.channel)).all())


def test_each_check_is_logged_once_either_way(app, world):
    valid = f"/verify/{world['valid']}"
    for lean_path in (True, False):
        before = _checks(app)
        _send(app, valid, lean_path=lean_path, address="192.0.2.7")
        _send(app, valid, lean_path=lean_path, address="192.0.2.7",
              query_string="format=json")
        _send(app, valid, lean_path=lean_path, address="192.0.2.7", method="HEAD")
        _send(app, f"/verify/{world['unknown']}", lean_path=lean_path, address="192.0.2.7")
        after = _checks(app)
        assert {channel: after.get(channel, 0) - before.get(channel, 0)
                for channel in ("page", "json")} == {"page": 1, "json": 1}, lean_path


def test_the_rate_limit_is_the_routes_and_answers_429_the_same(make_app, make_user,
                                                               make_track, frozen):
    app = make_app(VERIFY_RATE_LIMIT="3 per minute")
    path = f"/verify/{_verification_id(app, _issue(app, make_user(), track=make_track()))}"
    for query, (mine, theirs) in (("", ("192.0.2.1", "192.0.2.2")),
                                  ("format=json", ("192.0.2.3", "192.0.2.4"))):
        started = time.monotonic()  # both windows start within what has passed since
        for _ in range(3):  # within the limit: answered lean, counted in the same storage
            lean_answer, answered = _send(app, path, lean_path=True, address=mine,
                                          query_string=query)
            route_answer, _ = _send(app, path, lean_path=False, address=theirs,
                                    query_string=query)
            assert answered == 1 and lean_answer.status_code == 200
            _assert_same(lean_answer, route_answer, apart=time.monotonic() - started)
            assert lean_answer.headers["X-RateLimit-Limit"] == "3"
        lean_answer, answered = _send(app, path, lean_path=True, address=mine,
                                      query_string=query)
        route_answer, _ = _send(app, path, lean_path=False, address=theirs,
                                query_string=query)
        assert answered == 0 and lean_answer.status_code == 429
        _assert_same(lean_answer, route_answer, sessions=True,
                     apart=time.monotonic() - started)
        # The route's counter is the lean path's: this address is spent there too.
        spent, _ = _send(app, path, lean_path=False, address=mine,
                         query_string=query)
        assert spent.status_code == 429


def test_behind_a_proxy_the_limit_counts_the_forwarded_address(make_app, make_user,
                                                               make_track):
    app = make_app(VERIFY_RATE_LIMIT="2 per minute", TRUSTED_PROXY_COUNT=1)
    path = f"/verify/{_verification_id(app, _issue(app, make_user(), track=make_track()))}"
    forwarded = {"environ_overrides": {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}}
    statuses = [_send(app, path, lean_path=True, address="10.0.0.1",
                      environ_overrides=dict(forwarded["environ_overrides"]))
                for _ in range(3)]
    assert [(r.status_code, n) for r, n in statuses] == [(200, 1), (200, 1), (429, 0)]
    other, answered = _send(app, path, lean_path=True, address="10.0.0.1",
                            environ_overrides={"HTTP_X_FORWARDED_FOR": "203.0.113.10"})
    assert (other.status_code, answered) == (200, 1)


def _hook_names(funcs: Any) -> set[str]:
    return {getattr(f, "__name__", None) or f.func.__name__ for f in funcs}


def test_the_skipped_hooks_are_known(app):
    """The lean path skips the before_request hooks and applies the after_request hooks'
    work itself: a hook added later must be looked at (and this list changed) first."""
    assert _hook_names(app.before_request_funcs.get(None, [])) == lean.SKIPPED_HOOKS
    assert not app.before_request_funcs.get("verify")
    assert _hook_names(app.after_request_funcs.get(None, [])) == lean.APPLIED_AFTER_HOOKS
    assert _hook_names(app.after_request_funcs.get("verify", [])) == {"_private_answers"}
    assert not app.url_value_preprocessors
    # Flask-Limiter's clears its per-request context, which the lean path never fills.
    assert _hook_names(app.teardown_request_funcs.get(None, [])) == {"__release_context"}


def test_one_process_answers_every_shape_as_the_route(app, world, frozen):
    """One app (one lean path, one copy of each shape's headers) through every case in
    turn: a page, JSON, HEAD, 404 and compressed answers one after the other."""
    for turn in (1, 2):  # each turn from its own addresses: within the rate limit
        for name, query, headers, method, taken in CASES:
            answered = _compare(app, f"/verify/{world[name]}", cached=False, method=method,
                                query_string=query, headers=headers,
                                addresses=(f"192.0.2.{10 + turn}", f"192.0.2.{20 + turn}"))
            assert answered == int(taken), (turn, name, query, headers, method)
