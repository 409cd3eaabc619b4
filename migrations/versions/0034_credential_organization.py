"""staff credentials carry their holder's organization (issue 16, the org matrix)

Revision ID: 0034_credential_organization
Revises: 0033_api_catalogue
Create Date: 2026-12-02 01:00:00

- staff_micro_credentials.organization_id (nullable): a copy of the holder's
  organization, kept by app/services/credentials/membership.py (set when a credential
  is created, followed when a person moves). Backfilled here from users; updated_at
  is left alone (the credentials did not change). No foreign key: it is its holder's
  organization, which users.organization_id already references (RESTRICT), and on
  SQLite a foreign key would mean rebuilding this table that others reference; so a
  plain ADD COLUMN on both.
- ix_staff_micro_credentials_org_summary (organization_id, definition_id, status,
  expiry_date): the org matrix's organization-wide summary becomes an index-only
  aggregate of one organization's entries instead of a hash join of every staff
  credential to the organization's people. Built after the backfill; on PostgreSQL
  CONCURRENTLY in an autocommit block (credentials keep being awarded while it builds),
  IF NOT EXISTS, an INVALID leftover of a failed build dropped first, so an interrupted
  upgrade can be rerun (as 0031). SQLite: a plain index.
"""
import contextlib

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0034_credential_organization'
down_revision = '0033_api_catalogue'
branch_labels = None
depends_on = None

TABLE = "staff_micro_credentials"
SUMMARY_INDEX = "ix_staff_micro_credentials_org_summary"


def upgrade():
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    # Nullable, no default: instant on PostgreSQL, no table rebuild on SQLite.
    op.add_column(TABLE, sa.Column("organization_id", sa.Integer(), nullable=True))
    if pg:
        op.execute("UPDATE staff_micro_credentials AS s SET organization_id = u.organization_id "
                   "FROM users AS u WHERE u.id = s.user_id AND u.organization_id IS NOT NULL")
    else:
        op.execute("UPDATE staff_micro_credentials SET organization_id = (SELECT "
                   "u.organization_id FROM users AS u "
                   "WHERE u.id = staff_micro_credentials.user_id)")

    with op.get_context().autocommit_block() if pg else contextlib.nullcontext():
        if pg:
            invalid = bind.exec_driver_sql(
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE NOT i.indisvalid AND c.relname = %(name)s", {"name": SUMMARY_INDEX}
            ).scalar()
            if invalid:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {SUMMARY_INDEX}")
        op.create_index(SUMMARY_INDEX, TABLE,
                        ["organization_id", "definition_id", "status", "expiry_date"],
                        if_not_exists=True, postgresql_concurrently=True)


def downgrade():
    op.drop_index(SUMMARY_INDEX, table_name=TABLE)
    op.drop_column(TABLE, "organization_id")  # SQLite 3.35+: in place, no index names it
