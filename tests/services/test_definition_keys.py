"""Default micro-credentials' stable keys (migration 0018): seeding matches the RANZ
defaults by key, so renaming one and seeding again never adds a fourth default; the
migration backfills existing defaults by their original titles (or, for one renamed
before it, by its skill standard); a renamed default still cannot be deleted."""

from __future__ import annotations

import secrets

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text

from app import create_app
from app.extensions import db
from app.models import MicroCredentialDefinition
from app.services import credentials as mc
from app.services.context import Actor
from app.services.errors import Conflict
from tests.conftest import scratch_database

KEYS = {"ranz-reclad-reroofing-l5", "ranz-repairs-maintenance-l5",
        "ranz-compliance-practices-l4"}


def _defaults():
    return list(db.session.scalars(select(MicroCredentialDefinition)
                                   .where(MicroCredentialDefinition.is_default)))


def test_every_default_has_its_key(app):
    with app.app_context():
        assert {d.default_key for d in _defaults()} == KEYS
        assert {d["default_key"] for d in mc.RANZ_DEFAULTS} == KEYS


def test_renamed_default_is_not_created_again_by_seed(app):
    with app.app_context():
        reclad = db.session.scalar(select(MicroCredentialDefinition).where(
            MicroCredentialDefinition.default_key == "ranz-reclad-reroofing-l5"))
        mc.update_definition(reclad, Actor.system(), title="Reclad and reroofing (L5)")
        db.session.commit()
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["seed"])
        assert result.exit_code == 0, result.output
    with app.app_context():
        defaults = _defaults()
        assert len(defaults) == 3
        assert "Reclad and reroofing (L5)" in {d.title for d in defaults}
        assert db.session.scalar(select(func.count()).select_from(MicroCredentialDefinition)
                                 .where(MicroCredentialDefinition.title
                                        == "Reclad/Reroofing Level 5")) == 0
        renamed = next(d for d in defaults if d.title == "Reclad and reroofing (L5)")
        with pytest.raises(Conflict, match="Default credentials cannot be deleted"):
            mc.delete_definition(renamed, Actor.system())


def test_the_key_cannot_be_set_through_the_service(app, make_definition):
    definition = make_definition("Some local credential")
    with app.app_context():
        row = db.session.get(MicroCredentialDefinition, definition.id)
        with pytest.raises(ValueError):
            mc.update_definition(row, Actor.system(), default_key="ranz-reclad-reroofing-l5")


def test_two_definitions_cannot_share_a_key(app):
    with app.app_context():
        db.session.add(MicroCredentialDefinition(
            title="Copy", level=5, issuing_body="RANZ", is_default=True,
            default_key="ranz-reclad-reroofing-l5"))
        with pytest.raises(Exception, match="(?i)unique"):
            db.session.flush()
        db.session.rollback()


@pytest.fixture
def scratch_url(tmp_path):
    with scratch_database(f"keys_{secrets.token_hex(4)}", tmp_path / "keys.db") as url:
        yield url


def test_migration_backfills_keys_by_original_title_or_skill_standard(scratch_url, tmp_path):
    app = create_app({"APP_ENV": "test", "TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": scratch_url, "JOBS_INLINE": True,
                      "STORAGE_DIR": str(tmp_path / "storage")})
    with app.app_context():
        upgrade(revision="0017_quiz_attempt_grants")
        with db.engine.begin() as conn:
            # Renamed before keys existed: found again by its skill standard.
            conn.execute(text("UPDATE micro_credential_definitions SET title = 'Repairs L5' "
                              "WHERE title = 'Repairs/Maintenance Level 5'"))
            # An admin's own definition with a default's title is not a default.
            conn.execute(text(
                "INSERT INTO micro_credential_definitions (title, level, issuing_body, "
                "is_default, created_at, updated_at) VALUES ('Compliance Practices Level 4', "
                "4, 'Local', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        upgrade()
        with db.engine.connect() as conn:
            rows = dict(conn.execute(text(
                "SELECT title, default_key FROM micro_credential_definitions "
                "WHERE is_default = true")).all())
            local = conn.execute(text(
                "SELECT default_key FROM micro_credential_definitions "
                "WHERE is_default = false")).scalar_one()
        assert rows == {"Reclad/Reroofing Level 5": "ranz-reclad-reroofing-l5",
                        "Repairs L5": "ranz-repairs-maintenance-l5",
                        "Compliance Practices Level 4": "ranz-compliance-practices-l4"}
        assert local is None
        assert mc.ensure_default_definitions() == 0
        db.session.rollback()
        downgrade(revision="0017_quiz_attempt_grants")
        upgrade()
        db.session.remove()
        db.engine.dispose()
