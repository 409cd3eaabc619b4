"""certificate renderings: every PDF rendering's SHA-256, kept with its certificate

Revision ID: 0014_certificate_renderings
Revises: 0013_audit_keyed_chain
Create Date: 2026-12-01 11:10:00

A reinstate (or any re-render) replaces a certificate's PDF; the public PDF check must
still recognize the copy the holder sent an employer before. Each rendering's hash goes
into certificate_renderings (unique hash); the existing current hashes are copied from
certificates.pdf_sha256 (which stays: it is the current rendering's).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014_certificate_renderings'
down_revision = '0013_audit_keyed_chain'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'certificate_renderings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('certificate_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('pdf_key', sa.String(length=100), nullable=True),
        sa.Column('rendered_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['certificate_id'], ['certificates.id'], ondelete='CASCADE',
            name=op.f('fk_certificate_renderings_certificate_id_certificates')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_renderings')),
        sa.UniqueConstraint('sha256', name=op.f('uq_certificate_renderings_sha256')),
    )
    op.create_index(op.f('ix_certificate_renderings_certificate_id'),
                    'certificate_renderings', ['certificate_id'], unique=False)
    # Backfill: each certificate's current rendering (one row per hash: the lowest id
    # holding it, should two rows ever share one).
    op.execute(sa.text(
        "INSERT INTO certificate_renderings (certificate_id, sha256, pdf_key, rendered_at) "
        "SELECT c.id, c.pdf_sha256, c.pdf_key, COALESCE(c.issued_at, c.created_at) "
        "FROM certificates c WHERE c.pdf_sha256 IS NOT NULL AND c.id = ("
        "SELECT MIN(d.id) FROM certificates d WHERE d.pdf_sha256 = c.pdf_sha256)"))


def downgrade():
    op.drop_index(op.f('ix_certificate_renderings_certificate_id'),
                  table_name='certificate_renderings')
    op.drop_table('certificate_renderings')
