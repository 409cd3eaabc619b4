"""Migration 0028: a tab filtered by type walks its own index in list order (issue 16)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.extensions import db

TYPE_INDEX = "ix_certificates_status_type_issued_at_id"


def test_the_type_filter_has_an_index_in_list_order(app: Any) -> None:
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            definition = db.session.scalar(text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": TYPE_INDEX})
            assert definition is not None
            assert "(status, type, issued_at DESC NULLS LAST, id DESC)" in definition
        else:
            columns = db.session.execute(text(f"PRAGMA index_xinfo({TYPE_INDEX})")).all()
            keys = [(c.name, c.desc) for c in columns if c.key]
            assert keys == [("status", 0), ("type", 0), ("issued_at", 1), ("id", 1)]
