"""Load on the public verification answer: GET /verify/<id>?format=json over many ids.

    python -m bench.verify_load http://127.0.0.1:8000 ids.txt -n 2000 -c 8 --warmup 50
    python -m bench.verify_load http://127.0.0.1:8000 ids.txt -n 500 --expect-status 404
    python -m bench.verify_load --export-ids ids.txt --database-url postgresql+psycopg://...

`ids.txt` holds one verification id per line (blank lines and `#` comments skipped);
`--export-ids` writes one from a database's issued certificates.

The load is `bench.http_load.run_load()` itself: exactly N requests from C threads, its
loopback-only check, ceilings, time limit, connection handling and report (req/s,
median = p50, p95, p99, errors). `run_load` sends every request to one URL, so for the
length of the run `rotating_ids()` substitutes the module's `request_once` with one that
sends request k to the (k mod len(ids))-th id instead; it is put back afterwards, also
on an error. (A `paths=` parameter on `run_load` would make this unnecessary.) An
answer is an error when its status is not `--expect-status` (200; 404 for ids that
should not exist) or its body lacks `"status"`.

Every check is recorded (one certificate_verifications row per request), so this
measures that write too: run it against a benchmark database, with the server's rate
limit out of the way (RATELIMIT_ENABLED=0), or every request past VERIFY_RATE_LIMIT
(60 a minute per address) measures a 429.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import http_load
from bench.http_load import LoadError, LoadResult

ID_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def read_ids(path: str | Path) -> list[str]:
    ids = [line.strip() for line in Path(path).read_text().splitlines()]
    ids = [i for i in ids if i and not i.startswith("#")]
    if not ids:
        raise LoadError(f"no verification ids in {path}")
    bad = [i for i in ids if not set(i) <= ID_CHARACTERS]
    if bad:
        raise LoadError(f"not verification ids (URL-safe base64 only): {bad[:3]}")
    return ids


def export_ids(database_url: str, path: str | Path, limit: int = 1000) -> int:
    """Write up to `limit` verification ids of issued certificates; returns how many."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT verification_id FROM certificates WHERE status = 'ISSUED' "
                "AND verification_id IS NOT NULL ORDER BY id LIMIT :limit"),
                {"limit": limit}).scalars().all()
    finally:
        engine.dispose()
    Path(path).write_text("".join(f"{r}\n" for r in rows))
    return len(rows)


def verify_path(verification_id: str) -> str:
    return f"/verify/{quote(verification_id, safe='')}?format=json"


@contextmanager
def rotating_ids(ids: Sequence[str]) -> Iterator[list[str]]:
    """While active, http_load's requests go to each id's path in turn (thread-safe);
    yields the list of paths actually requested, in order."""
    paths = [verify_path(i) for i in ids]
    cycle = itertools.cycle(paths)
    lock = threading.Lock()
    sent: list[str] = []
    original = http_load.request_once

    def request_next(conn: Any, method: str, path: str, headers: dict[str, str],
                     body: str | None = None) -> Any:
        with lock:
            path = next(cycle)
            sent.append(path)
        return original(conn, method, path, headers, body)

    http_load.request_once = request_next  # type: ignore[assignment]
    try:
        yield sent
    finally:
        http_load.request_once = original  # type: ignore[assignment]


def run_verify_load(base_url: str, ids: Sequence[str], *, requests: int, concurrency: int = 8,
                    warmup: int = 0, expect_status: int = 200,
                    max_seconds: float = 120.0) -> LoadResult:
    """N requests at concurrency C spread round-robin over the ids; run_load's result."""
    if not ids:
        raise LoadError("no verification ids")
    url = base_url.rstrip("/") + verify_path(ids[0])  # checked by run_load: loopback only
    common: dict[str, Any] = {
        "concurrency": concurrency, "headers": {"Accept": "application/json"},
        "expect_status": expect_status, "expect_text": '"status"', "max_seconds": max_seconds,
    }
    with rotating_ids(ids):
        if warmup:
            http_load.run_load(url, requests=warmup, **common)
        return http_load.run_load(url, requests=requests, **common)


def summary(result: LoadResult, ids: int) -> str:
    return (f"{result.completed}/{result.requests} requests over {ids} ids, "
            f"c={result.concurrency}: {result.rps:.1f} req/s, p50 {result.median_ms:.1f} ms, "
            f"p95 {result.p95_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
            f"max {result.max_ms:.1f} ms, errors {result.errors}, statuses {result.statuses}"
            + (" (stopped at the time limit)" if result.timed_out else ""))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.verify_load",
        description="Bounded load on GET /verify/<id>?format=json (loopback only).")
    parser.add_argument("base_url", nargs="?", help="e.g. http://127.0.0.1:8000")
    parser.add_argument("ids_file", nargs="?", help="one verification id per line")
    parser.add_argument("-n", "--requests", type=int, default=1000)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=0, help="requests sent first, not counted")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--expect-status", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--export-ids", metavar="FILE",
                        help="write issued certificates' ids from --database-url, and stop")
    parser.add_argument("--database-url")
    parser.add_argument("--limit", type=int, default=1000, help="ids to export at most")
    args = parser.parse_args(argv)

    if args.export_ids:
        if not args.database_url:
            parser.error("--export-ids needs --database-url")
        count = export_ids(args.database_url, args.export_ids, args.limit)
        print(f"Wrote {count} verification ids to {args.export_ids}.")
        return
    if not args.base_url or not args.ids_file:
        parser.error("give BASE_URL and IDS_FILE (or --export-ids)")
    ids = read_ids(args.ids_file)
    result = run_verify_load(args.base_url, ids, requests=args.requests,
                             concurrency=args.concurrency, warmup=args.warmup,
                             expect_status=args.expect_status, max_seconds=args.max_seconds)
    if args.json:
        print(json.dumps({**result.to_dict(), "ids": len(ids)}, indent=2))
    else:
        print(summary(result, len(ids)))


if __name__ == "__main__":
    main()
