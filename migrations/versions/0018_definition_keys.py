"""stable keys of default micro-credentials; evidence files' SHA-256

Revision ID: 0018_definition_keys
Revises: 0017_quiz_attempt_grants
Create Date: 2026-12-01 11:10:00

Each RANZ default gets a stable `default_key` (unique; NULL for every other definition),
so `flask seed` matches the defaults by key and a renamed default is never created again.
Existing defaults are backfilled by their original titles (migration 0002's), then, for a
default renamed before this migration, by its skill standard when exactly one default has
it. Staff credentials keep their evidence file's SHA-256, so the same file uploaded twice
(a double submit) is recorded once. Plain ADD COLUMN and CREATE INDEX: no table rebuild
on SQLite.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018_definition_keys'
down_revision = '0017_quiz_attempt_grants'
branch_labels = None
depends_on = None

# key -> (original title, skill standard): migration 0002's frozen text.
DEFAULT_KEYS = {
    'ranz-reclad-reroofing-l5': ('Reclad/Reroofing Level 5',
                                 'NZQA Skill Standard - Reclad/Reroofing'),
    'ranz-repairs-maintenance-l5': ('Repairs/Maintenance Level 5',
                                    'NZQA Skill Standard - Repairs/Maintenance'),
    'ranz-compliance-practices-l4': ('Compliance Practices Level 4',
                                     'NZQA Skill Standard - Compliance Practices'),
}


def upgrade():
    op.add_column('staff_micro_credentials',
                  sa.Column('evidence_sha256', sa.String(length=64), nullable=True))
    op.add_column('micro_credential_definitions',
                  sa.Column('default_key', sa.String(length=40), nullable=True))
    op.create_index('uq_micro_credential_definitions_default_key',
                    'micro_credential_definitions', ['default_key'], unique=True)
    definitions = sa.table(
        'micro_credential_definitions',
        sa.column('id', sa.Integer), sa.column('title', sa.String),
        sa.column('skill_standard', sa.String), sa.column('is_default', sa.Boolean),
        sa.column('default_key', sa.String),
    )
    connection = op.get_bind()
    for column in ('title', 'skill_standard'):
        for key, (title, standard) in DEFAULT_KEYS.items():
            value = title if column == 'title' else standard
            taken = connection.execute(sa.select(definitions.c.id).where(
                definitions.c.default_key == key)).first()
            if taken:
                continue
            ids = [row[0] for row in connection.execute(
                sa.select(definitions.c.id).where(
                    definitions.c.is_default.is_(True), definitions.c.default_key.is_(None),
                    definitions.c[column] == value).order_by(definitions.c.id).limit(2))]
            if len(ids) == 1 or (column == 'title' and ids):
                connection.execute(definitions.update().where(definitions.c.id == ids[0])
                                   .values(default_key=key))


def downgrade():
    op.drop_index('uq_micro_credential_definitions_default_key',
                  table_name='micro_credential_definitions')
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the table that
    # staff_micro_credentials references.
    op.drop_column('micro_credential_definitions', 'default_key')
    op.drop_column('staff_micro_credentials', 'evidence_sha256')
