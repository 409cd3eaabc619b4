"""Go-live readiness and its blockers follow the re-certification grace period: after a
major version, a completion of the previous version still counts on a go-live date inside
the grace period (the holder's certificate is valid then too), not after it; the count
and the list of who blocks go-live always agree (one rule)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import CertificationTrack, ProgressStatus, User
from app.services import people, training
from app.services.context import Actor
from app.services.dates import today


def _ready_after_bump(app, make_user, make_track, org, *, grace: int, go_live_in: int):
    track = make_track(exam=False, required_for_go_live=True)
    holder, other = make_user(organization=org), make_user(organization=org)
    with app.app_context():
        row = db.session.get(CertificationTrack, track.id)
        training.update_track(row, Actor.system(), recertification_grace_days=grace)
        for person in (holder, other):
            enrolment = training.enrol(db.session.get(User, person.id), row, Actor.system())
            if person is holder:
                for course in row.courses:
                    training.complete_course(training.progress_for(enrolment, course),
                                             Actor.system())
                assert enrolment.status == ProgressStatus.COMPLETED
        project = training.create_project(Actor.system(), name="Go-live",
                                          organization_id=org.id,
                                          go_live_date=today() + timedelta(days=go_live_in))
        assignment = training.assign_training(project, row, Actor.system(),
                                              required_completions=1)
        db.session.commit()
        before = training.project_status(project).assignments[0].completed
        training.bump_version(row, Actor.system(), major=True)
        db.session.commit()
        status = training.project_status(project).assignments[0]
        blocking = {u.id for u in people.blockers(project, assignment)}
        return before, status.completed, blocking, holder.id, other.id


@pytest.mark.parametrize(("grace", "go_live_in", "counts"), [
    (30, 10, True),    # go-live inside the grace period: the v1 completion still counts
    (30, 40, False),   # after it: it does not
    (0, 10, False),    # no grace: re-certification is due at once
])
def test_a_previous_version_counts_only_within_the_grace_period(
        app, make_user, make_track, org, grace, go_live_in, counts):
    before, completed, blocking, holder_id, other_id = _ready_after_bump(
        app, make_user, make_track, org, grace=grace, go_live_in=go_live_in)
    assert before == 1
    assert completed == (1 if counts else 0)
    # The blockers list says the same as the count.
    assert other_id in blocking and (holder_id in blocking) is (not counts)


def test_a_certificate_issued_directly_counts_and_an_expired_one_does_not(
        app, make_user, make_track, org, issue):
    """Prior learning: an admin issues the track certificate without an enrolment; it
    counts toward go-live while valid on the go-live date, and the blockers agree."""
    from app.models import Certificate

    track = make_track(exam=False, required_for_go_live=True, validity_months=12)
    certified, lapsing, nobody = (make_user(organization=org) for _ in range(3))
    issue(certified, track=track)
    short = issue(lapsing, track=track)
    with app.app_context():
        db.session.get(Certificate, short.id).expires_at = today() + timedelta(days=5)
        project = training.create_project(Actor.system(), name="Go-live", organization_id=org.id,
                                          go_live_date=today() + timedelta(days=30))
        assignment = training.assign_training(project, training.get_track(track.id),
                                              Actor.system(), required_completions=2)
        db.session.commit()
        status = training.project_status(project).assignments[0]
        blocking = {u.id for u in people.blockers(project, assignment)}
    assert (status.completed, status.is_complete) == (1, False)
    assert blocking == {lapsing.id, nobody.id}
