"""auto-issue rules and renewal campaigns

Revision ID: 0024_auto_issue_renewals
Revises: 0023_certificate_templates
Create Date: 2026-12-01 14:18:00

certification_tracks.auto_issue (default false): completing the track issues its
certificate at once. renewal_campaigns (one per track per day; within_days 1-365) and
renewal_invitations (one per person per campaign).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024_auto_issue_renewals'
down_revision = '0023_certificate_templates'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('certification_tracks', sa.Column('auto_issue', sa.Boolean(),
                                                    server_default=sa.false(), nullable=False))
    op.create_table(
        'renewal_campaigns',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('track_id', sa.Integer(), nullable=False),
        sa.Column('started_by_id', sa.Integer(), nullable=True),
        sa.Column('within_days', sa.Integer(), nullable=False),
        sa.Column('started_on', sa.Date(), nullable=False),
        sa.Column('status', sa.Enum('QUEUED', 'DONE', name='campaignstatus', native_enum=False,
                                    length=16), nullable=False),
        sa.Column('invited_count', sa.Integer(), nullable=False),
        sa.Column('re_enrolled_count', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        # op.f: the name is final (the naming convention would prefix it again).
        sa.CheckConstraint('within_days BETWEEN 1 AND 365',
                           name=op.f('ck_renewal_campaigns_within_days_range')),
        sa.ForeignKeyConstraint(['started_by_id'], ['users.id'],
                                name=op.f('fk_renewal_campaigns_started_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['track_id'], ['certification_tracks.id'],
                                name=op.f('fk_renewal_campaigns_track_id_certification_tracks'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_renewal_campaigns')),
        sa.UniqueConstraint('track_id', 'started_on',
                            name=op.f('uq_renewal_campaigns_track_id_started_on')),
    )
    op.create_table(
        'renewal_invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('certificate_id', sa.Integer(), nullable=True),
        sa.Column('expires_on', sa.Date(), nullable=True),
        sa.Column('status', sa.Enum('INVITED', 'RE_ENROLLED', name='invitationstatus',
                                    native_enum=False, length=16), nullable=False),
        sa.Column('invited_at', sa.DateTime(), nullable=False),
        sa.Column('re_enrolled_at', sa.DateTime(), nullable=True),
        sa.Column('renewed_certificate_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['renewal_campaigns.id'],
                                name=op.f('fk_renewal_invitations_campaign_id_renewal_campaigns'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'],
                                name=op.f('fk_renewal_invitations_certificate_id_certificates'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_renewal_invitations_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['renewed_certificate_id'], ['certificates.id'],
                                name=op.f('fk_renewal_invitations_renewed_certificate_id_'
                                          'certificates'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_renewal_invitations')),
        sa.UniqueConstraint('campaign_id', 'user_id',
                            name=op.f('uq_renewal_invitations_campaign_id_user_id')),
    )
    op.create_index('ix_renewal_invitations_user_id', 'renewal_invitations', ['user_id'])


def downgrade():
    op.drop_index('ix_renewal_invitations_user_id', table_name='renewal_invitations')
    op.drop_table('renewal_invitations')
    op.drop_table('renewal_campaigns')
    op.drop_column('certification_tracks', 'auto_issue')
