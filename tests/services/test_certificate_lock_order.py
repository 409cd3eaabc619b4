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
from app.models import Certificate, CertificateType, CertificationTrack, User
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
