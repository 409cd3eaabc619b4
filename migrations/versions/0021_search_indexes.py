"""search and keyset indexes for the admin lists at millions of certificates

Revision ID: 0021_search_indexes
Revises: 0020_project_names
Create Date: 2026-12-01 14:15:00

- The certificate list's order (issued_at DESC NULLS LAST, id DESC) for every status (the
  API's default list), per course and per track tab (replacing the plain course_id and
  track_id indexes, whose foreign keys they still serve), and as partial indexes for the
  Revoked tab (REVOKED and SUPERSEDED together) and the Pending tab (recommended_at, id).
- (status, expires_at) for the daily sweep's certificate expiry reminders (bench lane).
- (recipient_id, status, issued_at DESC NULLS LAST, id DESC) for the people search's
  pages: their ids are sorted from index entries, not from every matching row.
- On PostgreSQL, trigram (pg_trgm) GIN indexes for the people search, `lower(name) LIKE
  '%...%'` and `email LIKE '%...%'` (emails are stored lower-cased), when the extension
  can be had: `CREATE EXTENSION IF NOT EXISTS pg_trgm` is tried in a savepoint (a trusted
  extension since PostgreSQL 13: a database owner may create it); refused, it is logged
  and the trigram indexes are skipped (the search still works, by scanning). They are
  conditional, so the models do not declare them; migrations/env.py leaves names ending
  in `_trgm` out of `flask db check`. SQLite: no trigram indexes.
- On PostgreSQL every index here is built with CREATE INDEX CONCURRENTLY (and the two
  replaced ones dropped with DROP INDEX CONCURRENTLY, after their replacements exist), in
  `op.get_context().autocommit_block()`: at ten million certificates a plain CREATE
  INDEX would block writes to the table for minutes. The block commits the migrations run
  so far, so each step says IF [NOT] EXISTS and an interrupted upgrade can be rerun; a
  concurrent build that failed leaves an INVALID index, which is dropped and built again.
"""
import contextlib
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


def _drop_invalid(bind, names) -> None:
    """Drop the INVALID leftovers of a concurrent build that failed, so it is built again."""
    invalid = bind.exec_driver_sql(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE NOT i.indisvalid AND c.relname = ANY(%(names)s)", {"names": list(names)}
    ).scalars().all()
    for name in invalid:
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def upgrade():
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    # SQLite has no NULLS LAST in indexes, and its DESC already puts NULLs last.
    nulls_last = " NULLS LAST" if pg else ""
    withdrawn = sa.text("status IN ('REVOKED', 'SUPERSEDED')")
    pending = sa.text("status = 'PENDING'")
    indexes = {
        'ix_certificates_issued_at_id': (_order(nulls_last), {}),
        'ix_certificates_course_id_status_issued_at_id':
            (['course_id', 'status', *_order(nulls_last)], {}),
        'ix_certificates_track_id_status_issued_at_id':
            (['track_id', 'status', *_order(nulls_last)], {}),
        'ix_certificates_withdrawn_issued_at_id':
            (_order(nulls_last), {"postgresql_where": withdrawn, "sqlite_where": withdrawn}),
        'ix_certificates_pending_recommended_at_id':
            (['recommended_at', 'id'], {"postgresql_where": pending, "sqlite_where": pending}),
        # The daily sweep's expiry reminders (issued certificates expiring within 90 days):
        # a range of this index instead of reading the whole table.
        'ix_certificates_status_expires_at': (['status', 'expires_at'], {}),
        # A people search (recipient_id = ANY(...)): the page's ids are sorted from these
        # entries (index-only) instead of reading every match's row to sort it.
        'ix_certificates_recipient_id_status_issued_at_id':
            (['recipient_id', 'status', *_order(nulls_last)], {}),
    }
    # The extension is created (or refused) in the migration's own transaction, before the
    # concurrent builds, which cannot run in one.
    trigram = pg and _trigram_available(bind)
    with op.get_context().autocommit_block() if pg else contextlib.nullcontext():
        if pg:
            _drop_invalid(bind, [*indexes, *(TRIGRAM_INDEXES if trigram else ())])
        for name, (columns, where) in indexes.items():
            op.create_index(name, 'certificates', columns, if_not_exists=True,
                            postgresql_concurrently=True, **where)
        for name in ('ix_certificates_course_id', 'ix_certificates_track_id'):
            op.drop_index(name, table_name='certificates', if_exists=True,
                          postgresql_concurrently=True)
        if trigram:
            for name, spec in TRIGRAM_INDEXES.items():
                op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {spec}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")  # the extension stays: others may use it
    op.drop_index('ix_certificates_recipient_id_status_issued_at_id', table_name='certificates')
    op.drop_index('ix_certificates_status_expires_at', table_name='certificates')
    op.drop_index('ix_certificates_pending_recommended_at_id', table_name='certificates')
    op.drop_index('ix_certificates_withdrawn_issued_at_id', table_name='certificates')
    op.drop_index('ix_certificates_track_id_status_issued_at_id', table_name='certificates')
    op.drop_index('ix_certificates_course_id_status_issued_at_id', table_name='certificates')
    op.drop_index('ix_certificates_issued_at_id', table_name='certificates')
    op.create_index('ix_certificates_track_id', 'certificates', ['track_id'])
    op.create_index('ix_certificates_course_id', 'certificates', ['course_id'])
