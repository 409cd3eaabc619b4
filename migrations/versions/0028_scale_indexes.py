"""indexes and columns for ten million certificates (issue 16)

Revision ID: 0028_scale_indexes
Revises: 0027_bulk_awards
Create Date: 2026-12-01 17:20:00

- (status, type, issued_at DESC NULLS LAST, id DESC) on certificates: a tab filtered by
  type (with or without issue dates) walks this in list order. Before it, no index had
  `type`: the page read the tab's index and dropped the other types' rows from the heap,
  and its capped count read ~10,000 heap rows (26-45 ms at ten million certificates).
- On PostgreSQL it is built with CREATE INDEX CONCURRENTLY inside
  `op.get_context().autocommit_block()` (a plain build would block writes to a ten
  million row table for minutes), IF NOT EXISTS, and an INVALID leftover of a failed
  concurrent build is dropped first, so an interrupted upgrade can be rerun (as 0021).
  SQLite: a plain index (its DESC already puts NULLs last).
"""
import contextlib

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0028_scale_indexes'
down_revision = '0027_bulk_awards'
branch_labels = None
depends_on = None

TYPE_INDEX = 'ix_certificates_status_type_issued_at_id'


def upgrade():
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    nulls_last = " NULLS LAST" if pg else ""
    with op.get_context().autocommit_block() if pg else contextlib.nullcontext():
        if pg:
            invalid = bind.exec_driver_sql(
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE NOT i.indisvalid AND c.relname = %(name)s", {"name": TYPE_INDEX}
            ).scalar()
            if invalid:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {TYPE_INDEX}")
        op.create_index(TYPE_INDEX, 'certificates',
                        ['status', 'type', sa.text("issued_at DESC" + nulls_last),
                         sa.text("id DESC")],
                        if_not_exists=True, postgresql_concurrently=True)


def downgrade():
    op.drop_index(TYPE_INDEX, table_name='certificates')
