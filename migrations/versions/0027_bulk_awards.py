"""bulk award of micro-credentials from a CSV (issue 15)

Revision ID: 0027_bulk_awards
Revises: 0026_bulk_action_runs
Create Date: 2026-12-01 17:20:00

Reserved so parallel work keeps one chain; no schema change unless written below.
"""

# revision identifiers, used by Alembic.
revision = '0027_bulk_awards'
down_revision = '0026_bulk_action_runs'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
