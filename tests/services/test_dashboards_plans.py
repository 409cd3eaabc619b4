"""The admin dashboard's queries read index ranges on PostgreSQL (issue 14): each is
bounded by status and dates, so its plan names an index and no sequential scan of
certificates (ten million rows) or of the verification log."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from app.extensions import db
from app.services import dashboards as dash
from tests.plans import plans_of

TODAY = date(2026, 6, 15)


@pytest.fixture
def pg(app: Any, make_user: Any) -> Any:
    """PostgreSQL with 20,000 certificates spread over two years of issue and expiry
    dates and statuses, and as many checks, analyzed (the planner's estimates)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("plans are checked on PostgreSQL")
    person = make_user()
    with app.app_context():
        db.session.execute(text("""
            INSERT INTO certificates (type, status, recipient_id, issued_at, expires_at,
                                      snapshot, created_at, updated_at)
            SELECT 'COMPLETION', (ARRAY['ISSUED','ISSUED','ISSUED','REVOKED','PENDING'])[1 + i % 5],
                   :person, TIMESTAMP '2025-01-01' + (i % 730) * INTERVAL '1 day',
                   DATE '2026-01-01' + (i % 730), '{}', now(), now()
            FROM generate_series(1, 20000) AS i"""), {"person": person.id})
        db.session.execute(text("""
            INSERT INTO certificate_verifications (certificate_id, channel, verified_at)
            SELECT (SELECT min(id) FROM certificates), 'page',
                   TIMESTAMP '2025-01-01' + (i % 730) * INTERVAL '1 day'
            FROM generate_series(1, 20000) AS i"""))
        db.session.commit()
        db.session.execute(text("ANALYZE certificates"))
        db.session.execute(text("ANALYZE certificate_verifications"))
        db.session.commit()
        yield app


@pytest.mark.parametrize(("name", "index"), [
    ("issued", "ix_certificates_status_issued_at_id"),
    ("expiring", "ix_certificates_status_expires_at"),
    ("checks", "ix_certificate_verifications_verified_at"),
    ("pending", "ix_certificates_"),  # the Pending badge's capped count (its own rule)
    ("failed", "ix_notification_deliveries_status_id"),
])
def test_each_admin_figure_reads_an_index_range(pg: Any, name: str, index: str) -> None:
    figure = {"issued": lambda: dash.admin.certificates_issued_per_month(TODAY),
              "expiring": lambda: dash.admin.certificates_expiring(TODAY),
              "checks": lambda: dash.admin.verifications_per_week(TODAY),
              "pending": dash.admin.pending_approvals,
              "failed": dash.admin.failed_deliveries}[name]
    with pg.app_context():
        plans = plans_of(figure)
        assert plans
        for plan in plans:
            print(plan)
            assert "Seq Scan" not in plan
        assert any(index in plan for plan in plans), plans


@pytest.fixture
def pg_quiz(app: Any, make_user: Any, make_track: Any) -> Any:
    """PostgreSQL with 20,000 quiz attempts submitted over twenty years (a year is 5 %),
    analyzed."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("plans are checked on PostgreSQL")
    from app.models import CertificationTrack, User
    from app.services import training
    from app.services.context import Actor

    person, track = make_user(), make_track()
    with app.app_context():
        training.enrol(db.session.get(User, person.id),
                       db.session.get(CertificationTrack, track.id), Actor.system())
        db.session.commit()
        db.session.execute(text("""
            INSERT INTO quiz_attempts (course_progress_id, cycle, attempt_number,
                                       track_version, answers, score, passed,
                                       wrong_question_ids, submitted_at)
            SELECT (SELECT min(id) FROM course_progress), 0, i, '1.0', '{}', 50, i % 2 = 0,
                   '[]', TIMESTAMP '2007-01-01' + (i % 7300) * INTERVAL '1 day'
            FROM generate_series(1, 20000) AS i"""))
        db.session.commit()
        db.session.execute(text("ANALYZE quiz_attempts"))
        db.session.commit()
        yield app


def test_the_managers_quiz_figures_read_a_range_of_submitted_at(pg_quiz: Any) -> None:
    """Migration 0031's ix_quiz_attempts_submitted_at: a year of attempts, not all."""
    with pg_quiz.app_context():
        plans = plans_of(lambda: dash.manager.quiz_figures(TODAY))
        assert plans
        quiz = [plan for plan in plans if "quiz_attempts" in plan]
        assert quiz, plans
        for plan in quiz:
            print(plan)
            assert "ix_quiz_attempts_submitted_at" in plan
            assert "Seq Scan on quiz_attempts" not in plan
