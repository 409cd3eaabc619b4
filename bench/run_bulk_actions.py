"""Bulk actions on the certificate list (issue 15): how long approving many pending
certificates takes, each through its own lifecycle verb (number, snapshot, signed Open
Badge, audit row, notification, PDF job in the outbox).

    python -m bench.run_bulk_actions --database postgres [--ticked 100] [--matching 1000]
    python -m bench.run_bulk_actions --database sqlite

Steps: a fresh database (PostgreSQL: `credwright_bulk_actions_bench`, dropped after;
SQLite: a file in bench/results/), migrated, reference data, an admin, people and one
pending certificate each; then, in-process:
1. `--ticked` certificates approved as one request would (bulk.apply + commit);
2. `--matching` certificates approved by the "all matching" job (run_bulk_action), which
   commits every COMMIT_EVERY.
PDFs are not rendered here: the outbox rows stay pending (REDIS_URL points at a closed
port), so the figures are the actions' own cost; the PDF benchmark is bench/pdf_render.py.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

RESULTS = Path(__file__).parent / "results"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB_NAME = "credwright_bulk_actions_bench"


def _database(kind: str) -> str:
    if kind == "sqlite":
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "bulk-actions.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    admin = create_engine(os.environ.get("BENCH_PG_URL", PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    return make_url(os.environ.get("BENCH_PG_URL", PG_URL)).set(
        database=DB_NAME).render_as_string(hide_password=False)


def _drop(kind: str) -> None:
    if kind != "postgres":
        return
    admin = create_engine(os.environ.get("BENCH_PG_URL", PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--ticked", type=int, default=100)
    parser.add_argument("--matching", type=int, default=1000)
    args = parser.parse_args()
    url = _database(args.database)
    os.environ.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:1/0", APP_ENV="test",
                      RATELIMIT_ENABLED="0")
    try:
        run(args, url)
    finally:
        _drop(args.database)


def run(args: argparse.Namespace, url: str) -> None:
    import logging

    from flask_migrate import upgrade

    from app import create_app, seed
    from app.extensions import db
    from app.jobs.bulk_actions import run_bulk_action
    from app.models import (
        BulkActionRun,
        Certificate,
        CertificateStatus,
        CertificateType,
        Role,
        RunStatus,
        TrackAudience,
        User,
    )
    from app.services import training
    from app.services.certificates import bulk
    from app.services.context import Actor

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False,
                      "STORAGE_DIR": str(RESULTS / "bulk-actions-storage")})
    logging.getLogger("app.jobs").setLevel(logging.ERROR)  # "left pending", by design
    total = args.ticked + args.matching
    with app.app_context():
        upgrade(directory=str(Path(__file__).parent.parent / "migrations"))
        seed.reference_data()
        admin = User(email="bulk-admin@bench.test", name="Bulk Admin", role=Role.ADMIN,
                     password_hash="x", active=True)
        db.session.add(admin)
        track = training.create_track(Actor.system(), name="Bench track",
                                      audience=TrackAudience.CLIENT_EMPLOYEE)
        db.session.flush()
        user_ids = list(db.session.scalars(insert(User).returning(User.id), [
            {"email": f"learner{i}@bench.test", "name": f"Learner {i}", "role": Role.STAFF,
             "password_hash": "x", "active": True} for i in range(total)]))
        cert_ids = list(db.session.scalars(insert(Certificate).returning(Certificate.id), [
            {"type": CertificateType.COMPLETION, "status": CertificateStatus.PENDING,
             "recipient_id": uid, "track_id": track.id, "track_version": track.version,
             "live_key": Certificate.make_live_key(uid, None, track.id,
                                                   CertificateType.COMPLETION, 1)}
            for uid in user_ids]))
        db.session.commit()
        actor = Actor(user=db.session.get(User, admin.id))
        ticked, matching = cert_ids[:args.ticked], cert_ids[args.ticked:]

        started = time.perf_counter()
        outcome = bulk.apply(actor, bulk.BulkAction("approve"), ticked)
        db.session.commit()
        request_s = time.perf_counter() - started
        print(f"{args.database}: {args.ticked} ticked approved in {request_s:.2f} s "
              f"({1000 * request_s / args.ticked:.1f} ms each): {outcome.summary()}")

        run_ = BulkActionRun(token="bench-run", kind="approve", reason="", category="other",
                             requested_by_id=admin.id, filters={}, ids=matching,
                             total=len(matching), status=RunStatus.QUEUED, position=0,
                             done_count=0, already_count=0, refused_count=0, refusals={},
                             attempts=0)
        db.session.add(run_)
        db.session.commit()
        started = time.perf_counter()
        result = run_bulk_action(run_.id)
        job_s = time.perf_counter() - started
        print(f"{args.database}: {args.matching} all-matching approved by the job in "
              f"{job_s:.2f} s ({1000 * job_s / args.matching:.1f} ms each, "
              f"{args.matching / job_s:.0f}/s): {result['summary']}")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
