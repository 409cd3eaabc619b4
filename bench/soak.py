"""Soak: mixed traffic for a bounded time against gunicorn (4 workers) and 2 RQ workers on
PostgreSQL and Redis, with faults midway, then an audit of the jobs.

    .venv/bin/python -m bench.soak --seconds 120

1. A fresh PostgreSQL database (its name must contain "bench"), migrated and seeded with
   the demo data, N extra staff to issue certificates to, and an API token.
2. gunicorn -w 4 (APP_ENV=production, rate limits off) and two `flask rq worker`s on a
   Redis database of the soak's own (--redis-url; flushed at the start: use a database
   nothing else uses).
3. Client threads for --seconds: log in, admin lists (users, certificates), public
   /verify/<id> pages and JSON, and certificate issues through the API (each queues a
   PDF render and notification deliveries through the outbox).
4. At 40% of the time one gunicorn worker gets SIGKILL (gunicorn starts another). At 60%
   every connection to the soak database is terminated (pg_terminate_backend): what a
   PostgreSQL restart does to the app, without restarting the shared server other
   people's tests run on (--restart-cmd runs a real restart command instead).
5. Afterwards: the outbox is drained (`flask jobs dispatch`), the workers finish, and
   the report counts errors (in and out of the fault windows), lost jobs (issued
   certificates without a PDF, outbox rows not dispatched), duplicated jobs (an RQ job
   id run more than once, from the workers' logs), RSS per gunicorn worker after warm-up
   and at the end, latency percentiles, and the machine's load average.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shlex
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import PROJECT_DIR, RESULTS_DIR
from bench.http_load import free_port, login, percentile, wait_for
from bench.run_foundation import (
    VENV_BIN,
    Gunicorn,
    _children,
    drop_postgres,
    fresh_postgres,
    log,
    server_env,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/credwright_soak_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
ADMIN, PASSWORD = "admin@demo.test", "demo-password"
FAULT_WINDOW = 10.0  # seconds after a fault in which errors are counted apart


def flask(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    result = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=PROJECT_DIR,
                            env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


SETUP = """
import json, sys
from app import create_app
from app.extensions import db
from app.models import CertificationTrack, Organization, Role, User, Certificate
from app.services import auth
app = create_app()
with app.app_context():
    org = db.session.scalar(db.select(Organization))
    pw = auth.hash_password("soak-password-123")
    users = [User(email=f"soak{i}@example.test", name=f"Soak Person {i}", role=Role.STAFF,
                  organization_id=org.id, password_hash=pw) for i in range(int(sys.argv[1]))]
    db.session.add_all(users)
    db.session.commit()
    tracks = [t.id for t in db.session.scalars(db.select(CertificationTrack))]
    verify = [c.verification_id for c in db.session.scalars(db.select(Certificate))]
    print(json.dumps({"users": [u.id for u in users], "tracks": tracks, "verify": verify}))
"""

AUDIT = """
import json
from sqlalchemy import func, select
from app import create_app
from app.extensions import db
from app.models import Certificate, JobOutbox
app = create_app()
with app.app_context():
    soak = select(Certificate).where(Certificate.notes == "soak")
    issued = db.session.scalar(select(func.count()).select_from(soak.subquery()))
    with_pdf = db.session.scalar(select(func.count()).select_from(
        soak.where(Certificate.pdf_key.is_not(None)).subquery()))
    statuses = dict(db.session.execute(select(JobOutbox.status, func.count())
                                       .group_by(JobOutbox.status)).all())
    rows = db.session.scalar(select(func.count(JobOutbox.id)))
    distinct = db.session.scalar(select(func.count(func.distinct(JobOutbox.rq_job_id))))
    reclaimed = db.session.scalar(select(func.count()).where(JobOutbox.attempts > 1))
    print(json.dumps({"issued": issued, "with_pdf": with_pdf, "outbox": statuses,
                      "rows": rows, "distinct_rq_ids": distinct, "claimed_again": reclaimed}))
"""


class Traffic:
    def __init__(self, base: str, token: str, data: dict[str, Any], seed: int) -> None:
        self.base, self.token, self.data = base, token, data
        port = int(base.rsplit(":", 1)[1])
        self.port = port
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.samples: list[tuple[float, str, float, int | str]] = []  # start, kind, secs, status
        self.free_users = list(data["users"])
        self.verify_ids = list(data["verify"])

    def _request(self, method: str, path: str, headers: dict[str, str],
                 body: bytes | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def one(self, cookie: str) -> None:
        kind = self.rng.choices(["login", "users", "certificates", "verify", "verify_json",
                                 "issue"], weights=[1, 3, 3, 6, 3, 2])[0]
        started = time.monotonic()
        status: int | str
        try:
            if kind == "login":
                login(self.base, ADMIN, PASSWORD)
                status = 200
            elif kind in ("users", "certificates"):
                status, body = self._request("GET", f"/admin/{kind}", {"Cookie": cookie})
            elif kind.startswith("verify"):
                with self.lock:
                    vid = self.rng.choice(self.verify_ids) if self.verify_ids else "none"
                suffix = "?format=json" if kind == "verify_json" else ""
                status, body = self._request("GET", f"/verify/{vid}{suffix}", {})
            else:
                with self.lock:
                    user_id = self.free_users.pop() if self.free_users else None
                if user_id is None:
                    return
                payload = json.dumps({"user_id": user_id, "track_id": self.rng.choice(
                    self.data["tracks"]), "type": "COMPLETION", "notes": "soak",
                    "notify": True}).encode()
                status, body = self._request("POST", "/api/admin/certificates", {
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/json"}, payload)
                if status in (200, 201):
                    answer = json.loads(body)
                    answer = answer.get("certificate", answer)
                    vid = (answer.get("verify_url") or "").rstrip("/").rsplit("/", 1)[-1]
                    if vid:
                        with self.lock:
                            self.verify_ids.append(vid)
                expected_ok = status in (200, 201)
                status = 200 if expected_ok else status
        except Exception as exc:  # noqa: BLE001 - a failed request is a counted error
            status = type(exc).__name__
        with self.lock:
            self.samples.append((started, kind, time.monotonic() - started, status))


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--people", type=int, default=600, help="staff to issue to")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--restart-cmd", default="", help="a real PostgreSQL restart "
                        "command to run at 60%% instead of terminating the connections")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args(argv)
    seconds = min(max(args.seconds, 20.0), 1800.0)
    out = RESULTS_DIR / "soak"
    out.mkdir(parents=True, exist_ok=True)

    url = fresh_postgres(args.database_url)
    env = server_env(url)
    env["REDIS_URL"] = args.redis_url
    env["STORAGE_DIR"] = str(out / "storage")
    from redis import Redis

    Redis.from_url(args.redis_url).flushdb()  # the soak's own database (see --redis-url)
    log("migrating and seeding")
    flask(env, "db", "upgrade")
    flask(env, "seed", "--demo")
    setup = subprocess.run([str(VENV_BIN / "python"), "-c", SETUP, str(args.people)],
                           cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
                           check=True)
    data = json.loads(setup.stdout.strip().splitlines()[-1])
    token = flask(env, "users", "create-token", ADMIN).strip().splitlines()[-1]

    port = free_port()
    workers: list[subprocess.Popen[bytes]] = []
    worker_logs = [out / f"rq-worker-{i}.log" for i in range(2)]
    gunicorn = Gunicorn(env, port, 4, out / "gunicorn.log")
    faults: list[tuple[str, float]] = []
    result: dict[str, Any] = {}
    try:
        gunicorn.start()
        wait_for(f"http://127.0.0.1:{port}/healthz", seconds=60)
        for path in worker_logs:
            handle = path.open("wb")
            workers.append(subprocess.Popen(
                [str(VENV_BIN / "flask"), "--app", "wsgi", "rq", "worker"], cwd=PROJECT_DIR,
                env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True))
        base = f"http://127.0.0.1:{port}"
        cookie = login(base, ADMIN, PASSWORD)
        traffic = Traffic(base, token, data, seed=13)
        start = time.monotonic()
        stop_at = start + seconds
        rss_warm: dict[int, int] = {}

        def client() -> None:
            while time.monotonic() < stop_at:
                traffic.one(cookie)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        killed = terminated = False
        while time.monotonic() < stop_at:
            time.sleep(0.5)
            elapsed = time.monotonic() - start
            if not rss_warm and elapsed >= 0.2 * seconds:
                rss_warm = {p: rss_kb(p) or 0 for p in _children(gunicorn.proc.pid)}
                log(f"warm RSS: {rss_warm}")
            if not killed and elapsed >= 0.4 * seconds:
                victim = sorted(_children(gunicorn.proc.pid))[0]
                os.kill(victim, signal.SIGKILL)
                faults.append(("SIGKILL gunicorn worker", time.monotonic()))
                log(f"SIGKILL gunicorn worker {victim}")
                killed = True
            if not terminated and elapsed >= 0.6 * seconds:
                if args.restart_cmd:
                    subprocess.run(shlex.split(args.restart_cmd), check=False)
                    label = "PostgreSQL restarted"
                else:
                    from sqlalchemy import create_engine, text
                    from sqlalchemy.engine import make_url

                    target = make_url(url)
                    admin = create_engine(target.set(database="postgres"),
                                          isolation_level="AUTOCOMMIT")
                    with admin.connect() as conn:
                        n = conn.execute(text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = :d AND pid <> pg_backend_pid()"),
                            {"d": target.database}).scalar()
                    admin.dispose()
                    label = f"{n} database connections terminated"
                faults.append((label, time.monotonic()))
                log(label)
                terminated = True
        for thread in threads:
            thread.join(timeout=60)
        rss_end = {p: rss_kb(p) or 0 for p in _children(gunicorn.proc.pid)}

        log("draining: dispatch what is pending, let the workers finish")
        dispatched = flask(env, "jobs", "dispatch").strip()
        from rq import Queue

        queue = Queue("default", connection=Redis.from_url(args.redis_url))
        drain_started = time.monotonic()
        while time.monotonic() < drain_started + 600:
            if queue.count == 0 and queue.started_job_registry.count == 0 \
                    and queue.scheduled_job_registry.count == 0:
                break
            time.sleep(1)
        drain_seconds = round(time.monotonic() - drain_started, 1)
        rq_failed = queue.failed_job_registry.count
        time.sleep(2)
        audit = json.loads(subprocess.run(
            [str(VENV_BIN / "python"), "-c", AUDIT], cwd=PROJECT_DIR, env=env,
            capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    finally:
        for proc in workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        gunicorn.stop()
        if not args.keep:
            drop_postgres(url)

    runs: Counter[str] = Counter()
    for path in worker_logs:
        for match in re.finditer(r"default: Job OK \((outbox-[0-9a-f]+)\)", path.read_text(
                errors="replace")):
            runs[match.group(1)] += 1
    samples = traffic.samples
    in_window = [s for s in samples if any(at - 1 <= s[0] <= at + FAULT_WINDOW
                                           for _, at in faults)]
    errors = [s for s in samples if s[3] != 200 and s[3] != 404]
    errors_in_window = [s for s in errors if s in in_window]
    latencies = sorted(s[2] for s in samples)
    survivors = {p: (rss_warm[p], rss_end[p]) for p in rss_warm if p in rss_end}
    result = {
        "seconds": seconds, "clients": args.clients, "requests": len(samples),
        "by_kind": dict(Counter(s[1] for s in samples)),
        "errors": len(errors), "errors_in_fault_windows": len(errors_in_window),
        "errors_outside_fault_windows": len(errors) - len(errors_in_window),
        "error_kinds": dict(Counter(f"{s[1]}:{s[3]}" for s in errors)),
        "faults": [name for name, _ in faults],
        "fault_at_s": [round(at - start, 1) for _, at in faults],
        "error_at_s": [(round(e[0] - start, 1), e[1], e[3]) for e in errors],
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "rss_kb_warm_end": survivors,
        "rss_growth_pct": {p: round(100 * (end - warm) / warm, 1)
                           for p, (warm, end) in survivors.items() if warm},
        "jobs": audit, "lost_pdfs": audit["issued"] - audit["with_pdf"],
        "rq_jobs_run": sum(runs.values()),
        "rq_job_ids_run_twice": sum(1 for n in runs.values() if n > 1),
        "final_dispatch": dispatched, "drain_seconds": drain_seconds,
        "rq_failed_jobs": rq_failed,
        "loadavg": os.getloadavg(),
    }
    (out / "soak.json").write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
