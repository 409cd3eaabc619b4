"""Hostile input for the whole-app tests: the values an attacker (or a bad integration)
sends, the route map walked for every form and query string, and a world of rows for
the routes' ids to find.

Every 500 is caught by the catch-all handler (app/web/errors.py), which logs it with its
traceback on the `app.web.errors` logger; `ServerErrors` collects those records so a test
can say which request broke and where.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from app.web.forms import Form

HUGE = str(2**64)
BIG_IDS = [str(2**31), str(2**63 - 1), str(2**63), HUGE, "9" * 30]
HOSTILE_TEXT = [str(2**31), str(2**63 - 1),
    "\x00", "a\x00b", "x\x1by", "\x7f", "\u202etxt.exe", "\u2066bidi\u2069", "²", "¹²",
    HUGE, "-" + HUGE, "-1", "0", "1e400", "Infinity", "-Infinity", "NaN", "9999-12-31",
    "0001-01-01", "10000-01-01", "2026-02-30", "x" * 5000, "<script>x</script>", "'\"",
    "%", "[]", "{}", "null", " ", "\ud800".encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace"),
]
# Every name a view reads from a query string (grep args.get), plus the pages' filters.
QUERY_ARGS = ["q", "page", "status", "organization_id", "role", "user_id", "type", "to",
              "from", "course_id", "track_id", "unread", "resource_type", "resource_id",
              "next", "limit", "index", "id", "format", "definition_id", "actor", "action",
              "tab", "number", "code"]
# Names views read straight from request.form (not through a form class).
EXTRA_FORM_FIELDS = ["active", "attended", "check", "direction", "location", "notes",
                     "notify", "part", "rating", "starts_at", "status", "title", "user_id",
                     "user_ids", "questions", "answers", "q1", "q2", "number", "code"]


def form_classes() -> list[type[Form]]:
    """Every WTForms class of the app (subclasses of app.web.forms.Form, imported by the
    blueprints)."""
    seen: list[type[Form]] = []
    stack = list(Form.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.append(cls)
            stack.extend(cls.__subclasses__())
    return seen


def form_field_names() -> list[str]:
    names: set[str] = set(EXTRA_FORM_FIELDS)
    for cls in form_classes():
        for name in dir(cls):
            unbound = getattr(cls, name, None)
            if getattr(unbound, "field_class", None) is not None:
                names.add(name)
    return sorted(names)


# Routes that end the client's own session: walking them would run the rest of a walk
# logged out.
ENDS_SESSION = ("auth.logout",)


def rules(app: Flask, method: str, *, api: bool | None = None,
          skip: tuple[str, ...] = ENDS_SESSION) -> list[Rule]:
    found = []
    for rule in app.url_map.iter_rules():
        if method not in (rule.methods or ()) or rule.endpoint in ("static", *skip):
            continue
        is_api = rule.rule.startswith("/api")
        if api is not None and api != is_api:
            continue
        found.append(rule)
    return sorted(found, key=lambda r: (r.rule, r.endpoint))


def build_path(rule: Rule, ids: dict[str, Any], default: Any = 1) -> str:
    path = rule.rule
    for arg in rule.arguments:
        value = ids.get(arg, default)
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?" + arg + ">", str(value), path)
    return path


class ServerErrors(logging.Handler):
    """The 500s logged while it is installed: (request line, last app frame, exception)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[tuple[str, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.exc_info:
            return
        _, exc, tb = record.exc_info
        frames = [f for f in traceback.extract_tb(tb) if "/app/" in f.filename]
        where = f"{frames[-1].filename.split('/app/')[-1]}:{frames[-1].lineno}" if frames else "?"
        self.records.append((record.getMessage(), where, f"{type(exc).__name__}: {exc}"[:300]))

    def causes(self) -> dict[tuple[str, str], list[str]]:
        grouped: dict[tuple[str, str], list[str]] = {}
        for request_line, where, error in self.records:
            grouped.setdefault((where, error.split(":")[0]), []).append(request_line)
        return grouped


@contextmanager
def server_errors() -> Iterator[ServerErrors]:
    handler = ServerErrors()
    logger = logging.getLogger("app.web.errors")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def world(app: Flask, make_user: Any, make_track: Any, make_definition: Any,
          make_credential: Any, issue: Any, org: Any) -> dict[str, Any]:
    """Rows of every kind, so an id of 1 (or the ids returned) finds something."""
    from app.extensions import db
    from app.models import CertificateType, Role
    from app.services import training
    from app.services.context import Actor

    # Not id 1: routes are walked with id 1, and deactivating oneself would end the walk.
    make_user(Role.STAFF, org, name="Hostile Bystander")
    admin = make_user(Role.ADMIN, name="Hostile Admin")
    staff = make_user(Role.STAFF, org, name="Hostile Staff")
    org_admin = make_user(Role.ORG_ADMIN, org, name="Hostile Org Admin")
    track = make_track("Hostile Track")
    definition = make_definition("Hostile Credential")
    make_credential(definition, staff)
    certificate = issue(staff, track=track, type_=CertificateType.COMPLETION)
    with app.app_context():
        from app.models import CertificationTrack, User

        enrolment = training.enrol(db.session.get(User, staff.id),
                                   db.session.get(CertificationTrack, track.id), Actor.system())
        db.session.commit()
        enrolment = enrolment.id
    return {"admin": admin, "staff": staff, "org_admin": org_admin, "track": track, "definition": definition,
            "certificate": certificate, "enrolment": enrolment}
