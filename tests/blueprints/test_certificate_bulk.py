"""Bulk actions on /admin/certificates: the ticked rows (or all matching the filters)
approved, rejected, revoked or downloaded, each through its own lifecycle verb (one audit
row and one notification per certificate), with a summary of mixed outcomes; a large
"all matching" action as a job recorded in bulk_action_runs (progress, RQ retries, a
stale or failed run shown failed with Resume, which queues it once); admins only; each
class of input answers its own status and none a 500; two bulk approves (or two Resumes)
at once change each certificate once (really concurrent on PostgreSQL)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import bulk_actions as bulk_job
from app.jobs.bulk_actions import run_bulk_action
from app.models import (
    AuditLog,
    BulkActionRun,
    Certificate,
    CertificateExport,
    CertificateStatus,
    Notification,
    NotificationType,
    RunStatus,
)
from app.models.base import utcnow
from app.services.certificates import bulk
from app.services.context import Actor
from app.services.errors import ValidationFailed
from tests.conftest import HX, pending_certificate

S = CertificateStatus




def _status(app: Any, certificate_id: int) -> CertificateStatus:
    with app.app_context():
        return db.session.get(Certificate, certificate_id).status


def _audits(app: Any, action: str, ids: list[int]) -> dict[int, int]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditLog.resource_id, func.count(AuditLog.id))
            .where(AuditLog.action == action, AuditLog.resource_type == "certificate",
                   AuditLog.resource_id.in_([str(i) for i in ids]))
            .group_by(AuditLog.resource_id)).all()
        return {int(resource): count for resource, count in rows}


def _summary(response: Any) -> str:
    match = re.search(r'<p class="[^"]*bulk-summary"[^>]*>(.*?)</p>',
                      response.get_data(as_text=True), re.S)
    assert match, response.get_data(as_text=True)
    return " ".join(match.group(1).split())


def _people(make_user: Any, n: int, prefix: str = "Learner") -> list[Any]:
    return [make_user(name=f"{prefix} {i}") for i in range(n)]


# --- ticked rows ------------------------------------------------------------------------

def test_bulk_approve_reports_mixed_outcomes_and_audits_each(app, admin_client, make_user,
                                                             make_track):
    track = make_track()
    people = _people(make_user, 5)
    ids = [pending_certificate(app, person, track) for person in people]
    admin_client.post(f"/admin/certificates/{ids[3]}/approve", headers=HX)  # already
    admin_client.post(f"/admin/certificates/{ids[4]}/reject", headers=HX,
                      data={"reason": "Evidence missing"})                # refused
    response = admin_client.post("/admin/certificates/bulk-actions", headers=HX,
                                 data={"action": "approve", "id": [str(i) for i in ids]})
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "certificates-changed"
    assert _summary(response) == ("3 approved, 1 already approved, 1 refused: Only a "
                                  "pending certificate can be approved; this one is "
                                  "rejected.")
    html = response.get_data(as_text=True)
    assert 'role="status"' in html and "autofocus" in html
    assert [_status(app, i) for i in ids] == [S.ISSUED] * 4 + [S.REJECTED]
    assert _audits(app, "CERT_APPROVE", ids) == {i: 1 for i in ids[:4]}
    with app.app_context():
        told = db.session.scalar(select(func.count(Notification.id)).where(
            Notification.type == NotificationType.CERTIFICATE_ISSUED,
            Notification.user_id.in_([p.id for p in people[:3]])))
    assert told == 3


def test_bulk_reject_takes_one_reason_for_all(app, admin_client, make_user, make_track):
    track = make_track()
    ids = [pending_certificate(app, person, track) for person in _people(make_user, 3)]
    missing = admin_client.post("/admin/certificates/bulk-actions", headers=HX,
                                data={"action": "reject", "id": ids, "reason": "  "})
    assert missing.status_code == 422 and "Give a reason for rejecting" in _summary(missing)
    assert 'role="alert"' in missing.get_data(as_text=True)
    assert {_status(app, i) for i in ids} == {S.PENDING}
    response = admin_client.post("/admin/certificates/bulk-actions", headers=HX,
                                 data={"action": "reject", "id": ids[:2],
                                       "reason": "Not this cohort"})
    assert _summary(response) == "2 rejected."
    with app.app_context():
        reasons = {c.rejection_reason for c in db.session.scalars(
            select(Certificate).where(Certificate.id.in_(ids[:2])))}
    assert reasons == {"Not this cohort"} and _status(app, ids[2]) == S.PENDING
    assert _audits(app, "CERT_REJECT", ids) == {ids[0]: 1, ids[1]: 1}


def test_all_matching_revokes_what_the_filter_matches_not_the_ids_sent(
        app, admin_client, make_user, make_track, issue):
    kept_track, revoked_track = make_track("Kept"), make_track("Revoked track")
    kept = [issue(p, track=kept_track) for p in _people(make_user, 2, "Keep")]
    gone = [issue(p, track=revoked_track) for p in _people(make_user, 3, "Gone")]
    response = admin_client.post(
        f"/admin/certificates/bulk-actions?status=issued&track_id={revoked_track.id}", headers=HX,
        # The browser names the other track's certificates: "all" ignores them.
        data={"action": "revoke", "all": "1", "id": [c.id for c in kept],
              "reason": "Course audit failed", "category": "requirements_not_met"})
    assert _summary(response) == "3 revoked."
    assert {_status(app, c.id) for c in gone} == {S.REVOKED}
    assert {_status(app, c.id) for c in kept} == {S.ISSUED}
    with app.app_context():
        categories = {c.revocation_category for c in db.session.scalars(
            select(Certificate).where(Certificate.id.in_([c.id for c in gone])))}
    assert categories == {"requirements_not_met"}
    assert _audits(app, "CERT_REVOKE", [c.id for c in gone + kept]) == {c.id: 1 for c in gone}


def test_refusals_are_shown_in_place(app, admin_client, make_user, make_track, issue):
    certificate = issue(make_user(name="One"), track=make_track())
    cases = [
        ({"action": "approve"}, 422, "Select at least one certificate"),
        ({"action": "explode", "id": certificate.id}, 422, "Choose an action"),
        ({"action": "approve", "id": "1; drop"}, 422, "not a certificate"),
        ({"action": "approve", "id": [str(i) for i in range(1, 102)]}, 422, "At most 100"),
        ({"action": "revoke", "id": certificate.id, "reason": "x", "category": "nope"},
         422, "Unknown revocation category"),
        ({"action": "approve", "all": "1"}, 422, "No certificates match"),
    ]
    for data, status, words in cases:
        response = admin_client.post("/admin/certificates/bulk-actions?status=pending&q=nobody",
                                     headers=HX, data=data)
        assert response.status_code == status, data
        assert words in _summary(response), data
    assert _status(app, certificate.id) == S.ISSUED


def test_unknown_filter_in_the_url_is_a_clear_422(admin_client):
    response = admin_client.post("/admin/certificates/bulk-actions?status=bogus", headers=HX,
                                 data={"action": "approve", "all": "1"})
    assert response.status_code == 422 and "Unknown status" in _summary(response)


def test_bulk_download_zips_only_the_ticked_certificates(app, admin_client, make_user,
                                                         make_track, issue):
    track = make_track()
    certificates = [issue(p, track=track) for p in _people(make_user, 3)]
    response = admin_client.post("/admin/certificates/bulk-actions?status=issued", headers=HX,
                                 data={"action": "download",
                                       "id": [certificates[0].id, certificates[2].id]})
    assert response.status_code == 200
    with app.app_context():
        export = db.session.scalars(select(CertificateExport)
                                    .order_by(CertificateExport.id.desc())).first()
        assert export.status == "ready" and export.certificate_count == 2
        export_id = export.id
    assert "Building the ZIP" in response.get_data(as_text=True)
    ready = admin_client.get(f"/admin/certificates/exports/{export_id}", headers=HX)
    assert "Download ZIP (2 certificates)" in ready.get_data(as_text=True)
    archive = admin_client.get(f"/admin/certificates/exports/{export_id}/download")
    names = set(zipfile.ZipFile(io.BytesIO(archive.data)).namelist())
    assert names == {f"{certificates[0].number}.pdf", f"{certificates[2].number}.pdf"}


@pytest.mark.parametrize("who", ["manager_client", "org_admin_client", "staff_client"])
def test_only_admins_act_in_bulk(request, app, make_user, make_track, who):
    certificate_id = pending_certificate(app, make_user(name="Target"), make_track())
    client = request.getfixturevalue(who)
    response = client.post("/admin/certificates/bulk-actions", headers=HX,
                           data={"action": "approve", "id": certificate_id})
    assert response.status_code == 403
    assert client.get("/admin/certificates/bulk-actions/abcdef", headers=HX).status_code == 403
    assert client.post("/admin/certificates/bulk-actions/abcdef/resume",
                       headers=HX).status_code == 403
    assert _status(app, certificate_id) == S.PENDING


# --- "all matching" as a job ---------------------------------------------------------------

def test_large_all_matching_runs_as_a_job_with_progress(app, admin_client, make_user,
                                                        make_track, monkeypatch):
    monkeypatch.setattr(bulk, "INLINE_LIMIT", 2)
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 2)
    track = make_track()
    ids = [pending_certificate(app, person, track) for person in _people(make_user, 5)]
    response = admin_client.post("/admin/certificates/bulk-actions?status=pending", headers=HX,
                                 data={"action": "approve", "all": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<progress" in html and "Approving 5" in html
    token = re.search(r'/admin/certificates/bulk-actions/([\w-]+)', html).group(1)
    # The job ran inline after the commit (no Redis): the poll shows the summary.
    done = admin_client.get(f"/admin/certificates/bulk-actions/{token}", headers=HX)
    assert _summary(done) == "5 approved."
    assert done.headers["HX-Trigger"] == "certificates-changed"
    assert {_status(app, i) for i in ids} == {S.ISSUED}
    assert _audits(app, "CERT_APPROVE", ids) == {i: 1 for i in ids}
    assert admin_client.get("/admin/certificates/bulk-actions/not-a-run", headers=HX).status_code == 404
    assert admin_client.get("/admin/certificates/bulk-actions/..%2Fx", headers=HX).status_code == 404


def _run(app: Any, admin: Any, ids: list[int], **values: Any) -> tuple[int, str]:
    """A recorded run (no job queued: the test runs it)."""
    with app.app_context():
        fields = {"kind": "approve", "reason": "", "category": "other",
                  "requested_by_id": admin.id, "filters": {"status": "pending"}, "ids": ids,
                  "total": len(ids), "status": RunStatus.QUEUED, "position": 0,
                  "done_count": 0, "already_count": 0, "refused_count": 0, "refusals": {},
                  "attempts": 0, "heartbeat_at": utcnow(), **values}
        run = BulkActionRun(**fields)
        db.session.add(run)
        db.session.commit()
        return run.id, run.token


def _get_run(app: Any, run_id: int) -> BulkActionRun:
    with app.app_context():
        run = db.session.get(BulkActionRun, run_id)
        db.session.expunge(run)
        return run


def _dying(monkeypatch: Any, at_call: int) -> None:
    real_apply = bulk.apply
    calls = {"n": 0}

    def dying(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == at_call:
            raise RuntimeError("worker killed")
        return real_apply(*args)

    monkeypatch.setattr(bulk, "apply", dying)


def test_the_run_is_a_table_row_recording_who_what_and_counts(app, admin_client, admin_user,
                                                              make_user, make_track,
                                                              monkeypatch):
    monkeypatch.setattr(bulk, "INLINE_LIMIT", 2)
    track = make_track()
    ids = [pending_certificate(app, person, track) for person in _people(make_user, 4)]
    admin_client.post(f"/admin/certificates/{ids[0]}/reject", headers=HX,
                      data={"reason": "Evidence missing"})
    admin_client.post("/admin/certificates/bulk-actions?status=pending&track_id="
                      f"{track.id}", headers=HX, data={"action": "approve", "all": "1"})
    with app.app_context():
        run = db.session.scalars(select(BulkActionRun)).one()
        assert (run.kind, run.requested_by_id, run.status) == ("approve", admin_user.id,
                                                               RunStatus.DONE)
        assert run.filters == {"status": "pending", "track_id": str(track.id)}
        assert sorted(run.ids) == sorted(ids[1:]) and run.total == 3 == run.position
        assert (run.done_count, run.already_count, run.refused_count) == (3, 0, 0)
        assert run.summary == "3 approved." and run.attempts == 1
        assert run.heartbeat_at and run.finished_at and run.error is None
        assert len(run.token) >= 24  # the progress URL cannot be guessed


def test_a_try_that_raises_is_retried_by_rq_then_failed_on_the_last(
        app, admin_user, make_user, make_track, monkeypatch):
    from rq import Retry

    queued: list[Any] = []
    monkeypatch.setattr(bulk, "enqueue_after_commit",
                        lambda *args, **options: queued.append((args, options)))
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 2)
    track = make_track()
    ids = [pending_certificate(app, person, track) for person in _people(make_user, 5)]
    with app.app_context():
        from app.models import User
        bulk.request_run(Actor(user=db.session.get(User, admin_user.id)),
                         bulk.BulkAction("approve"), ids)
        db.session.commit()
    ((args, options),) = queued
    assert args[0] == "app.jobs.bulk_actions.run_bulk_action" and isinstance(args[1], int)
    assert isinstance(options["retry"], Retry) and options["retry"].max == 3
    run_id = args[1]
    _dying(monkeypatch, 2)
    monkeypatch.setattr(bulk_job, "_last_attempt", lambda: False)  # RQ will try again
    with app.app_context(), pytest.raises(RuntimeError):
        run_bulk_action(run_id)
    retrying = _get_run(app, run_id)
    assert (retrying.status, retrying.position, retrying.done_count) == (RunStatus.QUEUED, 2, 2)
    assert "Trying again" in retrying.error
    _dying(monkeypatch, 1)
    monkeypatch.setattr(bulk_job, "_last_attempt", lambda: True)  # the last try
    with app.app_context(), pytest.raises(RuntimeError):
        run_bulk_action(run_id)
    failed = _get_run(app, run_id)
    assert (failed.status, failed.position, failed.attempts) == (RunStatus.FAILED, 2, 2)
    assert failed.error == "Stopped after 2 of 5 (RuntimeError)." and failed.finished_at
    assert [_status(app, i) for i in ids].count(S.ISSUED) == 2


def test_a_failed_run_shows_resume_which_goes_on_from_where_it_stopped_once(
        app, admin_client, admin_user, make_user, make_track, monkeypatch):
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 2)
    track = make_track()
    ids = [pending_certificate(app, person, track) for person in _people(make_user, 5)]
    run_id, token = _run(app, admin_user, ids, token="resume-test")
    _dying(monkeypatch, 2)
    with app.app_context(), pytest.raises(RuntimeError):
        run_bulk_action(run_id)  # inline: no RQ retry left, so failed
    monkeypatch.undo()
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 2)
    page = admin_client.get(f"/admin/certificates/bulk-actions/{token}", headers=HX)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Approving stopped: Stopped after 2 of 5" in html
    assert "So far: 2 approved." in html and "Resume (3 left)" in html
    assert "hx-get" not in html  # no more polling
    # A certificate of the next chunk was approved by hand meanwhile.
    admin_client.post(f"/admin/certificates/{ids[2]}/approve", headers=HX)
    resumed = admin_client.post(f"/admin/certificates/bulk-actions/{token}/resume", headers=HX)
    # The job ran inline after the commit: the answer is its progress, the poll its end.
    assert resumed.status_code == 200 and "<progress" in resumed.get_data(as_text=True)
    done = admin_client.get(f"/admin/certificates/bulk-actions/{token}", headers=HX)
    assert _summary(done) == "4 approved, 1 already approved."
    again = admin_client.post(f"/admin/certificates/bulk-actions/{token}/resume", headers=HX)
    assert again.status_code == 200 and _summary(again) == "4 approved, 1 already approved."
    assert {_status(app, i) for i in ids} == {S.ISSUED}
    assert _audits(app, "CERT_APPROVE", ids) == {i: 1 for i in ids}
    with app.app_context():
        resumes = db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.resource_type == "bulk_action_run"))
        assert run_bulk_action(run_id)["status"] == "already_done"
    assert resumes == 1


def test_a_silent_worker_is_shown_failed_and_its_run_can_be_taken_over(
        app, admin_client, admin_user, make_user, make_track):
    track = make_track()
    ids = [pending_certificate(app, person, track) for person in _people(make_user, 3)]
    fresh_id, fresh = _run(app, admin_user, ids[:1], token="fresh-beat",
                           status=RunStatus.RUNNING, attempts=1)
    page = admin_client.get(f"/admin/certificates/bulk-actions/{fresh}", headers=HX)
    assert 'hx-trigger="load delay:1s"' in page.get_data(as_text=True)  # still polled
    with app.app_context():  # a job that finds another one holding the run leaves it
        assert run_bulk_action(fresh_id)["status"] == "busy"
    old = utcnow() - bulk.STALE_AFTER - timedelta(seconds=5)
    stale_id, stale = _run(app, admin_user, ids, token="stale-beat", status=RunStatus.RUNNING,
                           attempts=1, heartbeat_at=old)
    page = admin_client.get(f"/admin/certificates/bulk-actions/{stale}", headers=HX)
    html = page.get_data(as_text=True)
    assert "The worker stopped after 0 of 3" in html and "Resume (3 left)" in html
    assert "hx-get" not in html
    assert _get_run(app, stale_id).status == RunStatus.RUNNING  # a GET writes nothing
    admin_client.post(f"/admin/certificates/bulk-actions/{stale}/resume", headers=HX)
    assert _get_run(app, stale_id).status == RunStatus.DONE
    assert {_status(app, i) for i in ids} == {S.ISSUED}
    # A job of a stale run is taken over by the next try (an RQ retry after a kill).
    old_id, _ = _run(app, admin_user, ids, token="taken-over", status=RunStatus.RUNNING,
                     attempts=1, heartbeat_at=old)
    with app.app_context():
        assert run_bulk_action(old_id)["summary"] == "0 approved, 3 already approved."


def test_only_a_failed_or_stale_run_can_be_resumed(app, admin_client, admin_user, make_user,
                                                  make_track):
    track = make_track()
    ids = [pending_certificate(app, person, track) for person in _people(make_user, 2)]
    _, token = _run(app, admin_user, ids, token="busy-run", status=RunStatus.RUNNING,
                    attempts=1)
    response = admin_client.post(f"/admin/certificates/bulk-actions/{token}/resume",
                                 headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "It is running already." in html
    assert "<progress" in html
    assert admin_client.post("/admin/certificates/bulk-actions/nope/resume",
                             headers=HX).status_code == 404
    assert {_status(app, i) for i in ids} == {S.PENDING}


# --- parsing: never a 500 ---------------------------------------------------------------

_values = st.one_of(st.text(max_size=30), st.integers(-5, 2**70).map(str),
                    st.sampled_from(["", " ", "0", "1", "١", "1e3", "\x00", "99999999999"]))


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.lists(_values, max_size=120))
def test_selected_ids_are_ids_or_a_clear_refusal(values: list[str]) -> None:
    try:
        ids = bulk.selected_ids(values)
    except ValidationFailed as refusal:
        assert refusal.fields
        return
    assert 1 <= len(ids) <= bulk.MAX_SELECTED and len(set(ids)) == len(ids)
    assert all(isinstance(i, int) and i > 0 for i in ids)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.one_of(st.sampled_from(["approve", "reject", "revoke", "download", ""]),
                        st.text(max_size=10)),
       ids=st.lists(_values, max_size=5), everything=st.booleans(),
       reason=st.text(max_size=40), category=st.text(max_size=20),
       query=st.sampled_from(["", "status=issued", "status=nope", "type=x", "from=2026-13-01",
                              "course_id=abc", "q=%00", "status=pending&page=-1"]))
def test_no_bulk_post_is_a_500(admin_client, action, ids, everything, reason, category,
                               query) -> None:
    data = {"action": action, "id": ids, "reason": reason, "category": category}
    if everything:
        data["all"] = "1"
    response = admin_client.post(f"/admin/certificates/bulk-actions?{query}", headers=HX, data=data)
    assert response.status_code < 500, response.status_code


def test_each_class_of_input_answers_its_own_status(app, admin_client, make_user, make_track,
                                                    issue):
    pending = pending_certificate(app, make_user(name="Waiting"), make_track("Pending track"))
    issued = issue(make_user(name="Holder"), track=make_track("Issued track"))
    url = "/admin/certificates/bulk-actions"
    revoke = {"action": "revoke", "id": issued.id, "category": "other"}
    cases = [
        ("approve ticked", "", {"action": "approve", "id": pending}, 200),
        ("approve again (counted already)", "", {"action": "approve", "id": pending}, 200),
        ("approve a missing id (counted refused)", "", {"action": "approve", "id": 99999}, 200),
        ("download ticked", "?status=issued", {"action": "download", "id": issued.id}, 200),
        ("download all matching", "?status=issued", {"action": "download", "all": "1"}, 200),
        ("an unreadable date filter is ignored", "?status=issued&from=2026-13-01",
         {"action": "download", "all": "1"}, 200),
        ("no action", "", {"id": pending}, 422),
        ("an unknown action", "", {"action": "explode", "id": pending}, 422),
        ("nothing ticked", "", {"action": "approve"}, 422),
        ("an unreadable id", "", {"action": "approve", "id": "1; drop"}, 422),
        ("an id out of range", "", {"action": "approve", "id": "99999999999999999999"}, 422),
        ("too many ticked", "", {"action": "approve", "id": [str(i) for i in range(1, 102)]},
         422),
        ("download nothing ticked", "?status=issued", {"action": "download"}, 422),
        ("revoke without a reason", "", {**revoke, "reason": " "}, 422),
        ("a reason with a NUL", "", {**revoke, "reason": "bad\x00"}, 422),
        ("a reason too long", "", {**revoke, "reason": "x" * 2001}, 422),
        ("an unknown category", "", {**revoke, "reason": "x", "category": "nope"}, 422),
        ("an unknown status filter", "?status=bogus", {"action": "approve", "all": "1"}, 422),
        ("all matching nothing", "?status=pending&q=nobody",
         {"action": "approve", "all": "1"}, 422),
    ]
    for label, query, data, expected in cases:
        response = admin_client.post(url + query, headers=HX, data=data)
        assert response.status_code == expected, (label, response.get_data(as_text=True))
    assert _status(app, issued.id) == S.ISSUED


# --- two bulk approves at once ------------------------------------------------------------

def test_two_bulk_approves_of_the_same_twenty_approve_each_once(app, admin_user, make_user,
                                                                make_track, race):
    track = make_track()
    ids = [pending_certificate(app, person, track) for person in _people(make_user, 20, "Racer")]
    responses = race(admin_user, "POST", "/admin/certificates/bulk-actions", n=2, headers=HX,
                     data={"action": "approve", "id": [str(i) for i in ids]})
    assert [r.status_code for r in responses] == [200, 200]
    summaries = sorted(_summary(r) for r in responses)
    # Each certificate went to one of the two; the other counted it "already approved".
    counts = [tuple(int(n) for n in re.findall(r"(\d+) (?:already )?approved", s))
              for s in summaries]
    assert sum(c[0] for c in counts) == 20, summaries
    assert all(sum(c) == 20 for c in counts), summaries
    assert {_status(app, i) for i in ids} == {S.ISSUED}
    assert _audits(app, "CERT_APPROVE", ids) == {i: 1 for i in ids}
    with app.app_context():
        numbers = list(db.session.scalars(select(Certificate.number)
                                          .where(Certificate.id.in_(ids))))
        told = db.session.scalar(select(func.count(Notification.id)).where(
            Notification.type == NotificationType.CERTIFICATE_ISSUED))
    assert len(set(numbers)) == 20 and told == 20


def test_a_job_asked_for_by_an_admin_since_demoted_changes_nothing(app, make_user,
                                                                   make_track):
    from app.models import Role, User

    track = make_track()
    demoted = make_user(Role.ADMIN, name="Former Admin")
    ids = [pending_certificate(app, person, track) for person in _people(make_user, 3)]
    run_id, _ = _run(app, demoted, ids, token="demoted-run")
    with app.app_context():
        db.session.get(User, demoted.id).role = Role.STAFF
        db.session.commit()
        assert run_bulk_action(run_id)["status"] == "refused"
    assert _get_run(app, run_id).status == RunStatus.FAILED
    assert {_status(app, i) for i in ids} == {S.PENDING}


def test_two_resumes_at_once_queue_one_job(app, admin_user, make_user, make_track, race):
    track = make_track()
    ids = [pending_certificate(app, person, track) for person in _people(make_user, 6, "Resumer")]
    run_id, token = _run(app, admin_user, ids, token="race-resume", status=RunStatus.FAILED,
                         error="Stopped after 0 of 6 (RuntimeError).")
    responses = race(admin_user, "POST", f"/admin/certificates/bulk-actions/{token}/resume",
                     n=3, headers=HX)
    assert [r.status_code for r in responses] == [200, 200, 200]
    # The others found it queued, running or done already: shown as such, not an error.
    assert not any('role="alert"' in r.get_data(as_text=True) for r in responses)
    run = _get_run(app, run_id)
    assert run.status == RunStatus.DONE and run.attempts == 1 and run.done_count == 6
    assert _audits(app, "CERT_APPROVE", ids) == {i: 1 for i in ids}
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.resource_type == "bulk_action_run")) == 1
