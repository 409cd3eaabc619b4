"""bulk action runs: a large "all matching" certificate action and its job's progress

Revision ID: 0026_bulk_action_runs
Revises: 0025_earner_profiles
Create Date: 2026-12-01 14:15:00

One new table (app/models/bulk_actions.py), replacing the JSON progress files under
STORAGE_DIR/bulk-actions/ (a run still in such a file when this is deployed is not
carried over: it shows "not known", and the admin asks again). Downgrade drops it.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0026_bulk_action_runs'
down_revision = '0025_earner_profiles'
branch_labels = None
depends_on = None


RUN_STATUS = sa.Enum("QUEUED", "RUNNING", "DONE", "FAILED", name="runstatus",
                     native_enum=False, length=16)


def upgrade():
    op.create_table(
        "bulk_action_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_ip", sa.String(length=64), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("ids", sa.JSON(), nullable=False),
        sa.Column("status", RUN_STATUS, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("already_count", sa.Integer(), nullable=False),
        sa.Column("refused_count", sa.Integer(), nullable=False),
        sa.Column("refusals", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"],
                                name=op.f("fk_bulk_action_runs_requested_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_action_runs")),
        sa.UniqueConstraint("token", name=op.f("uq_bulk_action_runs_token")),
    )
    op.create_index("ix_bulk_action_runs_status_heartbeat_at", "bulk_action_runs",
                    ["status", "heartbeat_at"])


def downgrade():
    op.drop_index("ix_bulk_action_runs_status_heartbeat_at", table_name="bulk_action_runs")
    op.drop_table("bulk_action_runs")
