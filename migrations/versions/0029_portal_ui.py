"""dashboards, search and the portal's look (issue 14)

Revision ID: 0029_portal_ui
Revises: 0028_scale_indexes
Create Date: 2026-12-01 17:20:00

Reserved so parallel work keeps one chain; no schema change unless written below.

- ix_certificate_verifications_verified_at: the admin dashboard counts public checks per
  week over the last twelve (a range on verified_at; the table's other index leads with
  certificate_id).
- On PostgreSQL it is built with CREATE INDEX CONCURRENTLY inside
  `op.get_context().autocommit_block()` (a plain build would block inserts into the
  verifications table, which grows with every public check, while it builds), IF NOT
  EXISTS, and an INVALID leftover of a failed concurrent build is dropped first, so an
  interrupted upgrade can be rerun (as 0021, 0028). SQLite: a plain index.
"""
import contextlib

from alembic import op

# revision identifiers, used by Alembic.
revision = '0029_portal_ui'
down_revision = '0028_scale_indexes'
branch_labels = None
depends_on = None


VERIFIED_AT_INDEX = "ix_certificate_verifications_verified_at"


def upgrade():
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    with op.get_context().autocommit_block() if pg else contextlib.nullcontext():
        if pg:
            invalid = bind.exec_driver_sql(
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE NOT i.indisvalid AND c.relname = %(name)s", {"name": VERIFIED_AT_INDEX}
            ).scalar()
            if invalid:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {VERIFIED_AT_INDEX}")
        op.create_index(VERIFIED_AT_INDEX, "certificate_verifications", ["verified_at"],
                        if_not_exists=True, postgresql_concurrently=True)


def downgrade():
    op.drop_index(VERIFIED_AT_INDEX, table_name="certificate_verifications")
