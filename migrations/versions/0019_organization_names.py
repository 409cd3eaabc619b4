"""organization names: unique regardless of case

Revision ID: 0019_organization_names
Revises: 0018_definition_keys
Create Date: 2026-12-01 11:20:00

Two organizations could share a name ("Acme Roofing" twice), which made every picker,
the org matrix and the audit trail ambiguous. Existing duplicates keep their oldest row's
name; each later one becomes "Name (2)", "Name (3)", ... (the first free suffix), so the
upgrade never fails on live data. Downgrade drops the index and leaves the names.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_organization_names'
down_revision = '0018_definition_keys'
branch_labels = None
depends_on = None

organizations = sa.table("organizations", sa.column("id", sa.Integer),
                         sa.column("name", sa.String))


def upgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.select(organizations.c.id, organizations.c.name)
                        .order_by(organizations.c.id)).all()
    taken = {name.lower() for _, name in rows}
    seen: set[str] = set()
    for org_id, name in rows:
        if name.lower() not in seen:
            seen.add(name.lower())
            continue
        n = 2
        while f"{name[:190]} ({n})".lower() in taken:
            n += 1
        renamed = f"{name[:190]} ({n})"
        taken.add(renamed.lower())
        seen.add(renamed.lower())
        conn.execute(organizations.update().where(organizations.c.id == org_id)
                     .values(name=renamed))
    op.create_index('uq_organizations_name_lower', 'organizations', [sa.text('lower(name)')],
                    unique=True)


def downgrade():
    op.drop_index('uq_organizations_name_lower', table_name='organizations')
