"""the org matrix at 5,000 people (issue 16)

Revision ID: 0030_org_matrix
Revises: 0029_portal_ui
Create Date: 2026-12-01 21:20:00

Reserved so parallel work keeps one chain; no schema change unless written below.
"""

# revision identifiers, used by Alembic.
revision = '0030_org_matrix'
down_revision = '0029_portal_ui'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
