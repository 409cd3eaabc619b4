"""bulk award of micro-credentials from a CSV (issue 15)

Revision ID: 0027_bulk_awards
Revises: 0026_bulk_action_runs
Create Date: 2026-12-01 17:20:00

A bulk import's rows may now award micro-credentials (bulk_imports.kind "awards") as
well as issue certificates: each row gets `credential_id`, the staff credential it
awarded (SET NULL when that credential is deleted), beside `certificate_id`, indexed
(ix_bulk_import_rows_credential_id) so deleting a credential does not scan every import
row for the SET NULL, and a credential's import row is found without a scan.
Downgrade drops the index and the column.
"""
import warnings

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import SAWarning

# revision identifiers, used by Alembic.
revision = '0027_bulk_awards'
down_revision = '0026_bulk_action_runs'
branch_labels = None
depends_on = None


# SQLite rebuilds bulk_import_rows; reflecting its foreign keys reflects users too, whose
# expression index the reflection skips with a warning (users itself is untouched).
QUIET = ("Skipped unsupported reflection of expression-based",)
INDEX = "ix_bulk_import_rows_credential_id"
FK = "fk_bulk_import_rows_credential_id_staff_micro_credentials"


def upgrade():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", QUIET[0], SAWarning)
        with op.batch_alter_table("bulk_import_rows") as batch:
            batch.add_column(sa.Column("credential_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(op.f(FK), "staff_micro_credentials", ["credential_id"],
                                     ["id"], ondelete="SET NULL")
            batch.create_index(INDEX, ["credential_id"])


def downgrade():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", QUIET[0], SAWarning)
        with op.batch_alter_table("bulk_import_rows") as batch:
            batch.drop_index(INDEX)
            batch.drop_constraint(op.f(FK), type_="foreignkey")
            batch.drop_column("credential_id")
