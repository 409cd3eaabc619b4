"""bulk action runs (placeholder for the bulk-actions fix)

Revision ID: 0026_bulk_action_runs
Revises: 0025_earner_profiles
Create Date: 2026-12-01 14:15:00

Placeholder: reserved in the chain so parallel work never forks the history; fill in or
leave as a no-op.
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0026_bulk_action_runs'
down_revision = '0025_earner_profiles'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
