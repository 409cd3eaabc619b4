"""the daily sweep reads what changed since its last finished run (issue 16)

Revision ID: 0035_sweep_changed_since
Revises: 0034_credential_organization
Create Date: 2026-12-03 08:30:00

- ix_certificates_status_updated_at and ix_staff_micro_credentials_status_updated_at
  (status, updated_at): after a finished run, a sweep's expiry reminders read the items
  that crossed a band's first day (the status/expiry indexes) and those changed since
  that run started (these), instead of every item expiring within 90 days. On
  PostgreSQL built CONCURRENTLY in an autocommit block (certificates keep being issued
  while they build), IF NOT EXISTS, an INVALID leftover of a failed build dropped first,
  so an interrupted upgrade can be rerun (as 0031, 0034). SQLite: plain indexes.
"""
import contextlib

from alembic import op

# revision identifiers, used by Alembic.
revision = '0035_sweep_changed_since'
down_revision = '0034_credential_organization'
branch_labels = None
depends_on = None

INDEXES = (("ix_certificates_status_updated_at", "certificates"),
           ("ix_staff_micro_credentials_status_updated_at", "staff_micro_credentials"))


def upgrade():
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    with op.get_context().autocommit_block() if pg else contextlib.nullcontext():
        for name, table in INDEXES:
            if pg:
                invalid = bind.exec_driver_sql(
                    "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE NOT i.indisvalid AND c.relname = %(name)s", {"name": name}
                ).scalar()
                if invalid:
                    op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            op.create_index(name, table, ["status", "updated_at"], if_not_exists=True,
                            postgresql_concurrently=True)


def downgrade():
    for name, table in INDEXES:
        op.drop_index(name, table_name=table)
