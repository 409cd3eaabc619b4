"""trigram search and keyset indexes (placeholder for the scale helper)

Revision ID: 0021_search_indexes
Revises: 0020_project_names
Create Date: 2026-12-01 14:15:00

Placeholder: reserved in the chain so parallel work never forks the history; fill in or
leave as a no-op.
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0021_search_indexes'
down_revision = '0020_project_names'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
