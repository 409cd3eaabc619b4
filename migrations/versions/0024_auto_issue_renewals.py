"""auto-issue rules and renewal campaigns (placeholder for the profiles helper)

Revision ID: 0024_auto_issue_renewals
Revises: 0023_certificate_templates
Create Date: 2026-12-01 14:18:00

Placeholder: reserved in the chain so parallel work never forks the history; fill in or
leave as a no-op.
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0024_auto_issue_renewals'
down_revision = '0023_certificate_templates'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
