"""catalogue archive and deletes (placeholder)

Revision ID: 0016_catalogue_archive
Revises: 0015_recertification
Create Date: 2026-12-01 11:10:00

Placeholder: reserved in the chain so parallel work never forks the history; fill in or
leave as a no-op.
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0016_catalogue_archive'
down_revision = '0015_recertification'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
