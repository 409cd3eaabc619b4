"""account security: API token expiry and last use, invitation/reset links, login throttles

Revision ID: 0010_account_security
Revises: 0009_field_checks
Create Date: 2026-12-01 09:00:00

New tables and added columns only (no table rebuild on SQLite). Tokens made before
expiry existed get one 90 days from the upgrade.
"""
import warnings
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import SAWarning

revision = '0010_account_security'
down_revision = '0009_field_checks'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('api_tokens', sa.Column('expires_at', sa.DateTime(), nullable=True))
    op.add_column('api_tokens', sa.Column('last_used_at', sa.DateTime(), nullable=True))
    expiry = (datetime.now(UTC) + timedelta(days=90)).replace(tzinfo=None)
    op.execute(sa.text('UPDATE api_tokens SET expires_at = :at WHERE expires_at IS NULL')
               .bindparams(at=expiry))
    op.create_table('account_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                            name=op.f('fk_account_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_account_tokens_token_hash'))
    )
    op.create_index('ix_account_tokens_user_id_status', 'account_tokens', ['user_id', 'status'],
                    unique=False)
    op.create_table('login_throttles',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles'))
    )


def downgrade():
    op.drop_table('login_throttles')
    op.drop_index('ix_account_tokens_user_id_status', table_name='account_tokens')
    op.drop_table('account_tokens')
    # SQLite rebuilds api_tokens; reflecting its foreign key reflects users too, whose
    # expression index the reflection skips with a warning (users itself is untouched).
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Skipped unsupported reflection of expression-based',
                                SAWarning)
        with op.batch_alter_table('api_tokens', schema=None) as batch_op:
            batch_op.drop_column('last_used_at')
            batch_op.drop_column('expires_at')
