"""bulk CSV imports: an import and its rows (preview, then issued by a job)

Revision ID: 0022_bulk_imports
Revises: 0021_search_indexes
Create Date: 2026-12-01 14:16:00

Two new tables (app/models/bulk.py); nothing existing changes. Downgrade drops them.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022_bulk_imports'
down_revision = '0021_search_indexes'
branch_labels = None
depends_on = None


IMPORT_STATUS = sa.Enum("PREVIEW", "QUEUED", "RUNNING", "DONE", "FAILED",
                        name="importstatus", native_enum=False, length=16)
ROW_STATUS = sa.Enum("READY", "INVITE", "INVALID", "DUPLICATE", "PENDING", "ISSUED", "SKIPPED",
                     "FAILED", name="rowstatus", native_enum=False, length=16)


def upgrade():
    op.create_table(
        "bulk_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", IMPORT_STATUS, nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("invite_unknown", sa.Boolean(), nullable=False),
        sa.Column("notify_recipients", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["confirmed_by_id"], ["users.id"],
                                name=op.f("fk_bulk_imports_confirmed_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_bulk_imports_created_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_imports")),
    )
    op.create_table(
        "bulk_import_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("row_key", sa.String(length=64), nullable=False),
        sa.Column("status", ROW_STATUS, nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("done_key", sa.String(length=64), nullable=True),
        sa.Column("certificate_id", sa.Integer(), nullable=True),
        sa.Column("issued_by_import_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificates.id"],
                                name=op.f("fk_bulk_import_rows_certificate_id_certificates"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["import_id"], ["bulk_imports.id"],
                                name=op.f("fk_bulk_import_rows_import_id_bulk_imports"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_import_rows")),
        sa.UniqueConstraint("done_key", name=op.f("uq_bulk_import_rows_done_key")),
        sa.UniqueConstraint("import_id", "line", name="uq_bulk_import_rows_import_line"),
    )
    op.create_index("ix_bulk_import_rows_import_id_status", "bulk_import_rows",
                    ["import_id", "status"])
    op.create_index(op.f("ix_bulk_import_rows_row_key"), "bulk_import_rows", ["row_key"])


def downgrade():
    op.drop_index(op.f("ix_bulk_import_rows_row_key"), table_name="bulk_import_rows")
    op.drop_index("ix_bulk_import_rows_import_id_status", table_name="bulk_import_rows")
    op.drop_table("bulk_import_rows")
    op.drop_table("bulk_imports")
