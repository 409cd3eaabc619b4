"""field checks: the services' field rules as CHECK constraints

Revision ID: 0009_field_checks
Revises: 0008_notification_delivery
Create Date: 2026-11-24 09:00:00

Ranges (levels, scores, months, minutes, attempts, ratings) and non-blank names and
titles, named by the naming convention (ck_<table>_<name>), as the models declare them.
On SQLite each table is rebuilt (batch mode) with foreign keys off, so rebuilding a
parent table neither cascades nor refuses; the foreign keys are checked afterwards.
"""
import warnings
from contextlib import contextmanager

from alembic import op
from sqlalchemy.exc import SAWarning

revision = '0009_field_checks'
down_revision = '0008_notification_delivery'
branch_labels = None
depends_on = None


def _not_blank(column):
    return (f'{column}_not_blank', f'length(trim({column})) > 0')


# Frozen copy of the models' CheckConstraints (migrations import nothing of app).
CHECKS = {
    'organizations': [_not_blank('name'), ('slug_not_blank', 'length(slug) > 0')],
    'users': [_not_blank('name')],
    'micro_credential_definitions': [
        _not_blank('title'), _not_blank('issuing_body'),
        ('level_range', 'level BETWEEN 1 AND 10'),
        ('validity_months_range', 'validity_months >= 0'),
    ],
    'staff_micro_credentials': [('evidence_size_range', 'evidence_size >= 0')],
    'certification_tracks': [
        _not_blank('name'),
        ('version_range', 'version_major >= 1 AND version_minor >= 0'),
        ('estimated_hours_range', 'estimated_hours >= 0'),
        ('validity_months_range', 'validity_months >= 0'),
    ],
    'courses': [
        _not_blank('title'),
        ('estimated_minutes_range', 'estimated_minutes >= 0'),
        ('sort_order_range', 'sort_order >= 0'),
        ('passing_score_range', 'passing_score BETWEEN 0 AND 100'),
        ('attempt_limit_range', 'attempt_limit >= 1'),
    ],
    'course_progress': [
        ('exam_score_range', 'exam_score BETWEEN 0 AND 100'),
        ('exam_attempts_range', 'exam_attempts >= 0'),
        ('attempt_cycle_range', 'attempt_cycle >= 0'),
    ],
    'quiz_attempts': [
        ('score_range', 'score BETWEEN 0 AND 100'),
        ('attempt_number_range', 'attempt_number >= 1'),
        ('cycle_range', 'cycle >= 0'),
    ],
    'implementation_projects': [_not_blank('name')],
    'training_assignments': [('required_completions_range', 'required_completions >= 1')],
    'certificates': [
        ('progress_percent_range', 'progress_percent BETWEEN 0 AND 100'),
        ('sessions_attended_range', 'sessions_attended >= 0'),
        ('average_rating_range', 'average_rating BETWEEN 1 AND 5'),
    ],
    'course_sessions': [_not_blank('title')],
    'session_attendance': [('rating_range', 'rating BETWEEN 1 AND 5')],
}


@contextmanager
def _sqlite_foreign_keys_off():
    """SQLite rebuilds a table to change its constraints; with foreign keys on, dropping
    the old copy of a parent table would delete (or refuse for) its children. The pragma
    only takes effect outside a transaction, so end the migration's transaction, switch
    the checks off, do the work in a new one, check every foreign key, and switch back."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        yield
        return
    bind.exec_driver_sql('COMMIT')
    bind.exec_driver_sql('PRAGMA foreign_keys=OFF')
    bind.exec_driver_sql('BEGIN IMMEDIATE')
    try:
        yield
        broken = bind.exec_driver_sql('PRAGMA foreign_key_check').fetchall()
        if broken:
            raise RuntimeError(f'foreign keys broken by the rebuild: {broken[:5]}')
        bind.exec_driver_sql('COMMIT')
    except BaseException:
        bind.exec_driver_sql('ROLLBACK')
        raise
    finally:
        bind.exec_driver_sql('PRAGMA foreign_keys=ON')
        bind.exec_driver_sql('BEGIN')


@contextmanager
def _sqlite_indexes_kept(table):
    """Batch mode rebuilds a SQLite table from its reflection, which loses expression
    indexes (uq_users_email_lower) and DESC columns (ix_certificates_status_issued_at_id):
    put every index of the table back exactly as it was written."""
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        yield
        return
    indexes = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL", (table,)).fetchall()
    with warnings.catch_warnings():
        # The reflection says it skipped uq_users_email_lower: it is put back below.
        warnings.filterwarnings('ignore', 'Skipped unsupported reflection of expression-based',
                                SAWarning)
        yield
    for name, sql in indexes:
        bind.exec_driver_sql(f'DROP INDEX IF EXISTS "{name}"')
        bind.exec_driver_sql(sql)


def _clamp(column, low, high=None):
    """The value brought into [low, high]: the nearest bound."""
    if high is None:
        return f'CASE WHEN {column} < {low} THEN {low} ELSE {column} END'
    return (f'CASE WHEN {column} < {low} THEN {low} WHEN {column} > {high} THEN {high} '
            f'ELSE {column} END')


# What an existing row that breaks a new rule becomes, so the upgrade never refuses a
# database the old services filled (they accepted level 99, negative validity, blank
# names): blank names get a visible placeholder, optional values out of range become
# "not set" (NULL), required ones the nearest bound. Frozen with the checks above.
REPAIRS = {
    'level_range': _clamp('level', 1, 10),
    'validity_months_range': 'NULL',
    'evidence_size_range': 'NULL',
    'estimated_hours_range': 'NULL',
    'estimated_minutes_range': 'NULL',
    'sort_order_range': _clamp('sort_order', 0),
    'passing_score_range': _clamp('passing_score', 0, 100),
    'attempt_limit_range': 'NULL',
    'exam_score_range': 'NULL',
    'exam_attempts_range': _clamp('exam_attempts', 0),
    'attempt_cycle_range': _clamp('attempt_cycle', 0),
    'score_range': _clamp('score', 0, 100),
    'attempt_number_range': _clamp('attempt_number', 1),
    'cycle_range': _clamp('cycle', 0),
    'required_completions_range': _clamp('required_completions', 1),
    'progress_percent_range': 'NULL',
    'sessions_attended_range': 'NULL',
    'average_rating_range': 'NULL',
    'rating_range': 'NULL',
}


def _repair_existing_rows():
    bind = op.get_bind()
    for table, checks in CHECKS.items():
        for name, condition in checks:
            if name.endswith('_not_blank'):
                column = name.removesuffix('_not_blank')
                fix = (f"'{table.rstrip('s')}-' || id" if column == 'slug'
                       else "'(no name)'")
                sql = f'UPDATE {table} SET {column} = {fix} WHERE NOT ({condition})'
            elif name == 'version_range':
                sql = (f'UPDATE {table} SET version_major = {_clamp("version_major", 1)}, '
                       f'version_minor = {_clamp("version_minor", 0)} WHERE NOT ({condition})')
            else:
                column = name.removesuffix('_range')
                sql = f'UPDATE {table} SET {column} = {REPAIRS[name]} WHERE NOT ({condition})'
            changed = bind.exec_driver_sql(sql).rowcount
            if changed:
                print(f'0009: {changed} row(s) of {table} brought within {name}')


def upgrade():
    _repair_existing_rows()
    with _sqlite_foreign_keys_off():
        for table, checks in CHECKS.items():
            with _sqlite_indexes_kept(table), \
                    op.batch_alter_table(table, schema=None) as batch_op:
                for name, condition in checks:
                    batch_op.create_check_constraint(op.f(f'ck_{table}_{name}'), condition)


def downgrade():
    with _sqlite_foreign_keys_off():
        for table, checks in reversed(CHECKS.items()):
            with _sqlite_indexes_kept(table), \
                    op.batch_alter_table(table, schema=None) as batch_op:
                for name, _ in reversed(checks):
                    batch_op.drop_constraint(op.f(f'ck_{table}_{name}'), type_='check')
