"""dashboards, search and the portal's look (issue 14)

Revision ID: 0029_portal_ui
Revises: 0028_scale_indexes
Create Date: 2026-12-01 17:20:00

Reserved so parallel work keeps one chain; no schema change unless written below.

- ix_certificate_verifications_verified_at: the admin dashboard counts public checks per
  week over the last twelve (a range on verified_at; the table's other index leads with
  certificate_id).
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = '0029_portal_ui'
down_revision = '0028_scale_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_certificate_verifications_verified_at", "certificate_verifications",
                    ["verified_at"])


def downgrade():
    op.drop_index("ix_certificate_verifications_verified_at",
                  table_name="certificate_verifications")
