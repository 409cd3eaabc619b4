"""catalogue archive: courses.archived_at

Revision ID: 0016_catalogue_archive
Revises: 0015_recertification
Create Date: 2026-12-01 11:10:00

An archived course (archived_at set) is hidden from learners and new enrolments and no
longer counts toward its track; NULL (every existing course) is live. A nullable column
added in place: no table rebuild on SQLite.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_catalogue_archive'
down_revision = '0015_recertification'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('courses', sa.Column('archived_at', sa.DateTime(), nullable=True))


def downgrade():
    op.drop_column('courses', 'archived_at')
