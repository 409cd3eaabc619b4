"""Load-independent cost of the bulk issue job's batches (issue 15): one process runs the
job's own loop (bulk.certificates.begin, process_batch + commit until none is left,
finish) on a fresh PostgreSQL database, and counts per row issued: SQL statements (a
`before_cursor_execute` listener), Python function calls (cProfile, when --profile) and
CPU milliseconds of this process (time.process_time; the database server's CPU is not in
it). The PDF jobs go to a Redis database nobody works (deleted afterwards).

    python -m bench.profile_bulk_batch [--rows 1000] [--profile] [--top 25]

Prints JSON (save it under bench/results/) with `uptime`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import PROJECT_DIR
from bench.run_bulk import _csv, _people, _preview, uptime
from bench.run_foundation import VENV_BIN, drop_postgres, fresh_postgres, server_env

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/credwright_bench_bulkbatch"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    url = args.database_url
    if "bench" not in url.rsplit("/", 1)[-1]:
        raise SystemExit("the benchmark database's name must contain 'bench'")
    env = server_env(url)
    env["REDIS_URL"] = args.redis_url
    results: dict[str, Any] = {"rows": args.rows, "uptime_before": uptime()}
    fresh_postgres(url)
    for cmd in (["db", "upgrade"], ["seed", "--demo"]):
        proc = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *cmd], cwd=PROJECT_DIR,
                              env=env, capture_output=True, text=True, check=False)
        if proc.returncode:
            raise SystemExit(f"{cmd} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    os.environ.update(env)
    from sqlalchemy import event, select

    from app import create_app
    from app.extensions import db
    from app.models import BulkImport, User
    from app.services.bulk import certificates as bulk
    from app.services.context import Actor

    app = create_app()
    try:
        emails = _people(app, args.rows)
        path = Path(tempfile.mkdtemp(prefix="bulk-batch-")) / "cohort.csv"
        _csv(path, emails)
        import_id, _, _ = _preview(app, path, "admin@demo.test")
        with app.app_context():
            admin = db.session.scalar(select(User).where(User.email == "admin@demo.test"))
            bulk.confirm(db.session.get(BulkImport, import_id), Actor(user=admin))
            db.session.commit()
            statements: Counter[str] = Counter()
            shapes: Counter[str] = Counter()

            def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
                statements[statement.split(None, 1)[0].upper()] += 1
                # Which statements a row costs: their first words (tables and columns).
                shapes[" ".join(statement.split())[:110]] += 1

            event.listen(db.engine, "before_cursor_execute", count)
            profiler = cProfile.Profile() if args.profile else None
            cpu, wall = time.process_time(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            item, _ = bulk.begin(import_id)
            db.session.commit()
            actor = bulk.import_actor(item)
            did: Counter[str] = Counter(issued=0, skipped=0, failed=0)
            after, batches = 0, 0
            while (last := bulk.process_batch(item, actor, did, after)) is not None:
                db.session.commit()
                after, batches = last, batches + 1
            bulk.finish(item)
            db.session.commit()
            if profiler is not None:
                profiler.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            event.remove(db.engine, "before_cursor_execute", count)
            issued = did["issued"] or 1
            results.update({
                "outcomes": dict(did), "batches": batches,
                "statements_per_row": round(sum(statements.values()) / issued, 2),
                "statements_by_verb": dict(statements.most_common()),
                "statements_top": [f"{n} {shape}" for shape, n in shapes.most_common(12)],
                "cpu_ms_per_row": round(cpu * 1000 / issued, 2),
                "wall_s": round(wall, 2), "rows_per_s_wall": round(did["issued"] / wall, 1),
                "profiled": bool(profiler)})
            if profiler is not None:
                stats = pstats.Stats(profiler)
                results["python_calls_per_row"] = round(stats.total_calls / issued, 1)  # type: ignore[attr-defined]
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
                results["top_cumulative"] = out.getvalue().splitlines()[-args.top - 2:]
            db.session.remove()
            db.engine.dispose()
    finally:
        import redis

        client = redis.Redis.from_url(args.redis_url)
        keys = list(client.scan_iter("rq:*"))
        if keys:
            client.delete(*keys)
        drop_postgres(url)
    results["uptime_after"] = uptime()
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    results = measure(parser.parse_args(argv))
    json.dump(results, sys.stdout, indent=1)
    print()
    return results


if __name__ == "__main__":
    main()
