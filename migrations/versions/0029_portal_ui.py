"""dashboards, search and the portal's look (issue 14)

Revision ID: 0029_portal_ui
Revises: 0028_scale_indexes
Create Date: 2026-12-01 17:20:00

Reserved so parallel work keeps one chain; no schema change unless written below.
"""

# revision identifiers, used by Alembic.
revision = '0029_portal_ui'
down_revision = '0028_scale_indexes'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
