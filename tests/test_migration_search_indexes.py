"""Migration 0021: the list-order indexes everywhere; on PostgreSQL the trigram indexes of
the people search (used by the search's own query shape), and a clean fallback where
pg_trgm is refused; on SQLite no trigram index, and the search still works."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import User
from app.services.users import people_matching

MIGRATION = Path(__file__).parent.parent / "migrations/versions/0021_search_indexes.py"
LIST_INDEXES = {"ix_certificates_issued_at_id", "ix_certificates_course_id_status_issued_at_id",
                "ix_certificates_track_id_status_issued_at_id",
                "ix_certificates_withdrawn_issued_at_id",
                "ix_certificates_pending_recommended_at_id"}
TRIGRAM = {"ix_users_name_trgm", "ix_users_email_trgm"}


def _migration() -> Any:
    spec = importlib.util.spec_from_file_location("search_indexes_0021", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _indexes(table: str, conn: Any = None) -> set[str]:
    sql = ("SELECT indexname FROM pg_indexes WHERE tablename = :t"
           if db.engine.dialect.name == "postgresql"
           else "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t")
    return set((conn or db.session).execute(text(sql), {"t": table}).scalars())


def test_the_list_order_indexes_exist(app: Any) -> None:
    with app.app_context():
        names = _indexes("certificates")
        assert LIST_INDEXES <= names
        assert not {"ix_certificates_course_id", "ix_certificates_track_id"} & names
        trigram = TRIGRAM & _indexes("users")
        if db.engine.dialect.name == "postgresql":
            assert trigram == TRIGRAM
        else:
            assert trigram == set()


def test_the_people_search_works_with_or_without_trigrams(app: Any, make_user: Any) -> None:
    make_user(name="Mere Whitlock")
    make_user(name="Tom Jones", email="tom.whitlock@example.test")
    make_user(name="Ana Smith")
    with app.app_context():
        found = db.session.scalars(select(User.name).where(people_matching("WHITLOCK")))
        assert sorted(found) == ["Mere Whitlock", "Tom Jones"]


@pytest.fixture
def pg(app: Any) -> Any:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("trigram indexes are made on PostgreSQL only")
        yield app


def test_the_search_query_uses_the_trigram_indexes(pg: Any, make_user: Any) -> None:
    for i in range(40):
        make_user(name=f"Person {i} Tūhoe", email=f"person{i}@example.test")
    with pg.app_context():
        stmt = select(User.id).where(people_matching("whitlock"))
        compiled = stmt.compile(db.engine)
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE users"))
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {compiled}",
                                                  compiled.params).scalars())
        assert "ix_users_name_trgm" in plan and "ix_users_email_trgm" in plan, plan


def test_a_refused_pg_trgm_is_logged_and_skipped(pg: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """As a role that may not create extensions in this database: the savepoint rolls
    back, the migration goes on without the trigram indexes, the transaction is fine."""
    migration = _migration()
    with pg.app_context(), db.engine.connect() as conn:
        outer = conn.begin()
        try:
            conn.execute(text("DROP EXTENSION pg_trgm CASCADE"))  # drops its two indexes
            conn.execute(text("CREATE ROLE credwright_no_extensions NOLOGIN"))
            conn.execute(text("SET LOCAL ROLE credwright_no_extensions"))
            with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
                assert migration._trigram_available(conn) is False
            assert "pg_trgm is not available" in caplog.text
            assert "CREATE INDEX ix_users_name_trgm" in caplog.text  # what to run later
            assert conn.execute(text("SELECT 1")).scalar() == 1  # still usable
            conn.execute(text("RESET ROLE"))
            assert migration._trigram_available(conn) is True  # the owner may
        finally:
            outer.rollback()
        assert TRIGRAM <= _indexes("users", conn)
