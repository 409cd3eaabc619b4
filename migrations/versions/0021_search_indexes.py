"""search and keyset indexes for the admin lists at millions of certificates

Revision ID: 0021_search_indexes
Revises: 0020_project_names
Create Date: 2026-12-01 14:15:00

- The certificate list's order (issued_at DESC NULLS LAST, id DESC) for every status (the
  API's default list), per course and per track tab (replacing the plain course_id and
  track_id indexes, whose foreign keys they still serve), and as partial indexes for the
  Revoked tab (REVOKED and SUPERSEDED together) and the Pending tab (recommended_at, id).
- (status, expires_at) for the daily sweep's certificate expiry reminders (bench lane).
- On PostgreSQL, trigram (pg_trgm) GIN indexes for the people search, `lower(name) LIKE
  '%...%'` and `email LIKE '%...%'` (emails are stored lower-cased), when the extension
  can be had: `CREATE EXTENSION IF NOT EXISTS pg_trgm` is tried in a savepoint (a trusted
  extension since PostgreSQL 13: a database owner may create it); refused, it is logged
  and the trigram indexes are skipped (the search still works, by scanning). They are
  conditional, so the models do not declare them; migrations/env.py leaves names ending
  in `_trgm` out of `flask db check`. SQLite: no trigram indexes.
"""
import logging

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021_search_indexes'
down_revision = '0020_project_names'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

TRIGRAM_INDEXES = {
    "ix_users_name_trgm": "users USING gin (lower(name) gin_trgm_ops)",
    "ix_users_email_trgm": "users USING gin (email gin_trgm_ops)",
}


def _order(nulls_last: str) -> list:
    return [sa.text("issued_at DESC" + nulls_last), sa.text("id DESC")]


def _trigram_available(bind) -> bool:
    """pg_trgm installed (or installable now); False, logged, when it is refused."""
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as error:
        savepoint.rollback()
        log.warning("pg_trgm is not available (%s): the people search will scan instead of "
                    "using trigram indexes. A superuser can run CREATE EXTENSION pg_trgm "
                    "and then: %s", str(error.orig).strip().splitlines()[0],
                    "; ".join(f"CREATE INDEX {name} ON {spec}"
                              for name, spec in TRIGRAM_INDEXES.items()))
        return False
    savepoint.commit()
    return True


def upgrade():
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    # SQLite has no NULLS LAST in indexes, and its DESC already puts NULLs last.
    nulls_last = " NULLS LAST" if pg else ""
    op.drop_index('ix_certificates_course_id', table_name='certificates')
    op.drop_index('ix_certificates_track_id', table_name='certificates')
    op.create_index('ix_certificates_issued_at_id', 'certificates', _order(nulls_last))
    op.create_index('ix_certificates_course_id_status_issued_at_id', 'certificates',
                    ['course_id', 'status', *_order(nulls_last)])
    op.create_index('ix_certificates_track_id_status_issued_at_id', 'certificates',
                    ['track_id', 'status', *_order(nulls_last)])
    withdrawn = sa.text("status IN ('REVOKED', 'SUPERSEDED')")
    op.create_index('ix_certificates_withdrawn_issued_at_id', 'certificates',
                    _order(nulls_last), postgresql_where=withdrawn, sqlite_where=withdrawn)
    pending = sa.text("status = 'PENDING'")
    op.create_index('ix_certificates_pending_recommended_at_id', 'certificates',
                    ['recommended_at', 'id'], postgresql_where=pending, sqlite_where=pending)
    # The daily sweep's expiry reminders (issued certificates expiring within 90 days):
    # a range of this index instead of reading the whole table.
    op.create_index('ix_certificates_status_expires_at', 'certificates',
                    ['status', 'expires_at'])
    if pg and _trigram_available(bind):
        for name, spec in TRIGRAM_INDEXES.items():
            op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {spec}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")  # the extension stays: others may use it
    op.drop_index('ix_certificates_status_expires_at', table_name='certificates')
    op.drop_index('ix_certificates_pending_recommended_at_id', table_name='certificates')
    op.drop_index('ix_certificates_withdrawn_issued_at_id', table_name='certificates')
    op.drop_index('ix_certificates_track_id_status_issued_at_id', table_name='certificates')
    op.drop_index('ix_certificates_course_id_status_issued_at_id', table_name='certificates')
    op.drop_index('ix_certificates_issued_at_id', table_name='certificates')
    op.create_index('ix_certificates_track_id', 'certificates', ['track_id'])
    op.create_index('ix_certificates_course_id', 'certificates', ['course_id'])
