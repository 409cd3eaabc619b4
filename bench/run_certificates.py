"""Certificates benchmark (issue 5): public verification and the admin list, 1M rows.

    python -m bench.run_certificates --database postgres [--certificates 1000000]
    python -m bench.run_certificates --database postgres --certificates 200000 --keep
    python -m bench.run_certificates --database postgres --reuse --app-dir /tmp/patched

`--reuse` measures the database a `--keep` run left (no new data; it runs `flask db
upgrade` and `flask keys rotate` first); `--app-dir` serves and measures another
checkout's app (e.g. a copy with a fix applied), so a fix can be A/B-tested on the same
million rows without touching this one. See bench/README.md, "Certificates".

Steps (each timed):
1. a fresh PostgreSQL database (`DROP DATABASE ... WITH (FORCE)` + `CREATE DATABASE`; its
   name must contain "bench"), `flask db upgrade`, `flask seed --demo` (which makes the
   signing key), `python -m bench.generate` for the people (20,000 in 200 organizations,
   no audit rows), then in-process `bench.generate.generate_certificates()`: the
   certificates by COPY, the year counters moved on, `VACUUM (ANALYZE) certificates`;
2. `--ids` (500) random existing verification ids (issued and revoked, any year);
3. in-process, with the Flask test client and `before_cursor_execute`/
   `after_cursor_execute` listeners: for /verify/<id> (HTML and JSON) and each admin list
   page, the SQL statements the request's thread ran through SQLAlchemy (not the check
   log's writer thread; the verify read runs on the driver's cursor and is not counted),
   the median and p95 time and SQL time of `--repeats` requests, the rows shown and the
   total, and the plan (`EXPLAIN (ANALYZE, BUFFERS)`) of the slowest statement;
4. two gunicorns with the same settings (`-w 2`, sync workers, APP_ENV=production, rate
   limiting off): the app, and `bench.minimal_app` (GET /ping, a short HTML string) on
   another port. `--rounds` rounds, alternating the order, each loading /ping,
   /verify/<id> (HTML) and /verify/<id>?format=json with `--requests` requests at
   `--concurrency` after `--warmup`, the verify loads cycling over the ids; then, logged
   in as admin@demo.test, each admin page (HTML and /api/admin/certificates) with
   `--admin-requests` at `--admin-concurrency`. Latency, requests/s and the CPU the
   gunicorn processes (and PostgreSQL's backends) spent per request;
5. both gunicorns are stopped (also on error, Ctrl-C or SIGTERM), the database is dropped
   unless --keep, results go to bench/results/certificates-postgres-<stamp>.json and a
   markdown table is printed.

Targets (issue 5): /verify/<id> at least half the requests/s of /ping with p99 under
25 ms; the admin list with filters p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import quote

from bench import PROJECT_DIR, RESULTS_DIR, http_load
from bench.generate import SEARCH_TERM, generate_certificates_sql
from bench.http_load import free_port, login, percentile, run_load, wait_for
from bench.run_foundation import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    META_CSRF,
    TRANSACTION_CONTROL,
    VENV_BIN,
    Gunicorn,
    _explain,
    _on_sigterm,
    database_version,
    drop_postgres,
    fresh_postgres,
    log,
    postgres_backend_cpu,
    run_step,
    server_env,
)

DEFAULT_POSTGRES_URL = ("postgresql+psycopg://postgres@127.0.0.1:5432/"
                        "credwright_certificates_bench")
VERIFY_PAGE_MARK = "certificate check"  # "<issuer> certificate check" on the page
CERT_ROW = re.compile(r'<tr id="certificate-\d+"')
ZIP_TOTAL = re.compile(r"Download these (\d+)(\+?) as a ZIP")  # "10000+": a capped count
TARGET_RATIO, TARGET_VERIFY_P99_MS, TARGET_ADMIN_P95_MS = 0.5, 25.0, 50.0


# --- Servers -------------------------------------------------------------------------

class AppGunicorn(Gunicorn):
    """run_foundation's Gunicorn, serving any `module:app` with the same settings."""

    def __init__(self, env: dict[str, str], port: int, workers: int, log_path: Path,
                 app_spec: str = "wsgi:app", cwd: Path = PROJECT_DIR) -> None:
        super().__init__(env, port, workers, log_path)
        self.app_spec, self.cwd = app_spec, cwd

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        cmd = [str(VENV_BIN / "gunicorn"), "-w", str(self.workers),
               "-b", f"127.0.0.1:{self.port}", "--no-control-socket",
               "--graceful-timeout", "10", "--timeout", "60", self.app_spec]
        log(f"starting {' '.join(cmd[1:])}")
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)


@contextmanager
def rotating_paths(paths: Sequence[str]) -> Iterator[None]:
    """While active, http_load's request k goes to paths[k mod len(paths)] (the technique
    of bench.verify_load.rotating_ids, for any list of paths)."""
    cycle = itertools.cycle(paths)
    lock = threading.Lock()
    original = http_load.request_once

    def request_next(conn: Any, method: str, path: str, headers: dict[str, str],
                     body: str | None = None) -> Any:
        with lock:
            path = next(cycle)
        return original(conn, method, path, headers, body)

    http_load.request_once = request_next  # type: ignore[assignment]
    try:
        yield
    finally:
        http_load.request_once = original  # type: ignore[assignment]


def verify_paths(ids: Sequence[str], as_json: bool) -> list[str]:
    suffix = "?format=json" if as_json else ""
    return [f"/verify/{quote(i, safe='')}{suffix}" for i in ids]


# --- Data ----------------------------------------------------------------------------

def generate_certificate_data(url: str, count: int, seed: int) -> dict[str, Any]:
    """generate_certificates_sql() in one transaction (PostgreSQL makes the rows: 10M in
    minutes), then VACUUM (ANALYZE) certificates."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            made = generate_certificates_sql(conn, count=count, seed=seed,
                                             now=datetime.now(UTC))
        made.timings["commit"] = round(time.perf_counter() - t0 - sum(made.timings.values()),
                                       2)
        t0 = time.perf_counter()
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM (ANALYZE) certificates"))
            size = conn.scalar(text(
                "select pg_size_pretty(pg_total_relation_size('certificates'))"))
        made.timings["vacuum analyze"] = round(time.perf_counter() - t0, 2)
    finally:
        engine.dispose()
    return {**vars(made), "table_size": size}


def pick_ids(url: str, how_many: int) -> tuple[list[str], dict[str, int]]:
    """`how_many` random verification ids of existing certificates, and their statuses."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "select verification_id, status from certificates "
                "where verification_id is not null order by random() limit :n"),
                {"n": how_many}).all()
    finally:
        engine.dispose()
    statuses: dict[str, int] = {}
    for _, status in rows:
        statuses[status] = statuses.get(status, 0) + 1
    return [r[0] for r in rows], statuses


# --- Pages ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AdminPage:
    name: str
    path: str
    api: bool = False

    @property
    def expect_text(self) -> str:
        return '"pagination"' if self.api else 'id="certificates-list"'


def deep_cursor(url: str, deep: int, per_page: int = 25) -> str | None:
    """The `after=` cursor that opens page `deep` of the issued tab (app.services.keyset's
    `<issued_at as microseconds since 1970>.<id>` of the row before it)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text(
                "select issued_at, id from certificates where status = 'ISSUED' "
                "order by issued_at desc nulls last, id desc offset :n limit 1"),
                {"n": (deep - 1) * per_page - 1}).first()
    finally:
        engine.dispose()
    if row is None:
        return None
    micros = round((row[0].replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()
                   * 1_000_000) if row[0] is not None else None
    return f"{'n' if micros is None else micros}.{row[1]}"


def admin_pages(search: str, date_from: date, date_to: date, deep: int,
                cursor: str | None = None, email_search: str | None = None
                ) -> list[AdminPage]:
    """The list's shapes, HTML and API: the issued tab, a name search, (an email search),
    type and dates, a deep page by cursor (`after=`, what the Older link sends) and, for
    the API, a numbered deep page (`page=`, allowed up to the capped count)."""
    filters = [
        ("status=issued", "status=issued"),
        (f"q={search}", f"status=issued&q={search}"),
        *([(f"q={email_search}", f"status=issued&q={quote(email_search)}")]
          if email_search else []),
        (f"type=COMPLETION&from={date_from}&to={date_to}",
         f"status=issued&type=COMPLETION&from={date_from}&to={date_to}"),
        *([(f"after=<page {deep}>", f"status=issued&after={cursor}")] if cursor else []),
    ]
    pages = [AdminPage(f"GET /admin/certificates?{label}", f"/admin/certificates?{query}")
             for label, query in filters]
    pages += [AdminPage(f"GET /api/admin/certificates?{label}",
                        f"/api/admin/certificates?{query}", api=True)
              for label, query in [*filters, (f"page={deep}", f"status=issued&page={deep}")]]
    return pages


# --- In-process SQL counting -----------------------------------------------------------

def measure_in_process(env: dict[str, str], ids: Sequence[str], pages: Sequence[AdminPage],
                       repeats: int, max_seconds: float = 15.0) -> dict[str, Any]:
    """Statements, time and SQL time per request, in-process (Flask test client):
    `repeats` requests per page, fewer (at least 3) if they take over `max_seconds`."""
    os.environ.update(env)
    from sqlalchemy import event

    from app import create_app  # (from --app-dir, put first on sys.path by main)
    from app.extensions import db

    app = create_app({"RATELIMIT_ENABLED": False})
    client, anonymous = app.test_client(), app.test_client()
    token = META_CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                            "csrf_token": token})
    assert response.status_code == 302, f"in-process login failed: {response.status_code}"
    with app.app_context():
        engine = db.engine
    captured: list[tuple[str, Any, float]] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        conn.info["bench_t0"] = time.perf_counter()

    request_thread = threading.get_ident()

    def after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if threading.get_ident() != request_thread:
            return  # not the request's: the verification log's writer thread
        captured.append((statement, parameters,
                         time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())))

    targets: list[tuple[str, Any, list[str]]] = [
        ("GET /verify/<id> (HTML)", anonymous, verify_paths(ids, False)),
        ("GET /verify/<id>?format=json", anonymous, verify_paths(ids, True)),
        *[(p.name, client, [p.path]) for p in pages],
    ]
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    out: dict[str, Any] = {}
    try:
        for name, browser, paths in targets:
            browser.get(paths[0])  # warm caches and the pool
            times, sql_times, counts = [], [], []
            slowest: tuple[str, Any, float] | None = None
            deadline = time.perf_counter() + max_seconds
            for i in range(repeats):
                if i >= 3 and time.perf_counter() > deadline:
                    break
                captured.clear()
                t0 = time.perf_counter()
                response = browser.get(paths[(i + 1) % len(paths)])
                times.append(time.perf_counter() - t0)
                queries = [c for c in captured if not TRANSACTION_CONTROL.match(c[0])]
                sql_times.append(sum(c[2] for c in queries))
                counts.append(len(queries))
                top = max(queries, key=lambda c: c[2]) if queries else None
                if top and (slowest is None or top[2] > slowest[2]):
                    slowest = top
            body = response.get_data(as_text=True)
            rows = total = None
            capped = False
            if "/api/" in paths[0]:
                data = json.loads(body)
                rows, total = len(data["data"]), data["pagination"]["total"]
                capped = bool(data["pagination"].get("total_capped"))
            elif "/admin/" in paths[0]:
                rows = len(CERT_ROW.findall(body))
                match = ZIP_TOTAL.search(body)
                total = int(match.group(1)) if match else 0
                capped = bool(match and match.group(2))
            ordered = sorted(times)
            out[name] = {
                "path": paths[0], "status": response.status_code,
                "statements": len(captured), "queries": counts[-1],
                "queries_min_max": [min(counts), max(counts)],
                "rows_shown": rows, "total": total, "total_capped": capped,
                "bytes": len(response.data),
                "requests": len(times),
                "median_ms": round(median(times) * 1000, 2),
                "p95_ms": round(percentile(ordered, 95) * 1000, 2),
                "sql_ms_median": round(median(sql_times) * 1000, 2),
                "sql": [{"ms": round(c[2] * 1000, 2), "statement": " ".join(c[0].split())[:400]}
                        for c in queries],
                "slowest_ms": round(slowest[2] * 1000, 2) if slowest else None,
                "slowest_statement": " ".join(slowest[0].split())[:600] if slowest else None,
                "slowest_plan": _explain(engine, slowest[0], slowest[1])
                                if slowest and slowest[2] > 0.002 else None,
            }
            q = out[name]
            log(f"  {name:<72} {q['queries']} queries, SQL {q['sql_ms_median']} ms, "
                f"median {q['median_ms']} ms, p95 {q['p95_ms']} ms"
                + (f", {q['rows_shown']} rows of {q['total']}{'+' if capped else ''}"
                   if q["total"] is not None else ""))
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return out


# --- HTTP ----------------------------------------------------------------------------

def timed_load(server: Gunicorn, url: str, db_url: str | None, paths: Sequence[str] | None,
               **opts: Any) -> dict[str, Any]:
    """One bounded run; its result plus the CPU per request of `server` (and postgres)."""
    load_before = os.getloadavg()[0]
    cpu_before = server.cpu_seconds()
    db_before = postgres_backend_cpu(db_url) if db_url else 0.0
    if paths:
        with rotating_paths(paths):
            result = run_load(url, **opts)
    else:
        result = run_load(url, **opts)
    per_request = 1000 / max(1, result.completed)
    cpu_ms = (server.cpu_seconds() - cpu_before) * per_request
    db_ms = (postgres_backend_cpu(db_url) - db_before) * per_request if db_url else None
    return {**result.to_dict(), "server_cpu_ms_per_request": round(cpu_ms, 2),
            "postgres_cpu_ms_per_request": None if db_ms is None else round(db_ms, 2),
            "loadavg_1m_before": round(load_before, 2)}


def _summary(name: str, r: dict[str, Any]) -> str:
    return (f"{name}: {r['completed']}/{r['requests']} at c={r['concurrency']}: "
            f"{r['rps']} req/s, p50 {r['median_ms']} ms, p95 {r['p95_ms']} ms, "
            f"p99 {r['p99_ms']} ms, errors {r['errors']}, CPU {r['server_cpu_ms_per_request']}"
            + (f" (+pg {r['postgres_cpu_ms_per_request']})"
               if r.get("postgres_cpu_ms_per_request") is not None else "")
            + f" ms/req, load {r['loadavg_1m_before']}"
            + (" (stopped at the time limit)" if r["timed_out"] else ""))


def verify_rounds(app_server: Gunicorn, ping_server: Gunicorn, db_url: str, ids: Sequence[str],
                  args: argparse.Namespace) -> dict[str, Any]:
    """/ping, /verify/<id> and /verify/<id>?format=json, `rounds` times, alternating the
    order; warm-up before each run."""
    app_base = f"http://127.0.0.1:{app_server.port}"
    ping_base = f"http://127.0.0.1:{ping_server.port}"
    runs = {
        "GET /ping (minimal Flask)": (ping_server, ping_base + "/ping", None, None,
                                      "pong", {}),
        "GET /verify/<id> (HTML)": (app_server, app_base + verify_paths(ids, False)[0], db_url,
                                    verify_paths(ids, False), VERIFY_PAGE_MARK, {}),
        "GET /verify/<id>?format=json": (app_server, app_base + verify_paths(ids, True)[0],
                                         db_url, verify_paths(ids, True), '"status"',
                                         {"Accept": "application/json"}),
    }
    order = list(runs)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    for number in range(args.rounds):
        for name in (order if number % 2 == 0 else list(reversed(order))):
            server, url, db, paths, needle, headers = runs[name]
            opts = {"concurrency": args.concurrency, "expect_text": needle,
                    "headers": headers, "max_seconds": args.max_seconds}
            if args.warmup:
                timed_load(server, url, None, paths, requests=args.warmup,
                           **{**opts, "max_seconds": 20.0})
            result = timed_load(server, url, db, paths, requests=args.requests, **opts)
            result["round"] = number + 1
            rounds[name].append(result)
            log(f"round {number + 1} " + _summary(name, result))
    summary: dict[str, Any] = {}
    for name, results in rounds.items():
        summary[name] = {key: round(median(r[key] for r in results), 2) for key in (
            "rps", "median_ms", "p95_ms", "p99_ms", "max_ms", "server_cpu_ms_per_request")}
        pg = [r["postgres_cpu_ms_per_request"] for r in results
              if r["postgres_cpu_ms_per_request"] is not None]
        summary[name]["postgres_cpu_ms_per_request"] = round(median(pg), 2) if pg else None
        summary[name]["errors"] = sum(r["errors"] for r in results)
        summary[name]["completed"] = sum(r["completed"] for r in results)
        summary[name]["timed_out"] = any(r["timed_out"] for r in results)
    ping = rounds["GET /ping (minimal Flask)"]
    for name in order[1:]:
        ratios = [r["rps"] / p["rps"] for r, p in zip(rounds[name], ping, strict=True)
                  if p["rps"]]
        summary[name]["ratio_to_ping"] = round(median(ratios), 3) if ratios else None
        summary[name]["ratio_per_round"] = [round(x, 3) for x in ratios]
        summary[name]["meets_target"] = bool(
            ratios and median(ratios) >= TARGET_RATIO
            and summary[name]["p99_ms"] < TARGET_VERIFY_P99_MS)
    return {"rounds": rounds, "summary": summary}


def admin_loads(server: Gunicorn, db_url: str, pages: Sequence[AdminPage],
                args: argparse.Namespace) -> dict[str, Any]:
    base = f"http://127.0.0.1:{server.port}"
    cookie = login(base, ADMIN_EMAIL, ADMIN_PASSWORD)
    out: dict[str, Any] = {}
    for page in pages:
        opts = {"concurrency": args.admin_concurrency, "cookie": cookie,
                "expect_text": page.expect_text, "max_seconds": args.admin_max_seconds,
                "headers": {"Accept": "application/json"} if page.api else {}}
        if args.warmup:
            run_load(base + page.path, requests=min(2 * args.admin_concurrency,
                                                    args.admin_requests),
                     **{**opts, "max_seconds": 10.0})
        result = timed_load(server, base + page.path, db_url, None,
                            requests=args.admin_requests, **opts)
        result["meets_target"] = result["p95_ms"] < TARGET_ADMIN_P95_MS and not result["errors"]
        out[page.name] = result
        log(_summary(page.name, result))
    return out


# --- Report --------------------------------------------------------------------------

def _http_tables(results: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"Verification, {results['rounds']} rounds of {results['requests']} requests at "
        f"concurrency {results['concurrency']} after {results['warmup']} warm-up, over "
        f"{len(results['ids'])} ids (median of the rounds):",
        "",
        "| Page | req/s | ratio to /ping | p50 ms | p95 ms | p99 ms | errors "
        "| CPU ms/req gunicorn (+postgres) | target met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, s in results["verify"]["summary"].items():
        cpu = f"{s['server_cpu_ms_per_request']}"
        if s.get("postgres_cpu_ms_per_request") is not None:
            cpu += f" (+{s['postgres_cpu_ms_per_request']})"
        ratio = s.get("ratio_to_ping")
        met = "" if ratio is None else ("yes" if s["meets_target"] else "**no**")
        lines.append(f"| {name} | {s['rps']} | {'' if ratio is None else ratio} | "
                     f"{s['median_ms']} | {s['p95_ms']} | {s['p99_ms']} | {s['errors']} | "
                     f"{cpu} | {met} |")
    lines += ["", f"Admin list, {results['admin_requests']} requests at concurrency "
                  f"{results['admin_concurrency']} (target p95 < {TARGET_ADMIN_P95_MS:.0f} ms):",
              "", "| Page | requests | req/s | p50 ms | p95 ms | p99 ms | errors "
                  "| CPU ms/req gunicorn (+postgres) | target met |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in results["admin"].items():
        done = f"{r['completed']}" + ("*" if r["timed_out"] else "")
        lines.append(f"| {name} | {done} | {r['rps']} | {r['median_ms']} | {r['p95_ms']} | "
                     f"{r['p99_ms']} | {r['errors']} | {r['server_cpu_ms_per_request']} "
                     f"(+{r['postgres_cpu_ms_per_request']}) | "
                     f"{'yes' if r['meets_target'] else '**no**'} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    data = results["data"]
    lines = [
        f"### {results['database_version']} — {data['certificates']:,} certificates, "
        f"{data['users']:,} people; gunicorn -w {results['workers']} (sync), "
        f"{results['machine']['cpus']} CPUs",
    ]
    if results.get("verify", {}).get("summary"):  # absent with --skip-http
        lines += _http_tables(results)
    lines += ["", "In-process (Flask test client, median of "
                  f"{results['repeats']} requests):", "",
              "| Page | SQL queries | rows shown (of total) | SQL ms | median ms | p95 ms "
              "| slowest statement ms |",
              "|---|---:|---|---:|---:|---:|---:|"]
    for name, q in results["in_process"].items():
        shown = "" if q["total"] is None else (
            f"{q['rows_shown']} (of {q['total']:,}{'+' if q.get('total_capped') else ''})")
        lines.append(f"| {name} | {q['queries']} | {shown} | {q['sql_ms_median']} | "
                     f"{q['median_ms']} | {q['p95_ms']} | {q['slowest_ms']} |")
    return "\n".join(lines)


# --- Main ----------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run_certificates", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", choices=["postgres"], required=True)
    p.add_argument("--postgres-url", default=os.environ.get("BENCH_CERTIFICATES_POSTGRES_URL",
                                                            DEFAULT_POSTGRES_URL),
                   help="a database this run may DROP and CREATE (its name contains 'bench')")
    p.add_argument("--certificates", type=int, default=1_000_000)
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--orgs", type=int, default=None,
                   help="organizations (default: one per 100 people)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--ids", type=int, default=500, help="verification ids to cycle over")
    p.add_argument("--requests", type=int, default=3000, help="per verify/ping run")
    p.add_argument("--warmup", type=int, default=100, help="per run, not counted")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rounds", type=int, default=2,
                   help="ping/verify rounds, alternating the order")
    p.add_argument("--max-seconds", type=float, default=60.0, help="time limit per run")
    p.add_argument("--admin-requests", type=int, default=300, help="per admin page")
    p.add_argument("--admin-concurrency", type=int, default=2)
    p.add_argument("--admin-max-seconds", type=float, default=15.0,
                   help="time limit per admin page (the run stops early and says so)")
    p.add_argument("--repeats", type=int, default=15, help="in-process requests per page")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--deep-page", type=int, default=200)
    p.add_argument("--search", default=SEARCH_TERM)
    p.add_argument("--email-search", default="whitlock.0001",
                   help="a search by (part of) an email address; '' to leave it out")
    p.add_argument("--keep", "--keep-db", dest="keep", action="store_true",
                   help="keep the database afterwards")
    p.add_argument("--in-process-max-seconds", type=float, default=10.0,
                   help="in-process requests per page stop after this long (at least 3)")
    p.add_argument("--skip-http", action="store_true", help="data and in-process figures only")
    p.add_argument("--data-only", action="store_true",
                   help="make the data and stop (with --keep: for later --reuse runs)")
    p.add_argument("--reuse", action="store_true",
                   help="measure again on the database a --keep run left (no new data; a "
                        "new signing key is made for this run's SECRET_KEY)")
    p.add_argument("--app-dir", type=Path, default=PROJECT_DIR,
                   help="serve and measure the app of this checkout (e.g. a copy with a fix "
                        "applied); bench/ and .venv/ still come from this project")
    args = p.parse_args(argv)
    if not 1 <= args.certificates <= 20_000_000:
        p.error("--certificates must be 1..20,000,000")
    if args.orgs is None:
        args.orgs = max(1, args.users // 100)
    return args


def run_in(name: str, cmd: Sequence[str], env: dict[str, str], timings: dict[str, float],
           cwd: Path) -> str:
    """run_foundation.run_step, in another directory (the checkout of --app-dir)."""
    if cwd == PROJECT_DIR:
        return run_step(name, cmd, env, timings)
    log(f"{name} (in {cwd}): {' '.join(cmd)}")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    timings[name] = round(time.perf_counter() - start, 2)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed (exit {proc.returncode}):\n"
                         f"{(proc.stdout + proc.stderr)[-3000:]}")
    return proc.stdout + proc.stderr


def existing_data(url: str) -> dict[str, Any]:
    """What a kept database holds (for --reuse)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            by_status = dict(conn.execute(text(
                "select status, count(*) from certificates group by status")).all())
            by_type = dict(conn.execute(text(
                "select type, count(*) from certificates group by type")).all())
            years = dict(conn.execute(text(
                "select year, last_number from certificate_counters order by year")).all())
            size = conn.scalar(text(
                "select pg_size_pretty(pg_total_relation_size('certificates'))"))
    finally:
        engine.dispose()
    return {"certificates": sum(by_status.values()), "by_status": by_status,
            "by_type": by_type, "numbered_by_year": years, "table_size": size,
            "timings": {}, "reused": True}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)  # so `finally` stops the gunicorns
    started = datetime.now(UTC)
    load_start = os.getloadavg()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    timings: dict[str, float] = {}
    app_dir = args.app_dir.resolve()
    run_start = t0 = time.perf_counter()
    url = args.postgres_url if args.reuse else fresh_postgres(args.postgres_url)
    timings["fresh database"] = round(time.perf_counter() - t0, 2)
    env = server_env(url)
    app_env = env if app_dir == PROJECT_DIR else {**env, "PYTHONPATH": str(app_dir)}
    if app_dir != PROJECT_DIR:
        sys.path.insert(0, str(app_dir))  # the in-process measurement imports its `app`
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    servers: list[Gunicorn] = []
    try:
        if args.reuse:
            # A patched --app-dir may bring migrations; the kept database's signing key is
            # sealed with the earlier run's SECRET_KEY, so this run makes its own.
            run_in("migrate", [*flask, "db", "upgrade"], app_env, timings, app_dir)
            run_in("keys rotate", [*flask, "keys", "rotate"], app_env, timings, app_dir)
            data = existing_data(url)
            log(f"reusing {data['certificates']:,} certificates: {data['by_status']}")
        else:
            run_in("migrate", [*flask, "db", "upgrade"], app_env, timings, app_dir)
            run_in("seed --demo", [*flask, "seed", "--demo"], app_env, timings, app_dir)
            gen_out = run_step("generate people", [
                sys.executable, "-m", "bench.generate", "--users", str(args.users),
                "--orgs", str(args.orgs), "--audit", "0", "--database-url", url,
                "--seed", str(args.seed)], env, timings)
            print("\n".join("    " + line for line in gen_out.splitlines()
                            if line.startswith(("  ", "Done"))), flush=True)
            log(f"generating {args.certificates:,} certificates")
            t0 = time.perf_counter()
            data = generate_certificate_data(url, args.certificates, args.seed)
            timings["generate certificates"] = round(time.perf_counter() - t0, 2)
            log(f"  {data['certificates']:,} certificates in "
                f"{timings['generate certificates']} s {data['timings']}, {data['by_status']}, "
                f"{data['by_type']}, numbers per year {data['numbered_by_year']}, "
                f"table {data['table_size']}")

        if args.data_only:
            out = RESULTS_DIR / f"certificates-data-postgres-{stamp}.json"
            timings["whole run"] = round(time.perf_counter() - run_start, 1)
            out.write_text(json.dumps({
                "benchmark": "certificates-data", "started_at": started.isoformat(
                    timespec="seconds"), "database_version": database_version(url),
                "data": {**data, "users": args.users, "organizations": args.orgs},
                "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                "timings_s": timings}, indent=2, default=str))
            log(f"data only: {out.relative_to(PROJECT_DIR)} "
                f"(whole run {timings['whole run']:.0f} s)")
            return {"data": data, "timings_s": timings}

        ids, id_statuses = pick_ids(url, args.ids)
        log(f"{len(ids)} verification ids to cycle over: {id_statuses}")
        year = started.year - 1
        cursor = deep_cursor(url, args.deep_page)
        pages = admin_pages(args.search, date(year, 1, 1), date(year, 3, 31), args.deep_page,
                            cursor, args.email_search)

        log(f"in-process: SQL per request ({args.repeats} requests each)")
        t0 = time.perf_counter()
        in_process = measure_in_process(env, ids, pages, args.repeats,
                                        args.in_process_max_seconds)
        timings["in-process"] = round(time.perf_counter() - t0, 2)

        verify: dict[str, Any] = {}
        admin: dict[str, Any] = {}
        if not args.skip_http:
            app_server = AppGunicorn(app_env, free_port(), args.workers,
                                     RESULTS_DIR / f"gunicorn-certificates-{stamp}.log",
                                     cwd=app_dir)
            servers.append(app_server)
            app_server.start()
            ping_server = AppGunicorn(env, free_port(), args.workers,
                                      RESULTS_DIR / f"gunicorn-minimal-{stamp}.log",
                                      app_spec="bench.minimal_app:app")
            servers.append(ping_server)
            ping_server.start()
            wait_for(f"http://127.0.0.1:{app_server.port}/healthz", seconds=30)
            wait_for(f"http://127.0.0.1:{ping_server.port}/ping", seconds=30)
            t0 = time.perf_counter()
            verify = verify_rounds(app_server, ping_server, url, ids, args)
            timings["http verify"] = round(time.perf_counter() - t0, 2)
            t0 = time.perf_counter()
            admin = admin_loads(app_server, url, pages, args)
            timings["http admin"] = round(time.perf_counter() - t0, 2)
            for server in servers:
                server.stop()
            servers.clear()

        results = {
            "benchmark": "certificates",
            "started_at": started.isoformat(timespec="seconds"),
            "database": "postgres",
            "database_version": database_version(url),
            "workers": args.workers, "concurrency": args.concurrency,
            "requests": args.requests, "warmup": args.warmup, "rounds": args.rounds,
            "admin_requests": args.admin_requests,
            "admin_concurrency": args.admin_concurrency, "repeats": args.repeats,
            "data": {**data, "users": args.users, "organizations": args.orgs},
            "app_dir": str(app_dir),
            "ids": ids, "id_statuses": id_statuses,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "targets": {"verify_ratio_to_ping": TARGET_RATIO,
                        "verify_p99_ms": TARGET_VERIFY_P99_MS,
                        "admin_p95_ms": TARGET_ADMIN_P95_MS},
            "in_process": in_process, "verify": verify, "admin": admin,
        }
        timings["whole run"] = round(time.perf_counter() - run_start, 1)
        results["timings_s"] = timings
        out = RESULTS_DIR / f"certificates-postgres-{stamp}.json"
        out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
        print()
        print(markdown(results))
        print()
        log(f"results: {out.relative_to(PROJECT_DIR)} (whole run {timings['whole run']:.0f} s)")
        return results
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            drop_postgres(url)
            log("benchmark database removed (pass --keep to keep it)")


if __name__ == "__main__":
    main()
