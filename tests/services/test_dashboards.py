"""Dashboard figures (issue 14): each bucket counts exactly the rows its edges name, with
a pinned "today", and the lists the figures link to filter the same way."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificateVerification,
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    NotificationType,
)
from app.services import dashboards as dash
from app.services.certificates.queries import CertificateFilters, matching
from app.services.dashboards import periods

TODAY = date(2026, 6, 15)
S = CertificateStatus


def _at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _certificate(user: Any, status: S = S.ISSUED, issued: datetime | None = None,
                 expires: date | None = None) -> Certificate:
    certificate = Certificate(type=CertificateType.COMPLETION, status=status,
                              recipient_id=user.id, issued_at=issued, expires_at=expires)
    db.session.add(certificate)
    db.session.flush()
    return certificate


def test_buckets_are_calendar_months_weeks_and_day_bands() -> None:
    month_buckets = periods.months(TODAY)
    assert len(month_buckets) == 12
    assert (month_buckets[0].start, month_buckets[-1].end) == (date(2025, 7, 1), date(2026, 7, 1))
    assert month_buckets[-1].label == "Jun 2026" and month_buckets[-1].last == date(2026, 6, 30)
    ahead = periods.months(TODAY, ahead=True)
    assert (ahead[0].start, ahead[-1].last) == (date(2026, 6, 1), date(2027, 5, 31))
    week_buckets = periods.weeks(TODAY)
    assert week_buckets[-1].end == TODAY + timedelta(days=1)
    assert week_buckets[-1].start == TODAY - timedelta(days=6)
    assert week_buckets[0].start == TODAY - timedelta(days=83)
    bands = periods.day_bands(TODAY)
    assert [(b.start, b.last) for b in bands] == [
        (TODAY, TODAY + timedelta(days=30)),
        (TODAY + timedelta(days=31), TODAY + timedelta(days=60)),
        (TODAY + timedelta(days=61), TODAY + timedelta(days=90))]


def test_issued_per_month_counts_each_month_and_only_issued(app: Any, make_user: Any) -> None:
    person = make_user()
    with app.app_context():
        _certificate(person, issued=_at(date(2026, 6, 1)))  # first moment of June
        _certificate(person, issued=_at(date(2026, 5, 31), 23, 59))  # last minute of May
        _certificate(person, issued=_at(date(2026, 5, 2)))
        _certificate(person, issued=_at(date(2025, 7, 1)))  # the oldest month shown
        _certificate(person, issued=_at(date(2025, 6, 30), 23, 59))  # before: not shown
        _certificate(person, S.REVOKED, issued=_at(date(2026, 6, 3)))  # not issued now
        _certificate(person, S.PENDING)
        db.session.commit()
        figures = dash.admin.certificates_issued_per_month(TODAY)
        assert {b.label: b.count for b in figures if b.count} == {
            "Jun 2026": 1, "May 2026": 2, "Jul 2025": 1}
        # The list a bar links to (Issued tab, issued from the first to the last day).
        may = figures[-2]
        listed = db.session.scalars(matching(CertificateFilters(
            status="issued", date_from=may.start, date_to=may.last))).all()
        assert len(listed) == may.count == 2


def test_expiring_bands_edges_and_the_list_they_link_to(app: Any, make_user: Any) -> None:
    person = make_user()
    with app.app_context():
        for days in (-1, 0, 30, 31, 60, 61, 90, 91):
            _certificate(person, issued=_at(TODAY), expires=TODAY + timedelta(days=days))
        _certificate(person, S.REVOKED, issued=_at(TODAY), expires=TODAY + timedelta(days=5))
        db.session.commit()
        bands = dash.admin.certificates_expiring(TODAY)
        # Expired yesterday and 91 days out are outside; today is the first band's.
        assert [b.count for b in bands] == [2, 2, 2]
        for band in bands:
            listed = db.session.scalars(matching(CertificateFilters(
                status="issued", expires_from=band.start, expires_to=band.last))).all()
            assert len(listed) == band.count


def test_verifications_per_week_and_their_list(app: Any, make_user: Any) -> None:
    person = make_user()
    with app.app_context():
        certificate = _certificate(person, issued=_at(TODAY))
        week = periods.weeks(TODAY)
        for moment in (_at(TODAY, 23, 59),  # today, last week bucket
                       _at(week[-1].start),  # first moment of the last week
                       _at(week[-2].last, 23, 59),  # last minute of the week before
                       _at(week[0].start),  # first moment shown
                       _at(week[0].start) - timedelta(minutes=1)):  # too old
            db.session.add(CertificateVerification(certificate_id=certificate.id,
                                                   channel="page", verified_at=moment))
        db.session.commit()
        figures = dash.admin.verifications_per_week(TODAY)
        assert [b.count for b in figures] == [1] + [0] * 9 + [1, 2]
        rows = db.session.execute(dash.admin.verification_checks(
            figures[-1].start, figures[-1].last)).all()
        assert len(rows) == 2 and rows[0].number is None


def test_pending_and_failed_deliveries(app: Any, make_user: Any) -> None:
    person = make_user()
    with app.app_context():
        _certificate(person, S.PENDING)
        _certificate(person, S.PENDING)
        _certificate(person)
        note = Notification(user_id=person.id, type=NotificationType.CERTIFICATE_ISSUED,
                            title="t", body="b")
        db.session.add(note)
        db.session.flush()
        db.session.add_all([
            NotificationDelivery(notification_id=note.id, channel="email", address="a@x.test",
                                 status=DeliveryStatus.FAILED),
            NotificationDelivery(notification_id=note.id, channel="sms", address="+6421",
                                 status=DeliveryStatus.SENT)])
        db.session.commit()
        assert str(dash.admin.pending_approvals()) == "2"
        assert str(dash.admin.failed_deliveries()) == "1"


def test_org_figures_count_only_their_organization(app: Any, org: Any, make_org: Any,
                                                   make_user: Any, make_definition: Any,
                                                   make_credential: Any) -> None:
    from app.models import CredentialStatus as C
    from app.models import StaffMicroCredential
    from app.services import dates

    today = dates.today()
    people = [make_user(organization=org, name=f"Staff {i}") for i in range(4)]
    other = make_user(organization=make_org("Other Roofing"), name="Elsewhere")
    skill, other_skill = make_definition("Skill A"), make_definition("Skill B")
    make_credential(skill, people[0], C.AWARDED, expiry_date=today + timedelta(days=1))
    make_credential(skill, people[1], C.AWARDED, expiry_date=today + timedelta(days=31))
    due = make_credential(skill, people[2], C.AWARDED, expiry_date=today + timedelta(days=200))
    make_credential(skill, people[3], C.IN_TRAINING)
    make_credential(other_skill, people[3], C.AWARDED)  # no expiry
    make_credential(skill, other, C.AWARDED, expiry_date=today + timedelta(days=2))
    with app.app_context():
        db.session.get(StaffMicroCredential, due.id).expiry_date = today  # due: expired
        db.session.commit()
        compliance = {c.title: (c.valid, c.assigned) for c in dash.org.compliance(org.id, today)}
        assert compliance == {"Skill A": (2, 4), "Skill B": (1, 1)}
        forecast = dash.org.expiry_forecast(org.id, today)
        assert forecast[0].start == today + timedelta(days=1)
        assert sum(b.count for b in forecast) == 2  # tomorrow and +31 days; not today's
        month_of = {b.label: b.count for b in forecast if b.count}
        for day in (1, 31):
            d = today + timedelta(days=day)
            assert month_of[d.strftime("%b %Y")] >= 1
        risk = dash.org.staff_at_risk(org.id, today)
        assert (risk.expired_people, risk.soon_people) == (1, 1)
        assert [r.name for r in risk.rows] == ["Staff 2", "Staff 0"]
        # The matrix filtered as the forecast's first bar links to lists those staff.
        from app.services import credentials as mc
        first = next(b for b in forecast if b.count)
        listed = mc.org_matrix(org.id, status="AWARDED", expires_from=first.start,
                               expires_to=first.last, today=today)
        assert len(listed.staff.items) == first.count
        expired = mc.org_matrix(org.id, risk="expired", today=today)
        assert [u.name for u in expired.staff.items] == ["Staff 2"]
        # The compliance figure's link lists exactly the people it counts: Staff 2's
        # award is due today, so neither the figure nor the list has them.
        for c in dash.org.compliance(org.id, today):
            valid = mc.org_matrix(org.id, definition_id=c.definition_id, valid=True,
                                  today=today)
            assert valid.staff.total == c.valid
        valid = mc.org_matrix(org.id, definition_id=skill.id, valid=True, today=today)
        assert [u.name for u in valid.staff.items] == ["Staff 0", "Staff 1"]


def test_an_export_of_an_expiry_filtered_list_reads_its_dates_back() -> None:
    """The list's "Download these as a ZIP" stores the filters; the job reads the
    expiry dates back as dates (a string would not compare with the column)."""
    from app.jobs.certificates import export_filters

    filters = export_filters({"status": "issued", "expires_from": "2026-07-16",
                              "expires_to": "2026-08-14"})
    assert (filters.expires_from, filters.expires_to) == (date(2026, 7, 16), date(2026, 8, 14))


def test_manager_funnel_and_quiz_figures(app: Any, make_user: Any, make_track: Any) -> None:
    from app.models import CertificationTrack, Enrolment, User
    from app.services import dates, training
    from app.services.context import Actor
    from tests.conftest import answers_scoring

    track = make_track("Quizzed", attempt_limit=5)
    make_track("Idle", exam=False)
    people = [make_user(name=f"L{i}") for i in range(2)]
    with app.app_context():
        row = db.session.get(CertificationTrack, track.id)
        for person in people:
            training.enrol(db.session.get(User, person.id), row, Actor.system())
        enrolment = db.session.scalars(db.select(Enrolment).where(
            Enrolment.user_id == people[0].id)).one()
        exam = next(p for p in enrolment.course_progress if p.course.has_exam)
        training.submit_quiz_attempt(exam, answers_scoring(exam.course, 1), Actor.system())
        training.submit_quiz_attempt(exam, answers_scoring(exam.course, 5), Actor.system())
        db.session.commit()
        funnels = {f.track_name: f for f in dash.manager.track_funnels()}
        assert (funnels["Quizzed"].enrolled, funnels["Quizzed"].in_progress) == (2, 1)
        assert funnels["Idle"].enrolled == 0  # an active track without learners shows
        (quiz,) = dash.manager.quiz_figures(dates.today())
        assert (quiz.track_name, quiz.attempts, quiz.passed, quiz.pass_rate) == ("Quizzed", 2, 1, 50)
