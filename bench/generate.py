"""Bulk, realistic benchmark data, fast: SQLAlchemy core inserts of lists of dicts.

    python -m bench.generate --users 20000 --orgs 200 --audit 100000 \
        [--database-url URL] [--migrate] [--reset] [--demo] [--seed 42]

The database must already be migrated (or pass --migrate). Generated people are
recognisable by their email domain (``*.bench.example``); when the database already
holds some, the command refuses unless --reset is given, which empties *every* table
(demo data included; add --demo to load it again).

One small function per domain (`generate_people`, `generate_audit`, ...), each taking a
connection inside a transaction and returning what later domains need, so benchmarks
for micro-credentials and certificates can add `generate_<domain>()` and a CLI flag.

Shortcuts that keep it fast, and why they are safe:
- every generated user gets the same argon2 hash (of --password, default
  "bench-password"), hashed once;
- audit rows are not written through `audit.record()` (three statements per row) but
  computed in Python with `compute_row_hash`, continuing the chain from the current
  `audit_chain_head`, and inserted in batches; the head row is updated at the end, in
  the same transaction, so `flask --app wsgi audit verify` still passes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, inspect, select, text, update

GENERATED_EMAIL_SUFFIX = ".bench.example"
DEFAULT_PASSWORD = "bench-password"
DEFAULT_BATCH_SIZE = 2000

# Surnames are chosen so that none is a substring of another name, place or trade:
# searching for one (e.g. SEARCH_TERM) matches exactly the people who carry it.
FIRST_NAMES = [
    "Aroha", "Mere", "Tāne", "Wiremu", "Hana", "Rāwiri", "Ngaio", "Manaia", "Kiri", "Tui",
    "Olivia", "Amelia", "Isla", "Charlotte", "Harper", "Jack", "Oliver", "Noah", "Leo",
    "George", "Priya", "Arjun", "Ananya", "Rohan", "Mei", "Wei", "Jun", "Hiroshi", "Yuki",
    "Sione", "Losa", "Mele", "Tevita", "Malia", "Zoë", "Chloé", "Søren", "Björn", "Łukasz",
    "Fatima", "Omar", "Layla", "Yusuf", "Grace", "Liam", "Ethan", "Mia", "Sophie", "Ruby",
    "Daniel", "Samuel", "Joshua", "Emily", "Lucy", "Ava", "Hugo", "Felix", "Ivy", "Nina",
]
SURNAMES = [
    "Whitlock", "Ngata", "Pōneke", "Tawhiri", "Fonoti", "Brontë", "Kowalczyk", "Raman",
    "Okonkwo", "Fairbairn", "Lindqvist", "Haverford", "Quigley", "Takahashi", "Castellano",
    "Blackwood", "Ferreira", "Montgomery", "Papadakis", "Rosenthal", "Sigurdsson",
    "Thistlewood", "Vasquez", "Yamamoto", "Zielinski", "Abernethy", "Beaumont", "Carmichael",
    "Dunleavy", "Eriksen", "Galbraith", "Hollingsworth", "Iwasaki", "Jovanovic", "Kuznetsov",
    "Lachlan", "MacFarlane", "Nakamura", "Oyelaran", "Pemberton", "Quartermaine", "Radcliffe",
    "Szymanski", "Tuilagi", "Urquhart", "Vukovic", "Wetherby", "Xiong", "Yardley",
    "Zamfirescu",
]
# A surname carried by about 1 in 50 people: a search that matches a few hundred of 20,000.
SEARCH_TERM = "whitlock"

PLACES = [
    "Kauri", "Rimu", "Tōtara", "Harbour", "Summit", "Coastal", "Southern", "Northern",
    "Central", "Alpine", "Riverside", "Lakeside", "Capital", "Pacific", "Tasman", "Canterbury",
    "Waikato", "Otago", "Nelson", "Taranaki", "Hawke's Bay", "Marlborough", "Westland",
    "Rangitoto", "Ruapehu", "Aoraki", "Kāpiti", "Manawatū", "Coromandel", "Fiordland",
]
TRADES = [
    "Roofing", "Scaffolding", "Electrical", "Plumbing", "Civil Works", "Traffic Management",
    "Demolition", "Drainage", "Joinery", "Glazing", "Painting", "Concrete", "Steelworks",
    "Crane Hire", "Earthmoving", "Landscaping", "Security", "Cleaning", "Aged Care",
    "Childcare", "Logistics", "Forestry", "Surveying", "Fencing", "Insulation",
]
SUFFIXES = ["Ltd", "Limited", "Group", "Services", "& Co", "Contractors"]


# --- Helpers -------------------------------------------------------------------------

@dataclass
class Timings:
    steps: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.steps[name] = time.perf_counter() - start
            print(f"  {name:<28} {self.steps[name]:8.2f} s", flush=True)


def ascii_slug(text_: str) -> str:
    plain = unicodedata.normalize("NFKD", text_).encode("ascii", "ignore").decode("ascii")
    out = "".join(ch if ch.isalnum() else "-" for ch in plain.lower())
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")


def batched(rows: Sequence[dict[str, Any]], size: int) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """executemany of core INSERTs in batches (insertmanyvalues does the rest)."""
    for chunk in batched(rows, batch_size):
        conn.execute(insert(table), list(chunk))
    return len(rows)


def random_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = (end - start).total_seconds()
    return start + timedelta(seconds=rng.uniform(0, span))


def phone(rng: random.Random) -> str:
    return f"+64 2{rng.randint(0, 9)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return f"203.0.113.{rng.randint(1, 254)}"


# --- Database set-up -----------------------------------------------------------------

def make_app(database_url: str | None) -> Any:
    """The Flask app on `database_url` (default: DATABASE_URL, else the app's default)."""
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    # A throw-away key, so building the app never writes instance/secret_key.
    os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_hex(16))
    from app import create_app

    return create_app()


def is_migrated(engine: Engine) -> bool:
    tables = set(inspect(engine).get_table_names())
    return {"alembic_version", "users", "organizations", "audit_log"} <= tables


def generated_counts(conn: Connection) -> dict[str, int]:
    """How much generated data the database already holds, per domain."""
    from app.models import User

    return {
        "users": conn.scalar(select(func.count(User.id)).where(
            User.email.like(f"%{GENERATED_EMAIL_SUFFIX}"))) or 0,
    }


def reset_database(conn: Connection) -> None:
    """Empty every application table and put the audit chain back at its genesis."""
    from app.extensions import db
    from app.models import AuditChainHead
    from app.services.audit import GENESIS_HASH, HEAD_ID

    existing = set(inspect(conn).get_table_names())
    # Every model's table the database has (a model newer than the migrations is skipped).
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name in existing]
    if conn.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            conn.execute(table.delete())
    conn.execute(insert(AuditChainHead.__table__).values(
        id=HEAD_ID, last_seq=0, last_hash=GENESIS_HASH))


# --- Domains -------------------------------------------------------------------------

@dataclass
class People:
    organization_ids: list[int]
    user_ids: list[int]
    users: int
    organizations: int


def _organization_names(rng: random.Random, count: int) -> list[str]:
    combos = [(p, t) for p in PLACES for t in TRADES]
    rng.shuffle(combos)
    names = []
    for i in range(count):
        place, trade = combos[i % len(combos)]
        name = f"{place} {trade} {rng.choice(SUFFIXES)}"
        if i >= len(combos):
            name += f" No. {i // len(combos) + 1}"
        names.append(name)
    return names


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` split into `parts` sizes of about total/parts each (±50%)."""
    if parts == 0:
        return []
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    scale = total / sum(weights)
    sizes = [int(w * scale) for w in weights]
    for i in range(total - sum(sizes)):
        sizes[i % parts] += 1
    return sizes


def generate_people(
    conn: Connection,
    *,
    users: int,
    orgs: int,
    rng: random.Random,
    password_hash: str,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    internal_share: float = 0.01,
) -> People:
    """`orgs` organizations and `users` people: ~1% internal admins and managers, the rest
    spread over the organizations (~users/orgs each, ±50%), about 3% of them org admins
    and the rest staff; 5% inactive, 60% with a phone, 70% logged in recently."""
    from app.models import Organization, Role, User

    two_years_ago = now - timedelta(days=730)
    org_rows = []
    names = _organization_names(rng, orgs)
    for i, name in enumerate(names, start=1):
        created = random_time(rng, two_years_ago, now - timedelta(days=30))
        org_rows.append({
            "name": name,
            "slug": f"{ascii_slug(name)[:70]}-{i:04d}",
            "active": rng.random() > 0.03,
            "email_compliance_alerts": rng.random() > 0.1,
            "email_system_alerts": rng.random() > 0.2,
            "sms_credential_alerts": rng.random() < 0.3,
            "sms_critical_alerts": rng.random() < 0.4,
            "created_at": created,
            "updated_at": created,
        })
    insert_rows(conn, Organization.__table__, org_rows, batch_size)
    slugs = [row["slug"] for row in org_rows]
    org_ids: list[int] = []
    for chunk in batched([{"s": s} for s in slugs], 500):
        org_ids += conn.scalars(select(Organization.id).where(
            Organization.slug.in_([c["s"] for c in chunk]))).all()
    slug_by_id = dict(conn.execute(select(Organization.id, Organization.slug).where(
        Organization.id.in_(org_ids))).all()) if orgs else {}

    internal = max(1, round(users * internal_share)) if users else 0
    if not orgs:
        internal = users
    # (role, organization_id) for every person, then shuffled: ids do not follow orgs.
    people: list[tuple[Role, int | None]] = [
        (Role.ADMIN if rng.random() < 0.2 else Role.MANAGER, None) for _ in range(internal)
    ]
    for org_id, size in zip(org_ids, _split(users - internal, len(org_ids), rng), strict=True):
        admins = max(1, round(size * 0.03)) if size else 0
        people += [(Role.ORG_ADMIN, org_id)] * admins + [(Role.STAFF, org_id)] * (size - admins)
    rng.shuffle(people)

    user_rows = []
    for n, (role, org_id) in enumerate(people, start=1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        domain = slug_by_id[org_id] if org_id is not None else "credwright-internal"
        created = random_time(rng, two_years_ago, now - timedelta(days=1))
        logged_in = rng.random() < 0.7
        user_rows.append({
            "email": f"{ascii_slug(first)}.{ascii_slug(last)}.{n:06d}@{domain}"
                     f"{GENERATED_EMAIL_SUFFIX}",
            "name": f"{first} {last}",
            "password_hash": password_hash,
            "role": role,
            "organization_id": org_id,
            "active": rng.random() > 0.05,
            "phone": phone(rng) if rng.random() < 0.6 else None,
            "email_compliance": rng.random() > 0.1,
            "sms_critical": rng.random() < 0.2,
            "session_token": secrets.token_urlsafe(24),
            "last_login_at": random_time(rng, now - timedelta(days=90), now) if logged_in
                             else None,
            "created_at": created,
            "updated_at": random_time(rng, created, now) if rng.random() < 0.3 else created,
        })
    insert_rows(conn, User.__table__, user_rows, batch_size)
    user_ids = list(conn.scalars(select(User.id).where(
        User.email.like(f"%{GENERATED_EMAIL_SUFFIX}")).order_by(User.id)))
    return People(organization_ids=org_ids, user_ids=user_ids, users=len(user_rows),
                  organizations=len(org_rows))


# One audit event: (weight, builder(rng, actor, users, orgs) -> row fields).
AuditEvent = tuple[float, Callable[..., dict[str, Any]]]


def _audit_events() -> list[AuditEvent]:
    def login(rng, actor, admins, user_ids, org_ids):
        return {"actor": actor, "action": "LOGIN", "resource_type": "user",
                "resource_id": actor[0], "changes": {}}

    def logout(rng, actor, admins, user_ids, org_ids):
        return {"actor": actor, "action": "LOGOUT", "resource_type": "user",
                "resource_id": actor[0], "changes": {}}

    def login_failed(rng, actor, admins, user_ids, org_ids):
        return {"actor": actor, "action": "LOGIN_FAILED", "resource_type": "user",
                "resource_id": actor[0], "changes": {"reason": "bad_password"}}

    def password_change(rng, actor, admins, user_ids, org_ids):
        return {"actor": actor, "action": "PASSWORD_CHANGE", "resource_type": "user",
                "resource_id": actor[0], "changes": {}}

    def user_create(rng, actor, admins, user_ids, org_ids):
        return {"actor": rng.choice(admins), "action": "CREATE", "resource_type": "user",
                "resource_id": rng.choice(user_ids),
                "changes": {"email": f"new.person.{rng.randint(1, 10**6)}@example.com",
                            "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                            "role": "staff", "organization_id": rng.choice(org_ids or [None]),
                            "active": True, "phone": None}}

    def user_update(rng, actor, admins, user_ids, org_ids):
        changes = rng.choice([
            {"phone": [None, phone(rng)]},
            {"name": [f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                      f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"]},
            {"role": ["staff", "org_admin"]},
            {"password": ["***", "***"]},
        ])
        return {"actor": rng.choice(admins), "action": "UPDATE", "resource_type": "user",
                "resource_id": rng.choice(user_ids), "changes": changes}

    def user_active(rng, actor, admins, user_ids, org_ids):
        active = rng.random() < 0.3
        return {"actor": rng.choice(admins), "action": "REACTIVATE" if active else "DEACTIVATE",
                "resource_type": "user", "resource_id": rng.choice(user_ids),
                "changes": {"active": [not active, active]}}

    def org_update(rng, actor, admins, user_ids, org_ids):
        return {"actor": rng.choice(admins), "action": "UPDATE",
                "resource_type": "organization", "resource_id": rng.choice(org_ids or [1]),
                "changes": {"sms_critical_alerts": [False, True]}}

    def token_create(rng, actor, admins, user_ids, org_ids):
        return {"actor": actor, "action": "TOKEN_CREATE", "resource_type": "api_token",
                "resource_id": rng.randint(1, 5000),
                "changes": {"user_id": actor[0], "name": "CLI token"}}

    return [(40, login), (15, logout), (5, login_failed), (3, password_change),
            (10, user_create), (15, user_update), (4, user_active), (3, org_update),
            (5, token_create)]


def generate_audit(
    conn: Connection,
    *,
    rows: int,
    rng: random.Random,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    days: int = 365,
) -> int:
    """`rows` audit rows (logins, logouts, user and organization edits, ...) by existing
    users, timestamps increasing over the last `days` days, appended to the hash chain."""
    from app.models import AuditChainHead, AuditLog, Role, User
    from app.services.audit import GENESIS_HASH, HEAD_ID, canonical_json, compute_row_hash

    if rows <= 0:
        return 0
    actors = [tuple(r) for r in conn.execute(select(User.id, User.email, User.role))]
    if not actors:
        raise SystemExit("generate_audit needs users: generate people first")
    admins = [a for a in actors if a[2] == Role.ADMIN] or actors
    user_ids = [a[0] for a in actors]
    org_ids = list(conn.scalars(select(func.min(User.organization_id)).where(
        User.organization_id.is_not(None)).group_by(User.organization_id)))
    events = _audit_events()
    weights = [w for w, _ in events]
    builders = [b for _, b in events]

    # Take the chain's tip the way audit.record() does: update it first (row lock on
    # PostgreSQL; SQLite already holds the write lock from BEGIN IMMEDIATE).
    head = AuditChainHead.__table__
    if conn.execute(update(head).where(head.c.id == HEAD_ID)
                    .values(last_seq=head.c.last_seq)).rowcount == 0:
        conn.execute(insert(head).values(id=HEAD_ID, last_seq=0, last_hash=GENESIS_HASH))
    seq, prev_hash = conn.execute(
        select(head.c.last_seq, head.c.last_hash).where(head.c.id == HEAD_ID)).one()

    start = now - timedelta(days=days)
    step = (now - start) / rows
    batch: list[dict[str, Any]] = []
    for i in range(rows):
        seq += 1
        built = rng.choices(builders, weights)[0](
            rng, rng.choice(actors), admins, user_ids, org_ids)
        actor = built["actor"]
        created = start + step * i
        row = SimpleNamespace(
            seq=seq, actor_id=actor[0], actor_email=actor[1], action=built["action"],
            resource_type=built["resource_type"],
            resource_id=None if built["resource_id"] is None else str(built["resource_id"]),
            # Exactly what the database hands back, as audit.record() does.
            changes=json.loads(canonical_json(built["changes"])),
            ip_address=ip_address(rng), created_at=created, prev_hash=prev_hash,
        )
        row_hash = compute_row_hash(prev_hash, row)  # type: ignore[arg-type]
        batch.append({**vars(row), "row_hash": row_hash})
        prev_hash = row_hash
        if len(batch) >= batch_size:
            insert_rows(conn, AuditLog.__table__, batch, batch_size)
            batch = []
    if batch:
        insert_rows(conn, AuditLog.__table__, batch, batch_size)
    conn.execute(update(head).where(head.c.id == HEAD_ID)
                 .values(last_seq=seq, last_hash=prev_hash))
    return rows


# --- CLI -----------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20000, help="people to create")
    parser.add_argument("--orgs", type=int, default=200, help="organizations to create")
    parser.add_argument("--audit", type=int, default=100000, help="audit rows to append")
    parser.add_argument("--database-url", default=None,
                        help="default: $DATABASE_URL, else the app's SQLite file")
    parser.add_argument("--migrate", action="store_true",
                        help="run the Alembic migrations first")
    parser.add_argument("--reset", action="store_true",
                        help="empty EVERY table first (demo data too)")
    parser.add_argument("--demo", action="store_true",
                        help="load the demo data (as `flask seed --demo`) before generating")
    parser.add_argument("--seed", type=int, default=42, help="random seed (repeatable data)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--password", default=DEFAULT_PASSWORD,
                        help="every generated user's password")
    parser.add_argument("--no-analyze", action="store_true",
                        help="skip ANALYZE after loading (PostgreSQL)")
    args = parser.parse_args(argv)
    for name in ("users", "orgs", "audit"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    timings = Timings()
    app = make_app(args.database_url)
    from flask_migrate import upgrade

    from app.extensions import db
    from app.services.auth import hash_password

    with app.app_context():
        engine = db.engine
        print(f"Generating into {engine.url.render_as_string(hide_password=True)}", flush=True)
        if args.migrate:
            with timings.step("migrate"):
                upgrade()
        if not is_migrated(engine):
            sys.exit("The database is not migrated: run `flask --app wsgi db upgrade` "
                     "(with the same DATABASE_URL) or pass --migrate.")
        if args.reset:
            with timings.step("reset (empty all tables)"), engine.begin() as conn:
                reset_database(conn)
        else:
            with engine.connect() as conn:
                existing = generated_counts(conn)
            if any(existing.values()):
                sys.exit(f"The database already holds generated data ({existing}); "
                         "pass --reset to empty every table first.")
        if args.demo:
            from app import seed

            with timings.step("demo seed"):
                seed.reference_data()
                seed.demo_data()
                db.session.commit()
            db.session.remove()

        rng = random.Random(args.seed)
        now = datetime.now(UTC)
        with timings.step("hash password (once)"):
            password_hash = hash_password(args.password)
        with timings.step(f"people ({args.orgs} orgs, {args.users} users)"), \
                engine.begin() as conn:
            people = generate_people(conn, users=args.users, orgs=args.orgs, rng=rng,
                                     password_hash=password_hash, now=now,
                                     batch_size=args.batch_size)
        with timings.step(f"audit ({args.audit} rows)"), engine.begin() as conn:
            audit_rows = generate_audit(conn, rows=args.audit, rng=rng, now=now,
                                        batch_size=args.batch_size)
        if engine.dialect.name == "postgresql" and not args.no_analyze:
            with timings.step("analyze"), engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        engine.dispose()

    total = sum(timings.steps.values())
    print(f"Done in {total:.2f} s: {people.organizations} organizations, {people.users} users "
          f"(password {args.password!r}), {audit_rows} audit rows.", flush=True)
    return {"organizations": people.organizations, "users": people.users,
            "audit_rows": audit_rows, "timings": timings.steps}


if __name__ == "__main__":
    main()
