"""quiz attempt grants: extra attempts a manager gives one learner on one course

Revision ID: 0017_quiz_attempt_grants
Revises: 0016_catalogue_archive
Create Date: 2026-12-01 11:10:00

course_progress.extra_attempts (>= 0, default 0) is added to the course's attempt limit.
An added column only: on SQLite the CHECK rides on ADD COLUMN (no table rebuild); on
PostgreSQL it is a named table constraint, as the models' naming convention names it.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017_quiz_attempt_grants'
down_revision = '0016_catalogue_archive'
branch_labels = None
depends_on = None

CHECK = 'ck_course_progress_extra_attempts_range'


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE course_progress ADD COLUMN extra_attempts INTEGER DEFAULT '0' "
                   f"NOT NULL CONSTRAINT {CHECK} CHECK (extra_attempts >= 0)")
        return
    op.add_column('course_progress', sa.Column('extra_attempts', sa.Integer(),
                                               server_default='0', nullable=False))
    # op.f: the name is final (the naming convention would prefix it again).
    op.create_check_constraint(op.f(CHECK), 'course_progress', 'extra_attempts >= 0')


def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f(CHECK), 'course_progress', type_='check')
    # SQLite 3.35+ drops a column whose only constraint is its own CHECK, in place.
    op.drop_column('course_progress', 'extra_attempts')
