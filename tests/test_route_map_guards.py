"""Whole-app guards tested from the route map, not one route at a time: every
state-changing route refuses a request without a CSRF token (and changes nothing), and
markup stored in every user-editable text column comes back escaped on every page and
fragment that shows it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Enum as SAEnum
from sqlalchemy import String, Text, select, update

from app.extensions import db
from tests import hostile
from tests.conftest import HX

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Routes that carry their own authority instead of a session, so no CSRF token: each named
# with its reason. A bogus token must still change nothing (checked below).
CSRF_EXEMPT = {
    "/me/preferences/unsubscribe/<token>":
        "one-click unsubscribe from an email (RFC 8058): the signed token in the URL decides",
}


@pytest.fixture
def hworld(app: Flask, make_user: Any, make_track: Any, make_definition: Any,
           make_credential: Any, issue: Any, org: Any) -> dict[str, Any]:
    return hostile.world(app, make_user, make_track, make_definition, make_credential, issue, org)


def _snapshot(app: Flask) -> dict[str, list[str]]:
    """Every row of every table (a small test database), to compare before and after."""
    with app.app_context():
        return {table.name: sorted(repr(tuple(row)) for row in db.session.execute(
            select(table)).all()) for table in db.metadata.sorted_tables}


def _write_routes(app: Flask) -> list[tuple[str, Any]]:
    return [(method, rule) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
            for method in WRITE_METHODS if method in (rule.methods or ())]


def test_every_state_changing_route_refuses_a_missing_csrf_token(
        app: Flask, new_client: Any, hworld: dict[str, Any]) -> None:
    routes = _write_routes(app)
    assert len(routes) >= 60  # the walk found the app's routes
    answers: dict[str, int] = {}
    for who in ("admin", "staff"):
        client = new_client()
        client.login(hworld[who].email)
        client.auto_csrf = False
        before = _snapshot(app)
        for method, rule in routes:
            path = hostile.build_path(rule, {}, 1)
            for headers, kwargs in (({}, {"data": {"name": "x", "notes": "x", "reason": "x"}}),
                                    (HX, {"data": {"title": "x"}}),
                                    ({}, {"json": {"name": "x"}})):
                response = client.open(path, method=method, headers=headers, **kwargs)
                answers[f"{who} {method} {rule.rule}"] = response.status_code
                if rule.rule in CSRF_EXEMPT:
                    assert 400 <= response.status_code < 500, (who, method, rule.rule)
                    continue
                # The API checks the role before CSRF: staff may get 403 there instead.
                allowed = {400, 403} if who == "staff" and rule.rule.startswith("/api") \
                    else {400}
                assert response.status_code in allowed, (who, method, rule.rule,
                                                         response.status_code)
        assert _snapshot(app) == before, who
    # Anonymous too: the login form and the public verify form are forms like the others.
    anonymous = new_client()
    anonymous.auto_csrf = False
    for path in ("/login", "/verify", "/logout"):
        assert anonymous.post(path, data={"email": "x@example.test"}).status_code == 400, path
    assert len(answers) == 2 * len(routes)


XSS = '<script>x</script>"><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;x&lt;/script&gt;"
# Columns no person types (keys, hashes, tokens, file names we generate, machine codes).
NOT_USER_TEXT = ("email", "hash", "token", "key", "kid", "alg", "slug", "verification_id",
                 "number", "jwk", "mime", "content_type", "sha", "status", "job", "ip",
                 "action", "resource", "actor", "code", "channel", "kind", "version",
                 "phone", "url", "provider", "queue", "function", "target", "jti", "nonce")


def _user_text_columns() -> list[Any]:
    columns = []
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text) or isinstance(column.type, SAEnum):
                continue
            if column.primary_key or column.foreign_keys:
                continue
            if any(word in column.name for word in NOT_USER_TEXT):
                continue
            columns.append(column)
    return columns


def test_markup_in_every_text_field_is_escaped_everywhere_it_shows(
        app: Flask, new_client: Any, hworld: dict[str, Any], issue: Any,
        make_track: Any) -> None:
    """Markup written into every user-editable text column (names, titles, descriptions,
    notes, reasons, locations ...), then every GET route of the route map fetched as each
    role, as a page and as an htmx fragment: the markup is never in an HTML answer as
    markup, and it is shown (escaped) on many of them."""
    from app.models import CertificateType, User

    changed = []
    with app.app_context():
        for column in _user_text_columns():
            length = getattr(column.type, "length", None)
            value = XSS if not length or length >= len(XSS) else XSS[:length]
            try:
                with db.session.begin_nested():
                    db.session.execute(update(column.table).values({column.name: value}))
                changed.append(f"{column.table.name}.{column.name}")
            except Exception:  # noqa: BLE001, S112 - a CHECK or a length it cannot hold
                continue
        db.session.commit()
        staff = db.session.get(User, hworld["staff"].id)
        db.session.expunge(staff)
    assert {"users.name", "organizations.name", "certification_tracks.name",
            "courses.title", "micro_credential_definitions.title"} <= set(changed), changed
    # A certificate issued now freezes the marked-up names into its snapshot (public page).
    track = make_track(XSS[:200])
    certificate = issue(staff, track=track, type_=CertificateType.COMPLETION)

    shown = 0
    fetched = 0
    clients = {}
    for who in ("admin", "staff"):
        clients[who] = new_client()
        clients[who].login(hworld[who].email)
    clients["anonymous"] = new_client()
    ids = {"verification_id": certificate.verification_id}
    for who, client in clients.items():
        for rule in hostile.rules(app, "GET"):
            for headers in ({}, HX):
                response = client.get(hostile.build_path(rule, ids, 1), headers=headers)
                fetched += 1
                if response.mimetype != "text/html":
                    continue
                body = response.get_data(as_text=True)
                assert "<script>x</script>" not in body, (who, rule.rule, headers)
                assert "<img src=x" not in body, (who, rule.rule, headers)
                shown += ESCAPED in body
        page = client.get(f"/verify/{certificate.verification_id}").get_data(as_text=True)
        assert ESCAPED in page and "<script>x" not in page, who
    assert fetched > 200
    assert shown >= 25, shown
