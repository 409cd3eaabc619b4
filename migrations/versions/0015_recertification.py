"""re-certification on a major version; superseded certificates

Revision ID: 0015_recertification
Revises: 0014_certificate_renderings
Create Date: 2026-12-01 11:10:00

- certification_tracks.major_version_changed_at (when the major version last changed;
  tracks already past 1.x get their updated_at, the best date known) and
  recertification_grace_days (0 by default, CHECK 0..3650). Columns added in place: on
  SQLite the CHECK is written inline in ADD COLUMN, so no table is rebuilt.
- Certificates a re-issue replaced (REVOKED with category "superseded" and named by a
  later certificate's supersedes_id) become SUPERSEDED (the status is a plain string
  column: no CHECK lists its values).
- certificates.track_version: the track version a track certificate covers (from its
  snapshot, else the "Completed version X.Y" note of a pending one, else the track's
  current version), and a live track certificate's key ends with its major version
  (":v<major>").
"""
import json
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_recertification'
down_revision = '0014_certificate_renderings'
branch_labels = None
depends_on = None

GRACE = 'recertification_grace_days'
CHECK_NAME = 'ck_certification_tracks_recertification_grace_days_range'
CHECK_SQL = f'{GRACE} BETWEEN 0 AND 3650'

tracks = sa.table('certification_tracks', sa.column('id', sa.Integer),
                  sa.column('version_major', sa.Integer),
                  sa.column('version_minor', sa.Integer),
                  sa.column('updated_at', sa.DateTime),
                  sa.column('major_version_changed_at', sa.DateTime))
certificates = sa.table('certificates', sa.column('id', sa.Integer),
                        sa.column('status', sa.String), sa.column('live_key', sa.String),
                        sa.column('track_id', sa.Integer), sa.column('course_id', sa.Integer),
                        sa.column('snapshot', sa.Text), sa.column('notes', sa.Text),
                        sa.column('revocation_category', sa.String),
                        sa.column('track_version', sa.String),
                        sa.column('supersedes_id', sa.Integer))


def _version(snapshot, notes, major, minor):
    if isinstance(snapshot, str):
        try:
            snapshot = json.loads(snapshot)
        except ValueError:
            snapshot = None
    version = str((snapshot or {}).get('version') or '') if isinstance(snapshot, dict) else ''
    if re.fullmatch(r'\d+\.\d+', version):
        return version
    match = re.search(r'[Cc]ompleted version (\d+\.\d+)', notes or '')
    return match[1] if match else f'{major or 1}.{minor or 0}'


def upgrade():
    bind = op.get_bind()
    op.add_column('certification_tracks',
                  sa.Column('major_version_changed_at', sa.DateTime(), nullable=True))
    if bind.dialect.name == 'sqlite':
        bind.exec_driver_sql(
            f"ALTER TABLE certification_tracks ADD COLUMN {GRACE} INTEGER DEFAULT '0' "
            f"NOT NULL CONSTRAINT {CHECK_NAME} CHECK ({CHECK_SQL})")
    else:
        op.add_column('certification_tracks', sa.Column(GRACE, sa.Integer(), nullable=False,
                                                        server_default='0'))
        op.create_check_constraint(op.f(CHECK_NAME), 'certification_tracks', CHECK_SQL)
    bind.execute(tracks.update().where(tracks.c.version_major > 1)
                 .values(major_version_changed_at=tracks.c.updated_at))

    successors = sa.select(certificates.c.supersedes_id).where(
        certificates.c.supersedes_id.is_not(None)).scalar_subquery()
    bind.execute(certificates.update().where(
        certificates.c.status == 'REVOKED',
        certificates.c.revocation_category == 'superseded',
        certificates.c.id.in_(successors)).values(status='SUPERSEDED'))

    op.add_column('certificates', sa.Column('track_version', sa.String(length=20),
                                            nullable=True))
    rows = bind.execute(
        sa.select(certificates.c.id, certificates.c.live_key, certificates.c.snapshot,
                  certificates.c.notes, tracks.c.version_major, tracks.c.version_minor)
        .select_from(certificates.join(tracks, tracks.c.id == certificates.c.track_id))
        .where(certificates.c.course_id.is_(None))
    ).fetchall()
    for id_, key, snapshot, notes, major, minor in rows:
        version = _version(snapshot, notes, major, minor)
        values = {'track_version': version}
        if key and not re.search(r':v\d+$', key):
            values['live_key'] = f'{key}:v{version.split(".")[0]}'
        bind.execute(certificates.update().where(certificates.c.id == id_).values(**values))


def downgrade():
    bind = op.get_bind()
    rows = bind.execute(sa.select(certificates.c.id, certificates.c.live_key).where(
        certificates.c.live_key.like('%:v%')).order_by(certificates.c.id.desc())).fetchall()
    kept = set()
    for id_, key in rows:  # newest first: of two majors' live keys the newest keeps it
        base = re.sub(r':v\d+$', '', key)
        bind.execute(certificates.update().where(certificates.c.id == id_)
                     .values(live_key=None if base in kept else base))
        kept.add(base)
    bind.execute(certificates.update().where(certificates.c.status == 'SUPERSEDED')
                 .values(status='REVOKED'))
    op.drop_column('certificates', 'track_version')
    if bind.dialect.name != 'sqlite':
        op.drop_constraint(op.f(CHECK_NAME), 'certification_tracks', type_='check')
    op.drop_column('certification_tracks', GRACE)
    op.drop_column('certification_tracks', 'major_version_changed_at')
