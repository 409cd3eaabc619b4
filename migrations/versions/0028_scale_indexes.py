"""indexes and columns for ten million certificates (issue 16)

Revision ID: 0028_scale_indexes
Revises: 0027_bulk_awards
Create Date: 2026-12-01 17:20:00

Reserved so parallel work keeps one chain; no schema change unless written below.
"""

# revision identifiers, used by Alembic.
revision = '0028_scale_indexes'
down_revision = '0027_bulk_awards'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
