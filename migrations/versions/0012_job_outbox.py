"""job outbox

Revision ID: 0012_job_outbox
Revises: 0011_open_badges
Create Date: 2026-12-01 09:00:00

Jobs are written to job_outbox in the transaction that needs them and moved to RQ after
the commit, or later by `flask jobs dispatch` (app/jobs/__init__.py).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012_job_outbox'
down_revision = '0011_open_badges'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('job_key', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(), nullable=True),
    sa.Column('rq_job_id', sa.String(length=40), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'dispatching', 'dispatched', 'done', 'failed')",
                       name=op.f('ck_job_outbox_status_known')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_job_outbox_attempts_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_outbox')),
    sa.UniqueConstraint('job_key', name=op.f('uq_job_outbox_job_key'))
    )
    op.create_index('ix_job_outbox_status_id', 'job_outbox', ['status', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_job_outbox_status_id', table_name='job_outbox')
    op.drop_table('job_outbox')
