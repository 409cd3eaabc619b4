"""Bulk issue benchmark (issue 15): a 10,000-row CSV previewed, then issued by the job on
two RQ workers on PostgreSQL, PDFs included; memory of the preview and of the workers.

    python -m bench.run_bulk [--rows 10000] [--issue-rows 10000] [--kind awards] [--keep]
                             [--database-url postgresql+psycopg://...bench...]
                             [--redis-url redis://127.0.0.1:6379/11]

Steps (each timed):
1. a fresh PostgreSQL database (its name must contain "bench"), `flask db upgrade`,
   `flask seed --demo` (reference data, the signing keys), then `--rows` staff in one
   organization and a track "Bulk Fundamentals" written directly (no argon2 hashes);
2. the CSV is written to a temporary file (one row per person, the track, completion,
   a note) and previewed in-process by the service the page calls
   (`bulk.certificates.preview` + commit): time and the growth of the process's peak RSS
   (VmHWM, reset first), for a fifth of the rows and then for all (flat memory: the two
   growths are alike);
3. two `flask rq worker`s (APP_ENV=production, the bench's Redis database; started before
   the previews, so the demo seed's jobs are out of the way), confirm (commit: the job
   goes to RQ through the outbox; `--issue-rows`: a separate import of the first ones
   only, for a loaded machine), and the import is polled until it is
   DONE and every certificate it issued has its PDF; time from confirm, rows/s, each
   worker's peak RSS (VmHWM);
4. the workers are stopped, the Redis database's `rq:*` keys deleted, the database dropped
   unless --keep; the figures are printed as JSON and a markdown table, with `uptime`.

`--kind awards`: the same for a bulk award of micro-credentials (a definition "Bulk
Safety" valid 24 months instead of the track; each row awarded by
`credentials.award_directly`; no PDFs, so "with PDFs" is the time to DONE).

Targets (issue 15): preview < 10 s, issue < 60 s with PDFs, memory flat.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue

from bench import PROJECT_DIR
from bench.run_foundation import VENV_BIN, drop_postgres, fresh_postgres, log, server_env

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/credwright_bench_bulk"
DEFAULT_REDIS = "redis://127.0.0.1:6379/11"
TRACK = "Bulk Fundamentals"
DEFINITION = "Bulk Safety"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _people(app: Any, rows: int) -> list[str]:
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Organization, Role, TrackAudience, User
    from app.services import training
    from app.services.context import Actor

    with app.app_context():
        org = Organization(name="Bulk Roofing Ltd", slug="bulk-roofing")
        db.session.add(org)
        db.session.flush()
        emails = [f"bulk{i:05d}@example.test" for i in range(rows)]
        db.session.execute(insert(User), [
            {"email": e, "name": f"Bulk Person {i}", "role": Role.STAFF,
             "organization_id": org.id, "active": True} for i, e in enumerate(emails)])
        track = training.create_track(Actor.system(), name=TRACK,
                                      audience=TrackAudience.CLIENT_EMPLOYEE)
        track.validity_months = 24
        from app.models import MicroCredentialDefinition

        db.session.add(MicroCredentialDefinition(title=DEFINITION, level=4, issuing_body="RANZ",
                                                 validity_months=24))
        db.session.commit()
    return emails


def _csv(path: Path, emails: list[str], kind: str = "certificates") -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        if kind == "awards":
            out.write("email,name,organization,definition,award_date,expiry,notes\r\n")
            for email in emails:
                out.write(f"{email},,,{DEFINITION},,,Assessed 2026-12\r\n")
            return
        out.write("email,name,organization,course,track,type,issue_date,expiry,notes\r\n")
        for email in emails:
            out.write(f"{email},,,,{TRACK},completion,,,Cohort 2026-12\r\n")


def _service(kind: str) -> Any:
    from app.services.bulk import awards, certificates

    return awards if kind == "awards" else certificates


def _preview(app: Any, path: Path, admin_email: str,
             kind: str = "certificates") -> tuple[int, float, int]:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User
    from app.services.context import Actor

    bulk = _service(kind)

    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == admin_email))
        gc.collect()
        _reset_peak_rss()
        before = _self_kb("VmRSS")
        start = time.perf_counter()
        with path.open("rb") as stream:
            item = bulk.preview(Actor(user=admin), io.BufferedReader(stream), path.name)
        db.session.commit()
        elapsed = time.perf_counter() - start
        return item.id, elapsed, (_self_kb("VmHWM") - before) * 1024


def _self_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM back to the current RSS
    except OSError:
        pass


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _worker_pids(proc: subprocess.Popen[bytes]) -> list[int]:
    """The worker and the work horses it forks (their peak RSS is the job's)."""
    pids = [proc.pid]
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    return pids


def measure(args: argparse.Namespace) -> dict[str, Any]:
    url = args.database_url
    if "bench" not in url.rsplit("/", 1)[-1]:
        raise SystemExit("the benchmark database's name must contain 'bench'")
    env = server_env(url)
    env["REDIS_URL"] = args.redis_url
    env["BULK_MAX_ROWS"] = str(max(args.rows, 10_000))
    results: dict[str, Any] = {"rows": args.rows, "kind": args.kind,
                               "uptime_before": uptime()}
    timings: dict[str, float] = {}
    fresh_postgres(url)
    for name, cmd in (("migrate", ["db", "upgrade"]), ("seed", ["seed", "--demo"])):
        start = time.perf_counter()
        proc = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *cmd], cwd=PROJECT_DIR,
                              env=env, capture_output=True, text=True, check=False)
        timings[name] = round(time.perf_counter() - start, 2)
        if proc.returncode:
            raise SystemExit(f"{name} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    os.environ.update(env)
    from app import create_app

    app = create_app()
    app.config["BULK_MAX_ROWS"] = max(args.rows, 10_000)
    emails = _people(app, args.rows)
    workers: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bulk-bench-"))
    try:
        # The workers start first: the demo seed's jobs are done while the previews run.
        logs = [tmp / f"rq-worker-{i}.log" for i in range(2)]
        for log_path in logs:
            workers.append(subprocess.Popen(
                [str(VENV_BIN / "flask"), "--app", "wsgi", "rq", "worker"], cwd=PROJECT_DIR,
                env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT))
        small = tmp / "small.csv"
        _csv(small, emails[: max(1, args.rows // 5)], args.kind)
        _, small_s, small_peak = _preview(app, small, "admin@demo.test", args.kind)
        path = tmp / "cohort.csv"
        _csv(path, emails, args.kind)
        results["csv_bytes"] = path.stat().st_size
        import_id, preview_s, peak = _preview(app, path, "admin@demo.test", args.kind)
        results["preview"] = {"seconds": round(preview_s, 2), "rss_growth_mb":
                              round(peak / 1e6, 1), "rows_per_s": round(args.rows / preview_s)}
        results["preview_fifth"] = {"rows": max(1, args.rows // 5), "seconds": round(small_s, 2),
                                    "rss_growth_mb": round(small_peak / 1e6, 1)}
        log(f"preview: {results['preview']} (a fifth: {results['preview_fifth']})")

        from sqlalchemy import func, select

        from app.extensions import db
        from app.models import BulkImport, BulkImportRow, Certificate, ImportStatus, User
        from app.services.context import Actor

        bulk = _service(args.kind)
        if args.issue_rows < args.rows:  # a smaller import is issued (a loaded machine)
            part = tmp / "issue.csv"
            _csv(part, emails[: args.issue_rows], args.kind)
            import_id, _, _ = _preview(app, part, "admin@demo.test", args.kind)
        results["issue_rows"] = min(args.issue_rows, args.rows)
        with app.app_context():
            backlog = time.perf_counter()
            while time.perf_counter() - backlog < 300:  # the seed's jobs go first
                if not Queue(connection=Redis.from_url(args.redis_url)).count:
                    break
                time.sleep(1)
        with app.app_context():
            admin = db.session.scalar(select(User).where(User.email == "admin@demo.test"))
            start = time.perf_counter()
            bulk.confirm(db.session.get(BulkImport, import_id), Actor(user=admin))
            db.session.commit()  # dispatched to RQ after the commit
            issued_at = None
            peaks: dict[int, int] = {}
            while time.perf_counter() - start < args.timeout:
                try:
                    time.sleep(1)
                except KeyboardInterrupt:  # stop waiting: report what was done so far
                    log("interrupted: reporting the rows and PDFs done so far")
                    break
                for proc in workers:
                    for pid in _worker_pids(proc):
                        peaks[pid] = max(peaks.get(pid, 0), _vm_hwm_kb(pid))
                db.session.rollback()
                status = db.session.scalar(select(BulkImport.status).where(
                    BulkImport.id == import_id))
                if status == ImportStatus.DONE and issued_at is None:
                    issued_at = time.perf_counter() - start
                    log(f"rows issued in {issued_at:.1f} s")
                if issued_at is not None and args.kind == "awards":
                    break  # no PDFs
                if issued_at is not None:
                    missing = db.session.scalar(
                        select(func.count()).select_from(BulkImportRow)
                        .join(Certificate, Certificate.id == BulkImportRow.certificate_id)
                        .where(BulkImportRow.import_id == import_id, Certificate.pdf_key.is_(None)))
                    if not missing:
                        break
            total = time.perf_counter() - start
            item = db.session.get(BulkImport, import_id)
            counts = bulk.counts(item)
            pdfs = db.session.scalar(
                select(func.count()).select_from(BulkImportRow)
                .join(Certificate, Certificate.id == BulkImportRow.certificate_id)
                .where(BulkImportRow.import_id == import_id, Certificate.pdf_key.is_not(None)))
        results["issue"] = {
            "rows_issued_seconds": round(issued_at, 1) if issued_at else None,
            "with_pdfs_seconds": round(total, 1), "issued": counts["ISSUED"],
            "failed": counts["FAILED"], "skipped": counts["SKIPPED"], "pdfs": pdfs,
            "worker_peak_rss_mb": sorted(round(kb / 1024) for kb in peaks.values() if kb),
        }
        log(f"issue: {results['issue']}")
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        try:
            import redis

            client = redis.Redis.from_url(args.redis_url)
            keys = list(client.scan_iter("rq:*"))
            if keys:
                client.delete(*keys)
        except Exception as exc:  # noqa: BLE001 - cleaning up is best effort
            log(f"could not clean Redis: {exc}")
        if not args.keep:
            try:
                from app.extensions import db

                with app.app_context():
                    db.engine.dispose()
            except Exception:  # noqa: BLE001, S110
                pass
            drop_postgres(url)
    results["timings"] = timings
    results["uptime_after"] = uptime()
    return results


def markdown(r: dict[str, Any]) -> str:
    issue = r["issue"]
    return "\n".join([
        f"| {r['rows']:,} rows | seconds | notes |", "| --- | --- | --- |",
        f"| preview | {r['preview']['seconds']} | {r['preview']['rows_per_s']:,} rows/s; "
        f"peak RSS growth {r['preview']['rss_growth_mb']} MB "
        f"({r['preview_fifth']['rss_growth_mb']} MB for {r['preview_fifth']['rows']:,}) |",
        f"| issue {r['issue_rows']:,} rows | {issue['rows_issued_seconds']} | "
        f"{issue['issued']:,} issued, "
        f"{issue['failed']} failed, 2 RQ workers |",
        f"| issue + PDFs | {issue['with_pdfs_seconds']} | {issue['pdfs']:,} PDFs; worker "
        f"peak RSS {issue['worker_peak_rss_mb']} MB |",
        "", f"load: {r['uptime_before']} -> {r['uptime_after']}"])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--issue-rows", type=int, default=10_000,
                        help="issue only this many (a separate import of the first ones)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--kind", choices=("certificates", "awards"), default="certificates")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    results = measure(args)
    print(json.dumps(results, indent=2))
    print(markdown(results))
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
