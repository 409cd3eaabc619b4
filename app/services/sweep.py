"""The daily sweep: expiries, expiry reminders and training-due reminders, each once.

Phases, each its own verb (the job commits after each one):
- expire: AWARDED micro-credentials whose expiry date has come -> EXPIRED (audited
  MCRED_EXPIRE, CREDENTIAL_STATUS_CHANGE to the holder and their org admins);
- credential_reminders / certificate_reminders: CREDENTIAL_EXPIRY 90, 60 and 30 days
  before an awarded micro-credential or an issued certificate expires, to the holder
  and their org admins;
- training_reminders: TRAINING_DUE 7 days before an implementation project's training
  assignment is due and once it is overdue, to the org admins (when the assignment
  still lacks completions) and to the org's learners still working on the track;
- requeue_stale_deliveries: deliveries still queued an hour on (their job was lost)
  are queued again.

Exactly once: a reminder is claimed by inserting its key into reminder_claims with
INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING, in the transaction that raises
its notifications. A second sweep (after, or at the same time on PostgreSQL, where the
insert waits for the other transaction and then skips its keys) claims nothing twice.
Only the band an item is in today is claimed (30 if <= 30 days left, else 60 if <= 60,
else 90), so a sweep that missed days sends the latest reminder, not the ones it
missed. The key holds the expiry (or due) date: a renewed credential is reminded again.

Incremental after a finished run: once a sweep as of L is done, every live item within
90 days of L has the claim for its band on L. So a sweep as of D >= L need only read the
items that crossed a band's first day since L (expiry in (L+30, D+30], (L+60, D+60] or
(L+90, D+90]) and those changed since L's run started (updated_at, an index; a day of
margin for transactions still open then): its work follows what is due and what changed,
not the size of the window. With no finished run on or before D, the whole window; and
inside whole_window() (`jobs sweep --full`), for a sweep after expiry dates were edited by
hand in SQL without touching updated_at.
Everything is set-based: one statement per phase claims, one reads the details, and
notifications.notify_many writes the rows. Claims go in in id order, so two concurrent
sweeps wait for each other instead of deadlocking.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import (
    Audience,
    AuditAction,
    Certificate,
    CertificateStatus,
    CertificationTrack,
    CredentialStatus,
    DeliveryStatus,
    Enrolment,
    ImplementationProject,
    MicroCredentialDefinition,
    NotificationDelivery,
    NotificationType,
    ProgressStatus,
    ReminderClaim,
    Role,
    StaffMicroCredential,
    SweepRun,
    TrainingAssignment,
    User,
)
from app.models.base import utcnow
from app.services import audit
from app.services.context import Actor
from app.services.credentials.membership import resync_organizations
from app.services.notifications import (
    NewNotification,
    id_conditions,
    notify_from_select,
    notify_many,
    schedule_sending,
)
from app.services.training.projects import assignment_statuses

DUE_SOON_DAYS = 7
BAND_STARTS = (30, 60, 90)  # days before expiry; the last is the window
# Changes are read from this long before the last finished run started: a transaction
# open then (a bulk issue) stamps updated_at before that run could see its rows.
CHANGE_MARGIN = timedelta(days=1)
CHUNK = 5000  # ids per IN (...) list


@dataclass
class PhaseResult:
    """What one phase did: notification ids raised and a line per notification."""

    name: str
    sent: int = 0  # notifications raised
    lines: list[str] = field(default_factory=list)
    items: int = 0  # credentials expired, or reminders claimed


def _insert(table: Any) -> Any:
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _claim(select_stmt: Any) -> list[Any]:
    """Insert the (key, kind, item_id, threshold, as_of, created_at) rows of
    `select_stmt`, skipping keys already claimed; returns (key, item_id, threshold) of
    the rows this transaction claimed."""
    columns = ["key", "kind", "item_id", "threshold", "as_of", "created_at"]
    stmt = (_insert(ReminderClaim.__table__).from_select(columns, select_stmt)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(ReminderClaim.key, ReminderClaim.item_id, ReminderClaim.threshold))
    return list(db.session.execute(stmt).all())


_WHOLE_WINDOW: ContextVar[bool] = ContextVar("sweep_whole_window", default=False)


@contextmanager
def whole_window() -> Iterator[None]:
    """The reminder phases run inside read every live item within 90 days, as with no
    finished run: after expiries were edited in SQL without updated_at, which the
    incremental read cannot see."""
    token = _WHOLE_WINDOW.set(True)
    try:
        yield
    finally:
        _WHOLE_WINDOW.reset(token)


def last_finished_run(as_of: date) -> Any:
    """(as_of, started_at) of the latest finished sweep as of `as_of` or before, or None."""
    return db.session.execute(
        select(SweepRun.as_of, SweepRun.started_at)
        .where(SweepRun.status == "done", SweepRun.as_of <= as_of)
        .order_by(SweepRun.as_of.desc(), SweepRun.started_at.desc()).limit(1)).first()


def _candidates(live: Any, expiry: Any, changed_at: Any, as_of: date) -> Any:
    """Which live items a reminder phase reads: within 90 days of `as_of`, and, after a
    finished run (see the module's docstring), only those that crossed a band's first day
    since it or changed since it started."""
    window = and_(live, expiry > as_of, expiry <= as_of + timedelta(days=BAND_STARTS[-1]))
    last = None if _WHOLE_WINDOW.get() else last_finished_run(as_of)
    if last is None:
        return window
    arms = [and_(live, expiry > max(as_of, last.as_of + timedelta(days=days)),
                 expiry <= as_of + timedelta(days=days))
            for days in BAND_STARTS if last.as_of < as_of]
    arms.append(and_(window, changed_at >= last.started_at - CHANGE_MARGIN))
    return or_(*arms)


def _band(expiry: Any, as_of: date) -> Any:
    """The reminder band (as text) of an expiry date within 90 days of `as_of`."""
    thirty, sixty = (as_of + timedelta(days=d) for d in (30, 60))
    return case((expiry <= thirty, literal("30")), (expiry <= sixty, literal("60")),
                else_=literal("90"))


def _as_string(value: Any) -> Any:
    """A SQL value as text; a date as ISO 'YYYY-MM-DD' on both databases. (PostgreSQL's
    CAST of a date follows the session's DateStyle, '09/02/2027' under 'SQL, DMY'; a
    claim key made so would not match the same reminder's key made under ISO, and the
    dry-run lines would read differently. SQLite stores dates as ISO text already.)"""
    if isinstance(getattr(value, "type", None), Date) and (
            db.session.get_bind().dialect.name == "postgresql"):
        return func.to_char(value, literal_column("'YYYY-MM-DD'"))
    return cast(value, String)


def _key(*parts: Any) -> Any:
    expr: Any = None
    for part in parts:
        piece = part if isinstance(part, str) else _as_string(part)
        piece = literal(piece) if isinstance(piece, str) else piece
        expr = piece if expr is None else expr + literal(":") + piece
    return expr


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _org_admins(org_ids: set[int]) -> dict[int, list[int]]:
    """Active org admins by organization."""
    admins: dict[int, list[int]] = defaultdict(list)
    ids = sorted(org_ids)
    for chunk in _chunks(ids):
        for org_id, user_id in db.session.execute(
                select(User.organization_id, User.id)
                .where(User.organization_id.in_(chunk), User.role == Role.ORG_ADMIN,
                       User.active.is_(True)).order_by(User.id)):
            admins[org_id].append(user_id)
    return admins


def _as_of(as_of: date) -> Any:
    return literal(as_of, ReminderClaim.as_of.type)


def _now() -> Any:
    return literal(utcnow(), ReminderClaim.created_at.type)


def _days(n: str) -> str:
    return f"{n} days"


# --- phases ---------------------------------------------------------------------------

def expire(as_of: date) -> PhaseResult:
    """AWARDED -> EXPIRED for credentials whose date has come, in one UPDATE (a row
    another sweep is expiring is skipped: the UPDATE re-checks the status once the
    other commits); audited MCRED_EXPIRE each (audit.record_many), the holder told as
    mc.change_status would, and their org admins. Safe to run again."""
    result = PhaseResult("expire")
    smc = StaffMicroCredential.__table__
    updated = db.session.execute(
        smc.update()
        .where(smc.c.status == CredentialStatus.AWARDED, smc.c.expiry_date <= as_of)
        .values(status=CredentialStatus.EXPIRED, updated_at=utcnow())
        .returning(smc.c.id)).scalars().all()
    result.items = len(updated)
    if not updated:
        return result
    expired = sorted(updated)
    audit.record_many(Actor.system(), AuditAction.MCRED_EXPIRE, "staff_micro_credential",
                      [(i, {"status": [CredentialStatus.AWARDED.value,
                                       CredentialStatus.EXPIRED.value]}) for i in expired])
    rows = []
    for chunk in _chunks(expired):
        rows.extend(db.session.execute(
            select(StaffMicroCredential.id, StaffMicroCredential.expiry_date, User.id.label("uid"),
                   User.name, User.organization_id, MicroCredentialDefinition.title)
            .join(User, User.id == StaffMicroCredential.user_id)
            .join(MicroCredentialDefinition)
            .where(StaffMicroCredential.id.in_(chunk))).all())
    admins = _org_admins({r.organization_id for r in rows if r.organization_id})
    items = []
    for r in sorted(rows, key=lambda r: r.id):
        when = f"{r.expiry_date:%d %B %Y}"
        items.append(NewNotification(  # what mc.change_status -> _notify_status says
            r.uid, NotificationType.CREDENTIAL_STATUS_CHANGE,
            f"{r.title}: {CredentialStatus.EXPIRED.label}",
            f"Your {r.title} credential expired on {when}.", "/me",
            f"expired:{r.id}:{r.expiry_date}:holder"))
        result.lines.append(f"expired  credential #{r.id} {r.title} of {r.name} "
                            f"(expiry {r.expiry_date}) -> holder")
        for admin_id in admins.get(r.organization_id, []):
            if admin_id == r.uid:
                continue
            items.append(NewNotification(
                admin_id, NotificationType.CREDENTIAL_STATUS_CHANGE,
                f"{r.name}: {r.title} expired",
                f"{r.name}'s {r.title} credential expired on {when}.", "/org",
                f"expired:{r.id}:{r.expiry_date}:org:{admin_id}", Audience.ORG))
            result.lines.append(f"expired  credential #{r.id} {r.title} of {r.name} "
                                f"-> org admin #{admin_id}")
    result.sent = len(notify_many(items))
    return result


@dataclass(frozen=True)
class _Wording:
    """What an expiry reminder says (SQL text expressions): `what` names the item in the
    dry-run lines."""

    what: Any
    holder_title: Any
    holder_body: Any
    admin_title: Any
    admin_body: Any


def _text(*parts: Any) -> Any:
    """SQL text: the parts (Python strings are constants) joined with ||."""
    expr: Any = None
    for part in parts:
        if isinstance(part, str):
            piece: Any = literal_column("'" + part.replace("'", "''") + "'", String)
        elif isinstance(getattr(part, "type", None), String):
            piece = part
        else:
            piece = _as_string(part)
        expr = piece if expr is None else expr + piece
    return expr


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def _long_date(day: Any) -> Any:
    """`f"{day:%d %B %Y}"` in SQL ("05 March 2027")."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(day, literal_column("'DD FMMonth YYYY'"))
    month = case(*[(func.strftime("%m", day) == f"{n:02d}", literal_column(f"'{name}'"))
                   for n, name in enumerate(_MONTHS, start=1)])
    return _text(func.strftime("%d", day), " ", month, " ", func.strftime("%Y", day))


def _expiry_reminders(result: PhaseResult, kind: str, id_column: Any, expiry: Any,
                      changed_at: Any, live: Any, details: Callable[[Any], Select[Any]],
                      wording: Callable[[Any, Any, Any], _Wording], as_of: date) -> PhaseResult:
    """Claim the band each live item expiring within 90 days is in (the _candidates),
    then tell its holder and their org admins. `changed_at`: the items' updated_at.
    `details(condition)` (`id_column` in a chunk of the claimed
    ids) selects the items' rows with id, expiry, uid, name and organization_id;
    `wording(columns, days, when)` says what to send (SQL expressions). The
    notifications are made in the database from one SELECT (the holder's row and one
    per active org admin), not row by row in Python."""
    band = _band(expiry, as_of)
    source = (select(_key(kind, id_column, expiry, band), literal(kind), id_column, band,
                     _as_of(as_of), _now())
              .where(_candidates(live, expiry, changed_at, as_of))
              .order_by(id_column))
    claimed = _claim(source)
    result.items = len(claimed)
    if not claimed:
        return result
    ids = sorted(c.item_id for c in claimed)
    dialect = db.session.get_bind().dialect.name
    rows: list[Any] = []
    lines: list[str] = []
    for condition in id_conditions(id_column, ids, dialect):
        reminders = _reminder_rows(details(condition).cte(f"{kind}_due"), kind, wording,
                                   as_of).subquery("reminders")
        created, listed = notify_from_select(select(reminders),
                                             NotificationType.CREDENTIAL_EXPIRY,
                                             order_by=["item", "rank"], listing="line")
        rows.extend(created)
        lines.extend(listed)
    result.lines.extend(lines)
    result.sent = len(rows)
    return result


def _reminder_rows(due: Any, kind: str, wording: Callable[[Any, Any, Any], _Wording],
                   as_of: date) -> Any:
    """The reminders of the `due` items (a CTE of details()): the holder's (rank 0) and
    one per active org admin of the holder's organization (rank: the admin's id), with
    the notification's columns and the dry-run line."""
    band = _band(due.c.expiry, as_of)
    key = _key(kind, due.c.id, due.c.expiry, band)
    says = wording(due.c, _text(band, " days"), _long_date(due.c.expiry))
    head = _text(" ", band, "-day  ", says.what, " of ", due.c.name)
    holder = select(
        due.c.uid.label("user_id"), says.holder_title.label("title"),
        says.holder_body.label("body"), literal_column("'/me'", String).label("link"),
        key.label("dedupe_key"), literal_column(f"'{Audience.SELF.value}'", String)
        .label("audience"),
        _text(head, " (expires ", due.c.expiry, ") -> holder").label("line"),
        due.c.id.label("item"), literal_column("0", Integer).label("rank"))
    admin = User.__table__.alias("admin")
    admins = (select(
        admin.c.id, says.admin_title, says.admin_body, literal_column("'/org'", String),
        _text(key, ":org:", admin.c.id), literal_column(f"'{Audience.ORG.value}'", String),
        _text(head, " -> org admin #", admin.c.id), due.c.id, admin.c.id)
        .select_from(due.join(admin, and_(
            admin.c.organization_id == due.c.organization_id,
            admin.c.role == Role.ORG_ADMIN, admin.c.active.is_(True),
            admin.c.id != due.c.uid))))
    return union_all(holder, admins)


def credential_reminders(as_of: date) -> PhaseResult:
    """CREDENTIAL_EXPIRY for awarded micro-credentials expiring within 90 days."""
    smc = StaffMicroCredential

    def details(condition: Any) -> Select[Any]:
        return (select(smc.id, smc.expiry_date.label("expiry"), User.id.label("uid"),
                       User.name, User.organization_id, MicroCredentialDefinition.title)
                .join(User, User.id == smc.user_id).join(MicroCredentialDefinition)
                .where(condition))

    def wording(r: Any, days: Any, when: Any) -> _Wording:
        return _Wording(
            _text("credential #", r.id, " ", r.title), _text(r.title, " expires within ", days),
            _text("Your ", r.title, " credential expires on ", when,
                  ". Arrange renewal before then."),
            _text(r.name, ": ", r.title, " expires within ", days),
            _text(r.name, "'s ", r.title, " credential expires on ", when, "."))

    return _expiry_reminders(PhaseResult("credential_reminders"), "mcred", smc.id,
                             smc.expiry_date, smc.updated_at,
                             smc.status == CredentialStatus.AWARDED,
                             details, wording, as_of)


def certificate_reminders(as_of: date) -> PhaseResult:
    """CREDENTIAL_EXPIRY for issued certificates expiring within 90 days."""

    def details(condition: Any) -> Select[Any]:
        subject = func.coalesce(func.nullif(Certificate.snapshot["subject"].as_string(), ""),
                                Certificate.number)
        return (select(Certificate.id, Certificate.number,
                       Certificate.expires_at.label("expiry"), subject.label("subject"),
                       User.id.label("uid"), User.name, User.organization_id)
                .join(User, User.id == Certificate.recipient_id)
                .where(condition))

    def wording(r: Any, days: Any, when: Any) -> _Wording:
        return _Wording(
            _text("certificate ", r.number, " ", r.subject),
            _text("Certificate ", r.number, " expires within ", days),
            _text("Your ", r.subject, " certificate (", r.number, ") expires on ", when,
                  ". Re-certify before then to stay current."),
            _text(r.name, ": certificate ", r.number, " expires within ", days),
            _text(r.name, "'s ", r.subject, " certificate (", r.number, ") expires on ", when,
                  "."))

    return _expiry_reminders(PhaseResult("certificate_reminders"), "cert", Certificate.id,
                             Certificate.expires_at, Certificate.updated_at,
                             Certificate.status == CertificateStatus.ISSUED,
                             details, wording, as_of)


def _due_band(due: Any, as_of: date) -> Any:
    return case((due < as_of, literal("overdue")), else_=literal("7"))


def training_reminders(as_of: date) -> PhaseResult:
    """TRAINING_DUE for project assignments due within 7 days, or overdue."""
    result = PhaseResult("training_reminders")
    due = TrainingAssignment.due_date
    band = _due_band(due, as_of)
    open_assignment = and_(due.is_not(None), due <= as_of + timedelta(days=DUE_SOON_DAYS))
    role_matches = or_(TrainingAssignment.target_role == "any",
                       cast(User.role, String) == TrainingAssignment.target_role)
    # Learners of the org (with the assignment's role) enrolled on the track, not done.
    learners = (select(_key("assign", TrainingAssignment.id, due, band, "user", User.id),
                       literal("assign_user"), TrainingAssignment.id, band, _as_of(as_of), _now())
                .join(ImplementationProject,
                      ImplementationProject.id == TrainingAssignment.project_id)
                .join(User, User.organization_id == ImplementationProject.organization_id)
                .join(Enrolment, and_(Enrolment.user_id == User.id,
                                      Enrolment.track_id == TrainingAssignment.track_id))
                .where(open_assignment, role_matches, User.active.is_(True),
                       Enrolment.status != ProgressStatus.COMPLETED)
                .order_by(TrainingAssignment.id, User.id))
    assignments = list(db.session.execute(
        select(TrainingAssignment, ImplementationProject, CertificationTrack)
        .join(ImplementationProject, ImplementationProject.id == TrainingAssignment.project_id)
        .join(CertificationTrack, CertificationTrack.id == TrainingAssignment.track_id)
        .where(open_assignment).order_by(TrainingAssignment.id)).all())
    if not assignments:
        return result
    # The org admins hear about an assignment that still lacks completions valid on its
    # due date; one claim per assignment and band.
    # (The one completion count, training.projects.assignment_statuses, as of the due date.)
    short = [status.assignment.id for assignment, project, _track in assignments
             for status in assignment_statuses(project, [assignment], assignment.due_date)
             if not status.is_complete]
    org_source = (select(_key("assign", TrainingAssignment.id, due, band, "org"),
                         literal("assign_org"), TrainingAssignment.id, band, _as_of(as_of), _now())
                  .where(TrainingAssignment.id.in_(short or [-1]))
                  .order_by(TrainingAssignment.id))
    claimed_org = _claim(org_source)
    claimed_users = _claim(learners)
    result.items = len(claimed_org) + len(claimed_users)
    by_id = {a.id: (a, p, t) for a, p, t in assignments}
    items = []
    admins = _org_admins({p.organization_id for _, p, _ in assignments})

    def wording(assignment: TrainingAssignment, threshold: str) -> str:
        if threshold == "overdue":
            return f"was due on {assignment.due_date:%d %B %Y}"
        return f"is due on {assignment.due_date:%d %B %Y}"

    for claim in sorted(claimed_org, key=lambda c: c.item_id):
        assignment, project, track = by_id[claim.item_id]
        state = "overdue" if claim.threshold == "overdue" else "due within 7 days"
        for admin_id in admins.get(project.organization_id, []):
            items.append(NewNotification(
                admin_id, NotificationType.TRAINING_DUE, f"{track.name} training {state}",
                f"{project.name}: {assignment.required_completions} completion(s) of "
                f"{track.name} {wording(assignment, claim.threshold)} and are not all in yet.",
                "/org", f"{claim.key}:{admin_id}", Audience.ORG))
            result.lines.append(f"{claim.threshold:>7}  assignment #{assignment.id} {track.name} "
                                f"({project.name}) -> org admin #{admin_id}")
    user_claims = sorted(claimed_users, key=lambda c: c.key)
    for claim in user_claims:
        assignment, project, track = by_id[claim.item_id]
        user_id = int(claim.key.rsplit(":", 1)[1])
        state = "overdue" if claim.threshold == "overdue" else "due within 7 days"
        items.append(NewNotification(
            user_id, NotificationType.TRAINING_DUE, f"{track.name} training {state}",
            f"Your {track.name} training for {project.name} "
            f"{wording(assignment, claim.threshold)}.",
            f"/learn/tracks/{track.id}", claim.key))
        result.lines.append(f"{claim.threshold:>7}  assignment #{assignment.id} {track.name} "
                            f"({project.name}) -> learner #{user_id}")
    result.sent = len(notify_many(items))
    return result


STALE_AFTER = timedelta(hours=1)


def requeue_stale_deliveries(as_of: date) -> PhaseResult:
    """Queue again deliveries still `queued` an hour after they were made: their job
    was lost (Redis was down when the transaction committed, or its queue was emptied).
    Sending skips what has gone meanwhile, so a job that was only late sends nothing
    twice."""
    result = PhaseResult("stale_deliveries")
    ids = list(db.session.scalars(
        select(NotificationDelivery.id)
        .where(NotificationDelivery.status == DeliveryStatus.QUEUED,
               NotificationDelivery.created_at < utcnow() - STALE_AFTER)
        .order_by(NotificationDelivery.id)))
    result.items = len(ids)
    if ids:
        schedule_sending(ids)
        result.lines.append(f"requeue  {len(ids)} queued deliveries older than an hour "
                            f"(ids {ids[0]}..{ids[-1]})")
    return result


SAMPLE_LINES = 20  # lines printed per phase by `flask jobs sweep` (--list-all: every one)


def report(results: list[PhaseResult], *, sample: int | None = SAMPLE_LINES) -> list[str]:
    """What `flask jobs sweep` prints: per phase that did something a count line
    ("== expire: 2 notification(s), 1 item(s)") and its first `sample` notification
    lines (every one with sample=None), then how many more there were. At 10M
    certificates a dry run raises ~424k notifications: one line each is no report."""
    out: list[str] = []
    for result in results:
        if not (result.sent or result.items or result.lines):
            continue
        out.append(f"== {result.name}: {result.sent:,} notification(s), "
                   f"{result.items:,} item(s)")
        shown = result.lines if sample is None else result.lines[:sample]
        out.extend(f"{result.name:<22} {line}" for line in shown)
        if len(result.lines) > len(shown):
            out.append(f"{result.name:<22} ... and {len(result.lines) - len(shown):,} more "
                       "(--list-all lists every one)")
    return out


def credential_organizations(as_of: date) -> PhaseResult:
    """Staff credentials whose organization copy (0034) differs from their holder's
    made right (membership.resync_organizations): the org matrix and dashboards count by
    that copy. Normally none."""
    result = PhaseResult("credential_organizations")
    result.items = resync_organizations()
    if result.items:
        result.lines.append(f"resync   {result.items} staff credential(s) to their "
                            "holder's organization")
    return result


PHASES = (credential_organizations, expire, credential_reminders, certificate_reminders,
          training_reminders, requeue_stale_deliveries)
