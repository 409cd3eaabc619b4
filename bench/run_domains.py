"""Micro-credentials and training benchmarks (issues 3 and 4).

    python -m bench.run_domains credentials --database sqlite|postgres
    python -m bench.run_domains training    --database sqlite|postgres
    python -m bench.run_domains all         --database sqlite|postgres

Like `bench.run_foundation` (whose database, process and CPU helpers it uses):
1. a fresh database (a new SQLite file under bench/results/, or DROP/CREATE of
   `credwright_domains_bench`), `flask db upgrade`, `flask seed --demo`, then `python -m
   bench.generate` with 20,000 people in 200 organizations, the first of them a large
   customer of 2,000 (`--large-org`), and per subcommand 200 micro-credential definitions
   with 50,000 staff credentials and/or 20,000 training enrolments (with course progress
   and quiz attempts), and `flask audit verify`;
2. the targets are looked up in the database: the large organization, a typical one (the
   median size), the definition its staff hold most, the largest generated track and its
   quiz course (no attempt limit), and learners who can submit that quiz: a pool who
   fail it (and may try again) and a pool one course short of completing the track;
3. in-process, with the Flask test client and a `before_cursor_execute` counter: the SQL
   statements each page runs with PAGE_SIZE 25 and 100, the rows and columns shown, the
   median time and SQL time of 9 requests, and the plan of the slowest statement;
4. gunicorn (`-w 2`, APP_ENV=production, rate limiting off, cookies over plain HTTP): the
   admin and the learners log in through the form, then for each page and each
   concurrency (default 2 and 8) a warm-up and a bounded run, recording latency, req/s
   and the CPU the gunicorn processes (and PostgreSQL's backends) spent per request;
5. gunicorn is stopped (also on error or Ctrl-C), the database is dropped unless
   --keep-db, results go to bench/results/domains-<what>-<database>-<stamp>.json and a
   markdown table is printed.

Quiz submissions write (an attempt, the progress row, the audit chain's head and an
audit row each): every request is a real submission by one of `--learners` learners in
turn, each logged in with their own session and CSRF token. The failing submission
(6 of 10 right) can be repeated because the benchmark track's quiz has no attempt
limit; the passing one completes the track (a pending certificate, a notification and
two more audit rows) and so is sent once per learner.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median
from typing import Any
from urllib.parse import urlencode

from bench import PROJECT_DIR, RESULTS_DIR
from bench.http_load import (
    USER_AGENT,
    LoadError,
    Target,
    _connection,
    _cookies_from,
    cookie_header,
    free_port,
    login,
    request_once,
    run_load,
    wait_for,
)
from bench.run_foundation import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    DEFAULT_POSTGRES_URL,
    META_CSRF,
    TRANSACTION_CONTROL,
    VENV_BIN,
    Gunicorn,
    _explain,
    _on_sigterm,
    database_version,
    drop_postgres,
    drop_sqlite,
    fresh_postgres,
    fresh_sqlite,
    log,
    postgres_backend_cpu,
    run_step,
    server_env,
    wait_until_idle,
)

# Not run_foundation's credwright_bench: the two benchmarks may run at the same time.
DOMAINS_POSTGRES_URL = DEFAULT_POSTGRES_URL.rsplit("/", 1)[0] + "/credwright_domains_bench"
LEARNER_PASSWORD = "bench-password"
FAILING_RIGHT = 6  # of 10: 60%, under the pass mark of 80%
PASSERS = 12  # learners one quiz short of completing the track (one submission each)


# --- Targets -------------------------------------------------------------------------

@dataclass
class Targets:
    """What the pages are about, looked up once the data exists."""
    data: dict[str, Any] = field(default_factory=dict)
    large_org: int | None = None
    typical_org: int | None = None
    filter_definition: int | None = None
    org_admin: str | None = None  # email of an active org admin of the large org
    track: int | None = None
    quiz_course: int | None = None
    questions: list[dict[str, Any]] = field(default_factory=list)
    failing: list[str] = field(default_factory=list)  # learner emails
    passing: list[str] = field(default_factory=list)


def find_targets(url: str, *, credentials: bool, training: bool, learners: int,
                 passers: int) -> Targets:
    from sqlalchemy import and_, create_engine, exists, func, select

    from app.models import (
        CertificationTrack,
        Course,
        CourseProgress,
        Enrolment,
        MicroCredentialDefinition,
        Organization,
        ProgressStatus,
        QuizAttempt,
        Role,
        StaffMicroCredential,
        User,
    )
    from bench.generate import GENERATED_EMAIL_SUFFIX, GENERATED_TRACK_NOTE

    t = Targets()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            t.data["users"] = conn.scalar(select(func.count(User.id)))
            t.data["organizations"] = conn.scalar(select(func.count(Organization.id)))
            sizes = conn.execute(
                select(User.organization_id, func.count(User.id))
                .join(Organization, Organization.id == User.organization_id)
                .where(User.role.in_([Role.STAFF, Role.ORG_ADMIN]), Organization.active,
                       User.email.like(f"%{GENERATED_EMAIL_SUFFIX}"))
                .group_by(User.organization_id).order_by(func.count(User.id).desc(),
                                                         User.organization_id)).all()
            if sizes:
                t.large_org, big = sizes[0]
                t.typical_org, typical = sizes[len(sizes) // 2]
                t.data["large_org"] = {"id": t.large_org, "staff": big}
                t.data["typical_org"] = {"id": t.typical_org, "staff": typical}
                t.org_admin = conn.scalar(
                    select(User.email).where(User.organization_id == t.large_org,
                                             User.role == Role.ORG_ADMIN, User.active)
                    .order_by(User.id).limit(1))
            if credentials:
                t.data["definitions"] = conn.scalar(
                    select(func.count(MicroCredentialDefinition.id)))
                t.data["staff_credentials"] = conn.scalar(
                    select(func.count(StaffMicroCredential.id)))
                in_org = (select(StaffMicroCredential.definition_id,
                                 func.count(StaffMicroCredential.id).label("n"))
                          .join(User, User.id == StaffMicroCredential.user_id)
                          .where(User.organization_id == t.large_org)
                          .group_by(StaffMicroCredential.definition_id)
                          .order_by(func.count(StaffMicroCredential.id).desc(),
                                    StaffMicroCredential.definition_id))
                held = conn.execute(in_org).all()
                t.filter_definition = held[0][0] if held else None
                t.data["large_org"].update(
                    credentials=sum(n for _, n in held), columns=len(held),
                    filter_definition={"id": t.filter_definition,
                                       "holders": held[0][1] if held else 0})
                typical_cols = conn.scalar(
                    select(func.count(func.distinct(StaffMicroCredential.definition_id)))
                    .join(User, User.id == StaffMicroCredential.user_id)
                    .where(User.organization_id == t.typical_org))
                t.data["typical_org"]["columns"] = typical_cols
            if training:
                for key, model in (("enrolments", Enrolment), ("course_progress", CourseProgress),
                                   ("quiz_attempts", QuizAttempt)):
                    t.data[key] = conn.scalar(select(func.count(model.id)))
                track = conn.execute(
                    select(CertificationTrack.id, func.count(Enrolment.id))
                    .join(Enrolment, Enrolment.track_id == CertificationTrack.id)
                    .where(CertificationTrack.description.like(f"%{GENERATED_TRACK_NOTE}"))
                    .group_by(CertificationTrack.id)
                    .order_by(func.count(Enrolment.id).desc())).first()
                if track is not None:
                    t.track = track[0]
                    quiz = conn.execute(select(Course.id, Course.questions, Course.attempt_limit)
                                        .where(Course.track_id == t.track, Course.has_exam)
                                        ).one()
                    t.quiz_course, t.questions = quiz[0], quiz[1]
                    if quiz[2] is not None:
                        raise SystemExit("the benchmark track's quiz has an attempt limit")
                    t.data["track"] = {"id": t.track, "enrolments": track[1],
                                       "quiz_course": t.quiz_course,
                                       "questions": len(t.questions)}
                    quiz_open = (select(CourseProgress.id).where(
                        CourseProgress.enrolment_id == Enrolment.id,
                        CourseProgress.course_id == t.quiz_course,
                        CourseProgress.status.in_([ProgressStatus.NOT_STARTED,
                                                   ProgressStatus.IN_PROGRESS])).exists())
                    content_left = exists().where(
                        CourseProgress.enrolment_id == Enrolment.id,
                        CourseProgress.status != ProgressStatus.COMPLETED,
                        CourseProgress.course_id.in_(select(Course.id).where(
                            and_(Course.track_id == t.track, Course.required,
                                 ~Course.has_exam))))
                    base = (select(User.email)
                            .join(Enrolment, Enrolment.user_id == User.id)
                            .join(Organization, Organization.id == User.organization_id)
                            .where(Enrolment.track_id == t.track, User.active,
                                   Organization.active, User.role == Role.STAFF,
                                   Enrolment.status.in_([ProgressStatus.NOT_STARTED,
                                                         ProgressStatus.IN_PROGRESS]),
                                   quiz_open,
                                   User.email.like(f"%{GENERATED_EMAIL_SUFFIX}"))
                            .order_by(User.id))
                    t.passing = list(conn.scalars(base.where(~content_left).limit(passers)))
                    t.failing = list(conn.scalars(
                        base.where(User.email.not_in(t.passing or [""])).limit(learners)))
    finally:
        engine.dispose()
    return t


def quiz_form(questions: Sequence[dict[str, Any]], right: int) -> list[tuple[str, str]]:
    """Form fields answer-<id>: the first `right` questions right, the rest wrong."""
    fields: list[tuple[str, str]] = []
    for n, q in enumerate(questions):
        if n < right:
            chosen = q["correct"]
        else:
            chosen = [next(i for i in range(len(q["options"])) if [i] != q["correct"])]
        fields += [(f"answer-{q['id']}", str(i)) for i in chosen]
    return fields


# --- Pages ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    name: str
    path: str
    # admin | org_admin | failing | passing (a new learner each time) | anonymous
    who: str = "admin"
    method: str = "GET"
    htmx: bool = False
    deep_page: int | None = None
    row_mark: str = r'<tr id="staff-\d+"'
    expect_text: str = ""
    load: bool = True  # part of the HTTP load
    quiz_right: int = 0

    def path_for(self, page_size: int) -> str:
        if self.deep_page is None:
            return self.path
        page = (self.deep_page - 1) * 25 // page_size + 1
        return re.sub(r"page=\d+", f"page={page}", self.path)

    @property
    def headers(self) -> dict[str, str]:
        return {"HX-Request": "true"} if self.htmx else {}


# Anonymous /login, no SQL: the cost of the framework, and a yardstick for the machine's
# own noise (its latency on an idle box: median 8 ms, p95 11 ms at c=8, see run_foundation).
CONTROL = Probe("GET /login (anonymous, control)", "/login", who="anonymous", row_mark=r"$^",
                expect_text="csrf-token")


def credential_probes(t: Targets) -> list[Probe]:
    org = f"/org?organization_id={t.large_org}"
    return [
        Probe("GET /admin/micro-credentials", "/admin/micro-credentials",
              row_mark=r'<tr id="definition-\d+"', expect_text='id="definitions-table"'),
        Probe("GET /org (large org, page 1)", org, expect_text='id="org-matrix"'),
        Probe("GET /org (large org, page 20)", f"{org}&page=20", deep_page=20,
              expect_text='id="org-matrix"'),
        Probe("GET /org (large org, one credential)",
              f"{org}&definition_id={t.filter_definition}", expect_text='id="org-matrix"',
              load=False),
        Probe("GET /org (large org, page 2, htmx)", f"{org}&page=2", htmx=True,
              expect_text='id="org-matrix"', load=False),
        Probe("GET /org (typical org, page 1)", f"/org?organization_id={t.typical_org}",
              expect_text='id="org-matrix"', load=False),
        Probe("GET /org as its org admin (large org)", "/org", who="org_admin",
              expect_text='id="org-matrix"', load=False),
    ]


def training_probes(t: Targets) -> list[Probe]:
    track = f"/admin/tracks/{t.track}"
    quiz = f"/learn/courses/{t.quiz_course}/quiz"
    return [
        Probe("GET /admin/tracks/<id>", track, row_mark=r'<tr id="enrolment-\d+"',
              expect_text='id="learners-table"'),
        Probe("GET /admin/tracks/<id>?page=200", f"{track}?page=200", deep_page=200,
              row_mark=r'<tr id="enrolment-\d+"', expect_text='id="learners-table"',
              load=False),
        Probe("POST quiz (fail, htmx)", quiz, who="failing", method="POST", htmx=True,
              row_mark=r"$^", expect_text="Not passed", quiz_right=FAILING_RIGHT),
        Probe("POST quiz (pass: completes the track)", quiz, who="passing", method="POST",
              htmx=True, row_mark=r"$^", expect_text="Passed:", load=False,
              quiz_right=10_000),
    ]


# --- In-process SQL counting -----------------------------------------------------------

def _rerun_ms(engine: Any, statement: str, params: Any, times: int = 3) -> float | None:
    """The best of `times` runs of a captured SELECT, rows fetched: the listeners time
    only cursor.execute(), and SQLite computes most rows after it, in fetchall()."""
    if not statement.lstrip().upper().startswith("SELECT") or "FOR UPDATE" in statement.upper():
        return None
    best = None
    with engine.connect() as conn:
        for _ in range(times):
            t0 = time.perf_counter()
            conn.exec_driver_sql(statement, params).fetchall()
            elapsed = time.perf_counter() - t0
            best = elapsed if best is None else min(best, elapsed)
        conn.rollback()
    return round(best * 1000, 2)


def _client_login(app: Any, email: str, password: str) -> Any:
    client = app.test_client()
    token = META_CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": token})
    if response.status_code != 302:
        raise SystemExit(f"in-process login of {email} failed: {response.status_code}")
    return client


def _page_token(client: Any, path: str) -> str:
    response = client.get(path)
    match = META_CSRF.search(response.get_data(as_text=True))
    if not match:
        raise SystemExit(f"no csrf-token on {path} ({response.status_code})")
    return match.group(1)


def measure_queries(env: dict[str, str], t: Targets, probes: Sequence[Probe],
                    page_sizes: Sequence[int], repeats: int = 9) -> dict[str, Any]:
    os.environ.update(env)
    from sqlalchemy import event

    from app import create_app
    from app.extensions import db

    out: dict[str, Any] = {}
    captured: list[tuple[str, Any, float]] = []
    passers = iter(t.passing)
    for size in page_sizes:
        app = create_app({"PAGE_SIZE": size, "RATELIMIT_ENABLED": False})
        clients: dict[str, Any] = {"admin": _client_login(app, ADMIN_EMAIL, ADMIN_PASSWORD),
                                   "anonymous": app.test_client()}
        if t.org_admin:
            clients["org_admin"] = _client_login(app, t.org_admin, LEARNER_PASSWORD)
        course_page = f"/learn/courses/{t.quiz_course}"
        if t.failing:
            clients["failing"] = _client_login(app, t.failing[0], LEARNER_PASSWORD)
            clients["failing_token"] = _page_token(clients["failing"], course_page)
        with app.app_context():
            engine = db.engine

        def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
            conn.info["bench_t0"] = time.perf_counter()

        def after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
            captured.append((statement, parameters,
                             time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())))

        per_size: dict[str, Any] = {}
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        try:
            for probe in probes:
                if probe.who == "passing" and size != page_sizes[0]:
                    continue  # one learner per submission: measured at one page size
                path = probe.path_for(size)
                times, cpu_times, sql_times, counts = [], [], [], []
                queries: list[tuple[str, Any, float]] = []
                response = None
                for n in range(repeats + 1):  # the first one warms caches, not counted
                    headers = dict(probe.headers)
                    data = None
                    if probe.method == "POST":
                        if probe.who == "passing":
                            email = next(passers, None)
                            if email is None:
                                break
                            client = _client_login(app, email, LEARNER_PASSWORD)
                            token = _page_token(client, course_page)
                        else:
                            client, token = clients["failing"], clients["failing_token"]
                        headers["X-CSRFToken"] = token
                        data = quiz_form(t.questions, probe.quiz_right)
                        data = [*data, ("csrf_token", token)]
                    else:
                        client = clients[probe.who]
                    captured.clear()
                    c0, t0 = time.process_time(), time.perf_counter()
                    if probe.method == "POST":
                        response = client.post(path, data=urlencode(data), headers=headers,
                                               content_type="application/x-www-form-urlencoded")
                    else:
                        response = client.get(path, headers=headers)
                    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
                    queries = [c for c in captured if not TRANSACTION_CONTROL.match(c[0])]
                    if n:
                        times.append(elapsed)
                        cpu_times.append(cpu)
                        sql_times.append(sum(c[2] for c in queries))
                        counts.append(len(queries))
                if response is None or not times:
                    continue
                html = response.get_data(as_text=True)
                full = [_rerun_ms(engine, c[0], c[1]) for c in queries]
                slowest = None
                if queries:
                    slowest = queries[max(range(len(queries)),
                                          key=lambda i: full[i] if full[i] is not None
                                          else queries[i][2] * 1000)]
                page_info = re.search(r"(\d+)–(\d+) of (\d+)", html)
                per_size[probe.name] = {
                    "path": path,
                    "status": response.status_code,
                    "expected_text_found": probe.expect_text in html,
                    "queries": len(queries),
                    "queries_min_max": [min(counts), max(counts)],
                    "rows_shown": len(re.findall(probe.row_mark, html)),
                    "columns": html.count('<th scope="col" title='),
                    "range": page_info.group(0) if page_info else None,
                    "bytes": len(response.data),
                    "requests": len(times),
                    "in_process_ms_median": round(median(times) * 1000, 2),
                    # CPU of this process (the app, and SQLite's work; not PostgreSQL's).
                    "in_process_cpu_ms_median": round(median(cpu_times) * 1000, 2),
                    "sql_ms": round(median(sql_times) * 1000, 2),
                    # The page's SELECTs run again, rows fetched (best of 3 each).
                    "sql_ms_fetched": round(sum(f for f in full if f is not None), 2),
                    "sql": [{"ms": round(c[2] * 1000, 2), "ms_fetched": f,
                             "statement": " ".join(c[0].split())[:400]}
                            for c, f in zip(queries, full, strict=True)],
                    "slowest_plan": _explain(engine, slowest[0], slowest[1])
                                    if slowest and slowest[0].lstrip().upper().startswith(
                                        "SELECT") else None,
                }
                q = per_size[probe.name]
                log(f"  PAGE_SIZE {size:>3} {probe.name:<42} {q['status']} "
                    f"{q['queries']} queries, {q['rows_shown']} rows x {q['columns']} cols, "
                    f"SQL {q['sql_ms']} ms ({q['sql_ms_fetched']} ms with rows fetched), "
                    f"total {q['in_process_ms_median']} ms, "
                    f"CPU {q['in_process_cpu_ms_median']} ms")
                if not q["expected_text_found"]:
                    log(f"    WARNING: {probe.expect_text!r} missing from {probe.name}")
        finally:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        out[str(size)] = per_size
    return out


# --- HTTP ------------------------------------------------------------------------------

def csrf_for(base: str, cookie: str, path: str) -> tuple[str, str]:
    """The CSRF token of a logged-in session, from a page's meta tag, and the Cookie
    header to send with it (the page stores the token in the session: a new cookie)."""
    target = Target.parse(base + path)
    conn = _connection(target, 30.0)
    try:
        status, headers, body = request_once(conn, "GET", target.path, {
            "User-Agent": USER_AGENT, "Host": f"{target.host}:{target.port}",
            "Cookie": cookie})
    finally:
        conn.close()
    match = META_CSRF.search(body.decode("utf-8", "replace"))
    if status != 200 or not match:
        raise LoadError(f"GET {path} answered {status} without a csrf-token")
    jar = dict(part.split("=", 1) for part in cookie.split("; ") if "=" in part)
    _cookies_from(headers, jar)
    return match.group(1), cookie_header(jar)


def learner_variants(base: str, emails: Sequence[str], t: Targets, right: int
                     ) -> list[tuple[dict[str, str], str | None]]:
    """Each learner logged in, with the CSRF token of their session and the form body."""
    variants = []
    for email in emails:
        token, cookie = csrf_for(base, login(base, email, LEARNER_PASSWORD),
                                 f"/learn/courses/{t.quiz_course}")
        body = urlencode([*quiz_form(t.questions, right), ("csrf_token", token)])
        variants.append(({"Cookie": cookie, "X-CSRFToken": token, "HX-Request": "true",
                          "Content-Type": "application/x-www-form-urlencoded"}, body))
    return variants


def measure_http(args: argparse.Namespace, env: dict[str, str], url: str, t: Targets,
                 probes: Sequence[Probe], server_log: Any) -> dict[str, Any]:
    http: dict[str, Any] = {}
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    server = Gunicorn(env, port, args.workers, server_log)
    server.start()
    try:
        wait_for(base + "/healthz", seconds=30)
        cookie = login(base, ADMIN_EMAIL, ADMIN_PASSWORD)
        t0 = time.perf_counter()
        failing = (learner_variants(base, t.failing, t, FAILING_RIGHT)
                   if any(p.who == "failing" and p.load for p in probes) else [])
        if failing:
            log(f"{len(failing)} learners logged in ({time.perf_counter() - t0:.1f} s)")
        for probe in [p for p in probes if p.load]:
            for concurrency in args.concurrency:
                name = f"{probe.name} @c{concurrency}"
                opts: dict[str, Any] = {"concurrency": concurrency,
                                        "expect_text": probe.expect_text,
                                        "max_seconds": args.max_seconds}
                if probe.method == "POST":
                    opts.update(method="POST", variants=failing, expect_status=200)
                else:
                    opts.update(cookie=None if probe.who == "anonymous" else cookie,
                                headers=probe.headers)
                if args.warmup:
                    run_load(base + probe.path, requests=args.warmup,
                             **{**opts, "max_seconds": min(10.0, args.max_seconds)})
                load_before = os.getloadavg()[0]
                cpu_before = server.cpu_seconds()
                db_before = postgres_backend_cpu(url) if args.database == "postgres" else 0.0
                result = run_load(base + probe.path, requests=args.requests, **opts)
                per_request = 1000 / max(1, result.completed)
                cpu_ms = (server.cpu_seconds() - cpu_before) * per_request
                db_ms = ((postgres_backend_cpu(url) - db_before) * per_request
                         if args.database == "postgres" else None)
                http[name] = {**result.to_dict(), "page": probe.name, "path": probe.path,
                              "method": probe.method,
                              "server_cpu_ms_per_request": round(cpu_ms, 2),
                              "postgres_cpu_ms_per_request":
                                  None if db_ms is None else round(db_ms, 2),
                              "loadavg_1m_before": round(load_before, 2),
                              "loadavg_1m_after": round(os.getloadavg()[0], 2)}
                log(f"{name}: {result.summary()}; gunicorn CPU {cpu_ms:.1f} ms/request"
                    + (f", postgres CPU {db_ms:.1f} ms/request" if db_ms is not None else "")
                    + f", load {load_before:.1f}")
                if result.error_samples:
                    log(f"    errors: {result.error_samples}")
    finally:
        server.stop()
    return http


# --- Report --------------------------------------------------------------------------

def markdown(results: dict[str, Any]) -> str:
    d = results["data"]
    lines = [f"### {results['database_version']} — {results['what']}", "",
             "Data: " + json.dumps(d, ensure_ascii=False), "",
             f"gunicorn -w {results['workers']}, {results['machine']['cpus']} CPUs", ""]
    if results["http"]:
        lines += ["| Page | c | Requests | req/s | median ms | p95 ms | p99 ms | max ms | errors "
                  "| CPU ms/req app (+db) | load avg |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results["http"].values():
            done = f"{r['completed']}" + ("*" if r["timed_out"] else "")
            cpu = f"{r['server_cpu_ms_per_request']}"
            if r.get("postgres_cpu_ms_per_request") is not None:
                cpu += f" (+{r['postgres_cpu_ms_per_request']})"
            lines.append(f"| {r['page']} | {r['concurrency']} | {done} | {r['rps']} | "
                         f"{r['median_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} | "
                         f"{r['errors']} | {cpu} | {r['loadavg_1m_before']} |")
        if any(r["timed_out"] for r in results["http"].values()):
            lines += ["", f"\\* stopped at the {results['max_seconds']:.0f} s limit"]
    lines += ["", "| Page (in-process) | PAGE_SIZE | rows × columns | SQL queries | SQL ms "
              "| SQL ms, rows fetched | total ms | CPU ms | HTML bytes |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for size, pages in results["queries"].items():
        for name, q in pages.items():
            shown = f"{q['rows_shown']} × {q['columns']}" + (
                f" ({q['range']})" if q["range"] else "")
            lines.append(f"| {name} | {size} | {shown} | {q['queries']} | {q['sql_ms']} | "
                         f"{q['sql_ms_fetched']} | {q['in_process_ms_median']} | "
                         f"{q['in_process_cpu_ms_median']} | {q['bytes']} |")
    return "\n".join(lines)


# --- Main ----------------------------------------------------------------------------

def _int_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run_domains", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["credentials", "training", "all"])
    p.add_argument("--database", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--postgres-url", default=os.environ.get("BENCH_DOMAINS_POSTGRES_URL",
                                                            DOMAINS_POSTGRES_URL),
                   help="a database this run may DROP and CREATE (its name contains 'bench')")
    p.add_argument("--users", type=int, default=20000)
    p.add_argument("--orgs", type=int, default=200)
    p.add_argument("--large-org", type=int, default=2000, help="people in the large org")
    p.add_argument("--audit", type=int, default=100000)
    p.add_argument("--definitions", type=int, default=200)
    p.add_argument("--credentials", type=int, default=50000)
    p.add_argument("--enrolments", type=int, default=20000)
    p.add_argument("--learners", type=int, default=40,
                   help="learners taking turns at the quiz under load")
    p.add_argument("--requests", type=int, default=500, help="per page and concurrency")
    p.add_argument("--warmup", type=int, default=30, help="per run, not counted")
    p.add_argument("--concurrency", type=_int_list, default=[2, 8],
                   help="comma-separated, e.g. 2,8 (2 = one request per worker)")
    p.add_argument("--max-seconds", type=float, default=20.0,
                   help="time limit per run (the run stops early and says so)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--port", type=int, default=0, help="default: a free port")
    p.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                   help="before the HTTP runs, wait up to SECONDS for the 1-minute load "
                        "average to fall below half the CPU count")
    p.add_argument("--skip-http", action="store_true", help="only build and count queries")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)  # so `finally` stops gunicorn
    credentials = args.what in ("credentials", "all")
    training = args.what in ("training", "all")
    started = datetime.now(UTC)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    timings: dict[str, float] = {}
    sqlite_path = RESULTS_DIR / f"domains-{stamp}.sqlite3"

    run_start = t0 = time.perf_counter()
    url = fresh_sqlite(sqlite_path) if args.database == "sqlite" else \
        fresh_postgres(args.postgres_url)
    timings["fresh database"] = round(time.perf_counter() - t0, 2)
    env = server_env(url)
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    try:
        run_step("migrate", [*flask, "db", "upgrade"], env, timings)
        run_step("seed --demo", [*flask, "seed", "--demo"], env, timings)
        gen = [sys.executable, "-m", "bench.generate", "--users", str(args.users),
               "--orgs", str(args.orgs), "--large-org", str(args.large_org),
               "--audit", str(args.audit), "--database-url", url]
        if credentials:
            gen += ["--definitions", str(args.definitions),
                    "--credentials", str(args.credentials)]
        if training:
            gen += ["--enrolments", str(args.enrolments)]
        gen_out = run_step("generate", gen, env, timings)
        print("\n".join("    " + line for line in gen_out.splitlines()
                        if line.startswith(("  ", "Done"))), flush=True)
        verify = run_step("audit verify", [*flask, "audit", "verify"], env, timings).strip()
        log(verify.splitlines()[-1])

        t0 = time.perf_counter()
        targets = find_targets(url, credentials=credentials, training=training,
                               learners=args.learners, passers=PASSERS)
        timings["find targets"] = round(time.perf_counter() - t0, 2)
        log(f"targets: {json.dumps(targets.data, ensure_ascii=False)}")
        if training and len(targets.failing) < args.learners:
            log(f"WARNING: only {len(targets.failing)} learners can take the quiz")
        probes = [CONTROL, *(credential_probes(targets) if credentials else []),
                  *(training_probes(targets) if training else [])]

        log("counting SQL per page in-process (PAGE_SIZE 25 and 100)")
        t0 = time.perf_counter()
        queries = measure_queries(env, targets, probes, [25, 100])
        timings["query counts"] = round(time.perf_counter() - t0, 2)

        http: dict[str, Any] = {}
        if not args.skip_http:
            if args.wait_idle:
                wait_until_idle(args.wait_idle)
            t0 = time.perf_counter()
            http = measure_http(args, env, url, targets, probes,
                                RESULTS_DIR / f"gunicorn-domains-{stamp}.log")
            timings["http"] = round(time.perf_counter() - t0, 2)

        results = {
            "benchmark": f"domains-{args.what}",
            "what": args.what,
            "started_at": started.isoformat(timespec="seconds"),
            "database": args.database,
            "database_version": database_version(url),
            "workers": args.workers,
            "concurrency": args.concurrency,
            "requests_per_run": args.requests,
            "warmup_per_run": args.warmup,
            "max_seconds": args.max_seconds,
            "data": targets.data,
            "learners": {"failing": len(targets.failing), "passing": len(targets.passing)},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "timings_s": timings,
            "audit_verify": verify.splitlines()[-1],
            "queries": queries,
            "http": http,
        }
        out = RESULTS_DIR / f"domains-{args.what}-{args.database}-{stamp}.json"
        out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
        print()
        print(markdown(results))
        print()
        log(f"results: {out.relative_to(PROJECT_DIR)} "
            f"(whole run {time.perf_counter() - run_start:.0f} s)")
        return results
    finally:
        if not args.keep_db:
            if args.database == "sqlite":
                drop_sqlite(sqlite_path)
            else:
                drop_postgres(url)
            log("benchmark database removed (pass --keep-db to keep it)")


if __name__ == "__main__":
    main()
