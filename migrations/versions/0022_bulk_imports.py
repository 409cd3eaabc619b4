"""bulk CSV imports (placeholder for the bulk-import helper)

Revision ID: 0022_bulk_imports
Revises: 0021_search_indexes
Create Date: 2026-12-01 14:16:00

Placeholder: reserved in the chain so parallel work never forks the history; fill in or
leave as a no-op.
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0022_bulk_imports'
down_revision = '0021_search_indexes'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
