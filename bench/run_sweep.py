"""Daily sweep benchmark: 1,000,000 staff credentials, 1% due, on PostgreSQL.

    python -m bench.run_sweep [--credentials 1000000] [--due-share 0.01] [--keep]
    python -m bench.run_sweep --reuse --keep          # measure again on a kept database
    python -m bench.run_sweep --inline                # also: the real sweep with JOBS_INLINE

Target (the sweep issue): the sweep over 1,000,000 staff credentials with 1% due under
10 s on PostgreSQL, set-based (the statement count must not grow with the due rows).

Steps (each timed):
1. a fresh PostgreSQL database (`DROP DATABASE ... WITH (FORCE)` + `CREATE DATABASE`; the
   name must contain "bench"), `flask db upgrade`, `flask seed --demo`, `python -m
   bench.generate` for the people (20,210 in 200 organizations: 20,008 staff and org
   admins, ~3% of each organization org admins, 60% with a phone, mixed user and
   organization preferences; no audit rows), then in-process
   `bench.generate.generate_sweep_credentials()`: 50 definitions x 20,008 people, 1,000,000
   credentials by COPY, 1% due on the sweep date, the earlier days' reminder claims;
   `VACUUM (ANALYZE)`;
2. a child process (`--measure`, so its peak RSS is the sweep's alone) builds the app on
   that database with REDIS_URL=redis://127.0.0.1:6379/12 (flushed before and after):
   deliveries are enqueued (RQ jobs of 50) but not sent. With `before_cursor_execute` /
   `after_cursor_execute` listeners and wrappers around each phase and around
   `app.jobs.run_job`, it runs `app.jobs.sweep.run()`:
   (a) dry run as of today, then EXPLAIN (ANALYZE, BUFFERS) of the claim INSERT ... SELECT
       and of expire_due's SELECT, each in a rolled-back transaction;
   (b) the real sweep as of today (the first run: 1% due);
   (c) the same day again (nothing new: 0 sent);
   (d) the next day (the natural rate of the generated data).
   Per phase: seconds (the phase's own work, then its COMMIT with the enqueueing after
   it), statements (and their SQL time, grouped by statement shape), items, notifications
   and deliveries written, jobs enqueued, the peak RSS (VmHWM, reset at each phase's start);
3. with `--inline`, the same real sweep on a copy of the database (`CREATE DATABASE ...
   TEMPLATE`) without REDIS_URL: JOBS_INLINE, so every delivery is sent (written to the
   log) right after each phase's commit, one commit per delivery;
4. the database (and the copy) is dropped unless --keep; results go to
   bench/results/sweep-postgres-<stamp>.json and a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import PROJECT_DIR, RESULTS_DIR
from bench.run_foundation import (
    TRANSACTION_CONTROL,
    VENV_BIN,
    _on_sigterm,
    _pg_admin,
    database_version,
    drop_postgres,
    fresh_postgres,
    log,
    run_step,
    server_env,
)

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/credwright_sweep_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
TARGET_SECONDS = 10.0
CERTIFICATES_TARGET_SECONDS = 60.0  # issue 16: 10M certificates, 1% due
VARIANTS = ("dry", "real", "again", "next_day")
VARIANT_LABELS = {
    "dry": "(a) dry run, as of D",
    "real": "(b) real sweep, as of D (first run: 1% due)",
    "again": "(c) again, as of D",
    "next_day": "(d) next day, as of D+1",
    "inline": "(b') real sweep as of D, JOBS_INLINE (sends in-process)",
}


def uptime() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- The child: measure the sweep in-process -----------------------------------------

def _rss_kb(field: str) -> int:
    match = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) if match else 0


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def _shape(statement: str) -> str:
    """A statement's shape: its first words, literals and numbers folded."""
    flat = " ".join(statement.split())
    flat = re.sub(r"\(%\(.*", "(...)", flat)
    flat = re.sub(r"'[^']*'", "'?'", flat)
    flat = re.sub(r"\b\d+\b", "N", flat)
    return flat[:90]


class Recorder:
    """Statements (count, SQL seconds, by shape), job enqueues and timestamps."""

    def __init__(self) -> None:
        self.statements = 0
        self.sql_seconds = 0.0
        self.shapes: Counter[str] = Counter()
        self.shape_seconds: dict[str, float] = defaultdict(float)
        self.jobs = 0
        self.job_items = 0
        self.enqueue_seconds = 0.0
        self.slowest: list[tuple[float, str]] = []

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def snapshot(self) -> dict[str, Any]:
        top = sorted(self.shapes, key=lambda s: -self.shape_seconds[s])[:6]
        return {"statements": self.statements, "sql_seconds": round(self.sql_seconds, 3),
                "jobs_enqueued": self.jobs, "job_items": self.job_items,
                "enqueue_seconds": round(self.enqueue_seconds, 3),
                "top_statements": [{"shape": s, "count": self.shapes[s],
                                    "seconds": round(self.shape_seconds[s], 3)} for s in top]}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import event, text
    from sqlalchemy.orm import Session

    from bench.generate import make_app

    app = make_app(args.database_url)
    import app.jobs as jobs_module
    from app.extensions import db
    from app.jobs import sweep as sweep_job
    from app.services import sweep

    as_of = date.fromisoformat(args.as_of)
    variants = args.variants.split(",")
    redis = None
    if app.config["REDIS_URL"]:
        from redis import Redis
        redis = Redis.from_url(app.config["REDIS_URL"])
        redis.flushdb()
    rec = Recorder()
    captured: dict[str, tuple[str, Any]] = {}  # the first claim and expire_due statements
    out: dict[str, Any] = {"as_of": as_of.isoformat(), "jobs_inline": app.config["JOBS_INLINE"],
                           "variants": {}, "explain": {}}

    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                   executemany: bool) -> None:
            conn.info.setdefault("t0", []).append(time.perf_counter())

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                  executemany: bool) -> None:
            elapsed = time.perf_counter() - conn.info["t0"].pop()
            if TRANSACTION_CONTROL.match(statement):
                return
            rec.statements += 1
            rec.sql_seconds += elapsed
            shape = _shape(statement)
            rec.shapes[shape] += 1
            rec.shape_seconds[shape] += elapsed
            head = statement.lstrip()[:40].upper()
            if head.startswith("INSERT INTO REMINDER_CLAIMS") and "mcred" in str(params):
                captured.setdefault("claim", (statement, params))
            if head.startswith("INSERT INTO REMINDER_CLAIMS") and "'cert'" in repr(params):
                captured.setdefault("claim_cert", (statement, params))
            if head.startswith("WITH CERT_DUE"):  # the certificate reminders' notifications
                captured.setdefault("notify_cert", (statement, params))
            if head.startswith("INSERT INTO NOTIFICATION_DELIVERIES"):
                captured.setdefault("deliveries", (statement, params))
            if "FOR UPDATE SKIP LOCKED" in statement.upper():
                captured.setdefault("expire_due", (statement, params))

        original_run_job = jobs_module.run_job

        def counting_run_job(job: Any, *job_args: Any, **options: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original_run_job(job, *job_args, **options)
            finally:
                rec.enqueue_seconds += time.perf_counter() - t0
                rec.jobs += 1
                rec.job_items += len(job_args[0]) if job_args and isinstance(
                    job_args[0], list) else 1

        jobs_module.run_job = counting_run_job  # _after_commit looks it up at call time

        # The outbox's dispatcher hands its jobs to RQ in batches (Queue.enqueue_many).
        from rq import Queue

        original_enqueue_many = Queue.enqueue_many

        def counting_enqueue_many(queue: Any, job_datas: Any, *a: Any, **kw: Any) -> Any:
            job_datas = list(job_datas)
            t0 = time.perf_counter()
            try:
                return original_enqueue_many(queue, job_datas, *a, **kw)
            finally:
                rec.enqueue_seconds += time.perf_counter() - t0
                rec.jobs += len(job_datas)
                rec.job_items += sum(len(d.args[0]) if d.args and isinstance(d.args[0], list)
                                     else 1 for d in job_datas)

        Queue.enqueue_many = counting_enqueue_many  # type: ignore[method-assign]


        original_phases = sweep.PHASES
        rows: list[dict[str, Any]] = []

        def wrap(phase: Any) -> Any:
            def timed(day: date) -> Any:
                rec.reset()
                _reset_peak_rss()
                t0 = time.perf_counter()
                result = phase(day)
                t1 = time.perf_counter()
                rows.append({"phase": phase.__name__, "t0": t0, "t1": t1, "rec": rec,
                             "result": result, "session": db.session()})
                return result
            timed.__name__ = phase.__name__
            return timed

        def finish_previous(session: Any = None) -> None:
            """Close the last phase (at its commit, after the enqueueing; a dry run's at
            the next phase's start)."""
            if not rows or "done" in rows[-1]:
                return
            row = rows[-1]
            if session is not None and session is not row["session"]:
                return  # an inline job's own session (its own app context) committing
            done = time.perf_counter()
            row.update(done=done, stats=row["rec"].snapshot(), peak_rss_mb=round(
                _rss_kb("VmHWM") / 1024, 1))

        def phase_start_hook(phase: Any) -> Any:
            inner = wrap(phase)

            def hooked(day: date) -> Any:
                finish_previous()
                return inner(day)
            hooked.__name__ = phase.__name__
            return hooked

        sweep.PHASES = tuple(phase_start_hook(p) for p in original_phases)
        def on_commit(session: Any) -> None:
            # Runs after app.jobs' own after_commit listener (registered first), i.e. after
            # the enqueueing: the first commit after a phase closes it.
            if not session.in_nested_transaction():
                finish_previous(session)

        event.listen(Session, "after_commit", on_commit)

        phase_of = ("case when n.type = 'CREDENTIAL_STATUS_CHANGE' then 'expire' "
                    "when n.dedupe_key like 'mcred:%' then 'credential_reminders' "
                    "when n.dedupe_key like 'cert:%' then 'certificate_reminders' "
                    "when n.type = 'TRAINING_DUE' then 'training_reminders' else n.type end")

        def max_ids() -> tuple[int, int]:
            with engine.connect() as conn:
                return (conn.scalar(text("select coalesce(max(id), 0) from notifications")),
                        conn.scalar(text("select coalesce(max(id), 0) from "
                                         "notification_deliveries")))

        def written(since: tuple[int, int]) -> dict[str, Any]:
            with engine.connect() as conn:
                notes = conn.execute(text(
                    f"select {phase_of}, count(*) from notifications n where id > :n "  # noqa: S608
                    "group by 1"),
                    {"n": since[0]}).all()
                deliveries = conn.execute(text(
                    "select channel, status, count(*) from notification_deliveries "
                    "where id > :n group by 1, 2"), {"n": since[1]}).all()
                by_phase = conn.execute(text(
                    f"select {phase_of}, count(*) from notification_deliveries d "  # noqa: S608
                    "join notifications n on n.id = d.notification_id "
                    "where d.id > :n group by 1"), {"n": since[1]}).all()
            return {"notifications": {k: v for k, v in notes},
                    "deliveries": {f"{c}/{s}": n for c, s, n in deliveries},
                    "deliveries_by_phase": {k: v for k, v in by_phase}}

        def run_variant(name: str, day: date, dry: bool) -> None:
            rows.clear()
            if redis is not None:
                redis.flushdb()
            load = uptime()
            before_ids = max_ids()
            _reset_peak_rss()
            log(f"{VARIANT_LABELS[name]} (D={as_of}): load {load}")
            t0 = time.perf_counter()
            results = sweep_job.run(day, dry_run=dry)
            total = time.perf_counter() - t0
            finish_previous()
            phases = []
            for row in rows:
                res = row["result"]
                phases.append({
                    "phase": row["phase"], "items": res.items, "sent": res.sent,
                    "seconds": round(row["done"] - row["t0"], 3),
                    "work_seconds": round(row["t1"] - row["t0"], 3),
                    "commit_enqueue_seconds": round(row["done"] - row["t1"], 3),
                    "peak_rss_mb": row["peak_rss_mb"], **row["stats"]})
            queued = None
            if redis is not None:
                from rq import Queue
                queued = Queue("default", connection=redis).count
            variant = {
                "as_of": day.isoformat(), "dry_run": dry, "seconds": round(total, 3),
                "load_before": load, "load_after": uptime(), "phases": phases,
                "statements": sum(p["statements"] for p in phases),
                "sql_seconds": round(sum(p["sql_seconds"] for p in phases), 3),
                "sent": sum(r.sent for r in results),
                "jobs_enqueued": sum(p["jobs_enqueued"] for p in phases),
                "redis_queue_length": queued,
                "peak_rss_mb": round(_rss_kb("VmHWM") / 1024, 1),
                **written(before_ids)}
            out["variants"][name] = variant
            log(f"  {total:.2f} s, {variant['statements']} statements, sent "
                f"{variant['sent']}, jobs {variant['jobs_enqueued']}: "
                + ", ".join(f"{p['phase']} {p['seconds']} s/{p['statements']} st/"
                            f"{p['items']} items" for p in phases))

        def explain(name: str) -> None:
            if name not in captured:
                return
            statement, params = captured[name]
            raw = engine.raw_connection()
            try:
                cur = raw.cursor()
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                out["explain"][name] = [r[0] for r in cur.fetchall()]
                raw.rollback()
            finally:
                raw.close()

        for name in variants:
            if name == "dry":
                run_variant("dry", as_of, True)
                if args.explain:
                    for what in ("claim", "claim_cert", "expire_due", "notify_cert",
                                 "deliveries"):
                        explain(what)
            elif name in ("real", "inline"):
                run_variant(name, as_of, False)
            elif name == "again":
                run_variant("again", as_of, False)
            elif name == "next_day":
                run_variant("next_day", as_of + timedelta(days=1), False)
        sweep.PHASES = original_phases
        jobs_module.run_job = original_run_job
        Queue.enqueue_many = original_enqueue_many  # type: ignore[method-assign]
        with engine.connect() as conn:
            out["tables"] = {t: conn.scalar(text(f"select count(*) from {t}"))  # noqa: S608
                             for t in ("staff_micro_credentials", "certificates",
                                       "reminder_claims",
                                       "notifications", "notification_deliveries",
                                       "audit_log")}
    if redis is not None:
        redis.flushdb()
    out["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


# --- The parent: data, then the child ------------------------------------------------

def generate_data(url: str, args: argparse.Namespace, as_of: date) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    from bench.generate import generate_sweep_credentials

    engine = create_engine(url)
    try:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            made = generate_sweep_credentials(
                conn, count=args.credentials, definitions=args.definitions, as_of=as_of,
                due_share=args.due_share, expire_share=args.expire_share,
                rng=random.Random(args.seed), now=datetime.now(UTC),
                notification_history=not args.no_history)
        made.timings["total with commit"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM (ANALYZE)"))
            sizes = {t: conn.scalar(text(
                f"select pg_size_pretty(pg_total_relation_size('{t}'))"))  # noqa: S608
                for t in ("staff_micro_credentials", "reminder_claims", "notifications")}
        made.timings["vacuum analyze"] = round(time.perf_counter() - t0, 2)
    finally:
        engine.dispose()
    return {**vars(made), "definition_ids": None, "table_sizes": sizes}


PLANTED_TABLE = "bench_sweep_planted"  # (id, expires_at before): put back on the next run


def prepare_certificates(url: str, as_of: date, due_share: float,
                         earlier_run: bool = True) -> dict[str, Any]:
    """Make an existing certificates database (bench.run_certificates --keep, e.g. 10M)
    ready for a sweep as of D with `due_share` of its certificates due:

    - what an earlier run of this planted or swept is undone (the planted expiries put
      back, the certificate reminder claims and their notifications deleted);
    - `due_share` x all certificates, random ISSUED ones, get an expiry on a band's first
      day (D+30, D+60 or D+90, a third each): due on D;
    - every other issued certificate expiring within 90 days gets the claim the earlier
      daily sweeps made for the band it is in on D (so on D only the band-start days are
      new: the natural ones plus the planted ones), and (unless `earlier_run` is False:
      --no-earlier-run, every sweep then reads the whole 90-day window first) the
      finished run as of D-1 that made them;
    - ANALYZE of the touched tables."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    timings: dict[str, float] = {}
    try:
        with engine.begin() as conn:
            t0 = time.perf_counter()
            conn.execute(text("SET LOCAL work_mem = '256MB'"))
            conn.execute(text(f"CREATE TABLE IF NOT EXISTS {PLANTED_TABLE} "
                              "(id int PRIMARY KEY, expires_at date)"))
            restored = conn.execute(text(
                f"UPDATE certificates c SET expires_at = p.expires_at FROM {PLANTED_TABLE} p "  # noqa: S608
                "WHERE c.id = p.id")).rowcount
            conn.execute(text(f"TRUNCATE {PLANTED_TABLE}"))
            conn.execute(text(
                "DELETE FROM notification_deliveries WHERE notification_id IN (SELECT id "
                "FROM notifications WHERE dedupe_key LIKE 'cert:%')"))
            removed = conn.execute(text(
                "DELETE FROM notifications WHERE dedupe_key LIKE 'cert:%'")).rowcount
            conn.execute(text("DELETE FROM reminder_claims WHERE kind = 'cert'"))
            conn.execute(text("DELETE FROM sweep_runs"))
            timings["undo earlier runs"] = round(time.perf_counter() - t0, 2)
            t0 = time.perf_counter()
            total, top = conn.execute(text(
                "SELECT count(*), max(id) FROM certificates")).one()
            want = round(total * due_share)
            # Random ids (they are dense), issued ones only, each once.
            planted = conn.execute(text(
                f"INSERT INTO {PLANTED_TABLE} (id, expires_at) "  # noqa: S608
                "SELECT c.id, c.expires_at FROM (SELECT DISTINCT 1 + floor(random() * :top)"
                "::int AS id FROM generate_series(1, :draws)) r "
                "JOIN certificates c ON c.id = r.id WHERE c.status = 'ISSUED' LIMIT :n"),
                {"top": top, "draws": int(want * 1.3) + 100, "n": want}).rowcount
            conn.execute(text(
                "UPDATE certificates c SET expires_at = CAST(:d AS date) + "  # noqa: S608
                "(30 * (1 + p.id % 3)) FROM " + PLANTED_TABLE + " p WHERE c.id = p.id"),
                {"d": as_of})
            timings["plant due"] = round(time.perf_counter() - t0, 2)
            t0 = time.perf_counter()
            # The key the sweep builds: cert:<id>:<expiry>:<band> (app/services/sweep.py).
            claimed = conn.execute(text(
                "INSERT INTO reminder_claims (key, kind, item_id, threshold, as_of, "
                "created_at) SELECT 'cert:' || id || ':' || CAST(expires_at AS varchar) || "
                "':' || band, 'cert', id, band, expires_at - CAST(band AS int), now() "
                "FROM (SELECT id, "
                "expires_at, CASE WHEN expires_at <= CAST(:d AS date) + 30 THEN '30' "
                "WHEN expires_at <= CAST(:d AS date) + 60 THEN '60' ELSE '90' END AS band "
                "FROM certificates WHERE status = 'ISSUED' AND expires_at > CAST(:d AS date) "
                "AND expires_at <= CAST(:d AS date) + 90 AND expires_at NOT IN "
                "(CAST(:d AS date) + 30, CAST(:d AS date) + 60, CAST(:d AS date) + 90)) w "
                "ORDER BY id ON CONFLICT (key) DO NOTHING"), {"d": as_of}).rowcount
            if earlier_run:
                # Those claims' run: the sweep as of D-1, finished (from it, a sweep reads
                # the band-start days and what changed since, app/services/sweep.py). The
                # planted expiries keep their updated_at: they stand for certificates
                # issued long ago whose validity ends then, not for edits.
                conn.execute(text(
                    "INSERT INTO sweep_runs (as_of, status, counts, sent, started_at, "
                    "finished_at) VALUES (CAST(:d AS date) - 1, 'done', '{}', 0, "
                    "now() - interval '1 day', now() - interval '1 day')"), {"d": as_of})
            due = conn.scalar(text(
                "SELECT count(*) FROM certificates WHERE status = 'ISSUED' AND expires_at IN "
                "(CAST(:d AS date) + 30, CAST(:d AS date) + 60, CAST(:d AS date) + 90)"),
                {"d": as_of})
            timings["earlier claims"] = round(time.perf_counter() - t0, 2)
        with engine.connect() as conn:
            t0 = time.perf_counter()
            conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("certificates", "reminder_claims", "notifications",
                          "notification_deliveries"):
                conn.execute(text(f"ANALYZE {table}"))
            timings["analyze"] = round(time.perf_counter() - t0, 2)
    finally:
        engine.dispose()
    out = {"certificates": total, "planted_due": planted, "due_on_d": due,
           "earlier_claims": claimed, "restored_from_earlier_run": restored,
           "notifications_removed": removed, "timings": timings}
    log(f"certificates prepared for a sweep as of {as_of}: {out}")
    return out


def copy_database(url: str, suffix: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin, name = _pg_admin(url)
    copy = f"{name}_{suffix}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=copy).render_as_string(hide_password=False)


def run_child(url: str, as_of: date, variants: str, redis_url: str | None,
              explain: bool, log_path: Path) -> dict[str, Any]:
    env = server_env(url)
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    out_path = log_path.with_suffix(".json")
    cmd = [sys.executable, "-m", "bench.run_sweep", "--measure", "--database-url", url,
           "--as-of", as_of.isoformat(), "--variants", variants, "--out", str(out_path)]
    if explain:
        cmd.append("--explain")
    log(f"child: {' '.join(cmd[1:])} (REDIS_URL={redis_url})")
    with log_path.open("wb") as child_log:
        proc = subprocess.run(cmd, cwd=PROJECT_DIR, env=env, stdout=child_log,
                              stderr=subprocess.STDOUT, timeout=1800, check=False)
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise SystemExit(f"measuring failed (exit {proc.returncode}):\n{tail}")
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("["):
            print(line, flush=True)
    result = json.loads(out_path.read_text())
    out_path.unlink()
    return result


def markdown(results: dict[str, Any]) -> str:
    lines = ["| Run | phase | seconds (work + commit/enqueue) | statements | SQL s | items | "
             "notifications | deliveries | jobs | peak RSS MB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for source in ("measure", "inline"):
        for name, v in (results.get(source) or {}).get("variants", {}).items():
            label = VARIANT_LABELS["inline" if source == "inline" else name]
            for p in v["phases"]:
                dry = v["dry_run"]
                notes = "–" if dry else v["notifications"].get(p["phase"], 0)
                sends = "–" if dry else v.get("deliveries_by_phase", {}).get(p["phase"], 0)
                lines.append(
                    f"| {label} | {p['phase']} | {p['seconds']:.2f} ({p['work_seconds']:.2f} + "
                    f"{p['commit_enqueue_seconds']:.2f}) | {p['statements']} | "
                    f"{p['sql_seconds']:.2f} | {p['items']} | {notes} | {sends} | "
                    f"{p['jobs_enqueued']} | {p['peak_rss_mb']} |")
            deliveries = sum(v["deliveries"].values())
            lines.append(
                f"| {label} | **total** | **{v['seconds']:.2f}** | {v['statements']} | "
                f"{v['sql_seconds']:.2f} | | {v['sent']} sent | {deliveries} "
                f"({', '.join(f'{k} {n}' for k, n in sorted(v['deliveries'].items()))}) | "
                f"{v['jobs_enqueued']} | {v['peak_rss_mb']} (load {v['load_before']}) |")
    return "\n".join(lines)


def parse_args(argv: Any) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run_sweep", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    p.add_argument("--redis-url", default=DEFAULT_REDIS_URL,
                   help="a Redis database this benchmark may flush")
    p.add_argument("--credentials", type=int, default=1_000_000)
    p.add_argument("--definitions", type=int, default=50)
    p.add_argument("--users", type=int, default=20_210,
                   help="people (1%% internal; the rest hold the credentials)")
    p.add_argument("--orgs", type=int, default=200)
    p.add_argument("--due-share", type=float, default=0.01)
    p.add_argument("--expire-share", type=float, default=1 / 30,
                   help="of the due ones, the share expiring on the day")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--no-history", action="store_true",
                   help="no notification history: only the demo's few dozen notifications "
                        "(the first sweep then meets a sequential-scan foreign-key plan)")
    p.add_argument("--as-of", default=None, help="the sweep date D (default: today, UTC)")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--inline", action="store_true",
                   help="also the real sweep with JOBS_INLINE, on a copy of the database")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument("--pristine-copy", action="store_true",
                   help="copy the database before the sweeps (<name>_pristine; kept with "
                        "--keep): for experiments on the untouched data")
    p.add_argument("--reuse", action="store_true",
                   help="measure the database a --keep run left (its --as-of!)")
    p.add_argument("--explain", action="store_true", default=True)
    p.add_argument("--certificates-db", action="store_true",
                   help="sweep the certificates database --postgres-url names (made by "
                        "bench.run_certificates --keep, e.g. 10M): --due-share of them due "
                        "on D (implies --reuse; the planted expiries are put back next run)")
    p.add_argument("--no-earlier-run", action="store_true",
                   help="with --certificates-db: record no finished sweep as of D-1, so the "
                        "real run reads the whole 90-day window (as before it had a run to "
                        "follow)")
    # the child
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--database-url", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Any = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.certificates_db:
        args.reuse = args.keep = True  # never drop a database that took minutes to make
    if args.measure:
        result = measure(args)
        Path(args.out).write_text(json.dumps(result, indent=2, default=str))
        return result
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = datetime.now(UTC)
    as_of = date.fromisoformat(args.as_of) if args.as_of else started.date()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    timings: dict[str, float] = {}
    results: dict[str, Any] = {"started": started.isoformat(), "as_of": as_of.isoformat(),
                               "args": {k: v for k, v in vars(args).items()
                                        if k not in {"measure", "out", "database_url"}},
                               "load_start": uptime(), "timings": timings}
    url = args.postgres_url
    copies: list[str] = []
    run_start = time.perf_counter()
    try:
        if not args.reuse:
            t0 = time.perf_counter()
            fresh_postgres(url)
            timings["fresh database"] = round(time.perf_counter() - t0, 2)
            env = server_env(url)
            flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
            run_step("migrate", [*flask, "db", "upgrade"], env, timings)
            run_step("seed --demo", [*flask, "seed", "--demo"], env, timings)
            run_step("generate people", [
                sys.executable, "-m", "bench.generate", "--users", str(args.users),
                "--orgs", str(args.orgs), "--audit", "0", "--database-url", url,
                "--seed", str(args.seed), "--no-analyze"], env, timings)
            log(f"generating {args.credentials} credentials (load {uptime()})")
            t0 = time.perf_counter()
            results["data"] = generate_data(url, args, as_of)
            timings["generate credentials"] = round(time.perf_counter() - t0, 2)
            log(f"  {timings['generate credentials']} s: {results['data']}")
        if args.certificates_db:
            t0 = time.perf_counter()
            results["certificates"] = prepare_certificates(url, as_of, args.due_share,
                                                           not args.no_earlier_run)
            timings["prepare certificates"] = round(time.perf_counter() - t0, 2)
        results["database"] = database_version(url)
        inline_url = copy_database(url, "inline") if args.inline else None
        if inline_url:
            copies.append(inline_url)
        if args.pristine_copy:
            pristine = copy_database(url, "pristine")
            log(f"untouched copy: {pristine}")
            if not args.keep:
                copies.append(pristine)
        t0 = time.perf_counter()
        results["measure"] = run_child(url, as_of, args.variants, args.redis_url,
                                       args.explain, RESULTS_DIR / f"sweep-{stamp}.log")
        timings["measure"] = round(time.perf_counter() - t0, 2)
        if inline_url:
            t0 = time.perf_counter()
            results["inline"] = run_child(inline_url, as_of, "real", None, False,
                                          RESULTS_DIR / f"sweep-{stamp}-inline.log")
            timings["measure inline"] = round(time.perf_counter() - t0, 2)
    finally:
        for copy in copies:
            drop_postgres(copy)
        if not args.keep:
            drop_postgres(url)
            log("benchmark database dropped (pass --keep to keep it)")
    timings["whole run"] = round(time.perf_counter() - run_start, 2)
    results["load_end"] = uptime()
    path = RESULTS_DIR / f"sweep-postgres-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    real = results["measure"]["variants"].get("real")
    print("\n" + markdown(results))
    if real:
        target = CERTIFICATES_TARGET_SECONDS if args.certificates_db else TARGET_SECONDS
        verdict = "met" if real["seconds"] < target else "MISSED"
        print(f"\nReal sweep: {real['seconds']:.2f} s (target < {target:.0f} s: "
              f"{verdict}); results in {path}")
    return results


if __name__ == "__main__":
    main()
