"""Foundation benchmark: /login and /admin/users on a fresh, well-filled database.

    python -m bench.run_foundation --database sqlite
    python -m bench.run_foundation --database postgres [--postgres-url URL]

Steps (each timed):
1. a fresh database: a new SQLite file under bench/results/, or DROP/CREATE of
   `credwright_bench` on the local PostgreSQL;
2. `flask --app wsgi db upgrade`, `flask --app wsgi seed --demo`, then
   `python -m bench.generate` (20,000 users in 200 organizations, 100,000 audit rows by
   default) and `flask --app wsgi audit verify`;
3. in-process, with the Flask test client and a `before_cursor_execute` counter: the SQL
   statements each page runs, with PAGE_SIZE 25 and 100 (the count must not grow with
   the rows shown), and the query plan of each page's slowest statement;
4. gunicorn (`-w 2`, APP_ENV=production, rate limiting off, cookies over plain HTTP) on a
   free loopback port; after /healthz answers, log in as admin@demo.test and, for each
   page, a warm-up then a bounded run (default 2,000 requests at concurrency 8, at most
   --max-seconds each);
5. gunicorn is stopped (also on error or Ctrl-C), results go to
   bench/results/foundation-<database>-<timestamp>.json and a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import PROJECT_DIR, RESULTS_DIR
from bench.generate import SEARCH_TERM
from bench.http_load import free_port, login, run_load, wait_for

VENV_BIN = PROJECT_DIR / ".venv" / "bin"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/credwright_bench"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@demo.test", "demo-password"
TABLE_MARK = 'id="users-table"'


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# --- Databases -----------------------------------------------------------------------

def fresh_sqlite(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def drop_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _pg_admin(url: str) -> tuple[Any, str]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    target = make_url(url)
    name = target.database or "credwright_bench"
    if not re.fullmatch(r"[A-Za-z0-9_]+", name) or "bench" not in name:
        # This database is dropped and re-created: never one that is not ours.
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain "
                         "'bench' (letters, digits and _ only)")
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    return admin, name


def fresh_postgres(url: str) -> str:
    from sqlalchemy import text

    admin, name = _pg_admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def drop_postgres(url: str) -> None:
    from sqlalchemy import text

    admin, name = _pg_admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def database_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return "SQLite " + conn.scalar(text("select sqlite_version()"))
            return conn.scalar(text("select version()")).split(" on ")[0]
    finally:
        engine.dispose()


# --- Processes -----------------------------------------------------------------------

def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "FLASK_APP", "PAGE_SIZE", "TRUSTED_PROXY_COUNT"}}
    env.update({
        "DATABASE_URL": database_url,
        "APP_ENV": "production",
        "SECRET_KEY": "bench-" + secrets.token_hex(24),
        "AUDIT_KEY": "bench-audit-key",  # production needs one; fixed: the data outlives runs
        "SESSION_COOKIE_SECURE": "0",   # plain HTTP on loopback
        "RATELIMIT_ENABLED": "0",       # the benchmark logs in more than 5 times a minute
        "PYTHONUNBUFFERED": "1",
    })
    env.setdefault("PUBLIC_BASE_URL", "https://credwright.example.nz")  # production needs one
    return env


def run_step(name: str, cmd: Sequence[str], env: dict[str, str], timings: dict[str, float],
             timeout: float = 600) -> str:
    log(f"{name}: {' '.join(cmd)}")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    timings[name] = round(time.perf_counter() - start, 2)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed (exit {proc.returncode}):\n{output[-3000:]}")
    return output


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                kids.append(int(entry.name))
    return kids


def postgres_backend_cpu(url: str) -> float:
    """CPU time of the PostgreSQL backends serving `url`'s database (other than ours)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            pids = conn.scalars(text(
                "select pid from pg_stat_activity where datname = :db "
                "and pid <> pg_backend_pid()"), {"db": make_url(url).database}).all()
    finally:
        engine.dispose()
    return sum(_cpu_seconds(pid) for pid in pids)


class Gunicorn:
    """gunicorn in its own process group; `stop()` is safe to call more than once."""

    def __init__(self, env: dict[str, str], port: int, workers: int, log_path: Path) -> None:
        self.env, self.port, self.workers, self.log_path = env, port, workers, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        cmd = [str(VENV_BIN / "gunicorn"), "-w", str(self.workers),
               "-b", f"127.0.0.1:{self.port}", "--no-control-socket",
               "--graceful-timeout", "10", "--timeout", "60", "wsgi:app"]
        log(f"starting {' '.join(cmd[1:])}")
        self.proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()  # SIGTERM to the master: graceful shutdown of its workers
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                # Only the group we created (start_new_session: pgid == the master's pid).
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log(f"gunicorn stopped (exit {proc.returncode})")
        self._log.close()

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its workers (robust to a busy machine)."""
        if self.proc is None:
            return 0.0
        return sum(_cpu_seconds(p) for p in [self.proc.pid, *_children(self.proc.pid)])

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    anonymous: bool = False
    htmx: bool = False
    # A deep page (?page=N at 25 rows) is measured at the same offset for other sizes.
    deep_page: int | None = None

    def path_for(self, page_size: int) -> str:
        if self.deep_page is None:
            return self.path
        page = (self.deep_page - 1) * 25 // page_size + 1
        return re.sub(r"page=\d+", f"page={page}", self.path)

    @property
    def headers(self) -> dict[str, str]:
        return {"HX-Request": "true"} if self.htmx else {}

    @property
    def expect_text(self) -> str:
        return "csrf-token" if self.anonymous else TABLE_MARK


def foundation_pages(args: argparse.Namespace) -> list[Page]:
    return [
        Page("GET /login (anonymous)", "/login", anonymous=True),
        Page("GET /admin/users", "/admin/users"),
        Page(f"GET /admin/users?q={args.search}", f"/admin/users?q={args.search}"),
        Page(f"GET /admin/users?page={args.page}", f"/admin/users?page={args.page}",
             deep_page=args.page),
        Page("GET /admin/users?page=2 (htmx fragment)", "/admin/users?page=2", htmx=True),
    ]


# --- In-process SQL counting -----------------------------------------------------------

TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I)
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
USER_ROW = re.compile(r'<tr id="user-\d+"')


def _explain(engine: Any, statement: str, params: Any) -> list[str]:
    """The plan of one captured statement, run again with its own parameters."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            return [r[0] for r in rows]
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
        return [" ".join(str(c) for c in r[1:]) for r in rows]


def measure_queries(env: dict[str, str], pages: Sequence[Page], page_sizes: Sequence[int],
                    repeats: int = 9) -> dict[str, Any]:
    """For each page size and page: statements run (those of the last of `repeats`
    requests), rows shown, and the median in-process time and SQL time."""
    from statistics import median

    os.environ.update(env)
    from sqlalchemy import event

    from app import create_app
    from app.extensions import db

    out: dict[str, Any] = {}
    captured: list[tuple[str, Any, float]] = []
    for size in page_sizes:
        app = create_app({"PAGE_SIZE": size, "RATELIMIT_ENABLED": False})
        client, anonymous_client = app.test_client(), app.test_client()
        token = META_CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        response = client.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                                "csrf_token": token})
        assert response.status_code == 302, f"in-process login failed: {response.status_code}"
        with app.app_context():
            engine = db.engine
        captured.clear()

        def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
            conn.info["bench_t0"] = time.perf_counter()

        def after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
            captured.append((statement, parameters,
                             time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())))

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        per_size: dict[str, Any] = {}
        try:
            for page in pages:
                name, path = page.name, page.path_for(size)
                headers = page.headers
                browser = anonymous_client if page.anonymous else client
                browser.get(path, headers=headers)  # warm caches and the pool
                times, sql_times = [], []
                for _ in range(repeats):
                    captured.clear()
                    t0 = time.perf_counter()
                    response = browser.get(path, headers=headers)
                    times.append(time.perf_counter() - t0)
                    queries = [c for c in captured if not TRANSACTION_CONTROL.match(c[0])]
                    sql_times.append(sum(c[2] for c in queries))
                html = response.get_data(as_text=True)
                slowest = max(queries, key=lambda c: c[2]) if queries else None
                page_info = re.search(r"(\d+)–(\d+) of (\d+)", html)
                per_size[name] = {
                    "path": path,
                    "status": response.status_code,
                    "statements": len(captured),
                    "queries": len(queries),
                    "rows_shown": len(USER_ROW.findall(html)),
                    "range": page_info.group(0) if page_info else None,
                    "bytes": len(response.data),
                    "in_process_ms_median": round(median(times) * 1000, 2),
                    "sql_ms": round(median(sql_times) * 1000, 2),
                    "sql": [{"ms": round(c[2] * 1000, 2),
                             "statement": " ".join(c[0].split())[:300]} for c in queries],
                    "slowest_plan": _explain(engine, slowest[0], slowest[1])
                                    if slowest and slowest[2] > 0.002 else None,
                }
        finally:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        out[str(size)] = per_size
    return out


# --- Report --------------------------------------------------------------------------

def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"### {results['database_version']} — {results['data']['users']} users, "
        f"{results['data']['organizations']} orgs, {results['data']['audit_rows']} audit rows",
        "",
        f"gunicorn -w {results['workers']}, {results['machine']['cpus']} CPUs, "
        f"concurrency {results['concurrency']}",
        "",
        "| Page | Requests | req/s | median ms | p95 ms | p99 ms | max ms | errors "
        "| CPU ms/req app (+db) | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results["http"].items():
        done = f"{r['completed']}" + ("*" if r["timed_out"] else "")
        cpu = f"{r['server_cpu_ms_per_request']}"
        if r.get("postgres_cpu_ms_per_request") is not None:
            cpu += f" (+{r['postgres_cpu_ms_per_request']})"
        lines.append(f"| {name} | {done} | {r['rps']} | {r['median_ms']} | {r['p95_ms']} | "
                     f"{r['p99_ms']} | {r['max_ms']} | {r['errors']} | "
                     f"{cpu} | {r['loadavg_1m_before']} |")
    if any(r["timed_out"] for r in results["http"].values()):
        lines.append("")
        lines.append(f"\\* stopped at the {results['max_seconds']:.0f} s limit per page")
    lines += ["", "| Page (in-process) | PAGE_SIZE | rows shown | SQL queries | SQL ms "
              "| total ms | HTML bytes |",
              "|---|---:|---|---:|---:|---:|---:|"]
    for size, pages in results["queries"].items():
        for name, q in pages.items():
            shown = f"{q['rows_shown']}" + (f" ({q['range']})" if q["range"] else "")
            lines.append(f"| {name} | {size} | {shown} | {q['queries']} | "
                         f"{q['sql_ms']} | {q['in_process_ms_median']} | {q['bytes']} |")
    return "\n".join(lines)


# --- Main ----------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run_foundation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                            DEFAULT_POSTGRES_URL),
                   help="a database this run may DROP and CREATE")
    p.add_argument("--users", type=int, default=20000)
    p.add_argument("--orgs", type=int, default=200)
    p.add_argument("--audit", type=int, default=100000)
    p.add_argument("--requests", type=int, default=2000, help="per page")
    p.add_argument("--warmup", type=int, default=50, help="per page, not counted")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--max-seconds", type=float, default=40.0,
                   help="time limit per page (the run stops early and says so)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--port", type=int, default=0, help="default: a free port")
    p.add_argument("--page", type=int, default=400, help="the deep page to load")
    p.add_argument("--search", default=SEARCH_TERM)
    p.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="before the HTTP runs, wait up to SECONDS for the 1-minute load "
                        "average to fall below half the CPU count (a shared machine)")
    p.add_argument("--skip-http", action="store_true", help="only build and count queries")
    return p.parse_args(argv)


def wait_until_idle(seconds: float) -> None:
    limit = (os.cpu_count() or 1) * 0.5
    deadline = time.monotonic() + seconds
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        log(f"waiting for the machine to calm down (load {os.getloadavg()[0]:.2f})")
        time.sleep(min(15.0, max(0.0, deadline - time.monotonic())))
    log(f"load average {os.getloadavg()[0]:.2f}")


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)  # so `finally` stops gunicorn
    started = datetime.now(UTC)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    timings: dict[str, float] = {}
    sqlite_path = RESULTS_DIR / f"foundation-{stamp}.sqlite3"

    run_start = t0 = time.perf_counter()
    if args.database == "sqlite":
        url = fresh_sqlite(sqlite_path)
    else:
        url = fresh_postgres(args.postgres_url)
    timings["fresh database"] = round(time.perf_counter() - t0, 2)
    env = server_env(url)
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    server: Gunicorn | None = None
    try:
        run_step("migrate", [*flask, "db", "upgrade"], env, timings)
        run_step("seed --demo", [*flask, "seed", "--demo"], env, timings)
        gen_out = run_step("generate", [
            sys.executable, "-m", "bench.generate", "--users", str(args.users),
            "--orgs", str(args.orgs), "--audit", str(args.audit), "--database-url", url,
        ], env, timings)
        print("\n".join("    " + line for line in gen_out.splitlines()
                        if line.startswith(("  ", "Done"))), flush=True)
        verify = run_step("audit verify", [*flask, "audit", "verify"], env, timings).strip()
        log(verify.splitlines()[-1])

        pages = foundation_pages(args)
        log("counting SQL per page in-process (PAGE_SIZE 25 and 100)")
        t0 = time.perf_counter()
        queries = measure_queries(env, pages, [25, 100])
        timings["query counts"] = round(time.perf_counter() - t0, 2)
        for size, by_page in queries.items():
            for name, q in by_page.items():
                log(f"  PAGE_SIZE {size:>3} {name:<40} {q['queries']} queries, "
                    f"{q['rows_shown']} rows, SQL {q['sql_ms']} ms, total "
                    f"{q['in_process_ms_median']} ms")

        http: dict[str, Any] = {}
        if args.wait_idle and not args.skip_http:
            wait_until_idle(args.wait_idle)
        if not args.skip_http:
            port = args.port or free_port()
            base = f"http://127.0.0.1:{port}"
            server = Gunicorn(env, port, args.workers, RESULTS_DIR / f"gunicorn-{stamp}.log")
            server.start()
            wait_for(base + "/healthz", seconds=30)
            cookie = login(base, ADMIN_EMAIL, ADMIN_PASSWORD)
            for page in pages:
                name, path = page.name, page.path
                opts: dict[str, Any] = {
                    "concurrency": args.concurrency,
                    "cookie": None if page.anonymous else cookie,
                    "headers": page.headers,
                    "expect_text": page.expect_text,
                    "max_seconds": args.max_seconds,
                }
                if args.warmup:
                    run_load(base + path, requests=args.warmup,
                             **{**opts, "max_seconds": min(10.0, args.max_seconds)})
                load_before = os.getloadavg()[0]
                cpu_before = server.cpu_seconds()
                db_before = postgres_backend_cpu(url) if args.database == "postgres" else 0.0
                result = run_load(base + path, requests=args.requests, **opts)
                per_request = 1000 / max(1, result.completed)
                cpu_ms = (server.cpu_seconds() - cpu_before) * per_request
                db_ms = ((postgres_backend_cpu(url) - db_before) * per_request
                         if args.database == "postgres" else None)
                http[name] = {**result.to_dict(), "server_cpu_ms_per_request": round(cpu_ms, 2),
                              "postgres_cpu_ms_per_request":
                                  None if db_ms is None else round(db_ms, 2),
                              "loadavg_1m_before": round(load_before, 2),
                              "loadavg_1m_after": round(os.getloadavg()[0], 2)}
                log(f"{name}: {result.summary()}; gunicorn CPU {cpu_ms:.1f} ms/request"
                    + (f", postgres CPU {db_ms:.1f} ms/request" if db_ms is not None else "")
                    + f", load {load_before:.1f}")
            server.stop()
            server = None

        results = {
            "benchmark": "foundation",
            "started_at": started.isoformat(timespec="seconds"),
            "database": args.database,
            "database_version": database_version(url),
            "workers": args.workers,
            "concurrency": args.concurrency,
            "requests_per_page": args.requests,
            "warmup_per_page": args.warmup,
            "max_seconds": args.max_seconds,
            "data": {"users": args.users, "organizations": args.orgs,
                     "audit_rows": args.audit, "search": args.search},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "timings_s": timings,
            "audit_verify": verify.splitlines()[-1],
            "queries": queries,
            "http": http,
        }
        out = RESULTS_DIR / f"foundation-{args.database}-{stamp}.json"
        out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
        print()
        print(markdown(results))
        print()
        log(f"results: {out.relative_to(PROJECT_DIR)} "
            f"(whole run {time.perf_counter() - run_start:.0f} s)")
        return results
    finally:
        if server is not None:
            server.stop()
        if not args.keep_db:
            if args.database == "sqlite":
                drop_sqlite(sqlite_path)
            else:
                drop_postgres(url)
            log("benchmark database removed (pass --keep-db to keep it)")


if __name__ == "__main__":
    main()
