"""earner profiles

Revision ID: 0025_earner_profiles
Revises: 0024_auto_issue_renewals
Create Date: 2026-12-01 14:19:00

earner_profiles: one row per publication of a holder's public profile (a random slug,
never reused); live_user_id is unique while published, NULL once unpublished.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025_earner_profiles'
down_revision = '0024_auto_issue_renewals'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'earner_profiles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=64), nullable=False),
        sa.Column('live_user_id', sa.Integer(), nullable=True),
        sa.Column('show_organization', sa.Boolean(), nullable=False),
        sa.Column('published_at', sa.DateTime(), nullable=False),
        sa.Column('unpublished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_earner_profiles_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_earner_profiles')),
        sa.UniqueConstraint('live_user_id', name=op.f('uq_earner_profiles_live_user_id')),
        sa.UniqueConstraint('slug', name=op.f('uq_earner_profiles_slug')),
    )
    op.create_index(op.f('ix_earner_profiles_user_id'), 'earner_profiles', ['user_id'])


def downgrade():
    op.drop_index(op.f('ix_earner_profiles_user_id'), table_name='earner_profiles')
    op.drop_table('earner_profiles')
