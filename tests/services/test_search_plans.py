"""The global search's statements on PostgreSQL are index lookups, never a scan of the
certificates table: a number by its unique index, people by the trigram indexes, every
statement with a LIMIT (run with DATABASE_URL pointing at PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text

from app.extensions import db
from app.models import Role, User
from app.services import search


@pytest.fixture
def pg(app: Any) -> Any:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the plans are PostgreSQL's")
    return app


def _statements(app: Any, viewer_id: int, q: str) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    with app.app_context():
        viewer = db.session.get(User, viewer_id)
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            search.search(viewer, q)
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
    return seen


def _plans(app: Any, statements: list[tuple[str, Any]], *off: str) -> list[str]:
    """EXPLAIN with sequential scans (and the `off` plan types) priced out: a test
    table is so small that scanning it is always cheapest; what matters is that the
    statement's shape lets an index answer it, as it must at millions of rows."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("ANALYZE users"))
        conn.execute(text("ANALYZE certificates"))
        for setting in ("enable_seqscan", *off):
            conn.execute(text(f"SET LOCAL {setting} = off"))
        return ["\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}", params).scalars())
                for sql, params in statements]


def test_a_certificate_number_is_one_probe_of_its_unique_index(pg, make_user, make_track,
                                                                issue):
    admin = make_user(Role.ADMIN)
    holder = make_user(Role.STAFF, name="Aroha Whitlock")
    certificate = issue(holder, track=make_track("Gutters", exam=False))
    statements = [(sql, p) for sql, p in _statements(pg, admin.id, certificate.number)
                  if "FROM certificates" in sql]
    assert len(statements) == 1
    (plan,) = _plans(pg, statements)
    assert "Seq Scan on certificates" not in plan, plan
    assert any("Index Cond" in line and "number" in line for line in plan.splitlines()), plan


def test_people_are_found_through_the_trigram_indexes_with_a_limit(pg, make_user):
    admin = make_user(Role.ADMIN)
    for i in range(30):
        make_user(name=f"Person {i} Whitlock", email=f"whitlock{i}@example.test")
    statements = [(sql, p) for sql, p in _statements(pg, admin.id, "whitlock")
                  if "FROM users" in sql and "lower(users.name)" in sql]
    assert statements and all("LIMIT" in sql for sql, _ in statements)
    with pg.app_context():
        indexes = set(db.session.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'users'")).scalars())
    if not {"ix_users_name_trgm", "ix_users_email_trgm"} <= indexes:
        pytest.skip("pg_trgm was refused here (migration 0021 then builds no trigram index)")
    # No plain index scan either: the order (lower(name)) is no b-tree's, so the matches
    # come from the trigram indexes and only they are sorted.
    (plan,) = _plans(pg, statements[:1], "enable_indexscan")
    assert "ix_users_name_trgm" in plan and "ix_users_email_trgm" in plan, plan
