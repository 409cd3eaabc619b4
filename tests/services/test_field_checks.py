"""The CHECK constraints of migration 0009: on the migrated database (SQLite, or
PostgreSQL with DATABASE_URL), a raw write that breaks a field rule is refused by the
database itself; the boundary value is accepted. The models declare the same ones."""

from __future__ import annotations

import pytest
from sqlalchemy import CheckConstraint, inspect, text
from sqlalchemy.exc import IntegrityError

from app import seed
from app.extensions import db

# (table, column, a value the constraint refuses, a value it accepts)
CHECKS = [
    ("organizations", "name", "   ", "Acme"),
    ("organizations", "slug", "", "acme-2"),
    ("users", "name", "  ", "Ann"),
    ("micro_credential_definitions", "title", " ", "Gutters"),
    ("micro_credential_definitions", "issuing_body", "", "RANZ"),
    ("micro_credential_definitions", "level", 99, 10),
    ("micro_credential_definitions", "level", 0, 1),
    ("micro_credential_definitions", "validity_months", -1, 0),
    ("staff_micro_credentials", "evidence_size", -1, 0),
    ("certification_tracks", "name", "  ", "Safety"),
    ("certification_tracks", "version_major", 0, 1),
    ("certification_tracks", "version_minor", -1, 0),
    ("certification_tracks", "estimated_hours", -1, 0),
    ("certification_tracks", "validity_months", -1, 0),
    ("courses", "title", "   ", "Ladders"),
    ("courses", "estimated_minutes", -1, 0),
    ("courses", "sort_order", -1, 0),
    ("courses", "passing_score", 101, 100),
    ("courses", "passing_score", -1, 0),
    ("courses", "attempt_limit", 0, 1),
    ("course_progress", "exam_score", 100.5, 100.0),
    ("course_progress", "exam_score", -0.5, 0.0),
    ("course_progress", "exam_attempts", -1, 0),
    ("course_progress", "attempt_cycle", -1, 0),
    ("quiz_attempts", "score", 101.0, 100.0),
    ("quiz_attempts", "attempt_number", 0, 1),
    ("quiz_attempts", "cycle", -1, 0),
    ("implementation_projects", "name", " ", "Go-live"),
    ("training_assignments", "required_completions", 0, 1),
    ("certificates", "progress_percent", 100.1, 100.0),
    ("certificates", "sessions_attended", -1, 0),
    ("certificates", "average_rating", 0.5, 1.0),
    ("certificates", "average_rating", 5.5, 5.0),
    ("course_sessions", "title", "  ", "Workshop"),
    ("session_attendance", "rating", 0, 1),
    ("session_attendance", "rating", 6, 5),
]


@pytest.fixture
def demo(app):
    with app.app_context():
        seed.demo_data()
        db.session.commit()
    return app


def _update(table: str, column: str, value: object) -> int:
    with db.session.begin_nested():
        result = db.session.execute(
            text(f"UPDATE {table} SET {column} = :value "  # noqa: S608 (names are ours)
                 f"WHERE id = (SELECT min(id) FROM {table})"), {"value": value})
    return result.rowcount


@pytest.mark.parametrize("table, column, bad, good", CHECKS,
                         ids=[f"{t}.{c}={b!r}" for t, c, b, _ in CHECKS])
def test_check_constraint_refuses_a_raw_update(demo, table, column, bad, good):
    with demo.app_context():
        assert _update(table, column, good) == 1  # a row exists, the boundary is allowed
        with pytest.raises(IntegrityError):
            _update(table, column, bad)
        db.session.rollback()


def test_check_constraint_refuses_a_raw_insert(app):
    with app.app_context():
        insert = text("INSERT INTO micro_credential_definitions "
                      "(title, level, issuing_body, is_default, created_at, updated_at) "
                      "VALUES (:title, :level, 'RANZ', false, :now, :now)")
        from app.models.base import utcnow
        now = utcnow().replace(tzinfo=None)
        for title, level in (("x title", 99), ("   ", 4)):
            with pytest.raises(IntegrityError):
                with db.session.begin_nested():
                    db.session.execute(insert, {"title": title, "level": level, "now": now})
        with db.session.begin_nested():
            db.session.execute(insert, {"title": "Fine", "level": 10, "now": now})
        db.session.rollback()


def test_the_models_declare_the_migrated_constraints(app):
    with app.app_context():
        inspector = inspect(db.engine)
        declared = {(table.name, c.name) for table in db.metadata.sorted_tables
                    for c in table.constraints if isinstance(c, CheckConstraint)}
        migrated = {(table, c["name"]) for table in inspector.get_table_names()
                    for c in inspector.get_check_constraints(table)
                    if c["name"] and c["name"].startswith("ck_")}
        assert declared == migrated
        assert len(declared) == 41  # with the grace period (0015), extra attempts (0017),
        # a renewal campaign's days (0024), certificate templates' name and subject (0023)
        # and the outbox's max_attempts range and attempts <= max_attempts (0031)
