"""certificate renderings (placeholder for the certificates helper)

Revision ID: 0014_certificate_renderings
Revises: 0013_audit_keyed_chain
Create Date: 2026-12-01 11:10:00

Placeholder: reserved in the chain so parallel work never forks the history; fill in or
leave as a no-op.
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

# revision identifiers, used by Alembic.
revision = '0014_certificate_renderings'
down_revision = '0013_audit_keyed_chain'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
