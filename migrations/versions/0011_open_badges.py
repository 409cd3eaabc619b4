"""open badges: RSA signing keys (alg), status list entries

Revision ID: 0011_open_badges
Revises: 0010_account_security
Create Date: 2026-12-01 09:10:00

An added column and a new table (no table rebuild on SQLite). Certificates issued (or
revoked) and micro-credentials awarded (or expired) before this migration get a random
status list index (revoked certificates with the bit set), so their portable credentials
carry a credentialStatus like new ones.
"""
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0011_open_badges'
down_revision = '0010_account_security'
branch_labels = None
depends_on = None

SIZE = 131072


def upgrade():
    op.add_column('signing_keys', sa.Column('alg', sa.String(length=16),
                                            server_default='EdDSA', nullable=False))
    op.create_table(
        'status_list_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('list_index', sa.Integer(), nullable=False),
        sa.Column('certificate_id', sa.Integer(), nullable=True),
        sa.Column('staff_micro_credential_id', sa.Integer(), nullable=True),
        sa.Column('is_set', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('(certificate_id IS NULL) <> (staff_micro_credential_id IS NULL)',
                           name=op.f('ck_status_list_entries_one_credential')),
        sa.CheckConstraint(f'list_index BETWEEN 0 AND {SIZE - 1}',
                           name=op.f('ck_status_list_entries_list_index_range')),
        sa.ForeignKeyConstraint(
            ['certificate_id'], ['certificates.id'], ondelete='CASCADE',
            name=op.f('fk_status_list_entries_certificate_id_certificates')),
        sa.ForeignKeyConstraint(
            ['staff_micro_credential_id'], ['staff_micro_credentials.id'], ondelete='CASCADE',
            name=op.f('fk_status_list_entries_staff_micro_credential_id_'
                      'staff_micro_credentials')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_status_list_entries')),
        sa.UniqueConstraint('certificate_id',
                            name=op.f('uq_status_list_entries_certificate_id')),
        sa.UniqueConstraint('purpose', 'list_index',
                            name=op.f('uq_status_list_entries_purpose_list_index')),
        sa.UniqueConstraint('staff_micro_credential_id',
                            name=op.f('uq_status_list_entries_staff_micro_credential_id')),
    )
    _backfill()


def _backfill():
    bind = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [('certificate_id', cid, status == 'REVOKED')
            for cid, status in bind.execute(sa.text(
                "SELECT id, status FROM certificates WHERE status IN ('ISSUED', 'REVOKED')"))]
    rows += [('staff_micro_credential_id', sid, False) for (sid,) in bind.execute(sa.text(
        "SELECT id FROM staff_micro_credentials WHERE status IN ('AWARDED', 'EXPIRED')"))]
    taken: set[int] = set()
    for column, row_id, is_set in rows:
        index = secrets.randbelow(SIZE)
        while index in taken:
            index = secrets.randbelow(SIZE)
        taken.add(index)
        bind.execute(sa.text(  # column: one of the two names above
            f"INSERT INTO status_list_entries (purpose, list_index, {column}, "  # noqa: S608
            "is_set, created_at, updated_at) "
            "VALUES ('suspension', :index, :row_id, :is_set, :now, :now)"),
            {"index": index, "row_id": row_id, "is_set": is_set, "now": now})


def downgrade():
    op.drop_table('status_list_entries')
    with op.batch_alter_table('signing_keys') as batch_op:
        batch_op.drop_column('alg')
