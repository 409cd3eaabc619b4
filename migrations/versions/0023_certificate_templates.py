"""certificate templates (placeholder for the templates helper)

Revision ID: 0023_certificate_templates
Revises: 0022_bulk_imports
Create Date: 2026-12-01 14:17:00

Placeholder: reserved in the chain so parallel work never forks the history; fill in or
leave as a no-op.
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0023_certificate_templates'
down_revision = '0022_bulk_imports'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
