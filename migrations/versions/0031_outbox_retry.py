"""outbox retries (reliability)

Revision ID: 0031_outbox_retry
Revises: 0030_org_matrix
Create Date: 2026-12-01 21:20:00

Reserved so parallel work keeps one chain; no schema change unless written below.
"""

# revision identifiers, used by Alembic.
revision = '0031_outbox_retry'
down_revision = '0030_org_matrix'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
