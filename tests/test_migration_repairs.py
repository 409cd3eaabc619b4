"""Migration 0009 on a database the old services filled: rows that break the new field
rules (level 99, negative validity, blank names) are brought within them, so the upgrade
never refuses a real database; downgrade and upgrade again work. On a scratch SQLite
file, and on a scratch PostgreSQL database when DATABASE_URL names one."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app import create_app
from app.extensions import db
from tests.conftest import scratch_database


@pytest.fixture
def scratch_url(tmp_path) -> Iterator[str]:
    with scratch_database(f"repair_{secrets.token_hex(4)}", tmp_path / "old.db") as url:
        yield url


def test_rows_breaking_the_new_rules_are_repaired_on_upgrade(scratch_url, tmp_path):
    app = create_app({"APP_ENV": "test", "TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": scratch_url, "JOBS_INLINE": True,
                      "STORAGE_DIR": str(tmp_path / "storage")})
    with app.app_context():
        upgrade(revision="0008_notification_delivery")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO organizations (name, slug, active, email_compliance_alerts, "
                "email_system_alerts, sms_credential_alerts, sms_critical_alerts, created_at, "
                "updated_at) VALUES ('   ', '', true, true, true, false, false, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
            conn.execute(text("UPDATE micro_credential_definitions SET level = 99, "
                              "validity_months = -3 WHERE is_default = true"))
            conn.execute(text("UPDATE micro_credential_definitions SET title = ' ' "
                              "WHERE level = 99 AND id = (SELECT min(id) FROM "
                              "micro_credential_definitions)"))
        upgrade()
        with db.engine.connect() as conn:
            org = conn.execute(text("SELECT id, name, slug FROM organizations")).one()
            levels = conn.execute(text(
                "SELECT DISTINCT level, validity_months FROM micro_credential_definitions "
                "WHERE is_default = true")).all()
            titles = conn.execute(text("SELECT title FROM micro_credential_definitions")).all()
        assert org.name == "(no name)" and org.slug == f"organization-{org.id}"
        assert levels == [(10, None)]
        assert ("(no name)",) in titles
        downgrade(revision="0008_notification_delivery")
        upgrade()
        db.engine.dispose()


def test_organizations_sharing_a_name_are_told_apart_on_upgrade(scratch_url, tmp_path):
    app = create_app({"APP_ENV": "test", "TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": scratch_url, "JOBS_INLINE": True,
                      "STORAGE_DIR": str(tmp_path / "storage")})
    with app.app_context():
        upgrade(revision="0018_definition_keys")
        with db.engine.begin() as conn:
            for slug, name in (("a", "Acme"), ("b", "ACME"), ("c", "Acme (2)"), ("d", "acme")):
                conn.execute(text(
                    "INSERT INTO organizations (name, slug, active, email_compliance_alerts, "
                    "email_system_alerts, sms_credential_alerts, sms_critical_alerts, "
                    "created_at, updated_at) VALUES (:name, :slug, true, true, true, false, "
                    "false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"name": name, "slug": slug})
        upgrade(revision="0019_organization_names")
        with db.engine.connect() as conn:
            names = dict(conn.execute(text("SELECT slug, name FROM organizations")).all())
        assert names == {"a": "Acme", "b": "ACME (3)", "c": "Acme (2)", "d": "acme (4)"}
        downgrade(revision="0018_definition_keys")
        upgrade()
        db.engine.dispose()


def test_projects_sharing_a_name_in_one_organization_are_told_apart(scratch_url, tmp_path):
    app = create_app({"APP_ENV": "test", "TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": scratch_url, "JOBS_INLINE": True,
                      "STORAGE_DIR": str(tmp_path / "storage")})
    with app.app_context():
        upgrade(revision="0019_organization_names")
        with db.engine.begin() as conn:
            for slug in ("one", "two"):
                conn.execute(text(
                    "INSERT INTO organizations (name, slug, active, email_compliance_alerts, "
                    "email_system_alerts, sms_credential_alerts, sms_critical_alerts, "
                    "created_at, updated_at) VALUES (:slug, :slug, true, true, true, false, "
                    "false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"slug": slug})
            orgs = dict(conn.execute(text("SELECT slug, id FROM organizations")).all())
            for org, name in (("one", "Go-live"), ("one", "GO-LIVE"), ("two", "Go-live")):
                conn.execute(text(
                    "INSERT INTO implementation_projects (name, organization_id, created_at, "
                    "updated_at) VALUES (:name, :org, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                    {"name": name, "org": orgs[org]})
        upgrade(revision="0020_project_names")
        with db.engine.connect() as conn:
            names = sorted(conn.execute(text(
                "SELECT o.slug, p.name FROM implementation_projects p JOIN organizations o "
                "ON o.id = p.organization_id")).all())
        assert names == [("one", "GO-LIVE (2)"), ("one", "Go-live"), ("two", "Go-live")]
        downgrade(revision="0019_organization_names")
        upgrade()
        db.engine.dispose()
