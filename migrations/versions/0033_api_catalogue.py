"""API for templates, profiles and campaigns (issue 15)

Revision ID: 0033_api_catalogue
Revises: 0032_bulk_throughput
Create Date: 2026-12-01 21:20:00

Reserved so parallel work keeps one chain; no schema change unless written below.
"""

# revision identifiers, used by Alembic.
revision = '0033_api_catalogue'
down_revision = '0032_bulk_throughput'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
