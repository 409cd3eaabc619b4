"""Migration 0014 on a database with certificates whose PDFs were rendered before it: each
current PDF hash is copied into certificate_renderings (one row per hash), so the upload
check still recognizes every PDF handed out; downgrade and upgrade again work. On a
scratch SQLite file, and on a scratch PostgreSQL database when DATABASE_URL names one."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from tests.conftest import scratch_database


@pytest.fixture
def scratch_url(tmp_path) -> Iterator[str]:
    with scratch_database(f"renderings_{secrets.token_hex(4)}", tmp_path / "old.db") as url:
        yield url


def _insert(conn: Any, table: str, values: dict[str, Any]) -> int:
    """A row with `values` and a plain value in every other required column."""
    row = dict(values)
    for column in inspect(conn).get_columns(table):
        name, kind = column["name"], str(column["type"]).upper()
        if name in row or column["nullable"] or column.get("default") is not None \
                or column.get("autoincrement") is True or name == "id":
            continue
        row[name] = (False if "BOOL" in kind else 0 if "INT" in kind or "FLOAT" in kind
                     or "NUMERIC" in kind else datetime.now(UTC).replace(tzinfo=None)
                     if "DATE" in kind or "TIME" in kind else "{}" if "JSON" in kind
                     else f"x{secrets.token_hex(4)}")
    names = ", ".join(row)
    params = ", ".join(f":{name}" for name in row)
    sql = f"INSERT INTO {table} ({names}) VALUES ({params}) RETURNING id"  # noqa: S608
    return conn.execute(text(sql),
                        row).scalar_one()


def test_current_pdf_hashes_are_backfilled_as_renderings(scratch_url, tmp_path):
    app = create_app({"APP_ENV": "test", "TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": scratch_url, "JOBS_INLINE": True,
                      "STORAGE_DIR": str(tmp_path / "storage")})
    with app.app_context():
        upgrade(revision="0013_audit_keyed_chain")
        with db.engine.begin() as conn:
            user = _insert(conn, "users", {"email": "holder@example.test", "name": "Holder",
                                           "role": "STAFF", "active": True})
            rendered = [_insert(conn, "certificates", {
                "type": "COMPLETION", "status": status, "recipient_id": user,
                "pdf_key": f"certificates/{n}.pdf", "pdf_sha256": digest})
                for n, (status, digest) in enumerate(
                    [("ISSUED", "a" * 64), ("REVOKED", "b" * 64), ("ISSUED", "a" * 64)])]
            _insert(conn, "certificates", {"type": "MASTERY", "status": "PENDING",
                                           "recipient_id": user})
        upgrade(revision="0014_certificate_renderings")
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT certificate_id, sha256, pdf_key FROM "
                                     "certificate_renderings ORDER BY id")).all()
        # One row per hash (the lowest certificate holding it); none without a PDF.
        assert sorted(rows) == sorted([(rendered[0], "a" * 64, "certificates/0.pdf"),
                                       (rendered[1], "b" * 64, "certificates/1.pdf")])
        downgrade(revision="0013_audit_keyed_chain")
        assert "certificate_renderings" not in inspect(db.engine).get_table_names()
        upgrade()
        db.engine.dispose()
