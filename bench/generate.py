"""Bulk, realistic benchmark data, fast: SQLAlchemy core inserts of lists of dicts.

    python -m bench.generate --users 20000 --orgs 200 --audit 100000 \
        [--large-org 2000] [--definitions 200 --credentials 50000] [--enrolments 20000] \
        [--database-url URL] [--migrate] [--reset] [--demo] [--seed 42]

The database must already be migrated (or pass --migrate). Generated people are
recognisable by their email domain (``*.bench.example``); when the database already
holds some, the command refuses unless --reset is given, which empties *every* table
(demo data included; add --demo to load it again).

One small function per domain (`generate_people`, `generate_audit`,
`generate_micro_credentials`, `generate_training`, ...), each taking a connection inside
a transaction and returning what later domains need; a new domain adds
`generate_<domain>()` and a CLI flag.

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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
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


def copy_dicts(conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> int:
    """COPY rows (dicts with the same keys, enums as their stored values) into a
    PostgreSQL table: several times faster than batched INSERTs for 100,000s of rows."""
    if not rows:
        return 0
    columns = list(rows[0])
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([v.value if isinstance(v, Enum) else v for v in row.values()])
    cursor.close()
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
    # The same audit key as the benchmarks' servers (run_foundation.server_env), so the
    # generated trail verifies there; never instance/audit_key.
    os.environ.setdefault("AUDIT_KEY", "bench-audit-key")
    from app import create_app

    return create_app()


def is_migrated(engine: Engine) -> bool:
    tables = set(inspect(engine).get_table_names())
    return {"alembic_version", "users", "organizations", "audit_log"} <= tables


def generated_counts(conn: Connection) -> dict[str, int]:
    """How much generated data the database already holds, per domain."""
    from app.models import Enrolment, MicroCredentialDefinition, User

    return {
        "users": conn.scalar(select(func.count(User.id)).where(
            User.email.like(f"%{GENERATED_EMAIL_SUFFIX}"))) or 0,
        "micro_credential_definitions": conn.scalar(
            select(func.count(MicroCredentialDefinition.id)).where(
                MicroCredentialDefinition.skill_standard.like(f"%{GENERATED_STANDARD_MARK}")))
        or 0,
        "enrolments": conn.scalar(
            select(func.count(Enrolment.id)).join(User, User.id == Enrolment.user_id).where(
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
    # With `large_org_users`: the organization that got them (the first one created).
    large_organization_id: int | None = None


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
    large_org_users: int = 0,
) -> People:
    """`orgs` organizations and `users` people: ~1% internal admins and managers, the rest
    spread over the organizations (~users/orgs each, ±50%), about 3% of them org admins
    and the rest staff; 5% inactive, 60% with a phone, 70% logged in recently.

    `large_org_users` > 0 gives the first organization (always active) that many people
    and spreads the rest over the others: one big customer, to stress per-org pages."""
    from app.models import Organization, Role, User

    two_years_ago = now - timedelta(days=730)
    org_rows = []
    names = _organization_names(rng, orgs)
    for i, name in enumerate(names, start=1):
        created = random_time(rng, two_years_ago, now - timedelta(days=30))
        active = rng.random() > 0.03
        org_rows.append({
            "name": name,
            "slug": f"{ascii_slug(name)[:70]}-{i:04d}",
            "active": active or (i == 1 and large_org_users > 0),
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
    if large_org_users > 0:
        org_ids.sort()  # creation order: the first organization is the large one
    slug_by_id = dict(conn.execute(select(Organization.id, Organization.slug).where(
        Organization.id.in_(org_ids))).all()) if orgs else {}

    internal = max(1, round(users * internal_share)) if users else 0
    if not orgs:
        internal = users
    # (role, organization_id) for every person, then shuffled: ids do not follow orgs.
    people: list[tuple[Role, int | None]] = [
        (Role.ADMIN if rng.random() < 0.2 else Role.MANAGER, None) for _ in range(internal)
    ]
    if large_org_users > 0 and org_ids:
        large = min(large_org_users, users - internal)
        sizes = [large, *_split(users - internal - large, len(org_ids) - 1, rng)]
    else:
        sizes = _split(users - internal, len(org_ids), rng)
    for org_id, size in zip(org_ids, sizes, strict=True):
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
    if conn.dialect.name == "postgresql":
        copy_dicts(conn, "users", user_rows)
    else:
        insert_rows(conn, User.__table__, user_rows, batch_size)
    user_ids = list(conn.scalars(select(User.id).where(
        User.email.like(f"%{GENERATED_EMAIL_SUFFIX}")).order_by(User.id)))
    return People(organization_ids=org_ids, user_ids=user_ids, users=len(user_rows),
                  organizations=len(org_rows),
                  large_organization_id=org_ids[0] if large_org_users > 0 and org_ids else None)


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


# --- Micro-credentials -------------------------------------------------------------------

# Generated definitions carry this in their skill standard ("US 23456 (bench)"), and
# generated tracks end their description with GENERATED_TRACK_NOTE.
GENERATED_STANDARD_MARK = "(bench)"
GENERATED_TRACK_NOTE = "Generated for benchmarks."

SKILLS = [
    "Working at Heights", "Scaffolding Inspection", "Asbestos Removal", "Confined Space Entry",
    "Temporary Traffic Management", "Crane Operation", "Electrical Safety", "First Aid",
    "Fall Arrest Rescue", "Roof Membrane Installation", "Metal Roofing", "Long-run Roofing",
    "Membrane Waterproofing", "Gutter and Spouting", "Solar Panel Mounting", "Chainsaw Safety",
    "Forklift Operation", "Elevating Work Platforms", "Hazardous Substances", "Welding Safety",
    "Hot Works Permit", "Excavation Safety", "Trench Shoring", "Site Supervision",
    "Quality Assurance", "Weathertightness", "Building Consent Practice", "Fire Stopping",
    "Lead Paint Removal", "Dust and Silica Control", "Manual Handling", "Noise Management",
    "Heavy Vehicle Loading", "Rigging and Dogging", "Concrete Placement", "Steel Fixing",
    "Glazing Safety", "Insulation Installation", "Plumbing Compliance", "Drainage Installation",
]
ISSUING_BODIES = ["WorkSafe NZ", "RANZ", "NZQA", "Site Safe", "BCITO", "Connexis",
                  "Te Pūkenga", "Skills Org", "EWRB", "HERA"]
# Status shares of generated staff credentials.
CREDENTIAL_STATUS_WEIGHTS = {"NOT_STARTED": 10, "IN_TRAINING": 14, "ASSESSMENT_PENDING": 8,
                             "AWARDED": 56, "EXPIRED": 12}


@dataclass
class MicroCredentials:
    definition_ids: list[int]
    definitions: int
    credentials: int
    by_status: dict[str, int]
    expiring: dict[str, int]  # awarded ones by band: overdue, 30, 60, 90


def _definition_rows(rng: random.Random, count: int, now: datetime) -> list[dict[str, Any]]:
    combos = [(skill, level) for skill in SKILLS for level in range(1, 11)]
    rng.shuffle(combos)
    rows = []
    for i in range(count):
        skill, level = combos[i % len(combos)]
        title = f"{skill} Level {level}"
        if i >= len(combos):
            title += f" No. {i // len(combos) + 1}"
        created = random_time(rng, now - timedelta(days=900), now - timedelta(days=60))
        rows.append({
            "title": title,
            "level": level,
            "skill_standard": f"US {rng.randint(10000, 33999)} {GENERATED_STANDARD_MARK}",
            "issuing_body": rng.choice(ISSUING_BODIES),
            "requirements": (f"Assessment of {skill.lower()} at level {level}: practical "
                             "observation on site and a written test."
                             if rng.random() < 0.8 else None),
            "is_default": False,
            "validity_months": rng.choice([None, 12, 24, 24, 36, 60]),
            "created_at": created,
            "updated_at": created,
        })
    return rows


def generate_micro_credentials(
    conn: Connection,
    *,
    definitions: int = 200,
    credentials: int = 50_000,
    rng: random.Random,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    catalogue: tuple[int, int] = (10, 30),
    large_catalogue: int = 50,
    large_organization_id: int | None = None,
) -> MicroCredentials:
    """`definitions` definitions (levels 1-10, a mix of issuers and validity periods) and
    `credentials` staff credentials over the generated staff and org admins, unique per
    (definition, person).

    Each organization uses a catalogue of `catalogue` (min, max) definitions (the large
    organization `large_catalogue`), some more popular than others; a credential is a
    random person and a definition from their organization's catalogue. Statuses follow
    CREDENTIAL_STATUS_WEIGHTS; awarded ones with a validity period expire on the award
    date plus that period, so that about 6% each expire within 30, 31-60 and 61-90 days
    and 2% are past their date but not yet marked EXPIRED (the nightly job's work);
    EXPIRED ones expired 1-400 days ago.
    """
    from app.models import (
        CredentialStatus,
        MicroCredentialDefinition,
        Role,
        StaffMicroCredential,
        User,
    )
    from app.services.dates import add_months

    if definitions <= 0:
        return MicroCredentials([], 0, 0, {}, {})
    def_rows = _definition_rows(rng, definitions, now)
    insert_rows(conn, MicroCredentialDefinition.__table__, def_rows, batch_size)
    defs = conn.execute(select(MicroCredentialDefinition.id,
                               MicroCredentialDefinition.validity_months)
                        .where(MicroCredentialDefinition.skill_standard.like(
                            f"%{GENERATED_STANDARD_MARK}"))
                        .order_by(MicroCredentialDefinition.id)).all()
    validity = {d.id: d.validity_months for d in defs}
    def_ids = [d.id for d in defs]

    holders = conn.execute(select(User.id, User.organization_id).where(
        User.role.in_([Role.STAFF, Role.ORG_ADMIN]), User.organization_id.is_not(None),
        User.email.like(f"%{GENERATED_EMAIL_SUFFIX}")).order_by(User.id)).all()
    if credentials > 0 and not holders:
        raise SystemExit("generate_micro_credentials needs staff: generate people first")
    admins = list(conn.scalars(select(User.id).where(User.role == Role.ADMIN))) or [None]

    # Each organization's catalogue, most popular first; popularity is global too.
    popular = def_ids[:]
    rng.shuffle(popular)
    global_weights = [1 / (rank + 1) ** 0.5 for rank in range(len(popular))]
    catalogues: dict[int, list[int]] = {}
    for org_id in sorted({h.organization_id for h in holders}):
        size = large_catalogue if org_id == large_organization_id else rng.randint(*catalogue)
        size = min(size, len(popular))
        chosen: list[int] = []
        seen: set[int] = set()
        while len(chosen) < size:
            pick = rng.choices(popular, global_weights)[0]
            if pick not in seen:
                seen.add(pick)
                chosen.append(pick)
        catalogues[org_id] = chosen
    in_catalogue_weights = {n: [1 / (j + 1) ** 0.7 for j in range(n)]
                            for n in {len(c) for c in catalogues.values()}}

    status_names = list(CREDENTIAL_STATUS_WEIGHTS)
    status_weights = list(CREDENTIAL_STATUS_WEIGHTS.values())
    today = now.date()
    taken: set[tuple[int, int]] = set()
    rows: list[dict[str, Any]] = []
    by_status: Counter[str] = Counter()
    expiring: Counter[str] = Counter()
    tries = 0
    while len(rows) < credentials and tries < credentials * 5:
        tries += 1
        user_id, org_id = rng.choice(holders)
        cat = catalogues[org_id]
        def_id = rng.choices(cat, in_catalogue_weights[len(cat)])[0]
        if (def_id, user_id) in taken:
            continue
        taken.add((def_id, user_id))
        months = validity[def_id]
        status = rng.choices(status_names, status_weights)[0]
        if status == "EXPIRED" and months is None:
            status = "AWARDED"  # a credential without a validity period never expires
        created = random_time(rng, now - timedelta(days=1100), now - timedelta(days=2))
        awarded_at = expiry = None
        if status == "AWARDED":
            if months is None:
                awarded_at = random_time(rng, created, now)
            else:
                band = rng.random()
                if band < 0.02:
                    days, expiring["overdue"] = -rng.randint(1, 20), expiring["overdue"] + 1
                elif band < 0.08:
                    days, expiring["30"] = rng.randint(1, 30), expiring["30"] + 1
                elif band < 0.14:
                    days, expiring["60"] = rng.randint(31, 60), expiring["60"] + 1
                elif band < 0.20:
                    days, expiring["90"] = rng.randint(61, 90), expiring["90"] + 1
                else:
                    days = rng.randint(91, max(91, months * 30 - 1))
                expiry = today + timedelta(days=days)
                awarded_at = datetime.combine(add_months(expiry, -months), now.timetz()) \
                    - timedelta(seconds=rng.randint(0, 86_000))
        elif status == "EXPIRED":
            expiry = today - timedelta(days=rng.randint(1, 400))
            awarded_at = datetime.combine(add_months(expiry, -months), now.timetz())
        if awarded_at is not None:
            created = min(created, awarded_at - timedelta(days=rng.randint(7, 120)))
        by_status[status] += 1
        rows.append({
            "definition_id": def_id,
            "user_id": user_id,
            "organization_id": org_id,  # the holder's (migration 0034, membership.py)
            "status": CredentialStatus(status),
            "awarded_at": awarded_at,
            "awarded_by_id": rng.choice(admins) if awarded_at is not None else None,
            "expiry_date": expiry,
            "notes": "Booked on the next assessment day." if rng.random() < 0.05 else None,
            "created_at": created,
            "updated_at": awarded_at or created,
        })
    insert_rows(conn, StaffMicroCredential.__table__, rows, batch_size)
    return MicroCredentials(definition_ids=def_ids, definitions=len(def_ids),
                            credentials=len(rows), by_status=dict(by_status),
                            expiring=dict(expiring))


# --- Training ------------------------------------------------------------------------

# (name, audience, level, validity months, enrolment share, quiz attempt limit). The first
# (largest) track's quiz has no attempt limit: a benchmark can submit it again and again.
TRACKS = [
    ("Site Safety Passport", "CLIENT_EMPLOYEE", "FOUNDATION", 24, 0.50, None),
    ("Roofing Compliance Advanced", "CLIENT_EMPLOYEE", "ADVANCED", 36, 0.25, 3),
    ("Investigations in Practice", "CLIENT_INVESTIGATOR", "INTERMEDIATE", None, 0.15, 3),
    ("Running Credwright for Your Organisation", "CLIENT_ADMIN", "FOUNDATION", 12, 0.10, 5),
    ("Internal Onboarding", "INTERNAL", "FOUNDATION", None, 0.05, 3),
    ("Advanced Investigations", "CLIENT_INVESTIGATOR", "ADVANCED", 24, 0.05, 3),
]
QUIZ_QUESTIONS = 10
PASSING_SCORE = 80
# Status shares of generated enrolments.
ENROLMENT_STATUS_WEIGHTS = {"NOT_STARTED": 20, "IN_PROGRESS": 40, "COMPLETED": 33, "FAILED": 7}


@dataclass
class Training:
    track_ids: list[int]
    quiz_course_ids: dict[int, int]  # track id -> its quiz course id
    courses: int
    enrolments: int
    course_progress: int
    quiz_attempts: int
    by_status: dict[str, int]


def quiz_questions(rng: random.Random, topic: str, count: int = QUIZ_QUESTIONS
                   ) -> list[dict[str, Any]]:
    """`count` questions in the app's shape: {"id", "type", "prompt", "options",
    "correct", "explanation"} (as training.validate_questions leaves them)."""
    questions = []
    for n in range(1, count + 1):
        kind = rng.choices(["single", "multiple", "true_false"], [6, 2, 2])[0]
        if kind == "true_false":
            options = ["True", "False"]
            correct = [rng.randint(0, 1)]
        else:
            options = [f"{topic}: option {chr(65 + i)} for question {n}"
                       for i in range(rng.randint(3, 5))]
            k = rng.randint(2, len(options) - 1) if kind == "multiple" else 1
            correct = sorted(rng.sample(range(len(options)), k))
        questions.append({
            "id": f"{rng.getrandbits(32):08x}",
            "type": kind,
            "prompt": f"{topic}, question {n}: which of these is right on a real site?",
            "options": options,
            "correct": correct,
            "explanation": f"See section {n} of the {topic} course notes.",
        })
    return questions


def _wrong_answer(rng: random.Random, question: dict[str, Any]) -> list[int]:
    others = [i for i in range(len(question["options"])) if [i] != question["correct"]]
    return [rng.choice(others)]


def generate_training(
    conn: Connection,
    *,
    enrolments: int = 20_000,
    tracks: int = 4,
    rng: random.Random,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Training:
    """`tracks` certification tracks (at most len(TRACKS)) of 3-5 courses, the last of
    each a required quiz course with QUIZ_QUESTIONS questions (pass mark 80%), and
    `enrolments` enrolments of active generated staff and org admins, shared out as
    TRACKS says (the first track gets about half), with a progress row per course (as
    `training.enrol` makes them), statuses after ENROLMENT_STATUS_WEIGHTS and consistent
    course progress, and quiz attempts (1-3 per learner who took the quiz, the last one
    passing for a completion; a FAILED enrolment used up its attempts). No audit rows,
    notifications or certificates are written for them."""
    from app.models import (
        CertificationTrack,
        ContentType,
        Course,
        CourseProgress,
        Enrolment,
        ProgressStatus,
        QuizAttempt,
        Role,
        TrackAudience,
        TrackLevel,
        User,
    )
    from app.services.dates import add_months

    P = ProgressStatus
    if enrolments <= 0 or tracks <= 0:
        return Training([], {}, 0, 0, 0, 0, {})
    specs = TRACKS[:max(1, min(tracks, len(TRACKS)))]
    created = now - timedelta(days=700)
    track_rows = [{
        "name": name, "description": f"{name}: what every learner needs. {GENERATED_TRACK_NOTE}",
        "audience": TrackAudience(audience), "level": TrackLevel(level),
        "version_major": 1, "version_minor": 0, "active": True,
        "required_for_go_live": i == 0, "estimated_hours": rng.randint(2, 12),
        "validity_months": months, "created_at": created, "updated_at": created,
    } for i, (name, audience, level, months, _, _) in enumerate(specs)]
    insert_rows(conn, CertificationTrack.__table__, track_rows, batch_size)
    track_ids = list(conn.scalars(select(CertificationTrack.id).where(
        CertificationTrack.description.like(f"%{GENERATED_TRACK_NOTE}"))
        .order_by(CertificationTrack.id)))

    # Courses: 2-4 content courses (one may be optional) then the quiz course.
    course_rows = []
    quizzes: dict[int, list[dict[str, Any]]] = {}
    for track_id, (name, _, _, _, _, limit) in zip(track_ids, specs, strict=True):
        n_content = rng.randint(2, 4)
        for order in range(1, n_content + 1):
            video = rng.random() < 0.4
            course_rows.append({
                "track_id": track_id, "title": f"{name}: part {order}",
                "description": "Read, watch, then mark it done.",
                "content_type": ContentType.VIDEO if video else ContentType.TEXT,
                "content_url": "https://example.com/training/video" if video else None,
                "content_body": None if video else "The course text.\n\nSecond paragraph.",
                "estimated_minutes": rng.choice([10, 15, 20, 30, 45]),
                "sort_order": order, "required": not (order == 2 and rng.random() < 0.3),
                "has_exam": False, "passing_score": PASSING_SCORE, "questions": [],
                "attempt_limit": None, "created_at": created, "updated_at": created,
            })
        questions = quiz_questions(rng, name)
        quizzes[track_id] = questions
        course_rows.append({
            "track_id": track_id, "title": f"{name}: final quiz",
            "description": f"{len(questions)} questions; {PASSING_SCORE}% to pass.",
            "content_type": ContentType.TEXT, "content_url": None,
            "content_body": "Answer every question, then submit.", "estimated_minutes": 20,
            "sort_order": n_content + 1, "required": True, "has_exam": True,
            "passing_score": PASSING_SCORE, "questions": questions, "attempt_limit": limit,
            "created_at": created, "updated_at": created,
        })
    insert_rows(conn, Course.__table__, course_rows, batch_size)
    course_info = conn.execute(select(Course.id, Course.track_id, Course.required,
                                      Course.has_exam, Course.attempt_limit)
                               .where(Course.track_id.in_(track_ids))
                               .order_by(Course.track_id, Course.sort_order)).all()
    courses_of: dict[int, list[Any]] = {t: [] for t in track_ids}
    for c in course_info:
        courses_of[c.track_id].append(c)
    quiz_course = {t: next(c.id for c in cs if c.has_exam) for t, cs in courses_of.items()}

    learners = list(conn.scalars(select(User.id).where(
        User.role.in_([Role.STAFF, Role.ORG_ADMIN]), User.active.is_(True),
        User.email.like(f"%{GENERATED_EMAIL_SUFFIX}")).order_by(User.id)))
    if not learners:
        raise SystemExit("generate_training needs staff: generate people first")
    shares = [spec[4] for spec in specs]
    counts = [min(len(learners), int(enrolments * s / sum(shares))) for s in shares]
    counts[0] = min(len(learners), counts[0] + enrolments - sum(counts))

    names = list(ENROLMENT_STATUS_WEIGHTS)
    weights = list(ENROLMENT_STATUS_WEIGHTS.values())
    enrol_rows: list[dict[str, Any]] = []
    plan: dict[tuple[int, int], str] = {}
    for track_id, spec, count in zip(track_ids, specs, counts, strict=True):
        months, limit = spec[3], spec[5]
        for user_id in rng.sample(learners, count):
            status = rng.choices(names, weights)[0]
            if status == "FAILED" and limit is None:
                status = "IN_PROGRESS"  # no limit: a learner can always try again
            enrolled = random_time(rng, now - timedelta(days=540), now - timedelta(days=1))
            started = (random_time(rng, enrolled, now) if status != "NOT_STARTED" else None)
            completed = (random_time(rng, started, now)
                         if status == "COMPLETED" and started else None)
            plan[(user_id, track_id)] = status
            enrol_rows.append({
                "user_id": user_id, "track_id": track_id, "status": P(status),
                "started_at": started, "completed_at": completed,
                "completed_version": "1.0" if completed else None,
                "expires_at": add_months(completed.date(), months)
                              if completed and months else None,
                "created_at": enrolled, "updated_at": completed or started or enrolled,
            })
    insert_rows(conn, Enrolment.__table__, enrol_rows, batch_size)
    enrolled_rows = conn.execute(select(Enrolment.id, Enrolment.user_id, Enrolment.track_id,
                                        Enrolment.started_at, Enrolment.completed_at)
                                 .where(Enrolment.track_id.in_(track_ids))).all()

    # Course progress, one row per course, consistent with the enrolment's status.
    progress_rows: list[dict[str, Any]] = []
    attempts_plan: dict[tuple[int, int], tuple[int, bool]] = {}  # (enrolment, course)
    for e in enrolled_rows:
        status = plan.get((e.user_id, e.track_id))
        if status is None:
            continue  # not ours (a demo enrolment)
        cs = courses_of[e.track_id]
        content = [c for c in cs if not c.has_exam]
        if status == "IN_PROGRESS":
            done_content = rng.randint(0, len(content))
        else:
            done_content = len(content) if status in ("COMPLETED", "FAILED") else 0
        start = e.started_at or now
        end = e.completed_at or now
        for index, c in enumerate(cs):
            row = {"enrolment_id": e.id, "course_id": c.id, "status": P.NOT_STARTED,
                   "started_at": None, "completed_at": None, "exam_score": None,
                   "exam_attempts": 0, "attempt_cycle": 0, "created_at": e.started_at or now,
                   "updated_at": e.completed_at or e.started_at or now}
            if not c.has_exam:
                if index < done_content and (c.required or rng.random() < 0.5):
                    row.update(status=P.COMPLETED, started_at=start,
                               completed_at=random_time(rng, start, end))
                elif index == done_content and status == "IN_PROGRESS":
                    row.update(status=P.IN_PROGRESS, started_at=start)
            else:
                limit = c.attempt_limit
                if status == "COMPLETED":
                    n = rng.choices([1, 2, 3], [70, 22, 8])[0]
                    n = min(n, limit or n)
                    row.update(status=P.COMPLETED, started_at=start, completed_at=end,
                               exam_score=float(rng.choice([80, 90, 90, 100])),
                               exam_attempts=n)
                    attempts_plan[(e.id, c.id)] = (n, True)
                elif status == "FAILED":
                    row.update(status=P.FAILED, started_at=start,
                               exam_score=float(rng.choice([40, 50, 60, 70])),
                               exam_attempts=limit or 3)
                    attempts_plan[(e.id, c.id)] = (limit or 3, False)
                elif status == "IN_PROGRESS" and done_content == len(content) \
                        and rng.random() < 0.6:
                    n = rng.randint(1, 2 if limit is None else max(1, min(2, limit - 1)))
                    row.update(status=P.IN_PROGRESS, started_at=start,
                               exam_score=float(rng.choice([30, 50, 60, 70])), exam_attempts=n)
                    attempts_plan[(e.id, c.id)] = (n, False)
            progress_rows.append(row)
    insert_rows(conn, CourseProgress.__table__, progress_rows, batch_size)

    # Quiz attempts for the progress rows that took the quiz.
    quiz_ids = list(quiz_course.values())
    track_of_course = {c.id: c.track_id for c in course_info}
    attempt_rows: list[dict[str, Any]] = []
    for pid, enrolment_id, course_id, best, started in conn.execute(
            select(CourseProgress.id, CourseProgress.enrolment_id, CourseProgress.course_id,
                   CourseProgress.exam_score, CourseProgress.started_at)
            .where(CourseProgress.course_id.in_(quiz_ids), CourseProgress.exam_attempts > 0)):
        planned = attempts_plan.get((enrolment_id, course_id))
        if planned is None:
            continue
        n, passed_last = planned
        questions = quizzes[track_of_course[course_id]]
        when = started or now
        for number in range(1, n + 1):
            passed = passed_last and number == n
            lower = [v for v in (30.0, 40.0, 50.0, 60.0, 70.0) if v <= best] or [best]
            score = best if number == n else rng.choice(lower)
            wrong_n = round(len(questions) * (100 - score) / 100)
            wrong = {q["id"] for q in rng.sample(questions, wrong_n)}
            when = when + timedelta(minutes=rng.randint(5, 4000))
            attempt_rows.append({
                "course_progress_id": pid, "cycle": 0, "attempt_number": number,
                "track_version": "1.0",
                "answers": {q["id"]: (_wrong_answer(rng, q) if q["id"] in wrong
                                      else q["correct"]) for q in questions},
                "score": score, "passed": passed,
                "wrong_question_ids": [q["id"] for q in questions if q["id"] in wrong],
                "started_at": when - timedelta(minutes=rng.randint(3, 25)),
                "submitted_at": min(when, now),
            })
    insert_rows(conn, QuizAttempt.__table__, attempt_rows, batch_size)
    return Training(track_ids=track_ids, quiz_course_ids=quiz_course, courses=len(course_rows),
                    enrolments=len(enrol_rows), course_progress=len(progress_rows),
                    quiz_attempts=len(attempt_rows),
                    by_status=dict(Counter(plan.values())))


# --- Certificates --------------------------------------------------------------------

# Generated certificate tracks end their description with this (not GENERATED_TRACK_NOTE,
# so generate_training's lookups never pick them up).
GENERATED_CERT_TRACK_NOTE = "Generated for the certificate benchmark."
# (track name, validity months, course titles). With 20,000 people, 1,000,000 certificates
# is ~50 each: the catalogue must offer enough (subject, type) pairs for one live
# certificate per person, subject and type.
CERT_TRACKS = [
    ("Site Safety Passport", 24, ["Hazard identification", "Site induction",
                                  "Incident reporting", "Safe work method statements",
                                  "Emergency procedures"]),
    ("Roofing Compliance Essentials", 24, ["The Building Act", "Working at height",
                                           "Roof membranes", "Flashings and penetrations",
                                           "Records of work"]),
    ("Scaffolding Inspection", 12, ["Scaffold types", "Tagging and handover",
                                    "Load classes", "Ties and bracing", "Inspection records"]),
    ("Temporary Traffic Management", 36, ["Traffic management plans", "Signs and devices",
                                          "Stop/go operation", "Mobile closures",
                                          "Site audits"]),
    ("Asbestos Awareness", 12, ["Where asbestos hides", "Licensed removal",
                                "Air monitoring", "Decontamination", "Waste disposal"]),
    ("Confined Space Entry", 24, ["Permits", "Gas testing", "Ventilation",
                                  "Rescue planning", "Standby duties"]),
    ("Electrical Safety on Site", 36, ["Isolation and lock-out", "Portable appliances",
                                       "Overhead lines", "Underground services",
                                       "Residual current devices"]),
    ("First Aid at Work", 24, ["Primary survey", "CPR and AED", "Bleeding and shock",
                               "Burns and fractures", "Incident records"]),
    ("Plant and Machinery", None, ["Pre-start checks", "Excavator basics",
                                   "Telehandler basics", "Exclusion zones",
                                   "Refuelling safely"]),
    ("Site Supervision", None, ["Toolbox talks", "Subcontractor management",
                                "Quality assurance", "Consent inspections",
                                "Close-out and handover"]),
    ("Investigations in Practice", None, ["Evidence handling", "Interviewing",
                                          "Root cause analysis", "Writing findings",
                                          "Corrective actions"]),
    ("Hazardous Substances", 36, ["Safety data sheets", "Storage and segregation",
                                  "Spill response", "Exposure monitoring",
                                  "Certified handlers"]),
]
CERT_STATUS_WEIGHTS = {"ISSUED": 95.0, "REVOKED": 2.8, "PENDING": 1.4, "REJECTED": 0.8}
CERT_TYPE_WEIGHTS = {"COMPLETION": 70, "MASTERY": 20, "TEACHING": 10}
CERT_MAX_PER_YEAR = 99_999  # CERT-YYYY-NNNNN: five digits a year
CERT_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # as certificates.new_verification_code
# base32's alphabet (A-Z, 2-7) onto Crockford's, for codes made from random bytes.
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CERT_CODE_ALPHABET.encode())
CERT_COPY_COLUMNS = (
    "number", "type", "status", "recipient_id", "course_id", "track_id", "live_key",
    "issued_at", "issued_by_id", "expires_at", "recommended_by_id", "recommended_at", "notes",
    "progress_percent", "sessions_attended", "average_rating", "rejection_reason",
    "revocation_reason", "revocation_category", "revoked_at", "revoked_by_id", "snapshot",
    "verification_id", "verification_code", "created_at", "updated_at",
)
_REVOCATIONS = [("issued_in_error", "Issued before the assessment was marked.", 35),
                ("requirements_not_met", "The practical assessment was not signed off.", 25),
                ("superseded", "Re-issued with current details.", 30),
                ("misconduct", "Assessment evidence was not the learner's own.", 4),
                ("other", "Withdrawn at the employer's request.", 6)]
_REJECTIONS = ["Needs to finish the course first.", "Attendance below the minimum.",
               "Assessment evidence missing.", "Duplicate request."]


@dataclass
class Certificates:
    certificates: int
    track_ids: list[int]
    course_ids: list[int]
    by_status: dict[str, int]
    by_type: dict[str, int]
    numbered_by_year: dict[int, int]  # numbers given per year (CERT-YYYY-00001...)
    recipients: int
    timings: dict[str, float]


def _certificate_catalogue(conn: Connection, rng: random.Random, now: datetime,
                           tracks: int, batch_size: int) -> list[dict[str, Any]]:
    """`tracks` generated tracks of 5 courses each; [{id, name, version, validity,
    courses: [(id, title)]}]."""
    from app.models import CertificationTrack, ContentType, Course, TrackAudience, TrackLevel

    specs = CERT_TRACKS[:max(1, min(tracks, len(CERT_TRACKS)))]
    created = now - timedelta(days=365 * 12)
    insert_rows(conn, CertificationTrack.__table__, [{
        "name": name, "description": f"{name}. {GENERATED_CERT_TRACK_NOTE}",
        "audience": TrackAudience.CLIENT_EMPLOYEE, "level": TrackLevel.FOUNDATION,
        "version_major": rng.randint(1, 3), "version_minor": rng.randint(0, 4), "active": True,
        "required_for_go_live": False, "estimated_hours": rng.randint(2, 12),
        "validity_months": months, "created_at": created, "updated_at": created,
    } for name, months, _ in specs], batch_size)
    rows = conn.execute(select(CertificationTrack.id, CertificationTrack.name,
                               CertificationTrack.version_major,
                               CertificationTrack.version_minor,
                               CertificationTrack.validity_months)
                        .where(CertificationTrack.description.like(
                            f"%{GENERATED_CERT_TRACK_NOTE}"))
                        .order_by(CertificationTrack.id)).all()
    course_rows = []
    for track, (_, _, titles) in zip(rows, specs, strict=True):
        for order, title in enumerate(titles, start=1):
            course_rows.append({
                "track_id": track.id, "title": title, "description": f"{track.name}: {title}.",
                "content_type": ContentType.TEXT, "content_url": None,
                "content_body": "The course text.", "estimated_minutes": 30,
                "sort_order": order, "required": True, "has_exam": False,
                "passing_score": 80, "questions": [], "attempt_limit": None,
                "created_at": created, "updated_at": created})
    insert_rows(conn, Course.__table__, course_rows, batch_size)
    courses: dict[int, list[tuple[int, str]]] = {t.id: [] for t in rows}
    for cid, tid, title in conn.execute(select(Course.id, Course.track_id, Course.title)
                                        .where(Course.track_id.in_(list(courses)))
                                        .order_by(Course.track_id, Course.sort_order)):
        courses[tid].append((cid, title))
    return [{"id": t.id, "name": t.name, "version": f"{t.version_major}.{t.version_minor}",
             "validity": t.validity_months, "courses": courses[t.id]} for t in rows]


def _certificate_years(numbered: int, existing: dict[int, int], now: datetime
                       ) -> dict[int, int]:
    """How many numbers to give in each year, ending this year (part of it elapsed), with
    mild growth, and never more than CERT_MAX_PER_YEAR in a year (counting `existing`)."""
    elapsed = (now - datetime(now.year, 1, 1, tzinfo=now.tzinfo)) / timedelta(days=365)
    years = 3
    while True:
        first = now.year - years + 1
        weights = {y: (1 + 0.08 * (y - first)) * (elapsed if y == now.year else 1.0)
                   for y in range(first, now.year + 1)}
        total = sum(weights.values())
        plan = {y: int(numbered * w / total) for y, w in weights.items()}
        for i in range(numbered - sum(plan.values())):
            plan[first + i % years] += 1
        if all(n + existing.get(y, 0) <= CERT_MAX_PER_YEAR for y, n in plan.items()):
            return plan
        years += 1


def _pg_detach_indexes(conn: Connection, table: str) -> list[str]:
    """Drop `table`'s unique constraints and secondary indexes (not its primary key);
    returns the statements that put them back as they were. Building an index once
    after a bulk load is several times faster than updating it row by row."""
    constraints = conn.execute(text(
        "select conname, pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = cast(:t as regclass) and contype = 'u' order by conname"),
        {"t": table}).all()
    restore = [f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'
               for name, definition in constraints]
    for name, _ in constraints:
        conn.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
    indexes = conn.execute(text(
        "select i.relname, pg_get_indexdef(i.oid) from pg_index x "
        "join pg_class i on i.oid = x.indexrelid "
        "where x.indrelid = cast(:t as regclass) and not x.indisprimary "
        "and not exists (select 1 from pg_constraint c where c.conindid = i.oid) "
        "order by i.relname"), {"t": table}).all()
    restore += [definition for _, definition in indexes]
    for name, _ in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return restore


def _pg_orphans(conn: Connection, table: str) -> dict[str, int]:
    """Rows of `table` whose single-column foreign keys point nowhere, per constraint:
    the triggers' check, done once for the whole table."""
    fks = conn.execute(text(
        "select c.conname, a.attname, r.relname, ra.attname from pg_constraint c "
        "join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1] "
        "join pg_class r on r.oid = c.confrelid "
        "join pg_attribute ra on ra.attrelid = c.confrelid and ra.attnum = c.confkey[1] "
        "where c.conrelid = cast(:t as regclass) and c.contype = 'f' "
        "and cardinality(c.conkey) = 1"), {"t": table}).all()
    out = {}
    for name, column, ref_table, ref_column in fks:
        # Names from the catalogue, not from input.
        query = (f'select count(*) from "{table}" t where t."{column}" is not null and '  # noqa: S608
                 f'not exists (select 1 from "{ref_table}" r where r."{ref_column}" = '
                 f't."{column}")')
        out[name] = conn.scalar(text(query)) or 0
    return out


def _pg_bulk_copy(conn: Connection, table: str, columns: Sequence[str],
                  rows: list[tuple[Any, ...]], *, fast: bool, timings: dict[str, float],
                  started: float) -> None:
    """COPY rows into a PostgreSQL table. With `fast`, its indexes are dropped first and
    rebuilt after, and (as superuser) triggers are off during the load, the foreign keys
    being checked once at the end instead of per row."""
    restore: list[str] = []
    replica = False
    if fast:
        restore = _pg_detach_indexes(conn, table)
        if conn.scalar(text("select rolsuper from pg_roles where rolname = current_user")):
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            replica = True
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.close()
    timings["copy"] = time.perf_counter() - started
    if replica:
        t1 = time.perf_counter()
        conn.execute(text("SET LOCAL session_replication_role = origin"))
        orphans = {k: v for k, v in _pg_orphans(conn, table).items() if v}
        if orphans:
            raise RuntimeError(f"generated {table} break foreign keys: {orphans}")
        timings["foreign key check"] = time.perf_counter() - t1
    if restore:
        t1 = time.perf_counter()
        conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for statement in restore:
            conn.execute(text(statement))
        timings["indexes"] = time.perf_counter() - t1


def generate_certificates(
    conn: Connection,
    *,
    count: int,
    rng: random.Random,
    now: datetime,
    tracks: int = len(CERT_TRACKS),
    batch_size: int = DEFAULT_BATCH_SIZE,
    issuer: str = "Credwright",
    analyze: bool = True,
    fast: bool = True,
) -> Certificates:
    """`count` certificates of the generated staff and org admins, over `tracks` generated
    tracks of 5 courses (COMPLETION of a track or a course, MASTERY and TEACHING of a
    course), as the app would have left them:

    - statuses after CERT_STATUS_WEIGHTS (mostly ISSUED; REVOKED with a category and
      reason, PENDING recommendations of the last 60 days, REJECTED with a reason);
    - issued and revoked ones have a number CERT-YYYY-NNNNN, unique and gapless per year
      in issue order, continuing `certificate_counters` (which is moved on to match),
      over as many years (ending now) as keep every year under 100,000 numbers; an
      issue date, an expiry from the track's validity, a random verification id
      (`secrets.token_urlsafe(24)`), a verification code and the snapshot `_snapshot()`
      writes at issue;
    - `live_key` set for PENDING and ISSUED only; each person's certificates are for
      distinct (subject, type) pairs, so it is unique;
    - rows are inserted in creation order (ids follow time, as in production).

    Not filled: `credential_jws` (an Ed25519 signature each, ~80 us: 80 s per million
    here), `pdf_key`/`pdf_sha256` (no PDFs are rendered). On PostgreSQL the rows go in
    with COPY, and `ANALYZE certificates` runs at the end (`analyze`). With `fast` (the
    default) it also, inside the same transaction, drops the table's unique constraints
    and secondary indexes and builds them again after the COPY, and, when connected as a
    superuser, skips the per-row foreign-key triggers (`session_replication_role =
    replica`) and checks every foreign key once for the whole table afterwards instead
    (an orphan raises, rolling everything back). Python's cyclic GC is paused while the
    rows are built (a million tuples would otherwise be traversed again and again)."""
    with _gc_paused():
        return _generate_certificates(conn, count=count, rng=rng, now=now, tracks=tracks,
                                      batch_size=batch_size, issuer=issuer, analyze=analyze,
                                      fast=fast)


@contextmanager
def _gc_paused() -> Iterator[None]:
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _generate_certificates(conn: Connection, *, count: int, rng: random.Random, now: datetime,
                           tracks: int, batch_size: int, issuer: str, analyze: bool,
                           fast: bool) -> Certificates:
    from base64 import b32encode

    from app.models import Certificate, CertificateCounter, Role, User
    from app.services.dates import add_months

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    catalogue = _certificate_catalogue(conn, rng, now, tracks, batch_size)
    holders = conn.execute(select(User.id, User.name).where(
        User.role.in_([Role.STAFF, Role.ORG_ADMIN]),
        User.email.like(f"%{GENERATED_EMAIL_SUFFIX}")).order_by(User.id)).all()
    if count > 0 and not holders:
        raise SystemExit("generate_certificates needs staff: generate people first")
    admins = conn.execute(select(User.id, User.name).where(User.role == Role.ADMIN)
                          .order_by(User.id)).all()
    if not admins:
        raise SystemExit("generate_certificates needs an admin (seed or generate people)")

    # (kind, subject id, track) pairs per type: a track's completion, or a course's.
    subjects: dict[str, list[tuple[str, int, dict[str, Any], str]]] = {
        "COMPLETION": [("track", t["id"], t, t["name"]) for t in catalogue],
        "MASTERY": [], "TEACHING": []}
    for t in catalogue:
        for cid, title in t["courses"]:
            for type_ in subjects:
                subjects[type_].append(("course", cid, t, title))
    type_names = list(CERT_TYPE_WEIGHTS)
    type_weights = list(CERT_TYPE_WEIGHTS.values())
    capacity = {k: len(v) for k, v in subjects.items()}
    if count > len(holders) * sum(capacity.values()) * 0.8:
        raise SystemExit(f"{count} certificates is too many for {len(holders)} people and "
                         f"{len(catalogue)} tracks (one live certificate per subject/type)")

    # How many of each type each person holds: lognormal sizes, capped per type.
    sizes = [rng.lognormvariate(0, 0.5) for _ in holders]
    scale = count / sum(sizes)
    per_person = [[0, 0, 0] for _ in holders]
    placed = 0
    for i, size in enumerate(sizes):
        for t in rng.choices(range(3), type_weights, k=int(size * scale)):
            if per_person[i][t] < capacity[type_names[t]]:
                per_person[i][t] += 1
                placed += 1
    while placed < count:
        i, t = rng.randrange(len(holders)), rng.choices(range(3), type_weights)[0]
        if per_person[i][t] < capacity[type_names[t]]:
            per_person[i][t] += 1
            placed += 1

    status_names = list(CERT_STATUS_WEIGHTS)
    statuses = iter(rng.choices(status_names, list(CERT_STATUS_WEIGHTS.values()), k=count))
    plan: list[tuple[int, str, tuple[str, int, dict[str, Any], str], str]] = []
    for (user_id, _name), counts in zip(holders, per_person, strict=True):
        for type_, n in zip(type_names, counts, strict=True):
            if n:
                for subject in rng.sample(subjects[type_], n):
                    plan.append((user_id, type_, subject, next(statuses)))
    rng.shuffle(plan)
    names = dict(holders)
    by_status = Counter(p[3] for p in plan)
    numbered = by_status["ISSUED"] + by_status["REVOKED"]

    # Issue moments and numbers: per year, sorted times get 1, 2, 3... after the counter.
    existing = dict(conn.execute(select(CertificateCounter.year,
                                        CertificateCounter.last_number)).all())
    years = _certificate_years(numbered, existing, now)
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    stamps: list[tuple[datetime, str]] = []
    last_number: dict[int, int] = {}
    for year, n in years.items():
        start = datetime(year, 1, 1)
        span = (min(datetime(year + 1, 1, 1), naive_now) - start).total_seconds()
        moments = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(n))
        base = existing.get(year, 0)
        stamps += [(m, f"CERT-{year}-{base + k:05d}") for k, m in enumerate(moments, 1)]
        last_number[year] = base + n
    rng.shuffle(stamps)
    stamp_iter = iter(stamps)
    timings["plan"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rows: list[tuple[Any, ...]] = []
    dumps = json.dumps
    token = secrets.token_urlsafe
    choices = rng.choices
    randbytes = rng.randbytes
    revocations = [r[:2] for r in _REVOCATIONS]
    revocation_weights = [r[2] for r in _REVOCATIONS]
    span_all = (naive_now - datetime(min(years), 1, 1)).total_seconds()
    for user_id, type_, (kind, subject_id, track, title), status in plan:
        course_id = subject_id if kind == "course" else None
        track_id = subject_id if kind == "track" else None
        live_key = (f"{user_id}:{course_id or '-'}:{track_id or '-'}:{type_}"
                    if status in ("ISSUED", "PENDING") else None)
        number = issued_at = issued_by = expires = rec_at = rec_by = None
        verification_id = code = revoked_at = revoked_by = category = reason = None
        rejection = notes = progress = None
        snapshot: dict[str, Any] = {}
        if status in ("ISSUED", "REVOKED"):
            issued_at, number = next(stamp_iter)
            admin_id, admin_name = admins[rng.randrange(len(admins))]
            issued_by = admin_id
            if track["validity"]:
                expires = add_months(issued_at.date(), track["validity"])
            created = issued_at
            if rng.random() < 0.4:  # recommended or requested first, then approved
                rec_at = issued_at - timedelta(seconds=rng.uniform(3600, 14 * 86400))
                created = rec_at
                progress = 100.0
                if kind == "track":
                    notes = f"Completed version {track['version']}."
            verification_id = token(24)
            code = b32encode(randbytes(7))[:10].translate(_CROCKFORD).decode()
            code = f"{code[:5]}-{code[5:]}"
            snapshot = {
                "number": number, "recipient_name": names[user_id], "type": type_,
                "type_label": type_.title(), "subject": title, "subject_kind": kind,
                "track": track["name"], "version": track["version"],
                "issued_on": issued_at.date().isoformat(),
                "expires_on": expires.isoformat() if expires else None,
                "issuer": issuer, "issued_by": admin_name,
            }
            updated = issued_at
            if status == "REVOKED":
                category, reason = choices(revocations, revocation_weights)[0]
                revoked_at = min(naive_now, issued_at + timedelta(
                    seconds=rng.uniform(3600, 400 * 86400)))
                revoked_by = admin_id
                updated = revoked_at
        else:
            if status == "PENDING":
                rec_at = naive_now - timedelta(seconds=rng.uniform(600, 60 * 86400))
            else:
                rec_at = datetime(min(years), 1, 1) + timedelta(
                    seconds=rng.uniform(0, span_all))
                rejection = rng.choice(_REJECTIONS)
            created = rec_at
            updated = rec_at if status == "PENDING" else min(
                naive_now, rec_at + timedelta(days=rng.randint(1, 10)))
            progress = 100.0 if kind == "track" else float(rng.choice([50, 100, 100]))
            notes = "Led the group exercise well." if rng.random() < 0.3 else None
            rec_by = admins[rng.randrange(len(admins))][0] if kind == "course" else None
        rows.append((number, type_, status, user_id, course_id, track_id, live_key, issued_at,
                     issued_by, expires, rec_by, rec_at, notes, progress,
                     None if rec_by is None else rng.randint(1, 4), None, rejection, reason,
                     category, revoked_at, revoked_by, dumps(snapshot), verification_id,
                     code, created, updated))
    created_index = CERT_COPY_COLUMNS.index("created_at")
    rows.sort(key=lambda r: r[created_index])
    timings["build rows"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    table = Certificate.__table__
    if conn.dialect.name == "postgresql":
        _pg_bulk_copy(conn, "certificates", CERT_COPY_COLUMNS, rows, fast=fast,
                      timings=timings, started=t0)
    else:
        datetime_columns = {i for i, c in enumerate(CERT_COPY_COLUMNS)
                            if c in ("issued_at", "recommended_at", "revoked_at",
                                     "created_at", "updated_at")}
        snapshot_index = CERT_COPY_COLUMNS.index("snapshot")

        def as_dict(row: tuple[Any, ...]) -> dict[str, Any]:
            out = dict(zip(CERT_COPY_COLUMNS, row, strict=True))
            for i in datetime_columns:
                if row[i] is not None:
                    out[CERT_COPY_COLUMNS[i]] = row[i].replace(tzinfo=UTC)
            out["snapshot"] = json.loads(row[snapshot_index])
            return out

        for start in range(0, len(rows), batch_size):
            conn.execute(insert(table), [as_dict(r) for r in rows[start:start + batch_size]])
        timings["insert"] = time.perf_counter() - t0
    del rows

    counters = CertificateCounter.__table__
    for year, last in last_number.items():
        if year in existing:
            conn.execute(update(counters).where(counters.c.year == year)
                         .values(last_number=last))
        else:
            conn.execute(insert(counters).values(year=year, last_number=last))
    if analyze and conn.dialect.name == "postgresql":
        t0 = time.perf_counter()
        conn.execute(text("ANALYZE certificates"))
        timings["analyze"] = time.perf_counter() - t0
    return Certificates(
        certificates=len(plan), track_ids=[t["id"] for t in catalogue],
        course_ids=[c[0] for t in catalogue for c in t["courses"]],
        by_status=dict(by_status), by_type=dict(Counter(p[1] for p in plan)),
        numbered_by_year=years, recipients=sum(1 for c in per_person if sum(c)),
        timings={k: round(v, 2) for k, v in timings.items()})


# --- Certificates in the database itself (10M and more) ----------------------------------

# The Python path above builds every row as a tuple (~40 us each) and keeps them all in
# memory: fine for a million, not for ten. This one has PostgreSQL make the rows from a
# narrow plan (INSERT ... SELECT), with the same catalogue, people, statuses, types,
# numbering, snapshot and dates; Python only solves how likely each pair is.
CERT_SQL_MAX_YEARS = 13  # numbers go over five digits (CERT-2025-123456) beyond that


def _certificate_year_plan(numbered: int, existing: dict[int, int], now: datetime
                           ) -> dict[int, int]:
    """_certificate_years, but over at most CERT_SQL_MAX_YEARS years: at 10M a year holds
    ~770,000 numbers, six digits (the app's `{n:05d}` writes them so)."""
    elapsed = (now - datetime(now.year, 1, 1, tzinfo=now.tzinfo)) / timedelta(days=365)
    for years in range(3, CERT_SQL_MAX_YEARS + 1):
        first = now.year - years + 1
        weights = {y: (1 + 0.08 * (y - first)) * (elapsed if y == now.year else 1.0)
                   for y in range(first, now.year + 1)}
        total = sum(weights.values())
        plan = {y: numbered * w / total for y, w in weights.items()}
        if all(n + existing.get(y, 0) <= CERT_MAX_PER_YEAR for y, n in plan.items()):
            break
    return {y: int(n) for y, n in plan.items()}


def _acceptance(weights: Sequence[float], pairs: int, target: float) -> float:
    """p such that sum(min(1, p * w) for w in weights) * pairs == target (bisection)."""
    low, high = 0.0, 1.0
    while sum(min(1.0, high * w) for w in weights) * pairs < target:
        high *= 2
        if high > 1e6:
            raise SystemExit("too many certificates for these people and subjects")
    for _ in range(40):
        mid = (low + high) / 2
        if sum(min(1.0, mid * w) for w in weights) * pairs < target:
            low = mid
        else:
            high = mid
    return high


def generate_certificates_sql(
    conn: Connection,
    *,
    count: int,
    seed: int,
    now: datetime,
    tracks: int = len(CERT_TRACKS),
    issuer: str = "Credwright",
    analyze: bool = True,
) -> Certificates:
    """`count` certificates made by PostgreSQL itself, in one transaction; the data of
    `generate_certificates` (same catalogue, holders, status and type shares, numbering
    per year in issue order continuing the counters, snapshot, verification id and code,
    revocations, rejections, recommendations, ids following creation time), at ~8x its
    speed and in constant client memory:

    1. the catalogue (Python, as above) and three small temporary tables: the 192
       (subject, type) pairs, the holders with a lognormal size each, the admins;
    2. the plan: every (holder, pair) kept with probability min(1, p_type * size), p_type
       solved in Python so each type gets its share of `count` (so a person never holds
       two certificates of one subject and type: `live_key` stays unique); the few rows
       over `count` dropped at random;
    3. times and dates from random draws (a year for each issued or revoked one, weighted
       by the year's share, then a moment in it);
    4. `INSERT ... SELECT` with ids in creation order and numbers from `row_number()` per
       year in issue order, indexes dropped first and rebuilt after, foreign-key triggers
       off (superuser) and checked once, as `_pg_bulk_copy` does; the counters moved on.

    Random draws are PostgreSQL's `random()` seeded with `setseed` (repeatable on the
    same server version) and `gen_random_uuid()` for the verification ids (unique)."""
    from app.models import CertificateCounter, Role

    if conn.dialect.name != "postgresql":
        raise SystemExit("generate_certificates_sql needs PostgreSQL (use "
                         "generate_certificates)")
    timings: dict[str, float] = {}
    rng = random.Random(seed)
    t0 = time.perf_counter()
    catalogue = _certificate_catalogue(conn, rng, now, tracks, DEFAULT_BATCH_SIZE)
    conn.execute(text("SET LOCAL work_mem = '1GB'"))
    conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
    conn.execute(text("SET LOCAL synchronize_seqscans = off"))
    conn.execute(text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000})
    conn.execute(text(
        "CREATE TEMP TABLE bench_pairs (pair_no int PRIMARY KEY, type text, kind text, "
        "course_id int, track_id int, track_name text, version text, validity int, "
        "title text, p float8) ON COMMIT DROP"))
    pairs: list[dict[str, Any]] = []
    for t in catalogue:
        pairs.append({"type": "COMPLETION", "kind": "track", "course_id": None,
                      "track_id": t["id"], "title": t["name"], "t": t})
        for cid, title in t["courses"]:
            for type_ in CERT_TYPE_WEIGHTS:
                pairs.append({"type": type_, "kind": "course", "course_id": cid,
                              "track_id": None, "title": title, "t": t})
    holders = conn.execute(text(
        "CREATE TEMP TABLE bench_holders ON COMMIT DROP AS "
        "SELECT id AS user_id, name, exp(0.5 * sqrt(-2 * ln(1 - random())) "
        "* cos(2 * pi() * random())) AS w FROM users "
        "WHERE role IN (:staff, :org_admin) AND email LIKE :mark ORDER BY id"),
        {"staff": Role.STAFF.value, "org_admin": Role.ORG_ADMIN.value,
         "mark": f"%{GENERATED_EMAIL_SUFFIX}"}).rowcount
    if count > 0 and not holders:
        raise SystemExit("generate_certificates needs staff: generate people first")
    conn.execute(text("ALTER TABLE bench_holders ADD PRIMARY KEY (user_id)"))
    admins = conn.execute(text(
        "CREATE TEMP TABLE bench_admins ON COMMIT DROP AS SELECT row_number() OVER "
        "(ORDER BY id) AS k, id, name FROM users WHERE role = :admin"),
        {"admin": Role.ADMIN.value}).rowcount
    if not admins:
        raise SystemExit("generate_certificates needs an admin (seed or generate people)")
    weights = conn.scalars(text("SELECT w FROM bench_holders")).all()
    # A little over the target, so the random total is (almost) never short.
    over = count * 1.002 + 6 * count ** 0.5 + 10
    share = {t: w / sum(CERT_TYPE_WEIGHTS.values()) for t, w in CERT_TYPE_WEIGHTS.items()}
    p_type = {t: _acceptance(weights, sum(1 for p in pairs if p["type"] == t), over * s)
              for t, s in share.items()}
    conn.execute(text(
        "INSERT INTO bench_pairs VALUES (:n, :type, :kind, :course_id, :track_id, "
        ":track_name, :version, :validity, :title, :p)"),
        [{"n": n, "type": p["type"], "kind": p["kind"], "course_id": p["course_id"],
          "track_id": p["track_id"], "track_name": p["t"]["name"],
          "version": p["t"]["version"], "validity": p["t"]["validity"], "title": p["title"],
          "p": p_type[p["type"]]} for n, p in enumerate(pairs, start=1)])
    weights_s = list(CERT_STATUS_WEIGHTS.values())
    total_w = sum(weights_s)
    cum = [sum(weights_s[:i + 1]) / total_w for i in range(len(weights_s))]
    conn.execute(text(
        "CREATE TEMP TABLE bench_plan ON COMMIT DROP AS "
        "SELECT user_id, pair_no, CASE WHEN u < :c1 THEN 'ISSUED' WHEN u < :c2 THEN 'REVOKED' "
        "WHEN u < :c3 THEN 'PENDING' ELSE 'REJECTED' END AS status FROM ("
        "SELECT h.user_id, p.pair_no, random() AS u FROM bench_holders h "
        "CROSS JOIN bench_pairs p WHERE random() < least(1.0, p.p * h.w) OFFSET 0) x"),
        {"c1": cum[0], "c2": cum[1], "c3": cum[2]})
    made = conn.scalar(text("SELECT count(*) FROM bench_plan")) or 0
    if made < count:
        raise RuntimeError(f"planned {made} certificates, fewer than {count}: run again")
    conn.execute(text(
        "DELETE FROM bench_plan WHERE ctid = ANY(ARRAY(SELECT ctid FROM bench_plan "
        "ORDER BY random() LIMIT :n))"), {"n": made - count})
    by_status = dict(conn.execute(text(
        "SELECT status, count(*) FROM bench_plan GROUP BY status")).all())
    timings["plan"] = time.perf_counter() - t0

    # Times: a year for each numbered certificate (weighted as _certificate_year_plan),
    # then a moment in it; the others' moments as in generate_certificates.
    t0 = time.perf_counter()
    existing = dict(conn.execute(select(CertificateCounter.year,
                                        CertificateCounter.last_number)).all())
    numbered = by_status.get("ISSUED", 0) + by_status.get("REVOKED", 0)
    year_plan = _certificate_year_plan(max(1, numbered), existing, now)
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    years = sorted(year_plan)
    starts = [datetime(y, 1, 1) for y in years]
    spans = [(min(datetime(y + 1, 1, 1), naive_now) - s).total_seconds()
             for y, s in zip(years, starts, strict=True)]
    year_total = sum(year_plan.values()) or 1
    lower = [sum(year_plan[y] for y in years[:i]) / year_total for i in range(len(years))]
    rev_w = [r[2] for r in _REVOCATIONS]
    rev_cum = [sum(rev_w[:i + 1]) / sum(rev_w) for i in range(len(rev_w))]
    def quoted(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    category = " ".join(f"WHEN r_rev < {c!r} THEN {quoted(r[0])}" for c, r in
                        zip(rev_cum[:-1], _REVOCATIONS, strict=False))
    reason = " ".join(f"WHEN r_rev < {c!r} THEN {quoted(r[1])}" for c, r in
                      zip(rev_cum[:-1], _REVOCATIONS, strict=False))
    rejection = " ".join(f"WHEN r_misc < {(i + 1) / len(_REJECTIONS)!r} THEN {quoted(r)}"
                         for i, r in enumerate(_REJECTIONS[:-1]))
    params = {"lower": lower, "starts": starts, "spans": spans, "now": naive_now,
              "first": datetime(years[0], 1, 1),
              "span_all": (naive_now - datetime(years[0], 1, 1)).total_seconds(),
              "admins": admins}
    # Built from constants above, not from input.
    conn.execute(text(
        "CREATE TEMP TABLE bench_times ON COMMIT DROP AS "  # noqa: S608
        "SELECT user_id, pair_no, status, yk, admin_k, r_misc, r_rev, r_gap, "
        "issued_at, rec_at, revoked_at, "
        "CASE WHEN status IN ('ISSUED', 'REVOKED') THEN coalesce(rec_at, issued_at) "
        "ELSE rec_at END AS created_at, "
        "CASE WHEN status = 'REVOKED' THEN revoked_at "
        "WHEN status IN ('ISSUED') THEN issued_at WHEN status = 'PENDING' THEN rec_at "
        "ELSE least(CAST(:now AS timestamp), rec_at + make_interval(days => 1 + "
        "floor(r_gap * 10)::int)) END AS updated_at, "
        f"CASE WHEN status = 'REVOKED' THEN CASE {category} ELSE "
        f"{quoted(_REVOCATIONS[-1][0])} END END AS category, "
        f"CASE WHEN status = 'REVOKED' THEN CASE {reason} ELSE "
        f"{quoted(_REVOCATIONS[-1][1])} END END AS reason, "
        f"CASE WHEN status = 'REJECTED' THEN CASE {rejection} ELSE "
        f"{quoted(_REJECTIONS[-1])} END END AS rejection "
        "FROM (SELECT *, "
        "CASE WHEN status = 'REVOKED' THEN least(CAST(:now AS timestamp), issued_at + "
        "make_interval(secs => 3600 + r_gap * (400 * 86400 - 3600))) END AS revoked_at "
        "FROM (SELECT *, "
        "CASE WHEN yk IS NOT NULL THEN (CAST(:starts AS timestamp[]))[yk] + make_interval("
        "secs => r_t * (CAST(:spans AS float8[]))[yk]) END AS issued_at, "
        "CASE WHEN yk IS NOT NULL THEN CASE WHEN r_rec < 0.4 THEN "
        "(CAST(:starts AS timestamp[]))[yk] + make_interval(secs => r_t * "
        "(CAST(:spans AS float8[]))[yk] - 3600 - r_gap2 * (14 * 86400 - 3600)) END "
        "WHEN status = 'PENDING' THEN CAST(:now AS timestamp) - make_interval(secs => "
        "600 + r_t * (60 * 86400 - 600)) "
        "ELSE CAST(:first AS timestamp) + make_interval(secs => r_t * :span_all) "
        "END AS rec_at "
        "FROM (SELECT user_id, pair_no, status, "
        "CASE WHEN status IN ('ISSUED', 'REVOKED') THEN width_bucket(random(), "
        "CAST(:lower AS float8[])) END AS yk, 1 + floor(random() * :admins)::int AS admin_k, "
        "random() AS r_t, random() AS r_rec, random() AS r_gap, random() AS r_gap2, "
        "random() AS r_rev, random() AS r_misc FROM bench_plan OFFSET 0) a OFFSET 0) b "
        "OFFSET 0) c"), params)
    timings["times"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    restore = _pg_detach_indexes(conn, "certificates")
    conn.execute(text("SET LOCAL session_replication_role = replica"))
    base_id = conn.scalar(text("SELECT coalesce(max(id), 0) FROM certificates")) or 0
    sequence = conn.scalar(text("SELECT pg_get_serial_sequence('certificates', 'id')"))
    if sequence:  # never below what the sequence gave already (deleted rows)
        base_id = max(base_id, conn.scalar(text(f"SELECT last_value FROM {sequence}")) or 0)  # noqa: S608
    alphabet = CERT_CODE_ALPHABET
    code = " || ".join(f"substr('{alphabet}', 1 + floor(random() * 32)::int, 1)"
                       + (" || '-'" if i == 4 else "") for i in range(10))
    explain = "EXPLAIN (ANALYZE, BUFFERS) " if os.environ.get("BENCH_EXPLAIN") else ""
    inserted = conn.execute(text(
        f"{explain}INSERT INTO certificates ({', '.join(CERT_COPY_COLUMNS)}, track_version, id) "  # noqa: S608
        "SELECT number, type, status, recipient_id, course_id, track_id, live_key, issued_at, "
        "issued_by_id, expires_at, recommended_by_id, recommended_at, notes, "
        "progress_percent, sessions_attended, NULL, rejection, reason, category, "
        "revoked_at, revoked_by_id, CASE WHEN number IS NULL THEN CAST('{}' AS json) "
        "ELSE json_build_object('number', number, 'recipient_name', recipient_name, "
        "'type', type, 'type_label', initcap(type), 'subject', title, 'subject_kind', kind, "
        "'track', track_name, 'version', version, 'issued_on', "
        "to_char(issued_at, 'YYYY-MM-DD'), 'expires_on', to_char(expires_at, 'YYYY-MM-DD'), "
        "'issuer', CAST(:issuer AS text), 'issued_by', admin_name) END, "
        "CASE WHEN number IS NOT NULL THEN translate(encode(substr(g1, 1, 6) || "
        "substr(g1, 10, 7) || substr(g2, 1, 6) || substr(g2, 10, 5), 'base64'), '+/', '-_') "
        f"END, CASE WHEN number IS NOT NULL THEN {code} END, created_at, updated_at, "
        "CASE WHEN kind = 'track' AND number IS NOT NULL THEN version END, :base + seq "
        "FROM (SELECT t.*, p.type, p.kind, p.course_id, p.track_id, p.track_name, "
        "p.version, p.title, h.name AS recipient_name, a.id AS admin_id, "
        "a.name AS admin_name, t.user_id AS recipient_id, "
        "CASE WHEN t.status IN ('ISSUED', 'PENDING') THEN t.user_id || ':' || "
        "coalesce(p.course_id::text, '-') || ':' || coalesce(p.track_id::text, '-') || ':' "
        "|| p.type END AS live_key, "
        "CASE WHEN t.yk IS NOT NULL THEN a.id END AS issued_by_id, "
        "CASE WHEN t.status = 'REVOKED' THEN a.id END AS revoked_by_id, "
        "CASE WHEN t.yk IS NULL AND p.kind = 'course' THEN a.id END AS recommended_by_id, "
        "CASE WHEN t.yk IS NULL AND p.kind = 'course' THEN 1 + floor(t.r_gap * 4)::int "
        "END AS sessions_attended, t.rec_at AS recommended_at, "
        "CASE WHEN t.yk IS NOT NULL AND p.validity IS NOT NULL THEN "
        "CAST(CAST(t.issued_at AS date) + make_interval(months => p.validity) AS date) END "
        "AS expires_at, "
        "CASE WHEN t.yk IS NOT NULL THEN CASE WHEN t.rec_at IS NOT NULL THEN 100.0 END "
        "WHEN p.kind = 'track' THEN 100.0 WHEN t.r_misc < 1.0 / 3 THEN 50.0 ELSE 100.0 END "
        "AS progress_percent, "
        "CASE WHEN t.yk IS NOT NULL THEN CASE WHEN t.rec_at IS NOT NULL AND p.kind = 'track' "
        "THEN 'Completed version ' || p.version || '.' END "
        "WHEN t.r_rev < 0.3 THEN 'Led the group exercise well.' END AS notes, "
        # Five digits, or more past 99,999 (as the app's f"{n:05d}"; lpad would cut).
        "CASE WHEN t.yk IS NOT NULL THEN 'CERT-' || y.year || '-' || "
        "to_char(coalesce(k.last_number, 0) + t.n, 'FM999999900000') END AS number, "
        "uuid_send(gen_random_uuid()) AS g1, uuid_send(gen_random_uuid()) AS g2 "
        "FROM (SELECT *, row_number() OVER (ORDER BY created_at, user_id, pair_no) AS seq, "
        "row_number() OVER (PARTITION BY yk ORDER BY issued_at, user_id, pair_no) AS n "
        "FROM bench_times) t "
        "JOIN bench_pairs p USING (pair_no) JOIN bench_holders h USING (user_id) "
        "JOIN bench_admins a ON a.k = t.admin_k "
        "LEFT JOIN unnest(CAST(:years AS int[])) WITH ORDINALITY AS y(year, yk) "
        "ON y.yk = t.yk "
        "LEFT JOIN certificate_counters k ON k.year = y.year OFFSET 0) r"),
        {"issuer": issuer, "base": base_id, "years": years})
    if explain:
        print("\n".join(r[0] for r in inserted), flush=True)
    inserted = inserted.rowcount
    timings["insert"] = time.perf_counter() - t0
    conn.execute(text(
        "SELECT setval(pg_get_serial_sequence('certificates', 'id'), "
        "(SELECT max(id) FROM certificates))"))
    t1 = time.perf_counter()
    conn.execute(text("SET LOCAL session_replication_role = origin"))
    orphans = {k: v for k, v in _pg_orphans(conn, "certificates").items() if v}
    if orphans:
        raise RuntimeError(f"generated certificates break foreign keys: {orphans}")
    timings["foreign key check"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    for statement in restore:
        conn.execute(text(statement))
    timings["indexes"] = time.perf_counter() - t1
    per_year = dict(conn.execute(text(
        "SELECT y.year, count(*) FROM bench_times t JOIN unnest(CAST(:years AS int[])) "
        "WITH ORDINALITY AS y(year, yk) ON y.yk = t.yk GROUP BY y.year ORDER BY y.year"),
        {"years": years}).all())
    counters = CertificateCounter.__table__
    for year, n in per_year.items():
        last = existing.get(year, 0) + n
        if year in existing:
            conn.execute(update(counters).where(counters.c.year == year)
                         .values(last_number=last))
        else:
            conn.execute(insert(counters).values(year=year, last_number=last))
    by_type = dict(conn.execute(text(
        "SELECT p.type, count(*) FROM bench_plan JOIN bench_pairs p USING (pair_no) "
        "GROUP BY p.type")).all())
    recipients = conn.scalar(text("SELECT count(DISTINCT user_id) FROM bench_plan")) or 0
    if analyze:
        t1 = time.perf_counter()
        conn.execute(text("ANALYZE certificates"))
        timings["analyze"] = time.perf_counter() - t1
    return Certificates(
        certificates=inserted, track_ids=[t["id"] for t in catalogue],
        course_ids=[c[0] for t in catalogue for c in t["courses"]],
        by_status=by_status, by_type=by_type, numbered_by_year=per_year,
        recipients=recipients, timings={k: round(v, 2) for k, v in timings.items()})

# --- The daily sweep (bench.run_sweep) ---------------------------------------------------

SWEEP_STATUS_WEIGHTS = {"NOT_STARTED": 3, "IN_TRAINING": 4, "ASSESSMENT_PENDING": 3,
                        "AWARDED": 84, "EXPIRED": 6}
SWEEP_COPY_COLUMNS = ("definition_id", "user_id", "status", "awarded_at", "awarded_by_id",
                      "expiry_date", "notes", "created_at", "updated_at", "organization_id")
SWEEP_BANDS = (("90", 90), ("60", 60), ("30", 30))


@dataclass
class SweepCredentials:
    definition_ids: list[int]
    definitions: int
    holders: int
    credentials: int
    by_status: dict[str, int]
    due: dict[str, int]  # due on as_of: "expire" (expiry == as_of), "30", "60", "90"
    in_window: int  # awarded, expiring within (as_of, as_of + 90], already reminded
    claims: int  # reminder_claims rows written (the earlier days' sweeps)
    notifications: int  # their in-app notifications (notification_history)
    as_of: str
    timings: dict[str, float]


def generate_sweep_credentials(
    conn: Connection,
    *,
    count: int = 1_000_000,
    definitions: int = 50,
    as_of: Any,
    due_share: float = 0.01,
    expire_share: float = 1 / 30,
    rng: random.Random,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    fast: bool = True,
    notification_history: bool = True,
) -> SweepCredentials:
    """`count` staff micro-credentials over `definitions` definitions and the generated
    staff and org admins (unique per (definition, person): needs holders x definitions
    >= count), as the daily sweep would find them on `as_of` after running every day
    before it:

    - statuses after SWEEP_STATUS_WEIGHTS (mostly AWARDED); a definition without a
      validity period gives AWARDED credentials without an expiry date;
    - `due_share` of all credentials are due on `as_of`: `expire_share` of them expire
      that day (expiry_date == as_of, still AWARDED), the rest are split evenly between
      the 90-, 60- and 30-day reminders (expiry exactly as_of + 90/60/30: their band
      starts today);
    - the other awarded ones expire uniformly within (as_of, as_of + validity], never on
      those four dates, so the day after `as_of` has the natural rate; EXPIRED ones
      expired 1-400 days before `as_of`;
    - reminder_claims holds what the earlier sweeps claimed: every band whose first day
      is before `as_of`, for every awarded or expired credential (demo ones included), so
      the sweep finds only the due ones new, but has to skip the rest (ON CONFLICT);
    - with `notification_history`, notifications holds one (mostly read) notification per
      such claim, as those sweeps left it.

    Rows go in with COPY on PostgreSQL (with `fast`, as generate_certificates: unique
    constraints and indexes rebuilt after the load, the foreign keys checked once); the
    caller runs VACUUM (ANALYZE)."""
    with _gc_paused():
        return _generate_sweep_credentials(
            conn, count=count, definitions=definitions, as_of=as_of, due_share=due_share,
            expire_share=expire_share, rng=rng, now=now, batch_size=batch_size, fast=fast,
            notification_history=notification_history)


def _generate_sweep_credentials(conn: Connection, *, count: int, definitions: int, as_of: Any,
                                due_share: float, expire_share: float, rng: random.Random,
                                now: datetime, batch_size: int, fast: bool,
                                notification_history: bool) -> SweepCredentials:
    from app.models import MicroCredentialDefinition, Role, StaffMicroCredential, User
    from app.services.dates import add_months

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    insert_rows(conn, MicroCredentialDefinition.__table__,
                _definition_rows(rng, definitions, now), batch_size)
    defs = conn.execute(select(MicroCredentialDefinition.id,
                               MicroCredentialDefinition.validity_months)
                        .where(MicroCredentialDefinition.skill_standard.like(
                            f"%{GENERATED_STANDARD_MARK}"))
                        .order_by(MicroCredentialDefinition.id)).all()
    def_ids = [d.id for d in defs]
    validity = [d.validity_months for d in defs]
    holder_rows = conn.execute(select(User.id, User.organization_id).where(
        User.role.in_([Role.STAFF, Role.ORG_ADMIN]), User.organization_id.is_not(None),
        User.email.like(f"%{GENERATED_EMAIL_SUFFIX}")).order_by(User.id)).all()
    holders = [r.id for r in holder_rows]
    # Each credential carries its holder's organization (migration 0034, membership.py).
    holder_orgs = [r.organization_id for r in holder_rows]
    if len(holders) * len(def_ids) < count:
        raise SystemExit(f"{count} credentials need {len(holders)} people x {len(def_ids)} "
                         "definitions >= that many: generate more people or definitions")
    admins = list(conn.scalars(select(User.id).where(User.role == Role.ADMIN))) or [None]

    pairs = len(holders) * len(def_ids)
    chosen = range(pairs) if pairs == count else sorted(rng.sample(range(pairs), count))
    status_names = list(SWEEP_STATUS_WEIGHTS)
    statuses = rng.choices(status_names, list(SWEEP_STATUS_WEIGHTS.values()), k=count)
    d_count = len(def_ids)
    pair_of = [(p // d_count, p % d_count) for p in chosen]
    for i, (_, d) in enumerate(pair_of):
        if statuses[i] == "EXPIRED" and validity[d] is None:
            statuses[i] = "AWARDED"
    expiring = [i for i, (_, d) in enumerate(pair_of)
                if statuses[i] == "AWARDED" and validity[d] is not None]
    n_due = min(round(count * due_share), len(expiring))
    n_expire = round(n_due * expire_share)
    due_rows = rng.sample(expiring, n_due)
    offset: dict[int, int] = {i: 0 for i in due_rows[:n_expire]}
    for k, i in enumerate(due_rows[n_expire:]):
        offset[i] = SWEEP_BANDS[k % 3][1]
    due = Counter("expire" if o == 0 else str(o) for o in offset.values())

    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    today_dt = datetime.combine(as_of, naive_now.time())
    rows: list[tuple[Any, ...]] = []
    by_status: Counter[str] = Counter()
    in_window = 0
    for i, (h, d) in enumerate(pair_of):
        status, months = statuses[i], validity[d]
        created = naive_now - timedelta(seconds=rng.uniform(2 * 86400, 1500 * 86400))
        awarded_at = expiry = None
        if status == "AWARDED":
            if months is None:
                awarded_at = naive_now - timedelta(seconds=rng.uniform(86400, 700 * 86400))
            else:
                days = offset.get(i)
                if days is None:
                    span = (add_months(as_of, months) - as_of).days - 1
                    days = rng.randint(1, span)
                    while days in (30, 60, 90):
                        days = rng.randint(1, span)
                    in_window += days <= 90
                expiry = as_of + timedelta(days=days)
                awarded_at = datetime.combine(add_months(expiry, -months), naive_now.time()) \
                    - timedelta(seconds=rng.randint(0, 86_000))
        elif status == "EXPIRED":
            expiry = as_of - timedelta(days=rng.randint(1, 400))
            awarded_at = datetime.combine(add_months(expiry, -months), naive_now.time())
        if awarded_at is not None:
            awarded_at = min(awarded_at, today_dt - timedelta(hours=1))
            created = min(created, awarded_at - timedelta(days=rng.randint(7, 120)))
        by_status[status] += 1
        rows.append((def_ids[d], holders[h], status, awarded_at,
                     rng.choice(admins) if awarded_at is not None else None, expiry,
                     "Booked on the next assessment day." if rng.random() < 0.05 else None,
                     created, awarded_at or created, holder_orgs[h]))
    timings["build rows"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    table = "staff_micro_credentials"
    if conn.dialect.name == "postgresql":
        _pg_bulk_copy(conn, table, SWEEP_COPY_COLUMNS, rows, fast=fast, timings=timings,
                      started=t0)
    else:
        def as_dict(row: tuple[Any, ...]) -> dict[str, Any]:
            out = dict(zip(SWEEP_COPY_COLUMNS, row, strict=True))
            for name in ("awarded_at", "created_at", "updated_at"):
                if out[name] is not None:
                    out[name] = out[name].replace(tzinfo=UTC)
            return out

        for start in range(0, len(rows), batch_size):
            conn.execute(insert(StaffMicroCredential.__table__),
                         [as_dict(r) for r in rows[start:start + batch_size]])
        timings["insert"] = time.perf_counter() - t0
    del rows

    # The earlier sweeps' claims: band b of a credential was claimed on expiry - b days,
    # if that day is before as_of. One INSERT ... SELECT (the key as sweep._key builds it).
    t0 = time.perf_counter()
    if conn.dialect.name == "postgresql":
        claimed_on, key_expiry = "s.expiry_date - b.days", "s.expiry_date::text"
        created = "(s.expiry_date - b.days) + time '02:30'"
    else:
        claimed_on = "date(s.expiry_date, '-' || b.days || ' days')"
        key_expiry, created = "s.expiry_date", f"{claimed_on} || ' 02:30:00.000000'"
    # Fixed SQL fragments above, no input: the date is a bound parameter.
    insert_claims = (
        "INSERT INTO reminder_claims (key, kind, item_id, threshold, as_of, created_at) "  # noqa: S608
        f"SELECT 'mcred:' || s.id || ':' || {key_expiry} || ':' || b.band, 'mcred', s.id, "
        f"b.band, {claimed_on}, {created} "
        "FROM staff_micro_credentials s "
        "CROSS JOIN (VALUES ('90', 90), ('60', 60), ('30', 30)) AS b(band, days) "
        "WHERE s.status IN ('AWARDED', 'EXPIRED') AND s.expiry_date IS NOT NULL "
        f"AND {claimed_on} < :as_of")
    result = conn.execute(text(insert_claims), {"as_of": as_of})
    claims = result.rowcount or 0
    timings["claims"] = time.perf_counter() - t0
    history = 0
    if notification_history:
        # What those sweeps told the holders (one in-app notification per claim, most of
        # them read): a notifications table of a system that has been running, not the
        # demo's few dozen rows (on which PostgreSQL plans the deliveries' foreign-key
        # check as a sequential scan and keeps that plan for the connection's life).
        t0 = time.perf_counter()
        history = conn.execute(text(
            "INSERT INTO notifications (user_id, type, title, body, link, dedupe_key, "
            "delivery, read_at, created_at) "
            "SELECT s.user_id, 'CREDENTIAL_EXPIRY', 'Credential expires within ' || c.threshold "
            "|| ' days', 'Generated reminder (bench).', '/me', c.key, "
            "'{\"audience\": \"self\", \"email\": true, \"sms\": false}', "
            "CASE WHEN c.item_id % 10 < 7 THEN c.created_at + interval '1 day' END, c.created_at "
            "FROM reminder_claims c JOIN staff_micro_credentials s ON s.id = c.item_id "
            "WHERE c.kind = 'mcred' ORDER BY c.created_at, c.id")).rowcount or 0
        timings["notification history"] = time.perf_counter() - t0
    return SweepCredentials(
        definition_ids=def_ids, definitions=len(def_ids), holders=len(holders),
        credentials=count, by_status=dict(by_status), due=dict(due), in_window=in_window,
        claims=claims, notifications=history, as_of=as_of.isoformat(),
        timings={k: round(v, 2) for k, v in timings.items()})


# --- CLI -----------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20000, help="people to create")
    parser.add_argument("--orgs", type=int, default=200, help="organizations to create")
    parser.add_argument("--audit", type=int, default=100000, help="audit rows to append")
    parser.add_argument("--large-org", type=int, default=0, metavar="N",
                        help="give the first organization N people (one big customer)")
    parser.add_argument("--definitions", type=int, default=0,
                        help="micro-credential definitions to create (0: none)")
    parser.add_argument("--credentials", type=int, default=0,
                        help="staff micro-credentials to create (needs --definitions)")
    parser.add_argument("--enrolments", type=int, default=0,
                        help="training enrolments to create, with courses, progress and "
                             "quiz attempts (0: none)")
    parser.add_argument("--tracks", type=int, default=4,
                        help=f"certification tracks for --enrolments (1-{len(TRACKS)})")
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
                        help="skip VACUUM (ANALYZE) after loading (PostgreSQL)")
    args = parser.parse_args(argv)
    for name in ("users", "orgs", "audit", "large_org", "definitions", "credentials",
                 "enrolments"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    if args.credentials and not args.definitions:
        parser.error("--credentials needs --definitions")
    if not 1 <= args.tracks <= len(TRACKS):
        parser.error(f"--tracks must be 1..{len(TRACKS)}")
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
                                     batch_size=args.batch_size,
                                     large_org_users=args.large_org)
        with timings.step(f"audit ({args.audit} rows)"), engine.begin() as conn:
            audit_rows = generate_audit(conn, rows=args.audit, rng=rng, now=now,
                                        batch_size=args.batch_size)
        creds = None
        if args.definitions:
            with timings.step(f"micro-credentials ({args.credentials})"), \
                    engine.begin() as conn:
                creds = generate_micro_credentials(
                    conn, definitions=args.definitions, credentials=args.credentials,
                    rng=rng, now=now, batch_size=args.batch_size,
                    large_organization_id=people.large_organization_id)
        train = None
        if args.enrolments:
            with timings.step(f"training ({args.enrolments} enrolments)"), \
                    engine.begin() as conn:
                train = generate_training(conn, enrolments=args.enrolments, tracks=args.tracks,
                                          rng=rng, now=now, batch_size=args.batch_size)
        if engine.dialect.name == "postgresql" and not args.no_analyze:
            # VACUUM too, as autovacuum soon would after a load this size: it sets the
            # visibility map, without which no index-only scan skips the heap.
            with timings.step("vacuum analyze"), engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("VACUUM (ANALYZE)"))
        engine.dispose()

    total = sum(timings.steps.values())
    extra = ""
    if creds is not None:
        extra += (f", {creds.definitions} micro-credential definitions, {creds.credentials} "
                  f"staff credentials {creds.by_status}, awarded and expiring "
                  f"{creds.expiring}")
    if train is not None:
        extra += (f", {len(train.track_ids)} tracks ({train.courses} courses), "
                  f"{train.enrolments} enrolments {train.by_status}, "
                  f"{train.course_progress} course progress rows, "
                  f"{train.quiz_attempts} quiz attempts")
    large = (f" (organization {people.large_organization_id} has {args.large_org})"
             if people.large_organization_id else "")
    print(f"Done in {total:.2f} s: {people.organizations} organizations{large}, "
          f"{people.users} users (password {args.password!r}), {audit_rows} audit rows"
          f"{extra}.", flush=True)
    return {"organizations": people.organizations, "users": people.users,
            "large_organization_id": people.large_organization_id,
            "audit_rows": audit_rows,
            "micro_credentials": None if creds is None else vars(creds) | {
                "definition_ids": None},
            "training": None if train is None else vars(train),
            "timings": timings.steps}


if __name__ == "__main__":
    main()
