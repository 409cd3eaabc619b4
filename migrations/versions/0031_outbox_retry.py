"""outbox retries (reliability)

Revision ID: 0031_outbox_retry
Revises: 0030_org_matrix
Create Date: 2026-12-01 21:20:00

- job_outbox.max_attempts (1-50, CHECK) and next_attempt_at: a failed attempt sends the
  row back to pending, due again after a backoff, until it has failed max_attempts times
  (then failed for good). CHECK attempts <= max_attempts. Rows already there: due from
  their creation; a pending one that was claimed 8 times or more keeps one more attempt.
  ix_job_outbox_due (status, next_attempt_at, id): the dispatcher's claim reads the due
  pending rows, the soonest first. The outbox is small (done rows are purged after a
  week), so a plain build and, on SQLite, a table rebuild (batch) are fine.
- ix_quiz_attempts_submitted_at: the manager dashboard's quiz figures read a year of
  attempts by submitted_at. On PostgreSQL it is built CONCURRENTLY inside
  `op.get_context().autocommit_block()` (attempts keep being submitted while it builds),
  IF NOT EXISTS, an INVALID leftover of a failed build dropped first, so an interrupted
  upgrade can be rerun (as 0028, 0029). SQLite: a plain index.
"""
import contextlib

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0031_outbox_retry'
down_revision = '0030_org_matrix'
branch_labels = None
depends_on = None

MAX_RANGE = "ck_job_outbox_max_attempts_range"
WITHIN_MAX = "ck_job_outbox_attempts_within_max"
DUE_INDEX = "ix_job_outbox_due"
SUBMITTED_INDEX = "ix_quiz_attempts_submitted_at"


def upgrade():
    with op.batch_alter_table("job_outbox") as batch:
        batch.add_column(sa.Column("max_attempts", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE job_outbox SET attempts = CASE WHEN attempts > 49 THEN 49 "
               "ELSE attempts END")
    op.execute("UPDATE job_outbox SET next_attempt_at = created_at, max_attempts = "
               "CASE WHEN attempts >= 8 THEN attempts + 1 ELSE 8 END")
    with op.batch_alter_table("job_outbox") as batch:
        batch.alter_column("max_attempts", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("next_attempt_at", existing_type=sa.DateTime(), nullable=False)
        batch.create_check_constraint(op.f(MAX_RANGE), "max_attempts BETWEEN 1 AND 50")
        batch.create_check_constraint(op.f(WITHIN_MAX), "attempts <= max_attempts")
        batch.create_index(DUE_INDEX, ["status", "next_attempt_at", "id"])

    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    with op.get_context().autocommit_block() if pg else contextlib.nullcontext():
        if pg:
            invalid = bind.exec_driver_sql(
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE NOT i.indisvalid AND c.relname = %(name)s", {"name": SUBMITTED_INDEX}
            ).scalar()
            if invalid:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {SUBMITTED_INDEX}")
        op.create_index(SUBMITTED_INDEX, "quiz_attempts", ["submitted_at"],
                        if_not_exists=True, postgresql_concurrently=True)


def downgrade():
    op.drop_index(SUBMITTED_INDEX, table_name="quiz_attempts")
    with op.batch_alter_table("job_outbox") as batch:
        batch.drop_index(DUE_INDEX)
        batch.drop_constraint(op.f(WITHIN_MAX), type_="check")
        batch.drop_constraint(op.f(MAX_RANGE), type_="check")
        batch.drop_column("next_attempt_at")
        batch.drop_column("max_attempts")
