"""CPU per request of the public check, in-process, beside a bare Flask page (issue 16).

    python -m bench.verify_cpu --database-url postgresql+psycopg://.../credwright_..._bench \
        [--requests 2000] [--rounds 5] [--accept-encoding identity] [--app-dir DIR] \
        [--gap-ms 2]

No HTTP server: the WSGI callables are called directly (bench.minimal_app for GET /ping,
the app for GET /verify/<id> and /verify/<id>?format=json over up to 500 public ids), in
blocks of `--requests`, the three alternating order each round; time.process_time() over
a block (every thread of this process: the check log's writer too) divided by its
requests. Unlike req/s, the figure hardly moves with the machine's load, so old and new
code can be compared on a shared machine (`--app-dir`: a checkout whose `app` is
measured). What it leaves out is gunicorn's own work per request (HTTP parsing, the
socket; about 0.35 ms here for either page), so its ratio to /ping is larger than
bench.run_certificates' under gunicorn.

`--gap-ms 2` sleeps between requests (the sleep not counted), as a gunicorn worker idles
in accept() while the client, PostgreSQL and the other worker use the cores: the same
code then costs more CPU (whatever a switch leaves cold; this VM has no hardware counters
to say which), /ping and the check alike. That, not work done only when served, is what
the gunicorn figures add beyond gunicorn's own work (issue 16, lane V2: a served check
runs the same ~480 Python calls as one called here).

`--first-checks` adds the HTML page of certificates not asked before in the run (each
id once, `--requests` x `--rounds` of them), which the minute's page cache cannot answer:
the cost of most real checks, where the 500 cycled ids measure a re-check.

`--accept-encoding identity` is what Python's http.client (bench.http_load) sends. The
run makes a signing key for this run's SECRET_KEY first (`flask keys rotate`, as
bench.run_certificates --reuse does). Writes bench/results/verify-cpu-<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from statistics import median
from typing import Any

from bench import PROJECT_DIR, RESULTS_DIR

VENV_BIN = PROJECT_DIR / ".venv" / "bin"
FIRST_CHECKS = "GET /verify/<id> (HTML), first checks"


def _environ(path: str, query: str, accept_encoding: str) -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "User-Agent": "bench"}
    if accept_encoding:
        headers["Accept-Encoding"] = accept_encoding
    environ = EnvironBuilder(path=path, query_string=query, headers=headers).get_environ()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    return environ


def _drive(wsgi: Callable[..., Iterable[bytes]], environs: Sequence[dict[str, Any]],
           requests: int, gap: float = 0.0) -> float:
    """The CPU seconds (time.process_time) the requests took. With `gap`, each request
    is timed alone and followed by `gap` seconds asleep (not counted), as a served
    worker idles in accept() while the client and PostgreSQL run."""
    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                       ) -> None:
        return None

    spent = 0.0
    started = time.process_time()
    for number in range(requests):
        if gap:
            started = time.process_time()
        body = wsgi(dict(environs[number % len(environs)]), start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
        if gap:
            spent += time.process_time() - started
            time.sleep(gap)
    return spent if gap else time.process_time() - started


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.verify_cpu", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", required=True)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--accept-encoding", default="identity")
    p.add_argument("--app-dir", type=Path, default=PROJECT_DIR)
    p.add_argument("--gap-ms", type=float, default=0.0,
                   help="sleep between requests (not counted): the served worker's idle")
    p.add_argument("--first-checks", action="store_true",
                   help="also the HTML page of ids never asked before (no page cache)")
    args = p.parse_args(argv)
    if "bench" not in args.database_url.rsplit("/", 1)[-1]:
        p.error("use a benchmark database (its name contains 'bench'): checks are logged")
    env = {"DATABASE_URL": args.database_url, "APP_ENV": "production",
           "SECRET_KEY": "bench-verify-cpu-" + os.urandom(12).hex(),
           "AUDIT_KEY": "bench-audit-key", "SESSION_COOKIE_SECURE": "0",
           "RATELIMIT_ENABLED": "0", "PUBLIC_BASE_URL": "https://credwright.example.nz"}
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    app_dir = args.app_dir.resolve()
    subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "keys", "rotate"], cwd=app_dir,
                   env={**os.environ, "PYTHONPATH": str(app_dir)}, check=True,
                   capture_output=True)
    sys.path.insert(0, str(app_dir))

    from sqlalchemy import create_engine, text

    from app import create_app
    from bench import minimal_app

    engine = create_engine(args.database_url)
    fresh = args.requests * args.rounds if args.first_checks else 0
    with engine.connect() as conn:
        ids = list(conn.scalars(text(
            "SELECT verification_id FROM certificates WHERE status IN "
            "('ISSUED', 'REVOKED', 'SUPERSEDED') ORDER BY id LIMIT :n"), {"n": 500 + fresh}))
    engine.dispose()
    ids, unasked = ids[:500], ids[500:]
    app = create_app()
    targets = {
        "GET /ping (minimal Flask)": (minimal_app.app, [_environ("/ping", "", "")]),
        "GET /verify/<id> (HTML)": (app, [_environ(f"/verify/{i}", "", args.accept_encoding)
                                          for i in ids]),
        "GET /verify/<id>?format=json": (app, [_environ(f"/verify/{i}", "format=json",
                                                        args.accept_encoding) for i in ids]),
    }
    for wsgi, environs in targets.values():
        _drive(wsgi, environs, 600)  # warm: caches, connections, the signing key
    if unasked:
        # Each request a certificate this process has not shown: the page is rendered,
        # as for most real checks (the 500 ids above are re-checks, answered from the
        # minute's page cache after their first round).
        first = [_environ(f"/verify/{i}", "", args.accept_encoding) for i in unasked]
        targets[FIRST_CHECKS] = (app, first)
    load_start = os.getloadavg()
    cpu_ms: dict[str, list[float]] = {name: [] for name in targets}
    for number in range(args.rounds):
        order = list(targets) if number % 2 == 0 else list(reversed(targets))
        for name in order:
            wsgi, environs = targets[name]
            if name == FIRST_CHECKS:  # the round's own ids, each asked once
                environs = environs[number * args.requests:(number + 1) * args.requests]
            spent = _drive(wsgi, environs, args.requests, args.gap_ms / 1000)
            cpu_ms[name].append(spent * 1000 / args.requests)
    ping = cpu_ms["GET /ping (minimal Flask)"]
    summary = {name: {"cpu_ms_median": round(median(values), 4),
                      "cpu_ms_rounds": [round(v, 4) for v in values],
                      "ratio_to_ping_median": round(median(
                          v / q for v, q in zip(values, ping, strict=True)), 2)}
               for name, values in cpu_ms.items()}
    for name, figures in summary.items():
        print(f"{name:<32} {figures['cpu_ms_median']:.3f} ms CPU a request, "
              f"{figures['ratio_to_ping_median']}x /ping")
    print(f"load {load_start} -> {os.getloadavg()}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"verify-cpu-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.write_text(json.dumps({"benchmark": "verify-cpu", "app_dir": str(app_dir),
                               "ids": len(ids), "requests": args.requests,
                               "rounds": args.rounds, "accept_encoding": args.accept_encoding,
                               "gap_ms": args.gap_ms, "first_checks": len(unasked),
                               "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                               "summary": summary}, indent=2))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
