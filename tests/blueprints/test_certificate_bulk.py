"""Bulk actions on /admin/certificates: the ticked rows (or all matching the filters)
approved, rejected, revoked or downloaded, each through its own lifecycle verb (one audit
row and one notification per certificate), with a summary of mixed outcomes; a large
"all matching" action as a resumable job with progress; admins only; no input a 500;
two bulk approves at once change each certificate once (really concurrent on
PostgreSQL)."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.jobs.bulk_actions import run_bulk_action
from app.models import (
    AuditLog,
    Certificate,
    CertificateExport,
    CertificateStatus,
    CertificateType,
    Notification,
    NotificationType,
)
from app.services.certificates import bulk
from app.services.context import Actor
from app.services.errors import ValidationFailed
from tests.conftest import HX

S = CertificateStatus


def _pending(app: Any, user: Any, track: Any) -> int:
    with app.app_context():
        certificate = Certificate(type=CertificateType.COMPLETION, status=S.PENDING,
                                  recipient_id=user.id, track_id=track.id,
                                  live_key=Certificate.make_live_key(
                                      user.id, None, track.id, CertificateType.COMPLETION))
        db.session.add(certificate)
        db.session.commit()
        return certificate.id


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
    ids = [_pending(app, person, track) for person in people]
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
    ids = [_pending(app, person, track) for person in _people(make_user, 3)]
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
    certificate_id = _pending(app, make_user(name="Target"), make_track())
    client = request.getfixturevalue(who)
    response = client.post("/admin/certificates/bulk-actions", headers=HX,
                           data={"action": "approve", "id": certificate_id})
    assert response.status_code == 403
    assert client.get("/admin/certificates/bulk-actions/abcdef", headers=HX).status_code == 403
    assert _status(app, certificate_id) == S.PENDING


# --- "all matching" as a job ---------------------------------------------------------------

def test_large_all_matching_runs_as_a_job_with_progress(app, admin_client, make_user,
                                                        make_track, monkeypatch):
    monkeypatch.setattr(bulk, "INLINE_LIMIT", 2)
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 2)
    track = make_track()
    ids = [_pending(app, person, track) for person in _people(make_user, 5)]
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


def test_a_job_that_died_midway_resumes_and_changes_each_once(app, admin_user, make_user,
                                                              make_track, monkeypatch):
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 2)
    track = make_track()
    ids = [_pending(app, person, track) for person in _people(make_user, 5)]
    with app.app_context():
        from app.models import User
        actor = Actor(user=db.session.get(User, admin_user.id))
        run = bulk.BulkRun(key="resume-test", action="approve", reason="", category="other",
                           actor_id=admin_user.id, actor_ip=None, ids=ids)
        bulk.save_run(run)
        real_apply = bulk.apply
        calls = {"n": 0}

        def dying(*args: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("worker killed")
            return real_apply(*args)

        monkeypatch.setattr(bulk, "apply", dying)
        with pytest.raises(RuntimeError):
            run_bulk_action("resume-test")
        stopped = bulk.get_run("resume-test")
        assert stopped.status == "failed" and stopped.position == 2
        monkeypatch.setattr(bulk, "apply", real_apply)
        # A certificate of the next chunk was approved by hand meanwhile.
        from app.services import certificates
        certificates.approve(db.session.get(Certificate, ids[2]), actor)
        db.session.commit()
        result = run_bulk_action("resume-test")
        assert result["status"] == "done"
        assert result["summary"] == "4 approved, 1 already approved."
        assert run_bulk_action("resume-test")["status"] == "already_done"
    assert {_status(app, i) for i in ids} == {S.ISSUED}
    assert _audits(app, "CERT_APPROVE", ids) == {i: 1 for i in ids}


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
    assert response.status_code in (200, 400, 409, 422), response.status_code


# --- two bulk approves at once ------------------------------------------------------------

def test_two_bulk_approves_of_the_same_twenty_approve_each_once(app, admin_user, make_user,
                                                                make_track, race):
    track = make_track()
    ids = [_pending(app, person, track) for person in _people(make_user, 20, "Racer")]
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
    ids = [_pending(app, person, track) for person in _people(make_user, 3)]
    with app.app_context():
        bulk.save_run(bulk.BulkRun(key="demoted-run", action="approve", reason="",
                                   category="other", actor_id=demoted.id, actor_ip=None,
                                   ids=ids))
        db.session.get(User, demoted.id).role = Role.STAFF
        db.session.commit()
        assert run_bulk_action("demoted-run")["status"] == "refused"
        assert bulk.get_run("demoted-run").status == "failed"
    assert {_status(app, i) for i in ids} == {S.PENDING}
