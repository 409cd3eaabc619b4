"""quiz attempt grants (placeholder)

Revision ID: 0017_quiz_attempt_grants
Revises: 0016_catalogue_archive
Create Date: 2026-12-01 11:10:00

Placeholder: reserved in the chain so parallel work never forks the history; fill in or
leave as a no-op.
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0017_quiz_attempt_grants'
down_revision = '0016_catalogue_archive'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
