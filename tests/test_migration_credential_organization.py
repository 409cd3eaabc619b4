"""Migration 0034 on a database 0033 filled: every staff credential gets its holder's
organization (none for a holder without one), updated_at untouched, and the summary
index exists; downgrade and upgrade again work. SQLite, and PostgreSQL when
DATABASE_URL names one."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import insert, inspect, text

from app import create_app
from app.extensions import db
from app.models import MicroCredentialDefinition, Organization, User
from tests.conftest import scratch_database

STAMP = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
CREDENTIAL = ("INSERT INTO staff_micro_credentials (id, definition_id, user_id, status, "
              "created_at, updated_at) VALUES (:id, 100, :user_id, 'AWARDED', :at, :at)")


@pytest.fixture
def scratch_url(tmp_path) -> Iterator[str]:
    with scratch_database(f"credorg_{secrets.token_hex(4)}", tmp_path / "old.db") as url:
        yield url


def _organizations(conn) -> dict[int, int | None]:
    return dict(conn.execute(text(
        "SELECT id, organization_id FROM staff_micro_credentials ORDER BY id")).all())


def test_credentials_get_their_holders_organization(scratch_url, tmp_path):
    app = create_app({"APP_ENV": "test", "TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": scratch_url, "JOBS_INLINE": True,
                      "STORAGE_DIR": str(tmp_path / "storage")})
    with app.app_context():
        upgrade(revision="0033_api_catalogue")
        with db.engine.begin() as conn:
            # Core inserts of the models' tables name only the columns 0033 has.
            for n in (1, 2):
                conn.execute(insert(Organization.__table__),
                             {"id": n, "name": f"Org {n}", "slug": f"org-{n}"})
            for n, org in ((1, 1), (2, 2), (3, None)):
                conn.execute(insert(User.__table__),
                             {"id": n, "email": f"p{n}@example.test", "name": f"P {n}",
                              "organization_id": org})
            conn.execute(insert(MicroCredentialDefinition.__table__),
                         {"id": 100, "title": "Skill", "level": 4, "issuing_body": "RANZ"})
            naive = STAMP.replace(tzinfo=None)
            for credential_id, user_id in ((1, 1), (2, 2), (3, 3)):
                conn.execute(text(CREDENTIAL), {"id": credential_id, "user_id": user_id,
                                                "at": naive})
        upgrade(revision="0034_credential_organization")
        with db.engine.begin() as conn:
            assert _organizations(conn) == {1: 1, 2: 2, 3: None}
            stamps = conn.execute(text("SELECT DISTINCT updated_at FROM "
                                       "staff_micro_credentials")).scalars().all()
            assert [str(s)[:19] for s in stamps] == ["2025-03-04 05:06:07"]
        indexes = {i["name"]: i["column_names"]
                   for i in inspect(db.engine).get_indexes("staff_micro_credentials")}
        assert indexes["ix_staff_micro_credentials_org_summary"] == [
            "organization_id", "definition_id", "status", "expiry_date"]
        downgrade(revision="0033_api_catalogue")
        columns = {c["name"] for c in inspect(db.engine).get_columns("staff_micro_credentials")}
        assert "organization_id" not in columns
        upgrade()
        with db.engine.begin() as conn:
            assert _organizations(conn) == {1: 1, 2: 2, 3: None}
        db.engine.dispose()
