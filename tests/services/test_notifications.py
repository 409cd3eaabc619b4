"""Notifications: the preference matrix (every type x channel x audience), notify_many
agreeing with notify, org admins being told, and reading (mark_read, mark_all_read)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import (
    Audience,
    Notification,
    NotificationDelivery,
    NotificationType,
    Organization,
    Role,
    User,
)
from app.services import notifications as ns
from app.services.errors import NotFound

T = NotificationType
ALWAYS, NEVER = "ALWAYS", "NEVER"
# The expected rules, written out here (not read from the module): (user email, user SMS,
# org email, org SMS). The first two rows are seed 001's table.
RULES: dict[NotificationType, tuple[str, str, str, str]] = {
    T.CREDENTIAL_EXPIRY: (
        "email_compliance", "sms_critical", "email_compliance_alerts", "sms_credential_alerts"),
    T.CREDENTIAL_STATUS_CHANGE: (
        ALWAYS, "sms_critical", "email_system_alerts", "sms_critical_alerts"),
    T.RECERTIFICATION_REQUIRED: (
        "email_compliance", "sms_critical", "email_compliance_alerts", "sms_credential_alerts"),
    T.RENEWAL_INVITATION: ("email_compliance", NEVER, "email_compliance_alerts", NEVER),
    T.CERTIFICATE_REVOKED: (
        ALWAYS, "sms_critical", "email_compliance_alerts", "sms_critical_alerts"),
    T.CERTIFICATE_ISSUED: ("email_training", NEVER, "email_system_alerts", NEVER),
    T.CERTIFICATE_PENDING: ("email_training", NEVER, "email_system_alerts", NEVER),
    T.CERTIFICATE_REJECTED: ("email_training", NEVER, "email_system_alerts", NEVER),
    T.TRAINING_ASSIGNED: ("email_training", NEVER, "email_system_alerts", NEVER),
    T.TRAINING_DUE: (
        "email_training", "sms_critical", "email_compliance_alerts", "sms_critical_alerts"),
    T.TRAINING_COMPLETED: ("email_training", NEVER, "email_system_alerts", NEVER),
    T.ATTEMPTS_GRANTED: ("email_training", NEVER, "email_system_alerts", NEVER),
    T.WELCOME: (ALWAYS, NEVER, NEVER, NEVER),
    T.ACCOUNT_INVITATION: (ALWAYS, NEVER, NEVER, NEVER),
    T.PASSWORD_RESET: (ALWAYS, NEVER, NEVER, NEVER),
}
USER_ATTRS = ("email_compliance", "email_training", "sms_critical")
ORG_ATTRS = ("email_compliance_alerts", "email_system_alerts", "sms_credential_alerts",
             "sms_critical_alerts")
PHONE = "+64 21 555 0101"


def _rule(type_: NotificationType, channel: str, audience: Audience) -> str:
    user_email, user_sms, org_email, org_sms = RULES[type_]
    if audience == Audience.ORG:
        return org_email if channel == "email" else org_sms
    return user_email if channel == "email" else user_sms


def _expected(rule: str, owner_prefs: dict[str, bool]) -> bool:
    if rule == ALWAYS:
        return True
    if rule == NEVER:
        return False
    return owner_prefs[rule]


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """An app context whose session is rolled back at the end (no delivery jobs run)."""
    with app.app_context():
        yield
        db.session.rollback()


def _org(**prefs: bool) -> Organization:
    tag = secrets.token_hex(4)  # names are unique too
    org = Organization(name=f"Org {tag}", slug=f"org-{tag}", **prefs)
    db.session.add(org)
    db.session.flush()
    return org


def _user(org: Organization | None, *, phone: str | None = PHONE, active: bool = True,
          role: Role = Role.STAFF, **prefs: bool) -> User:
    user = User(email=f"u-{secrets.token_hex(4)}@example.test", name="Person", role=role,
                organization_id=org.id if org else None, phone=phone, active=active, **prefs)
    db.session.add(user)
    db.session.flush()
    return user


def _rows(notification: Notification) -> dict[str, str]:
    """{channel: address} of the notification's delivery rows."""
    return {d.channel: d.address for d in db.session.scalars(
        select(NotificationDelivery).where(NotificationDelivery.notification_id == notification.id))}


def test_the_rules_table_here_is_the_modules_table() -> None:
    """Every type has a row; PREFERENCES says what this test expects (a clearer failure
    than the matrix below when a row changes)."""
    assert set(RULES) == set(NotificationType) == set(ns.PREFERENCES)

    def name(pref: Any) -> str:
        return ALWAYS if pref is ns.ALWAYS else NEVER if pref is ns.NEVER else str(pref)

    for type_, prefs in ns.PREFERENCES.items():
        assert (name(prefs.user_email), name(prefs.user_sms), name(prefs.org_email),
                name(prefs.org_sms)) == RULES[type_], type_


@pytest.mark.parametrize("setting", [True, False], ids=["on", "off"])
@pytest.mark.parametrize("audience", [Audience.SELF, Audience.ORG], ids=["self", "org"])
@pytest.mark.parametrize("channel", ["email", "sms"])
@pytest.mark.parametrize("type_", list(NotificationType), ids=lambda t: t.value)
def test_preference_matrix(ctx: None, type_: NotificationType, channel: str,
                           audience: Audience, setting: bool) -> None:
    """The deciding side's flag (the recipient's for SELF, the organization's for ORG)
    decides; every other flag is set the other way, so reading the wrong one fails."""
    rule = _rule(type_, channel, audience)
    fixed = rule in (ALWAYS, NEVER)
    deciding = ORG_ATTRS if audience == Audience.ORG else USER_ATTRS
    other = USER_ATTRS if audience == Audience.ORG else ORG_ATTRS
    prefs = {a: setting if (fixed or a == rule) else not setting for a in deciding}
    org = _org(**(prefs if audience == Audience.ORG else {a: not setting for a in other}))
    user = _user(org, role=Role.ORG_ADMIN if audience == Audience.ORG else Role.STAFF,
                 **(prefs if audience == Audience.SELF else {a: not setting for a in other}))
    expected = _expected(rule, prefs)

    plan = ns.delivery_plan(user, type_, audience)
    assert plan[channel] is expected, (rule, prefs)
    assert plan["audience"] == audience.value

    notification = ns.notify(user, type_, "Something happened", "Body", "/me",
                             audience=audience)
    assert notification.delivery[channel] is expected
    rows = _rows(notification)
    if expected:
        assert rows[channel] == (user.email if channel == "email" else PHONE)
    else:
        assert channel not in rows
    # The in-app notification exists whatever the channels.
    assert db.session.get(Notification, notification.id).type == type_


@pytest.mark.parametrize("audience", [Audience.SELF, Audience.ORG], ids=["self", "org"])
@pytest.mark.parametrize("type_", list(NotificationType), ids=lambda t: t.value)
def test_sms_needs_a_phone(ctx: None, type_: NotificationType, audience: Audience) -> None:
    on = {a: True for a in ORG_ATTRS}
    user = _user(_org(**on), phone=None, role=Role.ORG_ADMIN,
                 **{a: True for a in USER_ATTRS})
    email_expected = _rule(type_, "email", audience) != NEVER
    plan = ns.delivery_plan(user, type_, audience)
    assert (plan["email"], plan["sms"]) == (email_expected, False)
    notification = ns.notify(user, type_, "Title", audience=audience)
    assert set(_rows(notification)) == ({"email"} if email_expected else set())
    # The same person with a phone gets the SMS wherever the rule is not NEVER.
    user.phone = PHONE
    assert ns.delivery_plan(user, type_, audience)["sms"] is (
        _rule(type_, "sms", audience) != NEVER)


@pytest.mark.parametrize("audience", [Audience.SELF, Audience.ORG], ids=["self", "org"])
@pytest.mark.parametrize("type_", list(NotificationType), ids=lambda t: t.value)
def test_inactive_people_get_no_email_or_sms(ctx: None, type_: NotificationType,
                                             audience: Audience) -> None:
    user = _user(_org(**{a: True for a in ORG_ATTRS}), active=False, role=Role.ORG_ADMIN,
                 **{a: True for a in USER_ATTRS})
    plan = ns.delivery_plan(user, type_, audience)
    assert (plan["email"], plan["sms"]) == (False, False)
    notification = ns.notify(user, type_, "Title", audience=audience)
    assert _rows(notification) == {}
    assert db.session.get(Notification, notification.id) is not None  # still in-app


def test_org_audience_without_an_organization_sends_nothing(ctx: None) -> None:
    user = _user(None, **{a: True for a in USER_ATTRS})  # internal staff
    for type_ in NotificationType:
        plan = ns.delivery_plan(user, type_, Audience.ORG)
        assert (plan["email"], plan["sms"]) == (False, False), type_


def test_notify_many_agrees_with_notify(ctx: None) -> None:
    everything = _org(**{a: True for a in ORG_ATTRS})
    nothing = _org(**{a: False for a in ORG_ATTRS})
    mixed = _org(email_compliance_alerts=True, email_system_alerts=False,
                 sms_credential_alerts=True, sms_critical_alerts=False)
    people = [
        _user(everything, **{a: True for a in USER_ATTRS}),
        _user(nothing, **{a: False for a in USER_ATTRS}),
        _user(mixed, email_compliance=False, email_training=True, sms_critical=True),
        _user(mixed, email_compliance=True, email_training=False, sms_critical=False),
        _user(everything, phone=None, **{a: True for a in USER_ATTRS}),
        _user(everything, active=False, **{a: True for a in USER_ATTRS}),
        _user(None, **{a: True for a in USER_ATTRS}),  # no organization
    ]
    cases = [(p, t, a) for p in people for t in NotificationType
             for a in (Audience.SELF, Audience.ORG)]
    by_notify = []
    for i, (person, type_, audience) in enumerate(cases):
        n = ns.notify(person, type_, f"Title {i}", "Body", "/me", f"notify:{i}", audience)
        by_notify.append((n.delivery, _rows(n)))
    ids = ns.notify_many([ns.NewNotification(person.id, type_, f"Title {i}", "Body", "/me",
                                            f"many:{i}", audience)
                         for i, (person, type_, audience) in enumerate(cases)])
    assert len(ids) == len(cases)
    db.session.expire_all()
    by_many = []
    for i, notification_id in enumerate(ids):
        n = db.session.get(Notification, notification_id)
        assert (n.dedupe_key, n.title) == (f"many:{i}", f"Title {i}")  # in order
        by_many.append((n.delivery, _rows(n)))
    for case, left, right in zip(cases, by_notify, by_many, strict=True):
        assert left == right, case
    # The matrix is not trivially empty: some of each channel went out, some did not.
    sent = [(d["email"], d["sms"]) for d, _ in by_notify]
    assert {e for e, _ in sent} == {True, False} and {s for _, s in sent} == {True, False}


def test_notify_from_select_agrees_with_notify(ctx: None) -> None:
    """The sweep's set-based writer (the plan and deliveries made in SQL) gives every
    type, audience, preference, phone, inactive person and org-less person the plan and
    delivery rows notify() gives; a dedupe key that exists already is skipped."""
    from sqlalchemy import Integer, String, literal, union_all

    everything = _org(**{a: True for a in ORG_ATTRS})
    nothing = _org(**{a: False for a in ORG_ATTRS})
    mixed = _org(email_compliance_alerts=True, email_system_alerts=False,
                 sms_credential_alerts=True, sms_critical_alerts=False)
    people = [
        _user(everything, **{a: True for a in USER_ATTRS}),
        _user(nothing, **{a: False for a in USER_ATTRS}),
        _user(mixed, email_compliance=False, email_training=True, sms_critical=True),
        _user(mixed, email_compliance=True, email_training=False, sms_critical=False),
        _user(everything, phone=None, **{a: True for a in USER_ATTRS}),
        _user(everything, phone="", **{a: True for a in USER_ATTRS}),
        _user(everything, active=False, **{a: True for a in USER_ATTRS}),
        _user(None, **{a: True for a in USER_ATTRS}),  # no organization
    ]
    checked = 0
    for type_ in NotificationType:
        cases = [(p, a) for p in people for a in (Audience.SELF, Audience.ORG)]
        expected = []
        for i, (person, audience) in enumerate(cases):
            n = ns.notify(person, type_, f"Title {i}", "Body", "/me", f"one:{type_}:{i}",
                          audience)
            expected.append((n.delivery, _rows(n)))
        # One key that exists already: skipped, but still listed.
        ns.notify(people[0], type_, "Earlier", "", None, f"set:{type_}:0")
        source = union_all(*[select(
            literal(person.id, Integer).label("user_id"),
            literal(f"Title {i}", String).label("title"), literal("Body", String).label("body"),
            literal("/me", String).label("link"),
            literal(f"set:{type_}:{i}", String).label("dedupe_key"),
            literal(audience.value, String).label("audience"),
            literal(i, Integer).label("position"),
            literal(f"line {i}", String).label("line"))
            for i, (person, audience) in enumerate(cases)])
        ids, lines = ns.notify_from_select(select(source.subquery()), type_, ["position"],
                                           listing="line")
        assert lines == [f"line {i}" for i in range(len(cases))]
        assert len(ids) == len(cases) - 1
        db.session.expire_all()
        for i, notification_id in enumerate(ids, start=1):
            n = db.session.get(Notification, notification_id)
            assert (n.dedupe_key, n.title, n.type) == (f"set:{type_}:{i}", f"Title {i}", type_)
            assert (n.delivery, _rows(n)) == expected[i], (type_, cases[i])
            checked += 1
    assert checked == len(NotificationType) * (2 * len(people) - 1)


def test_notify_org_admins_skips_inactive_admins_and_the_subject(ctx: None) -> None:
    org = _org(email_compliance_alerts=False)
    other_org = _org()
    told = _user(org, role=Role.ORG_ADMIN, email_compliance=True)
    _user(org, role=Role.ORG_ADMIN, active=False)
    subject_admin = _user(org, role=Role.ORG_ADMIN)
    staff = _user(org)
    _user(other_org, role=Role.ORG_ADMIN)

    about_admin = ns.notify_org_admins(subject_admin, T.CREDENTIAL_EXPIRY, "Expiring",
                                       dedupe_key="exp:1")
    assert [n.user_id for n in about_admin] == [told.id]
    assert about_admin[0].dedupe_key == f"exp:1:org:{told.id}"
    assert about_admin[0].link == "/org"
    # The organization's preference decides (compliance alerts off), not the admin's.
    assert about_admin[0].delivery == {"audience": "org", "email": False, "sms": False}
    assert _rows(about_admin[0]) == {}

    about_staff = ns.notify_org_admins(staff, T.CREDENTIAL_STATUS_CHANGE, "Changed")
    assert sorted(n.user_id for n in about_staff) == sorted([told.id, subject_admin.id])
    assert all(n.dedupe_key is None and n.delivery["email"] for n in about_staff)
    # Internal staff have no org admins.
    assert ns.notify_org_admins(_user(None), T.CREDENTIAL_EXPIRY, "x") == []


def test_mark_read_of_someone_elses_notification_is_not_found(ctx: None) -> None:
    owner, stranger = _user(None), _user(None)
    notification = ns.notify(owner, T.WELCOME, "Welcome")
    with pytest.raises(NotFound):
        ns.mark_read(stranger, notification.id)
    with pytest.raises(NotFound):
        ns.mark_read(owner, notification.id + 1000)
    assert db.session.get(Notification, notification.id).read_at is None
    assert ns.mark_read(owner, notification.id).read_at is not None
    first = notification.read_at
    assert ns.mark_read(owner, notification.id).read_at == first  # again: a no-op


def test_mark_all_read_counts_only_the_users_unread(ctx: None) -> None:
    user, other = _user(None), _user(None)
    mine = [ns.notify(user, T.TRAINING_ASSIGNED, f"Mine {i}") for i in range(3)]
    ns.notify(other, T.TRAINING_ASSIGNED, "Theirs")
    ns.mark_read(user, mine[0].id)
    assert ns.unread_count(user) == 2
    assert ns.mark_all_read(user) == 2
    assert ns.mark_all_read(user) == 0
    assert ns.unread_count(user) == 0 and ns.unread_count(other) == 1
