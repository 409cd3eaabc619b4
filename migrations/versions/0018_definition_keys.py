"""stable keys of default micro-credentials (placeholder)

Revision ID: 0018_definition_keys
Revises: 0017_quiz_attempt_grants
Create Date: 2026-12-01 11:10:00

Placeholder: reserved in the chain so parallel work never forks the history; fill in or
leave as a no-op.
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0018_definition_keys'
down_revision = '0017_quiz_attempt_grants'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
