"""audit keyed chain: re-chain the audit trail with HMAC-SHA256 under AUDIT_KEY

Revision ID: 0013_audit_keyed_chain
Revises: 0012_job_outbox
Create Date: 2026-12-01 09:10:00

Until this revision each audit row's hash was a plain SHA-256 of the previous hash and
the row, so anyone able to write the table could edit a row and recompute the rest.
From now on the chain is an HMAC-SHA256 keyed with a key derived (HKDF) from AUDIT_KEY,
which is not in the database (app/services/audit.py).

Existing rows: upgrade first verifies the old, unkeyed chain from the first row to the
tip and refuses to go on if it is broken (it names the first bad row: a broken trail
must be looked at, not blessed with the key); then it recomputes every row's prev_hash
and row_hash with the key, in order, and moves the tip. The rows' content is untouched.
So a trail upgraded here is as trustworthy as the unkeyed chain was at upgrade time, and
keyed from then on. Downgrade does the reverse (verifies the keyed chain, re-chains with
plain SHA-256). The hashing below is a frozen copy of what each version computes.
"""
import hashlib
import hmac
import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

# revision identifiers, used by Alembic.
revision = '0013_audit_keyed_chain'
down_revision = '0012_job_outbox'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
INFO = b"credwright audit chain hmac-sha256 v1"

audit_log = sa.table(
    "audit_log",
    sa.column("id", sa.Integer), sa.column("seq", sa.BigInteger),
    sa.column("actor_id", sa.Integer), sa.column("actor_email", sa.String),
    sa.column("action", sa.String), sa.column("resource_type", sa.String),
    sa.column("resource_id", sa.String), sa.column("changes", sa.JSON),
    sa.column("ip_address", sa.String), sa.column("created_at", sa.DateTime),
    sa.column("prev_hash", sa.String), sa.column("row_hash", sa.String),
)
head = sa.table("audit_chain_head", sa.column("id", sa.Integer),
                sa.column("last_seq", sa.BigInteger), sa.column("last_hash", sa.String))


def _utc(value):
    # The app's UTC type hands out aware datetimes; this plain table reads naive ones.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _payload(prev_hash, row):
    content = {
        "seq": row.seq, "actor_id": row.actor_id, "actor_email": row.actor_email,
        "action": row.action, "resource_type": row.resource_type,
        "resource_id": row.resource_id, "changes": row.changes,
        "ip_address": row.ip_address,
        "created_at": _utc(row.created_at).isoformat(timespec="microseconds"),
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return (prev_hash + "\n" + text).encode("utf-8")


def _sha256(prev_hash, row):
    return hashlib.sha256(_payload(prev_hash, row)).hexdigest()


def _keyed():
    secret = current_app.config.get("AUDIT_KEY") or ""
    if not secret:
        raise RuntimeError("AUDIT_KEY must be configured to key the audit chain")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=INFO).derive(secret.encode("utf-8"))
    return lambda prev_hash, row: hmac.new(key, _payload(prev_hash, row),
                                           hashlib.sha256).hexdigest()


def _rechain(old, new, old_name):
    bind = op.get_bind()
    rows = bind.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()
    prev_old, prev_new = GENESIS, GENESIS
    updates = []
    for expected_seq, row in enumerate(rows, start=1):
        if (row.seq != expected_seq or row.prev_hash != prev_old
                or not hmac.compare_digest(old(row.prev_hash, row), row.row_hash)):
            raise RuntimeError(
                f"audit chain ({old_name}) broken at row id={row.id} seq={row.seq}: "
                "refusing to re-chain it; investigate that row first")
        prev_old = row.row_hash
        new_hash = new(prev_new, row)
        updates.append({"row_id": row.id, "new_prev": prev_new, "new_hash": new_hash})
        prev_new = new_hash
    tip = bind.execute(sa.select(head.c.last_seq, head.c.last_hash)
                       .where(head.c.id == 1)).one_or_none()
    if tip is not None and (tip.last_seq != len(rows) or tip.last_hash != prev_old):
        raise RuntimeError(f"audit chain ({old_name}): the tip says {tip.last_seq} rows, "
                           f"{len(rows)} were found; refusing to re-chain it")
    if updates:
        bind.execute(audit_log.update().where(audit_log.c.id == sa.bindparam("row_id"))
                     .values(prev_hash=sa.bindparam("new_prev"),
                             row_hash=sa.bindparam("new_hash")), updates)
    if tip is not None:
        bind.execute(head.update().where(head.c.id == 1).values(last_hash=prev_new))


def upgrade():
    _rechain(_sha256, _keyed(), "unkeyed SHA-256")


def downgrade():
    _rechain(_keyed(), _sha256, "keyed HMAC-SHA256")
