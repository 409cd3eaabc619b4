"""bulk issue throughput (issue 15)

Revision ID: 0032_bulk_throughput
Revises: 0031_outbox_retry
Create Date: 2026-12-01 21:20:00

Reserved so parallel work keeps one chain; no schema change unless written below.
"""

# revision identifiers, used by Alembic.
revision = '0032_bulk_throughput'
down_revision = '0031_outbox_retry'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
