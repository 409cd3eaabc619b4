"""matrix indexes

Revision ID: 0006_matrix_indexes
Revises: 0005_list_indexes
Create Date: 2026-11-23 08:30:00

"""
from alembic import op


revision = '0006_matrix_indexes'
down_revision = '0005_list_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_organization_id_name_id',
                              ['organization_id', 'name', 'id'], unique=False)
    with op.batch_alter_table('staff_micro_credentials', schema=None) as batch_op:
        batch_op.create_index('ix_staff_micro_credentials_user_id_definition_id',
                              ['user_id', 'definition_id'], unique=False)
        batch_op.drop_index('ix_staff_micro_credentials_user_id')


def downgrade():
    with op.batch_alter_table('staff_micro_credentials', schema=None) as batch_op:
        batch_op.create_index('ix_staff_micro_credentials_user_id', ['user_id'], unique=False)
        batch_op.drop_index('ix_staff_micro_credentials_user_id_definition_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_organization_id_name_id')
