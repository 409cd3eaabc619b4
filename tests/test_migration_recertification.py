"""Migration 0015 on a database 0014 filled: a re-issue's revoked original becomes
SUPERSEDED, live track certificates get their version (and the major version in their
live key), tracks past 1.x get a major-change date and a 0-day grace (CHECK 0..3650);
downgrade and upgrade again work. SQLite, and PostgreSQL when DATABASE_URL names one."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.extensions import db
from tests.conftest import scratch_database

USER = ("INSERT INTO users (id, email, name, role, active, email_compliance, sms_critical, "
        "session_token, created_at, updated_at) VALUES (1, 'h@example.test', 'Holder', "
        "'staff', true, true, false, 'tok', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
TRACKS = ("INSERT INTO certification_tracks (id, name, audience, level, version_major, "
          "version_minor, active, required_for_go_live, created_at, updated_at) VALUES "
          "(1, 'Safety', 'INTERNAL', 'FOUNDATION', 2, 1, true, false, CURRENT_TIMESTAMP, "
          "CURRENT_TIMESTAMP), (2, 'Basics', 'INTERNAL', 'FOUNDATION', 1, 0, true, false, "
          "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
CERTIFICATE = ("INSERT INTO certificates (id, type, status, recipient_id, track_id, number, "
               "live_key, revocation_category, supersedes_id, notes, snapshot, created_at, "
               "updated_at) VALUES (:id, :type, :status, 1, :track_id, :number, :live_key, "
               ":revocation_category, :supersedes_id, :notes, :snapshot, CURRENT_TIMESTAMP, "
               "CURRENT_TIMESTAMP)")
BAD_GRACE = "UPDATE certification_tracks SET recertification_grace_days = :days WHERE id = 1"


@pytest.fixture
def scratch_url(tmp_path) -> Iterator[str]:
    with scratch_database(f"recert_{secrets.token_hex(4)}", tmp_path / "old.db") as url:
        yield url


def _certificate(conn, **values):
    row = {"type": "COMPLETION", "track_id": 1, "number": None, "live_key": None,
           "revocation_category": None, "supersedes_id": None, "notes": None,
           "snapshot": "{}", **values}
    conn.execute(text(CERTIFICATE), row)


def test_superseded_and_versions_are_migrated(scratch_url, tmp_path):
    app = create_app({"APP_ENV": "test", "TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": scratch_url, "JOBS_INLINE": True,
                      "STORAGE_DIR": str(tmp_path / "storage")})
    with app.app_context():
        upgrade(revision="0014_certificate_renderings")
        with db.engine.begin() as conn:
            conn.execute(text(USER))
            conn.execute(text(TRACKS))
            _certificate(conn, id=1, status="REVOKED", track_id=1,
                         number="CERT-2026-00001", revocation_category="superseded",
                         snapshot='{"version": "1.0"}')
            _certificate(conn, id=2, status="ISSUED", track_id=1,
                         number="CERT-2026-00002", supersedes_id=1,
                         live_key="1:-:1:COMPLETION", snapshot='{"version": "1.0"}')
            _certificate(conn, id=3, status="PENDING", track_id=1,
                         type="MASTERY", live_key="1:-:1:MASTERY",
                         notes="Completed version 2.1.")
            _certificate(conn, id=4, status="REVOKED", track_id=2,
                         number="CERT-2026-00003", revocation_category="misconduct")
        upgrade(revision="0015_recertification")
        with db.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(text(
                "SELECT id, status, live_key, track_version FROM certificates"))}
            tracks = {r.id: r for r in conn.execute(text(
                "SELECT id, major_version_changed_at, recertification_grace_days "
                "FROM certification_tracks"))}
        assert rows[1].status == "SUPERSEDED" and rows[1].track_version == "1.0"
        assert rows[2].status == "ISSUED" and rows[2].live_key == "1:-:1:COMPLETION:v1"
        assert rows[3].live_key == "1:-:1:MASTERY:v2" and rows[3].track_version == "2.1"
        assert rows[4].status == "REVOKED" and rows[4].track_version == "1.0"
        assert tracks[1].major_version_changed_at is not None
        assert tracks[2].major_version_changed_at is None
        assert tracks[1].recertification_grace_days == tracks[2].recertification_grace_days == 0
        for bad in (-1, 3651):
            with pytest.raises(IntegrityError), db.engine.begin() as conn:
                conn.execute(text(BAD_GRACE), {"days": bad})
        downgrade(revision="0014_certificate_renderings")
        with db.engine.connect() as conn:
            back = dict(conn.execute(text("SELECT id, status FROM certificates")).all())
            keys = dict(conn.execute(text("SELECT id, live_key FROM certificates")).all())
        assert back[1] == "REVOKED" and keys[2] == "1:-:1:COMPLETION"
        upgrade()
        db.engine.dispose()
