"""The audit service: hash chain, verification, tamper detection, concurrency."""

from __future__ import annotations

import hashlib
import threading

import pytest
from sqlalchemy import delete, select, text, update

from app.extensions import db
from app.models import AuditChainHead, AuditLog
from app.services import audit
from app.services.context import Actor


def _write(app, n: int) -> None:
    with app.app_context():
        for i in range(n):
            audit.record(Actor(None, "10.0.0.1"), "UPDATE", "thing", i, {"name": ["a", f"b{i}"]})
        db.session.commit()


def test_rows_chain_and_verify(app):
    _write(app, 5)
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).order_by(AuditLog.seq)).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == audit.GENESIS_HASH
        for before, after in zip(rows, rows[1:], strict=False):
            assert after.prev_hash == before.row_hash
        report = audit.verify_chain()
        assert report.ok and report.checked == 5


def test_an_edited_row_is_reported(app):
    _write(app, 5)
    with app.app_context():
        db.session.execute(update(AuditLog).where(AuditLog.seq == 3)
                           .values(changes={"name": ["a", "forged"]}))
        db.session.commit()
        report = audit.verify_chain()
        assert not report.ok and report.broken_seq == 3 and "edited" in report.reason


def test_a_deleted_row_is_reported(app):
    _write(app, 5)
    with app.app_context():
        db.session.execute(delete(AuditLog).where(AuditLog.seq == 2))
        db.session.commit()
        report = audit.verify_chain()
        assert not report.ok and report.broken_seq == 3 and "missing" in report.reason


def test_rows_removed_from_the_end_are_reported(app):
    _write(app, 4)
    with app.app_context():
        db.session.execute(delete(AuditLog).where(AuditLog.seq == 4))
        db.session.commit()
        report = audit.verify_chain()
        assert not report.ok and "removed from the end" in report.reason


def test_a_rehashed_forgery_still_breaks_the_next_link(app):
    _write(app, 4)
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(AuditLog.seq == 2))
        row.changes = {"name": ["a", "forged"]}
        row.row_hash = audit.compute_row_hash(row.prev_hash, row)  # attacker recomputes
        db.session.commit()
        report = audit.verify_chain()
        assert not report.ok and report.broken_seq == 3


def test_a_rolled_back_write_leaves_no_gap(app):
    with app.app_context():
        audit.record(Actor.system(), "CREATE", "thing", 1)
        db.session.rollback()
        audit.record(Actor.system(), "CREATE", "thing", 2)
        db.session.commit()
        assert db.session.scalars(select(AuditLog.seq)).all() == [1]
        assert audit.verify_chain().ok


def test_concurrent_writers_keep_one_unbroken_chain(app):
    threads = [threading.Thread(target=_write, args=(app, 10)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with app.app_context():
        report = audit.verify_chain()
        assert report.ok, report
        assert report.checked == 60
        assert db.session.get(AuditChainHead, audit.HEAD_ID).last_seq == 60


def test_changes_between_lists_only_what_changed():
    assert audit.changes_between({"a": 1, "b": 2}, {"a": 1, "b": 3}) == {"b": [2, 3]}


# --- the keyed chain: an attacker with the database but not AUDIT_KEY ----------------

def _rewrite_from(seq: int, rehash) -> None:
    """Edit row `seq` and recompute its hash and every later one with `rehash`, moving
    the tip too: all an attacker with write access to the tables can do."""
    rows = db.session.scalars(select(AuditLog).order_by(AuditLog.seq)).all()
    prev = audit.GENESIS_HASH
    for row in rows:
        if row.seq == seq:
            row.changes = {"name": ["a", "forged"]}
        if row.seq >= seq:
            row.prev_hash = prev
            row.row_hash = rehash(prev, row)
        prev = row.row_hash
    db.session.get(AuditChainHead, audit.HEAD_ID).last_hash = prev
    db.session.commit()


def _plain_sha256(prev, row):
    return hashlib.sha256(audit.row_payload(prev, row)).hexdigest()


def _wrong_key(prev, row):
    return audit.compute_row_hash(prev, row, audit.derive_chain_key("a guessed key"))


@pytest.mark.parametrize("rehash", [_plain_sha256, _wrong_key], ids=["sha256", "wrong-key"])
def test_a_rewritten_row_is_found_even_with_every_later_hash_recomputed(app, rehash):
    _write(app, 6)
    with app.app_context():
        _rewrite_from(3, rehash)
        report = audit.verify_chain()
        assert not report.ok and report.broken_seq == 3 and "edited" in report.reason
        assert report.checked == 2
        result = app.test_cli_runner().invoke(args=["audit", "verify"])
        assert result.exit_code == 1
        assert "BROKEN at row" in result.output and "seq=3" in result.output


def test_only_the_key_recomputes_a_chain_that_verifies(app):
    """The control: the same rewrite with the real key passes, so what catches the
    forgeries above is the key (and nothing about the rewrite itself)."""
    _write(app, 4)
    with app.app_context():
        _rewrite_from(2, lambda prev, row: audit.compute_row_hash(prev, row))
        assert audit.verify_chain().ok


def test_the_chain_key_comes_from_audit_key_not_the_database(make_app):
    first = make_app(AUDIT_KEY="one secret")
    _write(first, 3)
    with first.app_context():
        assert audit.verify_chain().ok
    other = make_app(AUDIT_KEY="another secret")
    with other.app_context():
        report = audit.verify_chain()
        assert not report.ok and report.broken_seq == 1
    assert audit.derive_chain_key("one secret") != audit.derive_chain_key("another secret")
    assert len(audit.derive_chain_key("one secret")) == 32


# --- migration 0013: old unkeyed chains are verified, then re-chained with the key ----

BEFORE_KEYING = "0012_job_outbox"


def _legacy_chain() -> list[str]:
    """Turn the trail into what it was before the key: plain SHA-256 links."""
    prev = audit.GENESIS_HASH
    hashes = []
    for row in db.session.scalars(select(AuditLog).order_by(AuditLog.seq)):
        row.prev_hash = prev
        row.row_hash = prev = _plain_sha256(prev, row)
        hashes.append(prev)
    db.session.get(AuditChainHead, audit.HEAD_ID).last_hash = prev
    db.session.commit()
    return hashes


@pytest.fixture
def fresh_app(tmp_path, storage_dir, database_url):
    from app import create_app
    from tests.conftest import _test_config

    if database_url.startswith("postgres"):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        url = make_url(database_url)
        name = f"{url.database}_audit_migration"
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        target = url.set(database=name).render_as_string(hide_password=False)
    else:
        admin, name, target = None, None, f"sqlite:///{tmp_path / 'audit-migration.db'}"
    app = create_app(_test_config(target, storage_dir))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_rechains_an_intact_unkeyed_trail_and_downgrade_undoes_it(fresh_app):
    from flask_migrate import downgrade, upgrade

    with fresh_app.app_context():
        upgrade(revision=BEFORE_KEYING)
        _write(fresh_app, 5)
        legacy = _legacy_chain()
        assert not audit.verify_chain().ok  # unkeyed rows do not pass the keyed check
        db.session.rollback()  # end the read (SQLite's snapshot) before migrating
        upgrade()
        report = audit.verify_chain()
        assert report.ok and report.checked == 5
        keyed = db.session.scalars(select(AuditLog.row_hash).order_by(AuditLog.seq)).all()
        assert set(keyed).isdisjoint(legacy)
        db.session.rollback()
        downgrade(revision=BEFORE_KEYING)
        assert db.session.scalars(select(AuditLog.row_hash).order_by(AuditLog.seq)).all() \
            == legacy
        db.session.rollback()
        upgrade()
        assert audit.verify_chain().ok


def test_upgrade_refuses_to_key_a_trail_that_was_already_tampered_with(fresh_app):
    from flask_migrate import upgrade

    with fresh_app.app_context():
        upgrade(revision=BEFORE_KEYING)
        _write(fresh_app, 4)
        _legacy_chain()
        db.session.execute(update(AuditLog).where(AuditLog.seq == 3)
                           .values(changes={"name": ["a", "forged"]}))
        db.session.commit()
        with pytest.raises((RuntimeError, SystemExit)):
            upgrade()
        db.session.rollback()
        current = db.session.execute(
            text("SELECT version_num FROM alembic_version")).scalar()
        assert current == BEFORE_KEYING
