"""In-process cost of the admin lists (issue 16): app CPU and SQL per page, and a profile.

    .venv/bin/python -m bench.profile_lists --database-url postgresql+psycopg://...bench \\
        [--repeats 15] [--profile "/admin/certificates?status=issued"] [--explain]

Against a database that bench.generate (and generate_certificates) filled, with the demo
admin (admin@demo.test). For each page: the median and p95 over --repeats requests of the
wall time and of this process's CPU time (the app's Python: Flask, Jinja, SQLAlchemy,
psycopg's client side), the SQL statements and their time (cursor listeners), the
Python function calls per request (cProfile: a load-independent measure of the same
work), and the page's size. The deep pages are reached the way a person reaches them:
by following the page's own "Older" link (after=) from page 1, --deep times. The figures
and the machine's load average go to bench/results/lists-[<label>-]<stamp>.json. With
--profile PATH, a cProfile of that page (cumulative, top 25) after the table; with
--explain, EXPLAIN (ANALYZE, BUFFERS) of each page's slowest statement (PostgreSQL).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

SORT = "tottime"
DEFAULT_PAGES = [
    "/admin/certificates?status=issued",
    "/admin/certificates?status=issued&q=whitlock",
    "/admin/certificates?status=issued&type=COMPLETION&from={y}-01-01&to={y}-03-31",
    "/admin/certificates?status=revoked",
    "/admin/certificates?status=pending",
    "/admin/certificates?status=issued&course_id={course}",
    "/admin/certificates?status=issued&deep={deep}",
    "/api/admin/certificates?status=issued",
    "/api/admin/certificates?q=whitlock",
    "/api/admin/certificates?status=issued&page=200",
    "/api/admin/certificates?status=issued&deep={deep}",
    "/admin/audit",
    "/admin/audit?deep={deep}",
    "/org?organization_id={large_org}",
]
OLDER = re.compile(r'href="([^"]*[?&;]after=[^"]*)"[^>]*rel="next"')


def _make_app(url: str) -> Any:
    os.environ.update(DATABASE_URL=url, RATELIMIT_ENABLED="0", PAGE_SIZE="25",
                      APP_ENV="development", REDIS_URL="")
    os.environ.setdefault("SECRET_KEY", "bench-profile-lists")
    os.environ.setdefault("AUDIT_KEY", "bench-audit-key")
    from app import create_app

    return create_app({"WTF_CSRF_ENABLED": False})


def _login(client: Any) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    client.post("/login", data={"email": "admin@demo.test", "password": "demo-password",
                                "csrf_token": token.group(1) if token else ""})


def _follow_older(client: Any, path: str, times: int) -> str:
    """The URL `times` "Older" clicks (HTML) or `next` cursors (API) from `path`."""
    for _ in range(times):
        response = client.get(path)
        if path.startswith("/api/"):
            cursor = response.get_json()["pagination"].get("next")
            if not cursor:
                break
            base = re.sub(r"[?&](after|page)=[^&]*", "", path)
            path = f"{base}{'&' if '?' in base else '?'}after={cursor}"
        else:
            match = OLDER.search(response.get_data(as_text=True))
            if not match:
                break
            path = match.group(1).replace("&amp;", "&")
    return path


def measure(app: Any, paths: Sequence[str], repeats: int, explain: bool) -> list[dict[str, Any]]:
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
    statements: list[tuple[str, Any, float]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        conn.info.setdefault("t0", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append((statement, parameters, time.perf_counter() - conn.info["t0"].pop()))

    results = []
    client = app.test_client()
    _login(client)
    for path in paths:
        client.get(path)  # warm
        walls, cpus, sqls, counts = [], [], [], []
        size = 0
        status = 0
        slowest: tuple[str, Any, float] = ("", None, 0.0)
        for _ in range(repeats):
            statements.clear()
            w0, c0 = time.perf_counter(), time.process_time()
            response = client.get(path)
            cpus.append((time.process_time() - c0) * 1000)
            walls.append((time.perf_counter() - w0) * 1000)
            mine = [s for s in statements if s[0].strip().upper() not in ("BEGIN", "COMMIT")]
            sqls.append(sum(s[2] for s in mine) * 1000)
            counts.append(len(mine))
            size, status = len(response.data), response.status_code
            top = max(mine, key=lambda s: s[2], default=slowest)
            if top[2] > slowest[2]:
                slowest = top
        # Python function calls per request (cProfile's count over 3 more requests): unlike
        # CPU ms on a shared machine, the same for the same code at any load.
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(3):
            client.get(path)
        profiler.disable()
        calls = pstats.Stats(profiler).total_calls // 3
        row = {"path": path, "status": status, "bytes": size, "queries": max(counts),
               "python_calls": calls,
               "wall_ms": round(statistics.median(walls), 2),
               "wall_p95_ms": round(sorted(walls)[int(0.95 * (len(walls) - 1))], 2),
               "cpu_ms": round(statistics.median(cpus), 2),
               "cpu_min_ms": round(min(cpus), 2),
               "sql_ms": round(statistics.median(sqls), 2),
               "slowest_sql_ms": round(slowest[2] * 1000, 2)}
        if explain and slowest[0] and engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + slowest[0],
                                            slowest[1]).scalars().all()
            row["plan"] = plan
        results.append(row)
    return results


def targets(app: Any) -> dict[str, Any]:
    from app.extensions import db

    with app.app_context():
        course = db.session.scalar(text(
            "select course_id from certificates where course_id is not null "
            "group by course_id order by count(*) desc limit 1"))
        org = db.session.scalar(text(
            "select organization_id from users where organization_id is not null "
            "group by organization_id order by count(*) desc limit 1"))
        year = db.session.scalar(text("select max(extract(year from issued_at)) - 1 "
                                      "from certificates"))
    return {"course": course, "large_org": org, "y": int(year or 2025)}


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--deep", type=int, default=200, help="Older clicks for deep pages")
    parser.add_argument("--page", action="append", help="measure this path (repeatable)")
    parser.add_argument("--profile", help="cProfile this path (CPU time)")
    parser.add_argument("--sort", default=SORT, help="the profile's order (pstats: tottime, "
                        "cumulative, ...)")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--label", default="", help="in the JSON's name: lists-<label>-<stamp>")
    args = parser.parse_args(argv)
    app = _make_app(args.database_url)
    values = {**targets(app), "deep": args.deep}
    paths = []
    client = app.test_client()
    _login(client)
    for template in args.page or DEFAULT_PAGES:
        path = template.format(**values)
        deep = re.search(r"[?&]deep=(\d+)", path)
        if deep:
            path = _follow_older(client, re.sub(r"[?&]deep=\d+", "", path), int(deep.group(1)))
        paths.append(path)
    load_before = os.getloadavg()
    rows = measure(app, paths, max(3, args.repeats), args.explain)
    results_dir = Path(__file__).parent / "results"
    results_dir.mkdir(exist_ok=True)
    label = f"{args.label}-" if args.label else ""
    out = results_dir / f"lists-{label}{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"load_average_before": load_before,
                               "load_average_after": os.getloadavg(),
                               "repeats": args.repeats, "label": args.label, "pages": rows},
                              indent=1, default=str))
    print(f"results: {out}")
    print("| page | status | queries | wall ms (p95) | app CPU ms (min) | SQL ms "
          "| slowest SQL ms | Python calls | bytes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['path'][:90]}` | {r['status']} | {r['queries']} | {r['wall_ms']} "
              f"({r['wall_p95_ms']}) | {r['cpu_ms']} ({r['cpu_min_ms']}) | {r['sql_ms']} "
              f"| {r['slowest_sql_ms']} | {r['python_calls']:,} | {r['bytes']:,} |")
        for line in r.get("plan", []):
            print("    " + line)
    if args.profile:
        path = args.profile.format(**values)
        # A CPU clock: the app's own work, not its waits on PostgreSQL.
        profiler = cProfile.Profile(time.process_time)
        for _ in range(3):
            client.get(path)
        profiler.enable()
        for _ in range(max(3, args.repeats)):
            client.get(path)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(45)
        print(out.getvalue())
    return rows


if __name__ == "__main__":
    main()
