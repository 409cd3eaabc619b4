"""Bulk actions on the admin certificate list: approve, reject (one reason for all) or
revoke (one reason and category for all) the ticked certificates, or every certificate
the list's filters match.

Each certificate goes through its own lifecycle verb (approve/reject/revoke), in a
SAVEPOINT of its own: every rule, audit row and notification is per certificate, and a
refusal undoes only that one. Of two bulk actions at once (a double-click, two admins),
each certificate changes once: its conditional UPDATE refuses the second, which counts
it as "already approved".

"All matching" reads the ids from the filters here, on the server, when the action is
asked for (never a list the browser sends); the certificates that stopped matching by
the time their turn comes are refused by their verb with the reason. Up to
INLINE_LIMIT (ticked or matching) run in the request; more run as a job
(app.jobs.bulk_actions) whose progress is a small JSON record in private storage
(STORAGE_DIR, shared by the app servers: no table, no migration), read by the page's
progress poll. The job commits every COMMIT_EVERY
certificates and records how far it got, so a job that dies resumes where it stopped
(and a certificate done twice is refused as "already done" anyway)."""

from __future__ import annotations

import json
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import Certificate, Role, User
from app.models.base import utcnow
from app.services import storage
from app.services.certificates import lifecycle
from app.services.certificates.queries import COUNT_LIMIT, CertificateFilters, search
from app.services.context import Actor
from app.services.enqueue import enqueue_after_commit
from app.services.errors import AlreadyDone, NotFound, ServiceError, ValidationFailed
from app.services.fields import parse_id

ACTIONS = ("approve", "reject", "revoke")
DONE_WORDS = {"approve": "approved", "reject": "rejected", "revoke": "revoked"}
#: The most ticked ids one request may name (a page shows 25).
MAX_SELECTED = 100
#: Up to this many (a page) are acted on in the request; more run as a job (each
#: approval takes 30-180 ms: numbering, signing, audit, notice; bench/run_bulk_actions.py).
INLINE_LIMIT = 25
#: The most certificates one "all matching" action takes (the list's count cap).
MAX_MATCHING = COUNT_LIMIT
COMMIT_EVERY = 50
RUN_JOB = "app.jobs.bulk_actions.run_bulk_action"
RUN_JOB_TIMEOUT = 3600
_RUN_PREFIX = "bulk-actions"
BUSY = "Another action was changing it at the same moment; try it again."


@dataclass(frozen=True)
class BulkAction:
    """What to do to each certificate: a checked action and its one reason/category."""

    action: str
    reason: str = ""
    category: str = "other"

    @property
    def done_word(self) -> str:
        return DONE_WORDS[self.action]


def check_action(action: str | None, reason: str | None = None,
                 category: str | None = None) -> BulkAction:
    """The action asked for, checked once for all certificates. Raises ValidationFailed
    (unknown action, no reason to reject or revoke, an unknown category)."""
    action = (action or "").strip().lower()
    if action not in ACTIONS:
        message = f"Choose an action: {', '.join(ACTIONS)}."
        raise ValidationFailed(message, fields={"action": [message]})
    reason = (reason or "").strip()
    category = (category or "other").strip() or "other"
    if action in ("reject", "revoke"):
        if not reason:
            message = f"Give a reason for {'rejecting' if action == 'reject' else 'revoking'}."
            raise ValidationFailed(message, fields={"reason": [message]})
        if len(reason) > 2000:
            raise ValidationFailed("The reason is too long (2,000 characters at most).",
                                   fields={"reason": ["2,000 characters at most."]})
        if any(ord(c) < 32 and c not in "\t\n\r" for c in reason):
            raise ValidationFailed("The reason contains control characters.",
                                   fields={"reason": ["No control characters."]})
    if action == "revoke" and category not in lifecycle.REVOCATION_CATEGORIES:
        message = f"One of {', '.join(lifecycle.REVOCATION_CATEGORIES)}."
        raise ValidationFailed("Unknown revocation category.", fields={"category": [message]})
    return BulkAction(action, reason, category if action == "revoke" else "other")


def selected_ids(values: Iterable[Any]) -> list[int]:
    """The ticked certificate ids (a form's getlist), in order, without repeats. Raises
    ValidationFailed for none, an unreadable one, or more than MAX_SELECTED."""
    ids: list[int] = []
    for value in values:
        try:
            ids.append(parse_id(value))
        except (TypeError, ValueError):
            raise ValidationFailed("The selection names something that is not a "
                                   "certificate. Reload the page and select again.",
                                   fields={"id": ["Unreadable selection."]}) from None
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise ValidationFailed("Select at least one certificate.",
                               fields={"id": ["Select at least one certificate."]})
    if len(ids) > MAX_SELECTED:
        message = (f"At most {MAX_SELECTED} certificates can be ticked at once; use "
                   "\"Select all matching\" for more.")
        raise ValidationFailed(message, fields={"id": [message]})
    return ids


def matching_ids(filters: CertificateFilters) -> list[int]:
    """The ids of every certificate the filters match, in list order (server-side: the
    browser's idea of the list plays no part). Raises ValidationFailed for none or more
    than MAX_MATCHING."""
    ids = list(db.session.scalars(search(filters).with_only_columns(Certificate.id)
                                  .limit(MAX_MATCHING + 1)))
    if not ids:
        raise ValidationFailed("No certificates match these filters.")
    if len(ids) > MAX_MATCHING:
        raise ValidationFailed(f"These filters match more than {MAX_MATCHING:,} "
                               "certificates; narrow them (dates, course, type) and act "
                               "in parts.")
    return ids


# --- Outcomes --------------------------------------------------------------------------

@dataclass
class BulkOutcome:
    """What a bulk action did: certificates changed, already so, refused (by reason)."""

    action: str
    done: int = 0
    already: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    @property
    def refused_count(self) -> int:
        return sum(self.refused.values())

    @property
    def total(self) -> int:
        return self.done + self.already + self.refused_count

    def add(self, other: BulkOutcome) -> None:
        self.done += other.done
        self.already += other.already
        for message, count in other.refused.items():
            self.refused[message] = self.refused.get(message, 0) + count

    def summary(self) -> str:
        """"12 approved, 2 already approved, 1 refused: <reason>." """
        word = DONE_WORDS.get(self.action, "done")
        parts = [f"{self.done} {word}"]
        if self.already:
            parts.append(f"{self.already} already {word}")
        for message, count in sorted(self.refused.items(), key=lambda item: -item[1]):
            parts.append(f"{count} refused: {message}")
        text = ", ".join(parts)
        return text if text.endswith((".", "!", "?")) else text + "."

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BulkOutcome:
        return cls(action=str(raw.get("action", "")), done=int(raw.get("done", 0)),
                   already=int(raw.get("already", 0)),
                   refused={str(k): int(v) for k, v in (raw.get("refused") or {}).items()})


def _verb(action: BulkAction) -> Callable[[Certificate, Actor], Any]:
    if action.action == "approve":
        return lambda c, actor: lifecycle.approve(c, actor)
    if action.action == "reject":
        return lambda c, actor: lifecycle.reject(c, actor, action.reason)
    return lambda c, actor: lifecycle.revoke(c, actor, action.reason, action.category)


def _lock_order(ids: list[int]) -> list[int]:
    """The ids by (recipient, id): every bulk action takes the person and certificate
    locks in one global order, so two at once wait for each other instead of
    deadlocking."""
    rows = db.session.execute(select(Certificate.id, Certificate.recipient_id)
                              .where(Certificate.id.in_(ids))).all()
    found = {row.id: row.recipient_id for row in rows}
    return sorted(ids, key=lambda i: (found.get(i, 0), i))


def apply(actor: Actor, action: BulkAction, ids: list[int]) -> BulkOutcome:
    """Do `action` to each certificate in `ids`, each in a SAVEPOINT of its own (flushes,
    never commits). A certificate already in the state asked for counts as "already";
    any other refusal is counted under its reason; nothing raises for one certificate."""
    outcome = BulkOutcome(action.action)
    verb = _verb(action)
    counted: Counter[str] = Counter()
    for certificate_id in _lock_order(ids):
        try:
            with db.session.begin_nested():
                certificate = db.session.get(Certificate, certificate_id)
                if certificate is None:
                    raise NotFound("It no longer exists.")
                verb(certificate, actor)
            outcome.done += 1
        except AlreadyDone:
            db.session.expire_all()
            outcome.already += 1
        except ServiceError as error:
            db.session.expire_all()
            counted[error.message] += 1
        except OperationalError:  # a deadlock victim (PostgreSQL): only this one undone
            db.session.expire_all()
            counted[BUSY] += 1
    outcome.refused = dict(counted)
    return outcome


# --- Large "all matching" actions: a job with progress ----------------------------------

@dataclass
class BulkRun:
    """A queued "all matching" action and how far its job got (kept in storage)."""

    key: str
    action: str
    reason: str
    category: str
    actor_id: int | None
    actor_ip: str | None
    ids: list[int]
    position: int = 0
    status: str = "queued"  # queued, running, done, failed
    outcome: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    created_at: str = ""
    finished_at: str | None = None

    @property
    def total(self) -> int:
        return len(self.ids)

    @property
    def result(self) -> BulkOutcome:
        return BulkOutcome.from_dict({"action": self.action, **self.outcome})

    @property
    def bulk_action(self) -> BulkAction:
        return BulkAction(self.action, self.reason, self.category)


def _run_key(token: str) -> str:
    if not token or len(token) > 64 or not all(c.isalnum() or c in "-_" for c in token):
        raise NotFound("This bulk action is not known.")
    return f"{_RUN_PREFIX}/{token}"


def save_run(run: BulkRun) -> None:
    """Write the run's record (atomically: a reader sees the old or the new one)."""
    target = storage.path_for(_run_key(run.key))
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f"{target.name}.{secrets.token_hex(4)}.part")
    temporary.write_text(json.dumps(asdict(run)), encoding="utf-8")
    os.replace(temporary, target)


def get_run(token: str) -> BulkRun:
    """Raises NotFound for an unknown (or malformed) token."""
    try:
        raw = json.loads(storage.path_for(_run_key(token)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotFound("This bulk action is not known.") from None
    return BulkRun(**raw)


def request_run(actor: Actor, action: BulkAction, ids: list[int]) -> BulkRun:
    """Record a large action and queue its job after commit."""
    run = BulkRun(key=secrets.token_urlsafe(18), action=action.action, reason=action.reason,
                  category=action.category, actor_id=actor.user.id if actor.user else None,
                  actor_ip=actor.ip, ids=ids, created_at=utcnow().isoformat())
    save_run(run)
    enqueue_after_commit(RUN_JOB, run.key, job_timeout=RUN_JOB_TIMEOUT)
    return run


def run_actor(run: BulkRun) -> Actor | None:
    """Who asked for the run, if they may still act (an active admin): a job queued by an
    admin who has since lost the role or been deactivated does nothing."""
    user = db.session.get(User, run.actor_id) if run.actor_id else None
    if user is None or not user.active or user.role != Role.ADMIN:
        return None
    return Actor(user=user, ip=run.actor_ip)
