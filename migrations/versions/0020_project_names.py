"""project names: one per organization, regardless of case

Revision ID: 0020_project_names
Revises: 0019_organization_names
Create Date: 2026-12-01 12:30:00

A double-clicked "Create project" made two identical projects (there was nothing to
refuse the second). Existing duplicates within an organization keep the oldest row's
name; each later one becomes "Name (2)", "Name (3)", ... (the first free suffix), so the
upgrade never fails on live data. Downgrade drops the index and leaves the names.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0020_project_names'
down_revision = '0019_organization_names'
branch_labels = None
depends_on = None

projects = sa.table("implementation_projects", sa.column("id", sa.Integer),
                    sa.column("organization_id", sa.Integer), sa.column("name", sa.String))


def upgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.select(projects.c.id, projects.c.organization_id, projects.c.name)
                        .order_by(projects.c.id)).all()
    taken = {(org, name.lower()) for _, org, name in rows}
    seen: set[tuple[int, str]] = set()
    for project_id, org, name in rows:
        if (org, name.lower()) not in seen:
            seen.add((org, name.lower()))
            continue
        n = 2
        while (org, f"{name[:190]} ({n})".lower()) in taken:
            n += 1
        renamed = f"{name[:190]} ({n})"
        taken.add((org, renamed.lower()))
        seen.add((org, renamed.lower()))
        conn.execute(projects.update().where(projects.c.id == project_id).values(name=renamed))
    op.create_index('uq_implementation_projects_org_name_lower', 'implementation_projects',
                    ['organization_id', sa.text('lower(name)')], unique=True)


def downgrade():
    op.drop_index('uq_implementation_projects_org_name_lower',
                  table_name='implementation_projects')
