"""Notifications: raising them, choosing their channels, reading them.

Three writers, all here, are the only code that creates notification rows: `notify()`
(one), `notify_many()` (a batch of Python items: the training reminders) and
`notify_from_select()` (INSERT ... SELECT, no Python object per row: the sweep's expiry
reminders). Anything that tells someone something calls one of them, so every
notification gets its delivery plan and its email/SMS deliveries.

The rule for a writer: its delivery plan comes from PREFERENCES and nowhere else.
`notify()` and `notify_many()` call `delivery_plan()`; `notify_from_select()` builds the
same rules in SQL (`_plan_sql()`, which reads PREFERENCES for the type). A change to what
decides a channel (a preference, ALWAYS/NEVER, the audience, active, phone) is made in
both `delivery_plan()` and `_plan_sql()`; test_notify_from_select_agrees_with_notify
(tests/services/test_notifications.py) checks every type, audience and preference
through both. A fourth writer follows the same rule, here.

Every type maps to four preferences (seed 001's table, extended to every type): a user
email preference, a user SMS preference, an organization email preference and an
organization SMS preference. ALWAYS (seed 001's null) sends on that channel whatever
the settings; NEVER means the type is not sent on it.

Which side decides depends on the audience:
- SELF, a notification about the recipient: the recipient's own preferences;
- ORG, a notification to an org admin about one of their staff: the organization's
  preferences (what the organization wants its admins told).
The in-app notification is always created. Each chosen channel gets a
NotificationDelivery row, sent by the `send_deliveries` job after the transaction
commits; SMS only when the recipient has a phone number, nothing for inactive people.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from flask import current_app
from rq import Retry
from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    false,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import (
    Audience,
    AuditAction,
    DeliveryChannel,
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    NotificationType,
    Organization,
    Role,
    User,
)
from app.models.base import utcnow
from app.services import audit
from app.services.context import Actor
from app.services.enqueue import enqueue_batched_after_commit
from app.services.errors import NotFound
from app.services.pagination import Page, paginate


class _Never:
    def __repr__(self) -> str:
        return "NEVER"


ALWAYS: Final = None
NEVER: Final = _Never()
Pref = str | None | _Never


@dataclass(frozen=True)
class ChannelPrefs:
    user_email: Pref
    user_sms: Pref
    org_email: Pref
    org_sms: Pref


T = NotificationType
# Attribute names on User (user_*) and Organization (org_*). The first two rows are
# seed 001's; the others follow them (compliance matters go with compliance settings,
# news with training/system settings, SMS only for what cannot wait).
PREFERENCES: dict[NotificationType, ChannelPrefs] = {
    T.CREDENTIAL_EXPIRY: ChannelPrefs(
        "email_compliance", "sms_critical", "email_compliance_alerts", "sms_credential_alerts"),
    T.CREDENTIAL_STATUS_CHANGE: ChannelPrefs(
        ALWAYS, "sms_critical", "email_system_alerts", "sms_critical_alerts"),
    T.RECERTIFICATION_REQUIRED: ChannelPrefs(
        "email_compliance", "sms_critical", "email_compliance_alerts", "sms_credential_alerts"),
    # A renewal campaign's invitation: about an expiring certificate, like the reminders.
    T.RENEWAL_INVITATION: ChannelPrefs(
        "email_compliance", NEVER, "email_compliance_alerts", NEVER),
    T.CERTIFICATE_REVOKED: ChannelPrefs(
        ALWAYS, "sms_critical", "email_compliance_alerts", "sms_critical_alerts"),
    T.CERTIFICATE_ISSUED: ChannelPrefs(
        "email_training", NEVER, "email_system_alerts", NEVER),
    T.CERTIFICATE_PENDING: ChannelPrefs(
        "email_training", NEVER, "email_system_alerts", NEVER),
    T.CERTIFICATE_REJECTED: ChannelPrefs(
        "email_training", NEVER, "email_system_alerts", NEVER),
    T.TRAINING_ASSIGNED: ChannelPrefs(
        "email_training", NEVER, "email_system_alerts", NEVER),
    T.TRAINING_DUE: ChannelPrefs(
        "email_training", "sms_critical", "email_compliance_alerts", "sms_critical_alerts"),
    T.TRAINING_COMPLETED: ChannelPrefs(
        "email_training", NEVER, "email_system_alerts", NEVER),
    T.ATTEMPTS_GRANTED: ChannelPrefs(
        "email_training", NEVER, "email_system_alerts", NEVER),
    T.WELCOME: ChannelPrefs(ALWAYS, NEVER, NEVER, NEVER),
    # Account links go to the person by email whatever the settings, never by SMS.
    T.ACCOUNT_INVITATION: ChannelPrefs(ALWAYS, NEVER, NEVER, NEVER),
    T.PASSWORD_RESET: ChannelPrefs(ALWAYS, NEVER, NEVER, NEVER),
}

# The settings people and org admins can change, with their labels (for the forms).
USER_PREFERENCES: dict[str, str] = {
    "email_compliance": "Email me about expiring and expired credentials",
    "email_training": "Email me about training, quizzes and certificates",
    "sms_critical": "Text me about urgent matters (expiries, revocations, overdue training)",
}
ORG_PREFERENCES: dict[str, str] = {
    "email_compliance_alerts": "Email org admins compliance alerts (expiring credentials, "
                               "overdue training)",
    "email_system_alerts": "Email org admins about staff status changes and certificates",
    "sms_credential_alerts": "Text org admins when a staff credential is about to expire",
    "sms_critical_alerts": "Text org admins critical alerts (revocations, expiries, "
                           "overdue training)",
}

SHORT_LABELS = {
    "email_compliance": "if compliance emails are on",
    "email_training": "if training emails are on",
    "sms_critical": "if urgent texts are on",
    "email_compliance_alerts": "if compliance alerts are on",
    "email_system_alerts": "if status emails are on",
    "sms_credential_alerts": "if expiry texts are on",
    "sms_critical_alerts": "if critical texts are on",
}


def preference_table(audience: Audience) -> list[tuple[str, str, str]]:
    """(type label, email rule, SMS rule) for every type, as the settings pages show it."""
    def rule(pref: Pref) -> str:
        return ("Always" if pref is None else "Never" if pref is NEVER
                else SHORT_LABELS[str(pref)].capitalize())

    org = audience == Audience.ORG
    return [(type_.label, rule(p.org_email if org else p.user_email),
             rule(p.org_sms if org else p.user_sms)) for type_, p in PREFERENCES.items()]


BATCH_SIZE = 50  # deliveries per send_deliveries job
SEND_DELIVERIES_JOB = "app.jobs.notifications.send_deliveries"


def _allowed(owner: Any, pref: Pref) -> bool:
    if pref is NEVER or owner is None:
        return False
    return True if pref is None else bool(getattr(owner, str(pref)))


def delivery_plan(user: Any, type_: NotificationType,
                  audience: Audience = Audience.SELF, organization: Any = None) -> dict[str, Any]:
    """The channels a notification of `type_` to `user` goes out on.

    `user` needs active, email, phone and the user preference attributes; for the ORG
    audience `organization` (default: the user's) needs the org preference attributes.
    """
    prefs = PREFERENCES[NotificationType(type_)]
    if audience == Audience.ORG:
        owner = organization if organization is not None else getattr(user, "organization", None)
        email, sms = _allowed(owner, prefs.org_email), _allowed(owner, prefs.org_sms)
    else:
        email, sms = _allowed(user, prefs.user_email), _allowed(user, prefs.user_sms)
    active = bool(user.active)
    return {"audience": str(audience), "email": email and active and bool(user.email),
            "sms": sms and active and bool(user.phone)}


def _deliveries_for(notification_id: int, plan: dict[str, Any], email: str | None,
                    phone: str | None) -> list[dict[str, Any]]:
    now = utcnow()
    rows = []
    if plan.get("email") and email:
        rows.append({"notification_id": notification_id, "channel": DeliveryChannel.EMAIL,
                     "address": email})
    if plan.get("sms") and phone:
        rows.append({"notification_id": notification_id, "channel": DeliveryChannel.SMS,
                     "address": phone})
    for row in rows:
        row.update(status=DeliveryStatus.QUEUED, attempts=0, created_at=now, updated_at=now)
    return rows


def _queue(delivery_rows: list[dict[str, Any]]) -> None:
    """Insert delivery rows and send them once the transaction commits."""
    if not delivery_rows:
        return
    ids = list(db.session.scalars(insert(NotificationDelivery).returning(
        NotificationDelivery.id, sort_by_parameter_order=True), delivery_rows))
    schedule_sending(ids)


def schedule_sending(delivery_ids: Sequence[int]) -> None:
    """Send these deliveries after commit, in jobs of BATCH_SIZE, retried with backoff."""
    intervals = current_app.config["DELIVERY_RETRY_INTERVALS"]
    options: dict[str, Any] = {"job_timeout": 600}
    if intervals:
        options["retry"] = Retry(max=len(intervals), interval=intervals)
    enqueue_batched_after_commit(SEND_DELIVERIES_JOB, list(delivery_ids), BATCH_SIZE,
                                 **options)


def notify(user: User, type_: NotificationType, title: str, body: str = "",
           link: str | None = None, dedupe_key: str | None = None,
           audience: Audience = Audience.SELF) -> Notification:
    """Create an in-app notification and queue its email/SMS deliveries (flushes)."""
    plan = delivery_plan(user, type_, audience)
    notification = Notification(user_id=user.id, type=type_, title=title[:200], body=body,
                                link=link, dedupe_key=dedupe_key, delivery=plan)
    db.session.add(notification)
    db.session.flush()
    _queue(_deliveries_for(notification.id, plan, user.email, user.phone))
    return notification


def org_admins(organization_id: int | None, *, exclude: int | None = None) -> list[User]:
    """The active org admins of an organization (none for internal staff)."""
    if organization_id is None:
        return []
    stmt = select(User).where(User.organization_id == organization_id,
                              User.role == Role.ORG_ADMIN, User.active.is_(True))
    if exclude is not None:
        stmt = stmt.where(User.id != exclude)
    return list(db.session.scalars(stmt.order_by(User.id)))


def notify_org_admins(about: User, type_: NotificationType, title: str, body: str = "",
                      link: str | None = "/org",
                      dedupe_key: str | None = None) -> list[Notification]:
    """Tell the org admins of `about`'s organization (ORG audience; flushes)."""
    return [notify(admin, type_, title, body, link,
                   f"{dedupe_key}:org:{admin.id}" if dedupe_key else None, Audience.ORG)
            for admin in org_admins(about.organization_id, exclude=about.id)]


# --- many at once (the daily sweep) ---------------------------------------------------

@dataclass(frozen=True)
class NewNotification:
    user_id: int
    type: NotificationType
    title: str
    body: str
    link: str | None
    dedupe_key: str | None  # None: no dedupe (a one-off, as notify() without one)
    audience: Audience = Audience.SELF


def notify_many(items: Sequence[NewNotification]) -> list[int]:
    """Create many notifications and their deliveries in a few statements (flushes).

    Preferences are read for all recipients in one query; rows go in with multi-row
    INSERT ... RETURNING. Items whose dedupe key exists already are skipped. Returns the
    ids of the notifications created.
    """
    # A reminder's notification exists already (e.g. a credential expired, was put back
    # and expired again on the same date): skip it rather than fail the whole batch.
    keys = [item.dedupe_key for item in items if item.dedupe_key is not None]
    existing: set[str] = set()
    for start in range(0, len(keys), 5000):
        existing.update(db.session.scalars(select(Notification.dedupe_key).where(
            Notification.dedupe_key.in_(keys[start:start + 5000]))))
    items = [item for item in items if item.dedupe_key is None
             or item.dedupe_key not in existing]
    if not items:
        return []
    recipients: dict[int, Any] = {}
    user_ids = sorted({item.user_id for item in items})
    org = aliased(Organization)
    for start in range(0, len(user_ids), 5000):
        chunk = user_ids[start:start + 5000]
        for row in db.session.execute(
                select(User.id, User.active, User.email, User.phone, User.email_compliance,
                       User.email_training, User.sms_critical,
                       org.email_compliance_alerts, org.email_system_alerts,
                       org.sms_credential_alerts, org.sms_critical_alerts)
                .outerjoin(org, org.id == User.organization_id)
                .where(User.id.in_(chunk))):
            recipients[row.id] = row
    now = utcnow()
    rows, plans = [], []
    for item in items:
        person = recipients[item.user_id]
        has_org = person.email_system_alerts is not None
        plan = delivery_plan(person, item.type, item.audience,
                             organization=person if has_org else None)
        if item.audience == Audience.ORG and not has_org:
            plan.update(email=False, sms=False)
        plans.append(plan)
        rows.append({"user_id": item.user_id, "type": item.type, "title": item.title[:200],
                     "body": item.body, "link": item.link, "dedupe_key": item.dedupe_key,
                     "delivery": plan, "created_at": now})
    copy = db.session.get_bind().dialect.name == "postgresql"
    if copy:  # ids from the sequence, rows by COPY: no 8,000-parameter statements to parse
        ids = _next_ids(Notification.__table__, len(rows))
        _copy_rows(Notification.__table__, [{"id": i, **row}
                                            for i, row in zip(ids, rows, strict=True)])
    else:
        ids = list(db.session.scalars(insert(Notification).returning(
            Notification.id, sort_by_parameter_order=True), rows))
    deliveries = []
    for notification_id, item, plan in zip(ids, items, plans, strict=True):
        person = recipients[item.user_id]
        deliveries.extend(_deliveries_for(notification_id, plan, person.email, person.phone))
    if copy and len(rows) >= ANALYZE_AFTER:
        # Fresh statistics, so the deliveries' foreign-key checks below (and later) use
        # the primary key, not a plan made when the table was nearly empty.
        db.session.execute(text("ANALYZE notifications"))
    if copy and deliveries:
        delivery_ids = _next_ids(NotificationDelivery.__table__, len(deliveries))
        _copy_rows(NotificationDelivery.__table__,
                   [{"id": i, **row} for i, row in zip(delivery_ids, deliveries, strict=True)])
        schedule_sending(delivery_ids)
    else:
        _queue(deliveries)
    return ids


ANALYZE_AFTER = 1000  # notifications in one batch


def _next_ids(table: Any, count: int) -> list[int]:
    """`count` ids from the table's sequence, in one statement (PostgreSQL)."""
    return list(db.session.scalars(
        select(func.nextval(func.pg_get_serial_sequence(table.name, "id")))
        .select_from(func.generate_series(1, count))))


def _copy_rows(table: Any, rows: list[dict[str, Any]]) -> None:
    """COPY `rows` (dicts with the same keys, Python values as an insert() takes them)
    into `table`, in the session's transaction (PostgreSQL)."""
    if not rows:
        return
    columns = list(rows[0])
    processors = [table.c[c].type.bind_processor(db.session.get_bind().dialect) for c in columns]
    raw = db.session.connection().connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(
            f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            values = [p(row[c]) if p else row[c] for c, p in zip(columns, processors, strict=True)]
            copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in values])


# --- from a SELECT, in the database (the daily sweep's reminders at scale) --------------

ID_CHUNK = 5000  # ids per IN (...) list where there are no array parameters (SQLite)


def _pref_sql(owner: Any, pref: Pref, present: Any) -> Any:
    """`_allowed(owner, pref)` as SQL: the owner's flag, ALWAYS, or NEVER."""
    if pref is NEVER:
        return false()
    if pref is None:
        return present
    return and_(present, func.coalesce(owner.c[str(pref)], false()))


def _plan_sql(type_: NotificationType, audience: Any, user: Any, org: Any) -> tuple[Any, Any]:
    """`delivery_plan()` as SQL: (email, sms) for a row whose audience column says whose
    preferences decide ('self': the user's; 'org': their organization's, nothing without
    one); nothing for inactive people, SMS only with a phone, email only with an address."""
    prefs = PREFERENCES[NotificationType(type_)]
    is_org = audience == literal_column(f"'{Audience.ORG.value}'")
    has_org = org.c.id.is_not(None)
    email = case((is_org, _pref_sql(org, prefs.org_email, has_org)),
                 else_=_pref_sql(user, prefs.user_email, true()))
    sms = case((is_org, _pref_sql(org, prefs.org_sms, has_org)),
               else_=_pref_sql(user, prefs.user_sms, true()))
    active = func.coalesce(user.c.active, false())
    return (and_(email, active, func.coalesce(user.c.email, "") != ""),
            and_(sms, active, func.coalesce(user.c.phone, "") != ""))


def _plan_json(audience: Any, email: Any, sms: Any, dialect: str) -> Any:
    """The notification's `delivery` JSON ({"audience", "email", "sms"}) in SQL."""
    names = [literal_column(f"'{name}'") for name in ("audience", "email", "sms")]
    if dialect == "postgresql":
        return func.json_build_object(names[0], audience, names[1], email, names[2], sms)

    def boolean(expr: Any) -> Any:
        return func.json(case((expr, literal_column("'true'")), else_=literal_column("'false'")))

    return func.json_object(names[0], audience, names[1], boolean(email), names[2],
                            boolean(sms))


def id_conditions(column: Any, ids: Sequence[int], dialect: str) -> list[Any]:
    """`column` in `ids`, as the conditions of one statement each: one array parameter
    on PostgreSQL (one statement, one plan, whatever the count), IN lists of ID_CHUNK
    ids elsewhere (SQLite's parameter limit). The sweep uses it too."""
    if dialect == "postgresql":
        return [column == any_(bindparam("ids", list(ids), type_=postgresql.ARRAY(Integer),
                                         unique=True))]
    return [column.in_(list(ids[i:i + ID_CHUNK])) for i in range(0, len(ids), ID_CHUNK)]


def notify_from_select(source: Select[Any], type_: NotificationType, order_by: Sequence[str],
                       listing: str | None = None) -> tuple[list[int], list[Any]]:
    """Create the notifications `source` selects, with their delivery plans and email/SMS
    deliveries, in the database: INSERT ... SELECT, no Python object per row (the daily
    sweep raises hundreds of thousands at once). Flushes.

    `source` has the columns user_id, title, body, link, dedupe_key and audience
    ('self' or 'org'), plus the `order_by` ones (the order ids are given in). The plan
    comes from PREFERENCES, as notify()'s does: `_plan_sql()` is `delivery_plan()` in
    SQL (the same preferences, audiences and rules; test_notify_from_select_agrees_with_
    notify checks the two for every type). A row whose dedupe key exists already is skipped (the
    unique constraint, ON CONFLICT DO NOTHING). Returns the ids created, in order, and
    the `listing` column of every source row (skipped ones too) in that order.

    On PostgreSQL the listing and the notifications are one statement (a data-modifying
    CTE: the source is read once) and the deliveries a second; elsewhere one per step."""
    db.session.flush()
    dialect = db.session.get_bind().dialect.name
    pg = dialect == "postgresql"
    rows = (source.cte("reminder_rows").prefix_with("MATERIALIZED") if pg
            else source.subquery("reminder_rows"))
    ordering = [rows.c[name] for name in order_by]
    user = aliased(User.__table__, name="recipient")
    org = aliased(Organization.__table__, name="recipient_org")
    email, sms = _plan_sql(type_, rows.c.audience, user, org)
    now = literal(utcnow(), Notification.created_at.type)
    picked = (select(rows.c.user_id, literal(NotificationType(type_).value),
                     func.substr(rows.c.title, 1, 200), rows.c.body, rows.c.link,
                     rows.c.dedupe_key, _plan_json(rows.c.audience, email, sms, dialect), now)
              .select_from(rows.join(user, user.c.id == rows.c.user_id)
                           .outerjoin(org, org.c.id == user.c.organization_id))
              .where(true())  # SQLite: INSERT ... SELECT ... ON CONFLICT needs a WHERE
              .order_by(*ordering))
    table = Notification.__table__
    insert_ = postgresql.insert if pg else sqlite.insert
    created = (insert_(table).from_select(
        ["user_id", "type", "title", "body", "link", "dedupe_key", "delivery", "created_at"],
        picked).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    if not pg:
        listed = (list(db.session.scalars(select(rows.c[listing]).order_by(*ordering)))
                  if listing else [])
        ids = sorted(db.session.scalars(created.returning(table.c.id)))
        if ids:
            schedule_sending(_deliveries_from(ids, dialect))
        return ids, listed
    # One result: the new notifications' ids ('n') and the listing ('l', with the order
    # columns); NULLs typed so the UNION's columns agree.
    new = created.returning(table.c.id).cte("new_notes")
    blank = [cast(null(), column.type) for column in ordering]
    parts = [select(literal_column("'n'").label("what"), new.c.id,
                    cast(null(), String).label("v"), *blank)]
    if listing:
        parts.append(select(literal_column("'l'"), cast(null(), Integer), rows.c[listing],
                            *ordering))
    ids, listed = [], []
    for what, id_, value, *order in db.session.execute(union_all(*parts)):
        if what == "n":
            ids.append(id_)
        else:
            listed.append((order, value))
    listed.sort(key=lambda pair: pair[0])
    ids.sort()
    if ids:
        if len(ids) >= ANALYZE_AFTER:
            # Fresh statistics before the deliveries go in: their foreign-key checks must
            # use the primary key, not a plan made when the table was nearly empty (a
            # sequential scan per delivery on a fresh install's first big sweep). Hence
            # two statements, not one with the deliveries as another CTE.
            db.session.execute(text("ANALYZE notifications"))
        schedule_sending(_deliveries_from(ids, dialect))
    return ids, [value for _, value in listed]


DELIVERY_COLUMNS = ["notification_id", "channel", "address", "status", "attempts",
                    "created_at", "updated_at"]


def _delivery_selects(notes: Any, *conditions: Any) -> list[Select[Any]]:
    """The delivery rows (DELIVERY_COLUMNS) for each channel the `notes` (id, user_id,
    delivery) chose: an email to the recipient's address, an SMS to their phone."""
    user = aliased(User.__table__, name="addressee")
    now = literal(utcnow(), NotificationDelivery.created_at.type)
    selects = []
    for channel, address in ((DeliveryChannel.EMAIL, user.c.email),
                             (DeliveryChannel.SMS, user.c.phone)):
        chosen = notes.c.delivery[channel.value].as_boolean()
        selects.append(
            select(notes.c.id, literal(channel.value), address,
                   literal(DeliveryStatus.QUEUED.value), literal(0), now, now)
            .select_from(notes.join(user, user.c.id == notes.c.user_id))
            .where(*conditions, chosen, func.coalesce(address, "") != "")
            .order_by(notes.c.id))
    return selects


def _deliveries_from(notification_ids: list[int], dialect: str) -> list[int]:
    """The deliveries of these new notifications, one INSERT ... SELECT per channel and
    chunk of ids; returns their ids."""
    notes = Notification.__table__
    ids: list[int] = []
    for condition in id_conditions(notes.c.id, notification_ids, dialect):
        for picked in _delivery_selects(notes, condition):
            ids.extend(db.session.scalars(insert(NotificationDelivery.__table__).from_select(
                DELIVERY_COLUMNS, picked).returning(NotificationDelivery.__table__.c.id)))
    return sorted(ids)


# --- reading ----------------------------------------------------------------------------

def unread_count(user: User) -> int:
    return db.session.scalar(_UNREAD_COUNT, {"user_id": user.id}) or 0


# The bell's count is on every page: built once, not per request (building it cost about
# as much app CPU as running it, issue 16).
_UNREAD_COUNT = select(func.count()).select_from(Notification).where(
    Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))


def list_for(user: User, page: int, per_page: int, unread_only: bool = False) -> Page[Any]:
    """The user's notifications, newest first."""
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return paginate(stmt.order_by(Notification.id.desc()), page, per_page)


def get_own(user: User, notification_id: int) -> Notification:
    """The user's own notification. Raises NotFound for anyone else's."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound("Notification not found.")
    return notification


def mark_read(user: User, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (again is a no-op). Raises NotFound."""
    notification = get_own(user, notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.flush()
    return notification


def mark_all_read(user: User) -> int:
    """Mark every unread notification of the user read; returns how many."""
    result = db.session.execute(
        update(Notification).where(Notification.user_id == user.id,
                                   Notification.read_at.is_(None))
        .values(read_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount or 0  # type: ignore[attr-defined]


def _apply(owner: Any, values: dict[str, Any], names: Iterable[str]) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for name in names:
        if name in values and values[name] != getattr(owner, name):
            changes[name] = [getattr(owner, name), values[name]]
            setattr(owner, name, values[name])
    return changes


def update_user_preferences(user: User, values: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Set the user's own preference flags and phone (audited UPDATE when something
    changed). Returns {name: [old, new]}."""
    changes = _apply(user, values, [*USER_PREFERENCES, "phone"])
    if changes:
        db.session.flush()
        audit.record(actor, AuditAction.UPDATE, "user", user.id, changes)
    return changes


def update_org_preferences(organization: Organization, values: dict[str, Any],
                           actor: Actor) -> dict[str, Any]:
    """Set an organization's alert preferences (audited UPDATE when something changed).
    Returns {name: [old, new]}."""
    changes = _apply(organization, values, ORG_PREFERENCES)
    if changes:
        db.session.flush()
        audit.record(actor, AuditAction.UPDATE, "organization", organization.id, changes)
    return changes
