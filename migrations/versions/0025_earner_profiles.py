"""earner profiles (placeholder for the profiles helper)

Revision ID: 0025_earner_profiles
Revises: 0024_auto_issue_renewals
Create Date: 2026-12-01 14:19:00

Placeholder: reserved in the chain so parallel work never forks the history; fill in or
leave as a no-op.
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0025_earner_profiles'
down_revision = '0024_auto_issue_renewals'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
