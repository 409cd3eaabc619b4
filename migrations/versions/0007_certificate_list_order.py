"""certificate list order

Revision ID: 0007_certificate_list_order
Revises: 0006_matrix_indexes
Create Date: 2026-11-23 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_certificate_list_order'
down_revision = '0006_matrix_indexes'
branch_labels = None
depends_on = None


def upgrade():
    # The admin list's ORDER BY issued_at DESC NULLS LAST, id DESC, per status. SQLite has
    # no NULLS LAST in indexes, and its DESC already puts NULLs last.
    nulls_last = " NULLS LAST" if op.get_bind().dialect.name == "postgresql" else ""
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_status_issued_at')
        batch_op.drop_index('ix_certificates_recipient_id')
        batch_op.create_index('ix_certificates_status_issued_at_id',
                              ['status', sa.text('issued_at DESC' + nulls_last),
                               sa.text('id DESC')], unique=False)
        batch_op.create_index('ix_certificates_recipient_id_status', ['recipient_id', 'status'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_recipient_id_status')
        batch_op.drop_index('ix_certificates_status_issued_at_id')
        batch_op.create_index('ix_certificates_recipient_id', ['recipient_id'], unique=False)
        batch_op.create_index('ix_certificates_status_issued_at', ['status', 'issued_at'],
                              unique=False)
