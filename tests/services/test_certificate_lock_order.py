"""Certificate writes take their locks in one order (the person, the year's number
counter, the audit chain head), so two of them at once wait for each other instead of
deadlocking (PostgreSQL aborts one of a deadlocked pair after deadlock_timeout)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from app.extensions import db
from app.models import Certificate, CertificateStatus, CertificateType, CertificationTrack, User
from app.services import certificates as certs
from app.services import signing
from app.services.certificates.lifecycle import IssueRequest, issue_certificates
from app.services.context import Actor
from app.services.errors import Conflict

ROUNDS = 8


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="row locks and deadlock detection: PostgreSQL")
def test_issue_and_reissue_at_once_never_deadlock(make_app, make_user, make_track, issue,
                                                  monkeypatch):
    """One thread issues while another re-issues (a different person's certificate), at
    the same moment, ROUNDS times. Signing is slowed down (it runs after the numbers are
    reserved and before the audit rows are written), so each issue holds the counter
    while the re-issue reaches its supersede: with the re-issue taking the audit head
    before the counter, every round deadlocks."""
    app = make_app(SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    track = make_track(exam=False)
    holder = make_user()
    current = issue(holder, track=track).id
    newcomers = [make_user() for _ in range(ROUNDS)]
    slow_sign = signing.sign_open_badges

    def sign_slowly(certificates: list[Certificate]) -> list[str | None]:
        time.sleep(0.15)
        return slow_sign(certificates)

    monkeypatch.setattr(signing, "sign_open_badges", sign_slowly)
    errors: list[BaseException] = []

    def run(barrier: threading.Barrier, work: Any) -> None:
        barrier.wait(timeout=30)
        with app.app_context():
            try:
                work()
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                db.session.rollback()
                errors.append(exc)

    for newcomer in newcomers:
        replaced: list[int] = []

        def issue_one(user_id: int = newcomer.id) -> None:
            certs.issue_certificate(Actor.system(), recipient=db.session.get(User, user_id),
                                    type_=CertificateType.COMPLETION,
                                    track=db.session.get(CertificationTrack, track.id))

        def reissue_one(certificate_id: int = current, out: list[int] = replaced) -> None:
            out.append(certs.reissue(db.session.get(Certificate, certificate_id),
                                     Actor.system()).id)

        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=run, args=(barrier, w))
                   for w in (issue_one, reissue_one)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], errors
        current = replaced[0]
    with app.app_context():
        # Every issue and every re-issue took a number: ROUNDS * 2 + the first, no gap.
        numbers = sorted(db.session.scalars(db.select(Certificate.number)))
        assert len(numbers) == 2 * ROUNDS + 1
        assert len(set(numbers)) == len(numbers)


def test_a_refused_issue_gives_its_numbers_back(app, make_user, make_track, issue,
                                                monkeypatch):
    """A parallel issue wins the live key between issue_certificates' look-up and its
    insert (played here inside the call, once its numbers are reserved): the caller gets
    the Conflict, catches it and commits (as a bulk import's row does); the number it had
    reserved is given back, so the next issue takes it (no gap)."""
    from sqlalchemy import insert

    from app.models import CertificateCounter, CertificateStatus

    track = make_track(exam=False)
    first = issue(make_user(), track=track)
    loser = make_user()
    real_sign = signing.sign_open_badges

    def won_meanwhile(certificates: list[Certificate]) -> list[str | None]:
        (mine,) = certificates
        db.session.execute(insert(Certificate).values(  # the winner: pending, same key
            type=mine.type, status=CertificateStatus.PENDING, recipient_id=mine.recipient_id,
            track_id=mine.track_id, live_key=mine.live_key))
        return real_sign(certificates)

    with app.app_context():
        monkeypatch.setattr(signing, "sign_open_badges", won_meanwhile)
        with pytest.raises(Conflict):
            certs.issue_certificate(Actor.system(), recipient=db.session.get(User, loser.id),
                                    type_=CertificateType.COMPLETION,
                                    track=db.session.get(CertificationTrack, track.id))
        db.session.commit()
        monkeypatch.setattr(signing, "sign_open_badges", real_sign)
        year = int(first.number.split("-")[1])
        assert db.session.get(CertificateCounter, year).last_number == 1
    assert issue(make_user(), track=track).number == f"CERT-{year}-00002"


def test_the_newer_major_rule_is_one_for_one_and_for_many(app, make_user, make_track):
    """With a version 2.0 certificate issued, a 1.0 one of the same track is refused the
    same way whether issued alone (issue_certificate, as approve and reinstate check it)
    or in a batch (issue_certificates, a bulk import's), and the batch's other request,
    another person's 1.0, is issued."""
    track, holder, other = make_track(exam=False), make_user(), make_user()
    with app.app_context():
        system, row = Actor.system(), db.session.get(CertificationTrack, track.id)
        v2 = certs.issue_certificate(system, recipient=db.session.get(User, holder.id),
                                     type_=CertificateType.COMPLETION, track=row,
                                     version="2.0")
        db.session.commit()
        with pytest.raises(Conflict, match=f"{v2.number} of version 2.0 stands"):
            certs.issue_certificate(system, recipient=db.session.get(User, holder.id),
                                    type_=CertificateType.COMPLETION, track=row,
                                    version="1.0")
        refused, issued = issue_certificates(system, [
            IssueRequest(recipient=db.session.get(User, person.id),
                               type_=CertificateType.COMPLETION, track=row, version="1.0")
            for person in (holder, other)])
        assert isinstance(refused, Conflict)
        assert f"{v2.number} of version 2.0 stands" in refused.message
        assert isinstance(issued, Certificate) and issued.recipient_id == other.id


def test_a_batch_costs_the_same_statements_whatever_its_size(app, make_user, make_track):
    """issue_certificates reads what a certificate's snapshot needs (its template version)
    for the whole batch at once: 12 certificates cost the SELECTs 3 do (after a first
    batch has read the signing key; SQLite inserts a row a statement, PostgreSQL not)."""
    from sqlalchemy import event

    track = make_track(exam=False)
    people = [make_user() for _ in range(17)]
    counts = []
    with app.app_context():
        row = db.session.get(CertificationTrack, track.id)
        for batch in (people[:2], people[2:5], people[5:]):
            recipients = [db.session.get(User, p.id) for p in batch]
            db.session.get(CertificationTrack, track.id)
            seen: list[str] = []

            def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any,
                      seen: list[str] = seen) -> None:
                if statement.lstrip().upper().startswith("SELECT"):
                    seen.append(statement)

            event.listen(db.engine, "before_cursor_execute", count)
            try:
                issued = issue_certificates(Actor.system(), [IssueRequest(
                    recipient=r, type_=CertificateType.COMPLETION, track=row)
                    for r in recipients])
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
            assert all(isinstance(c, Certificate) for c in issued)
            counts.append(len(seen))
            db.session.commit()
    assert counts[1] == counts[2]


# --- Writes that touch several people: all of them first ------------------------------

PG_ONLY = pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                             reason="row locks and deadlock detection: PostgreSQL")
SLOW = 0.3


def _deadlocks(app: Any) -> list[str]:
    """The deadlock errors PostgreSQL raises on the app's engine from now on (seen even
    when the code catches them: a bulk action counts its victim as busy, a bulk import's
    batch goes row by row)."""
    from sqlalchemy import event

    seen: list[str] = []

    def on_error(context: Any) -> None:
        if type(context.original_exception).__name__ == "DeadlockDetected":
            seen.append(str(context.original_exception).splitlines()[0])

    with app.app_context():
        event.listen(db.engine, "handle_error", on_error)
    return seen


def _slow_in(thread_name: str, target: Any, name: str, monkeypatch: Any,
             after: bool = False) -> None:
    """`target.name` sleeps SLOW seconds (before, or `after`, doing its work) when called
    from the thread named `thread_name` only."""
    real = getattr(target, name)

    def slowed(*args: Any, **kwargs: Any) -> Any:
        mine = threading.current_thread().name == thread_name
        if mine and not after:
            time.sleep(SLOW)
        result = real(*args, **kwargs)
        if mine and after:
            time.sleep(SLOW)
        return result

    monkeypatch.setattr(target, name, slowed)


def _at_once(app: Any, works: dict[str, Any]) -> list[BaseException]:
    """Run each work (name -> callable) in a thread of that name in its own app context,
    all released together, each committed; the errors raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(works))

    def run(work: Any) -> None:
        barrier.wait(timeout=30)
        with app.app_context():
            try:
                work()
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - collected and asserted
                db.session.rollback()
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,), name=n) for n, w in works.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _pending(user_id: int, track_id: int) -> int:
    certificate = Certificate(type=CertificateType.COMPLETION,
                              status=CertificateStatus.PENDING, recipient_id=user_id,
                              track_id=track_id, track_version="1.0",
                              live_key=Certificate.make_live_key(
                                  user_id, None, track_id, CertificateType.COMPLETION, 1))
    db.session.add(certificate)
    db.session.commit()
    return certificate.id


@PG_ONLY
def test_bulk_approve_and_an_issue_to_one_of_its_people_never_deadlock(
        make_app, make_user, make_track, monkeypatch):
    """A bulk approval of two people's certificates while a single issue goes to the
    second person, ROUNDS // 2 times. The approval's first certificate holds the counter
    and the audit head (its signing slowed); the issue holds the second person (slowed
    before its counter). Taking the second person only when its turn came, every round
    deadlocked (one of the two aborted by PostgreSQL)."""
    from app.services.certificates import bulk as bulk_actions
    from app.services.certificates import templates

    app = make_app(SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    approved, other = make_track("Approved", exam=False), make_track("Issued", exam=False)
    _slow_in("bulk", signing, "sign_open_badges", monkeypatch)
    _slow_in("issuer", templates, "version_ids_for", monkeypatch)
    deadlocks = _deadlocks(app)
    for _ in range(ROUNDS // 2):
        first, second = make_user(), make_user()
        with app.app_context():
            ids = [_pending(first.id, approved.id), _pending(second.id, approved.id)]
        tallies: list[Any] = []

        def approve_both(ids: list[int] = ids, out: list[Any] = tallies) -> None:
            out.append(bulk_actions.apply(Actor.system(), bulk_actions.BulkAction("approve"),
                                          ids))

        def issue_second(user_id: int = second.id) -> None:
            certs.issue_certificate(Actor.system(), recipient=db.session.get(User, user_id),
                                    type_=CertificateType.COMPLETION,
                                    track=db.session.get(CertificationTrack, other.id))

        errors = _at_once(app, {"bulk": approve_both, "issuer": issue_second})
        assert (errors, deadlocks) == ([], [])
        assert (tallies[0].done, tallies[0].refused) == (2, {})
    with app.app_context():
        numbers = list(db.session.scalars(db.select(Certificate.number)))
        assert len(numbers) == len(set(numbers)) == 3 * (ROUNDS // 2)


@PG_ONLY
def test_an_inviting_batch_and_another_batch_for_one_of_its_people_never_deadlock(
        make_app, make_user, make_track, monkeypatch):
    """Two bulk imports' jobs at once, ROUNDS // 2 times: one batch invites a newcomer
    (its invitation slowed: it holds the counter and the audit head) and issues to a
    person; the other batch issues that person another certificate (slowed after holding
    the person, before its counter). With the inviting batch taking the person only in
    issue_certificates, every round deadlocked (the victim's batch going row by row)."""
    import io

    from app.jobs.bulk import process_bulk_import
    from app.models import BulkImport, BulkImportRow, Role
    from app.models import RowStatus as R
    from app.services import users as user_service
    from app.services.bulk import certificates as bulk
    from app.services.certificates import templates

    app = make_app(SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    make_track("Roofing", exam=False)
    make_track("Gutters", exam=False)
    admin = make_user(Role.ADMIN)
    monkeypatch.setattr(bulk, "_queue", lambda _bulk: None)  # the threads run the jobs
    _slow_in("inviter", user_service, "create_user", monkeypatch, after=True)
    _slow_in("other", templates, "version_ids_for", monkeypatch)
    deadlocks = _deadlocks(app)
    header = "email,name,organization,course,track,type,issue_date,expiry,notes\n"
    for round_ in range(ROUNDS // 2):
        make_user(email=f"shared{round_}@example.test")  # in both imports
        with app.app_context():
            imports = []
            for text, invite in (
                    (f"new{round_}@example.test,New,,,Roofing,completion,,,\n"
                     f"shared{round_}@example.test,,,,Roofing,completion,,,\n", True),
                    (f"shared{round_}@example.test,,,,Gutters,completion,,,\n", False)):
                actor = Actor(user=db.session.get(User, admin.id))
                item = bulk.preview(actor, io.BytesIO((header + text).encode()), "c.csv")
                db.session.commit()
                bulk.confirm(item, actor, invite_unknown=invite)
                db.session.commit()
                imports.append(item.id)

        errors = _at_once(app, {"inviter": lambda i=imports[0]: process_bulk_import(i),
                                "other": lambda i=imports[1]: process_bulk_import(i)})
        assert (errors, deadlocks) == ([], [])
        with app.app_context():
            assert list(db.session.scalars(db.select(BulkImportRow.status).where(
                BulkImportRow.import_id.in_(imports)))) == [R.ISSUED] * 3
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Certificate)) \
            == 3 * (ROUNDS // 2)
        assert {i.status.value for i in db.session.scalars(db.select(BulkImport))} == {"DONE"}


@PG_ONLY
def test_issue_and_renewal_at_once_never_deadlock(make_app, make_user, make_track, issue,
                                                  monkeypatch):
    """A renewal (renew_on_completion: the holder completed the track again after a
    renewal invitation) while another person is issued a certificate, ROUNDS times, with
    signing slowed as in the re-issue test: the renewal goes through
    _hold_for_replacement too, so it holds the counter before its supersede's audit row
    (without that, it and the issue deadlocked)."""
    from datetime import timedelta

    from app.models import (
        CampaignStatus,
        Enrolment,
        InvitationStatus,
        ProgressStatus,
        RenewalCampaign,
        RenewalInvitation,
    )
    from app.services import renewals
    from app.services.dates import today

    app = make_app(SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    track = make_track(exam=False, validity_months=12)
    holder = make_user()
    current = issue(holder, track=track).id
    with app.app_context():
        enrolment = Enrolment(user_id=holder.id, track_id=track.id,
                              status=ProgressStatus.COMPLETED, completed_version=track.version)
        db.session.add(enrolment)
        db.session.commit()
        enrolment_id = enrolment.id
    _slow_in("issuer", signing, "sign_open_badges", monkeypatch)
    _slow_in("renewal", signing, "sign_open_badges", monkeypatch)
    deadlocks = _deadlocks(app)
    for round_ in range(ROUNDS):
        newcomer = make_user()
        with app.app_context():  # a campaign a day back a round (one a track and day)
            campaign = RenewalCampaign(track_id=track.id, within_days=30,
                                       started_on=today() - timedelta(days=round_),
                                       status=CampaignStatus.DONE)
            db.session.add(campaign)
            db.session.flush()
            db.session.add(RenewalInvitation(campaign_id=campaign.id, user_id=holder.id,
                                             certificate_id=current,
                                             status=InvitationStatus.RE_ENROLLED))
            db.session.commit()
        renewed: list[int | None] = []

        def issue_one(user_id: int = newcomer.id) -> None:
            certs.issue_certificate(Actor.system(), recipient=db.session.get(User, user_id),
                                    type_=CertificateType.COMPLETION,
                                    track=db.session.get(CertificationTrack, track.id))

        def renew(certificate_id: int = current, out: list[Any] = renewed) -> None:
            new = renewals.renew_on_completion(
                db.session.get(Enrolment, enrolment_id),
                db.session.get(Certificate, certificate_id), Actor.system())
            out.append(new and new.id)

        errors = _at_once(app, {"issuer": issue_one, "renewal": renew})
        assert (errors, deadlocks) == ([], [])
        assert renewed[0] is not None  # renewed, not left standing by a refusal
        current = renewed[0]
    with app.app_context():
        numbers = sorted(db.session.scalars(db.select(Certificate.number)))
        assert len(numbers) == len(set(numbers)) == 2 * ROUNDS + 1
        assert db.session.get(Certificate, current).status == CertificateStatus.ISSUED


@PG_ONLY
def test_bulk_approve_and_an_approval_of_one_of_its_certificates_never_deadlock(
        make_app, make_user, make_track, monkeypatch):
    """Course certificates hold no person: a bulk approval of two of them while another
    admin approves the second one alone, ROUNDS // 2 times (the bulk's first signing
    slowed while it holds the counter and the head; the single approval slowed after
    taking its certificate's row, before the counter). Taking the second certificate's
    row only when its turn came, every round deadlocked. Exactly once: the second one is
    approved by one of them, the other is told it is already approved."""
    from app.services.certificates import bulk as bulk_actions
    from app.services.certificates import templates
    from app.services.errors import AlreadyDone

    app = make_app(SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    (course,) = make_track("Courses", exam=False).courses
    _slow_in("bulk", signing, "sign_open_badges", monkeypatch)
    _slow_in("approver", templates, "version_ids_for", monkeypatch)
    deadlocks = _deadlocks(app)
    for _ in range(ROUNDS // 2):
        ids = []
        with app.app_context():
            for person in (make_user(), make_user()):
                certificate = Certificate(
                    type=CertificateType.COMPLETION, status=CertificateStatus.PENDING,
                    recipient_id=person.id, course_id=course.id,
                    live_key=Certificate.make_live_key(person.id, course.id, None,
                                                       CertificateType.COMPLETION))
                db.session.add(certificate)
                db.session.commit()
                ids.append(certificate.id)
        tallies: list[Any] = []
        told: list[str] = []

        def approve_both(ids: list[int] = ids, out: list[Any] = tallies) -> None:
            out.append(bulk_actions.apply(Actor.system(), bulk_actions.BulkAction("approve"),
                                          ids))

        def approve_second(certificate_id: int = ids[1], out: list[str] = told) -> None:
            try:
                certs.approve(db.session.get(Certificate, certificate_id), Actor.system())
            except AlreadyDone as already:
                out.append(already.message)

        errors = _at_once(app, {"bulk": approve_both, "approver": approve_second})
        assert (errors, deadlocks) == ([], [])
        assert tallies[0].refused == {}
        # The single approval won the second one (told nothing) or lost it (told).
        assert (tallies[0].done, tallies[0].already) == ((2, 0) if told else (1, 1))
    with app.app_context():
        numbers = list(db.session.scalars(db.select(Certificate.number)))
        assert len(numbers) == len(set(numbers)) == 2 * (ROUNDS // 2)
