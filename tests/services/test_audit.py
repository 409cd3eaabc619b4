"""The audit service: hash chain, verification, tamper detection, concurrency."""

from __future__ import annotations

import threading

from sqlalchemy import delete, select, update

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
