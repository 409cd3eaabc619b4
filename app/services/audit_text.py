"""The audit trail in words: who did what to which thing, and what changed.

A row stores ids, enum values and [before, after] pairs (app/services/audit.py); people
reading the trail want "Ada Admin revoked certificate CERT-2026-00012: Status Issued ->
Revoked". Names are looked up for a whole page of rows at once (one query per kind of
thing, not per row); a thing deleted since reads "#id (deleted)".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import (
    AuditLog,
    BulkImport,
    Certificate,
    CertificateTemplate,
    CertificationTrack,
    Course,
    CourseSession,
    ImplementationProject,
    MicroCredentialDefinition,
    Organization,
    Role,
    StaffMicroCredential,
    User,
)

# Past-tense verbs for the actions services record; an action missing here still reads
# well enough ("CERT_SUPERSEDE" -> "cert supersede").
VERBS = {
    "CREATE": "created", "UPDATE": "changed", "DELETE": "deleted",
    "DEACTIVATE": "deactivated", "REACTIVATE": "reactivated",
    "LOGIN": "logged in", "LOGIN_FAILED": "failed to log in", "LOGOUT": "logged out",
    "PASSWORD_CHANGE": "changed the password of", "TOKEN_CREATE": "created",
    "TOKEN_REVOKE": "revoked", "INVITATION_SEND": "sent an invitation to",
    "PASSWORD_RESET_REQUEST": "asked for a password reset of",
    "PASSWORD_RESET": "reset the password of",
    "MCRED_ASSIGN": "assigned", "MCRED_AWARD": "awarded", "MCRED_EXPIRE": "expired",
    "CERT_ISSUE": "issued", "CERT_APPROVE": "approved", "CERT_REJECT": "rejected",
    "CERT_REVOKE": "revoked", "CERT_REINSTATE": "reinstated",
    "CERT_SUPERSEDE": "superseded",
}
# The Action filter's words: "Revoked (CERT_REVOKE)"-like, by the verb, capitalized.
ACTION_LABELS = {action: verb[0].upper() + verb[1:] for action, verb in VERBS.items()}
SNAKE_WORDS = re.compile(r"[a-z]+(?:_[a-z]+)+")
# Actions about the actor themselves: "Ada logged in", not "Ada logged in person Ada".
SELF_ACTIONS = {"LOGIN", "LOGIN_FAILED", "LOGOUT"}

RESOURCE_NOUNS = {
    "api_token": "API token", "certificate": "certificate", "course": "course",
    "course_progress": "course progress", "course_session": "session",
    "enrolment": "enrolment", "micro_credential_definition": "micro-credential",
    "organization": "organization", "project": "project",
    "session_attendance": "attendance", "staff_micro_credential": "micro-credential of",
    "track": "track", "training_assignment": "training assignment", "user": "person",
    "earner_profile": "public profile", "renewal_campaign": "renewal campaign",
    "renewal_invitation": "renewal invitation",
}

# Keys whose values are ids of something with a name: key -> (label, resource type).
ID_KEYS = {
    "recipient_id": ("Recipient", "user"), "user_id": ("Person", "user"),
    "actor_id": ("By", "user"), "instructor_id": ("Instructor", "user"),
    "track_id": ("Track", "track"), "course_id": ("Course", "course"),
    "organization_id": ("Organization", "organization"),
    "org_id": ("Organization", "organization"),
    "definition_id": ("Micro-credential", "micro_credential_definition"),
    "project_id": ("Project", "project"),
    "certificate_id": ("Certificate", "certificate"),
    "supersedes_id": ("Supersedes", "certificate"),
    "recommended_by": ("Recommended by", "user"),
    "replaced_template": ("Replaced template", "certificate_template"),
    "template_id": ("Template", "certificate_template"),
    "session_id": ("Session", "course_session"),
    "course_order": ("Course order", "course"),
}
# "kind:id" values naming what something was given to ("assigned": "track:12").
KIND_ID = re.compile(r"(track|course|definition):(\d{1,11})")
KIND_TYPES = {"track": "track", "course": "course", "definition": "micro_credential_definition"}
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
LABELS = {"was": "Previously", "mfa": "Two-step login", "ip": "Address"}


@dataclass(frozen=True)
class ChangeLine:
    """One key of a row's changes: `before` is None for a plain fact (not a change)."""

    label: str
    after: str
    before: str | None = None

    @property
    def is_change(self) -> bool:
        return self.before is not None


@dataclass(frozen=True)
class EntryText:
    actor: str
    verb: str
    resource: str  # "certificate CERT-2026-00012", "" for the actor's own login
    changes: list[ChangeLine]

    @property
    def sentence(self) -> str:
        return " ".join(part for part in (self.actor, self.verb, self.resource) if part)


def _user_names(ids: Iterable[int]) -> dict[int, str]:
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def _certificate_names(ids: Iterable[int]) -> dict[int, str]:
    rows = db.session.execute(
        select(Certificate.id, Certificate.number, User.name)
        .join(User, User.id == Certificate.recipient_id).where(Certificate.id.in_(ids)))
    return {id_: f"{number or 'pending #' + str(id_)} ({name})" for id_, number, name in rows}


def _staff_credential_names(ids: Iterable[int]) -> dict[int, str]:
    rows = db.session.execute(
        select(StaffMicroCredential.id, MicroCredentialDefinition.title, User.name)
        .join(MicroCredentialDefinition,
              MicroCredentialDefinition.id == StaffMicroCredential.definition_id)
        .join(User, User.id == StaffMicroCredential.user_id)
        .where(StaffMicroCredential.id.in_(ids)))
    return {id_: f"{name}: {title}" for id_, title, name in rows}


def _column_names(column: Any, name: Any) -> Callable[[Iterable[int]], dict[int, str]]:
    def look_up(ids: Iterable[int]) -> dict[int, str]:
        return dict(db.session.execute(select(column, name).where(column.in_(ids))).all())
    return look_up


NAME_LOOKUPS: dict[str, Callable[[Iterable[int]], dict[int, str]]] = {
    "user": _user_names,
    "certificate": _certificate_names,
    "staff_micro_credential": _staff_credential_names,
    "track": _column_names(CertificationTrack.id, CertificationTrack.name),
    "course": _column_names(Course.id, Course.title),
    "organization": _column_names(Organization.id, Organization.name),
    "micro_credential_definition": _column_names(MicroCredentialDefinition.id,
                                                 MicroCredentialDefinition.title),
    "project": _column_names(ImplementationProject.id, ImplementationProject.name),
    "certificate_template": _column_names(CertificateTemplate.id, CertificateTemplate.name),
    "course_session": _column_names(CourseSession.id, CourseSession.title),
    "bulk_import": _column_names(BulkImport.id, BulkImport.filename),
}


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        return int(value)
    return None


class _Names:
    """Names of everything a page of rows mentions, fetched in one query per type."""

    def __init__(self, rows: Sequence[AuditLog]) -> None:
        wanted: dict[str, set[int]] = defaultdict(set)
        for row in rows:
            if row.actor_id is not None:
                wanted["user"].add(row.actor_id)
            rid = _as_id(row.resource_id)
            if rid is not None and row.resource_type in NAME_LOOKUPS:
                wanted[row.resource_type].add(rid)
            for key, value in (row.changes or {}).items():
                if key in ID_KEYS:
                    for item in _flat(value):
                        if (item_id := _as_id(item)) is not None:
                            wanted[ID_KEYS[key][1]].add(item_id)
                elif isinstance(value, str) and (match := KIND_ID.fullmatch(value)):
                    wanted[KIND_TYPES[match[1]]].add(int(match[2]))
        self._names = {kind: NAME_LOOKUPS[kind](ids) for kind, ids in wanted.items() if ids}

    def get(self, kind: str, item_id: int) -> str | None:
        return self._names.get(kind, {}).get(item_id)

    def of(self, kind: str, value: Any) -> str:
        if isinstance(value, list):  # several ids: their names, in order
            return ", ".join(self.of(kind, item) for item in value) or "(none)"
        item_id = _as_id(value)
        if item_id is None:
            return words(value)
        name = self.get(kind, item_id)
        return name if name is not None else f"#{item_id} (deleted)"


def _flat(value: Any) -> list[Any]:
    """The ids in a value: one, a list, or a [before, after] pair of lists."""
    if isinstance(value, list):
        return [item for part in value for item in _flat(part)]
    return [value]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def words(value: Any) -> str:
    """A stored value as a person reads it: no None, no enum spellings, no brackets."""
    if value is None or value == "":
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and ISO_DATETIME.match(value):
        try:  # timestamps are stored as ISO text: 2026-12-08T11:09:36.94+00:00
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")
        except ValueError:
            return value
    if isinstance(value, str) and value.isupper() and value.replace("_", "").isalpha():
        return value.replace("_", " ").capitalize()  # an enum value: ISSUED -> Issued
    if isinstance(value, str) and SNAKE_WORDS.fullmatch(value):
        return value.replace("_", " ").capitalize()  # a stored key: issued_in_error
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {words(v)}" for k, v in value.items()) or "(none)"
    if isinstance(value, list):
        return ", ".join(words(v) for v in value) or "(none)"
    return str(value)


def label(key: str) -> str:
    if key in ID_KEYS:
        return ID_KEYS[key][0]
    if key in LABELS:
        return LABELS[key]
    return key.replace("_", " ").capitalize()


def _role(value: Any) -> str:
    try:
        return Role(value).label
    except ValueError:
        return words(value)


def _shower(key: str, names: _Names) -> Callable[[Any], str]:
    if key in ID_KEYS:
        kind = ID_KEYS[key][1]
        return lambda value: names.of(kind, value)
    if key == "role":
        return _role

    def show(value: Any) -> str:
        if isinstance(value, str) and (match := KIND_ID.fullmatch(value)):
            kind = KIND_TYPES[match[1]]
            return f"{RESOURCE_NOUNS[kind]} {names.of(kind, match[2])}"
        return words(value)
    return show


def _change_lines(changes: dict[str, Any], names: _Names) -> list[ChangeLine]:
    """What changed, in words: names for ids, no empty facts, no "before -> after" where
    nothing changed; "was" (what a reinstatement cleared, say) as the values it had."""
    lines = []
    for key, value in (changes or {}).items():
        show = _shower(key, names)
        if key == "was" and isinstance(value, dict):
            lines.extend(ChangeLine(label(k), "(none)", _shower(k, names)(v))
                         for k, v in value.items() if not _empty(v))
        elif isinstance(value, list) and len(value) == 2:  # [before, after]
            before, after = value
            if before == after or (_empty(before) and _empty(after)):
                continue
            lines.append(ChangeLine(label(key), show(after), show(before)))
        elif not _empty(value):
            lines.append(ChangeLine(label(key), show(value)))
    return lines


def _resource(row: AuditLog, names: _Names) -> str:
    if row.action in SELF_ACTIONS and row.resource_type == "user":
        return ""
    noun = RESOURCE_NOUNS.get(row.resource_type, row.resource_type.replace("_", " "))
    if row.resource_id is None:
        return noun
    if row.resource_type in NAME_LOOKUPS:
        return f"{noun} {names.of(row.resource_type, row.resource_id)}"
    return f"{noun} #{row.resource_id}"


def describe(rows: Sequence[AuditLog]) -> dict[int, EntryText]:
    """Each row in words, keyed by row id."""
    names = _Names(rows)
    described = {}
    for row in rows:
        # The stored email when the account is gone (the row keeps who it was).
        actor = ((names.get("user", row.actor_id) if row.actor_id is not None else None)
                 or row.actor_email or "System")
        verb = VERBS.get(row.action, row.action.replace("_", " ").lower())
        described[row.id] = EntryText(actor, verb, _resource(row, names),
                                      _change_lines(row.changes, names))
    return described
