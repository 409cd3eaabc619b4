"""The audit trail: every write records a row here, chained to the one before by an
HMAC-SHA256 keyed with a secret that is not in the database.

The key is derived (HKDF-SHA256) from AUDIT_KEY (app/config.py: the environment; in
development a random one kept in instance/audit_key; required in production). Someone
who can write the tables but does not hold the key can edit a row and recompute every
later hash with plain SHA-256 or a key of their own, and `audit verify` still stops at
the edited row. Rows written before the chain was keyed (plain SHA-256) were verified
and re-chained with the key by migration 0013_audit_keyed_chain (see there).

The chain's tip lives in a one-row table that each writer updates *first*: on PostgreSQL
the row lock, and on SQLite the write lock, serialize concurrent writers so two requests
can never both chain onto the same row.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import Select, func, insert, or_, select, update

from app.extensions import db
from app.models import AuditChainHead, AuditLog, User
from app.models.base import utcnow
from app.services.context import Actor
from app.services.dates import utc_midnight
from app.services.keyset import KeysetPage, Order, decode_pair, keyset_page
from app.services.sorting import Sort, Sorting

GENESIS_HASH = "0" * 64
HEAD_ID = 1


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable
    )


def _content(row: AuditLog) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "actor_id": row.actor_id,
        "actor_email": row.actor_email,
        "action": row.action,
        "resource_type": row.resource_type,
        "resource_id": row.resource_id,
        "changes": row.changes,
        "ip_address": row.ip_address,
        "created_at": row.created_at.isoformat(timespec="microseconds"),
    }


# HKDF's "info": what the derived key is for (a new purpose gets a new label).
CHAIN_KEY_INFO = b"credwright audit chain hmac-sha256 v1"


@functools.lru_cache(maxsize=8)
def derive_chain_key(secret: str) -> bytes:
    """The chain's 32-byte HMAC key, derived from the AUDIT_KEY secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=CHAIN_KEY_INFO).derive(secret.encode("utf-8"))


def chain_key() -> bytes:
    secret = current_app.config.get("AUDIT_KEY") or ""
    if not secret:
        raise RuntimeError("AUDIT_KEY is not configured: the audit chain cannot be keyed")
    return derive_chain_key(secret)


def row_payload(prev_hash: str, row: AuditLog) -> bytes:
    return (prev_hash + "\n" + canonical_json(_content(row))).encode("utf-8")


def compute_row_hash(prev_hash: str, row: AuditLog, key: bytes | None = None) -> str:
    """HMAC-SHA256 (hex) of the previous hash and the row's content."""
    return hmac.new(key if key is not None else chain_key(), row_payload(prev_hash, row),
                    hashlib.sha256).hexdigest()


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value differs."""
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def ensure_chain_head() -> None:
    """Create the chain's tip row if it is missing (a new database or a wiped test one)."""
    if db.session.get(AuditChainHead, HEAD_ID) is None:
        db.session.add(AuditChainHead(id=HEAD_ID, last_seq=0, last_hash=GENESIS_HASH))
        db.session.flush()


def record(
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: Any = None,
    changes: Mapping[str, Any] | None = None,
    *,
    actor_user: User | None = None,
) -> AuditLog:
    """Append one row to the trail (flushes; the caller's transaction commits it).

    `actor_user` overrides the actor's user, for LOGIN_FAILED against a known account.
    """
    user = actor_user if actor_user is not None else actor.user
    result = db.session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(last_seq=AuditChainHead.last_seq + 1)
    )
    if result.rowcount == 0:
        db.session.execute(
            insert(AuditChainHead).values(id=HEAD_ID, last_seq=1, last_hash=GENESIS_HASH)
        )
    seq, prev_hash = db.session.execute(
        select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(
            AuditChainHead.id == HEAD_ID
        )
    ).one()

    row = AuditLog(
        seq=seq,
        actor_id=user.id if user is not None else None,
        actor_email=user.email if user is not None else None,
        action=str(action),
        resource_type=resource_type,
        resource_id=None if resource_id is None else str(resource_id),
        # Round-trip through JSON so what is hashed is exactly what the database returns.
        changes=json.loads(canonical_json(dict(changes or {}))),
        ip_address=actor.ip,
        created_at=utcnow(),
        prev_hash=prev_hash,
    )
    row.row_hash = compute_row_hash(prev_hash, row)
    db.session.add(row)
    db.session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .values(last_hash=row.row_hash)
    )
    db.session.flush()
    return row


def record_many(actor: Actor, action: str, resource_type: str,
                entries: Iterable[tuple[Any, Mapping[str, Any]]]) -> int:
    """Append one row per (resource_id, changes) in three statements whatever their
    number: the chain's tip is taken once (row lock, as record() does), the rows are
    chained in Python and inserted together, the tip is moved to the last one."""
    entries = list(entries)
    if not entries:
        return 0
    user = actor.user
    result = db.session.execute(
        update(AuditChainHead).where(AuditChainHead.id == HEAD_ID)
        .values(last_seq=AuditChainHead.last_seq + len(entries))
        .returning(AuditChainHead.last_seq, AuditChainHead.last_hash))
    head = result.one_or_none()
    if head is None:
        ensure_chain_head()
        return record_many(actor, action, resource_type, entries)
    seq, prev_hash = head.last_seq - len(entries), head.last_hash
    now = utcnow()
    rows = []
    for resource_id, changes in entries:
        seq += 1
        row = AuditLog(
            seq=seq, actor_id=user.id if user is not None else None,
            actor_email=user.email if user is not None else None, action=str(action),
            resource_type=resource_type,
            resource_id=None if resource_id is None else str(resource_id),
            changes=json.loads(canonical_json(dict(changes or {}))), ip_address=actor.ip,
            created_at=now, prev_hash=prev_hash)
        row.row_hash = prev_hash = compute_row_hash(prev_hash, row)
        rows.append({c: getattr(row, c) for c in (
            "seq", "actor_id", "actor_email", "action", "resource_type", "resource_id",
            "changes", "ip_address", "created_at", "prev_hash", "row_hash")})
    db.session.execute(insert(AuditLog), rows)
    db.session.execute(update(AuditChainHead).where(AuditChainHead.id == HEAD_ID)
                       .values(last_hash=prev_hash))
    return len(rows)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_id: int | None = None
    broken_seq: int | None = None
    reason: str | None = None


def verify_chain(batch_size: int = 2000) -> ChainReport:
    """Walk the trail in order and report the first row that breaks the chain."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    key = chain_key()
    rows = db.session.scalars(
        select(AuditLog).order_by(AuditLog.seq).execution_options(yield_per=batch_size)
    )
    for row in rows:
        if row.seq != expected_seq:
            return ChainReport(False, checked, row.id, row.seq,
                               f"expected seq {expected_seq}, found {row.seq} (a row is missing)")
        if row.prev_hash != expected_prev:
            return ChainReport(False, checked, row.id, row.seq,
                               "prev_hash does not match the previous row's hash")
        if not hmac.compare_digest(compute_row_hash(row.prev_hash, row, key), row.row_hash):
            return ChainReport(False, checked, row.id, row.seq,
                               "row content does not match its hash (the row was edited)")
        expected_prev = row.row_hash
        expected_seq += 1
        checked += 1
    head = db.session.get(AuditChainHead, HEAD_ID)
    if head is not None and (head.last_seq != checked or head.last_hash != expected_prev):
        return ChainReport(False, checked, None, head.last_seq,
                           f"the chain's tip says {head.last_seq} rows; {checked} were found "
                           "(rows were removed from the end)")
    return ChainReport(True, checked)


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    resource_type: str = ""
    resource_id: str = ""
    date_from: date | None = None
    date_to: date | None = None


def search(filters: AuditFilters) -> Select[tuple[AuditLog]]:
    """The trail, newest first, narrowed by the given filters."""
    stmt = select(AuditLog).order_by(AuditLog.seq.desc())
    if filters.actor.strip():
        # The person as the admin knows them: by email, or by their name today (the
        # people first, as an IN: the trail is never joined to users row by row).
        pattern = filters.actor.strip().lower()
        named = select(User.id).where(func.lower(User.name).contains(pattern, autoescape=True))
        stmt = stmt.where(or_(AuditLog.actor_email.contains(pattern, autoescape=True),
                              AuditLog.actor_id.in_(named)))
    if filters.action:
        stmt = stmt.where(AuditLog.action == filters.action)
    if filters.resource_type:
        stmt = stmt.where(AuditLog.resource_type == filters.resource_type)
    if filters.resource_id:
        stmt = stmt.where(AuditLog.resource_id == filters.resource_id.strip())
    if filters.date_from:
        stmt = stmt.where(AuditLog.created_at >= utc_midnight(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(AuditLog.created_at < utc_midnight(filters.date_to + timedelta(days=1)))
    return stmt


# The trail's order as a keyset (seq is unique and never NULL): Older / Newer pages by
# cursor cost the same at any depth, and the count stops at COUNT_LIMIT ("10,000+").
ORDER = Order(AuditLog.seq, AuditLog.id, nullable=False, datetime_key=False)
COUNT_LIMIT = 10_000


#: Newest first, or oldest first (?sort=seq&dir=asc: the unique seq index read forward).
SORTS = Sorting({"seq": (AuditLog.seq,)}, default="seq", default_dir="desc",
                tiebreak=AuditLog.id)
OLDEST_FIRST = Order(AuditLog.seq, AuditLog.id, descending=False, nullable=False,
                     datetime_key=False, reversed=True)


def find(filters: AuditFilters, per_page: int, *, after: str | None = None,
         before: str | None = None, sort: Sort | None = None) -> KeysetPage[AuditLog]:
    """A page of search(): the newest (or with `sort`, the oldest), or the one after or
    before a cursor of that order. Raises ValidationFailed for a cursor that cannot be
    read, or of the other order."""
    order = OLDEST_FIRST if sort is not None and not sort.is_default else ORDER
    after_, before_ = decode_pair(order, after, before)
    return keyset_page(search(filters), order, per_page, after=after_, before=before_,
                       count_limit=COUNT_LIMIT)


# What the services record; a fixed list, not a DISTINCT over the whole trail.
RESOURCE_TYPES = sorted([
    "api_token", "certificate", "course", "course_progress", "course_session", "enrolment",
    "micro_credential_definition", "organization", "project", "session_attendance",
    "staff_micro_credential", "track", "training_assignment", "user",
])


def resource_types() -> list[str]:
    return RESOURCE_TYPES


def row_count() -> int:
    """Rows in the trail, from the chain's tip (no COUNT over the table)."""
    head = db.session.get(AuditChainHead, HEAD_ID)
    return head.last_seq if head is not None else 0
