"""Superseded certificates and re-certification through the pages and the API: the verify
page and its signed JSON in words, the admin list and detail, reinstate refused, /me's
call to action, the track page's version control and holders list, the grace field (form
and seed-003 API), and the races (PostgreSQL really runs them at once)."""

from __future__ import annotations

from collections import Counter

import jwt
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditLog,
    Certificate,
    CertificateStatus,
    CertificationTrack,
    Role,
    User,
)
from app.services import certificates as certs
from app.services import training
from app.services.context import Actor
from tests.conftest import HX

S = CertificateStatus
API = "/api/v1/internal/training"


def _reissue(app, certificate_id):
    with app.app_context():
        new = certs.reissue(db.session.get(Certificate, certificate_id), Actor.system())
        db.session.commit()
        return new.id, new.number, new.verification_id


def _bump(app, track, major=True):
    with app.app_context():
        training.bump_version(db.session.get(CertificationTrack, track.id), Actor.system(),
                              major=major)
        db.session.commit()


def _statuses(responses):
    return Counter(r.status_code for r in responses)


def test_the_verify_page_names_the_successor_and_its_standing(app, client, make_user,
                                                              make_track, issue):
    old = issue(make_user(name="Aroha Ngata"), track=make_track(exam=False))
    new_id, new_number, new_vid = _reissue(app, old.id)
    page = client.get(f"/verify/{old.verification_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"Superseded by {new_number} (valid)" in html
    assert f'href="http://127.0.0.1:5000/verify/{new_vid}"' in html or f"/verify/{new_vid}" in html
    assert "Revoked" not in html and "no longer valid" not in html
    answer = client.get(f"/verify/{old.verification_id}?format=json").get_json()
    assert answer["status"] == "SUPERSEDED"
    assert answer["certificate"]["superseded_by"]["number"] == new_number
    assert answer["certificate"]["superseded_by"]["status"] == "VALID"
    signed = jwt.decode(answer["jws"], options={"verify_signature": False})
    assert signed["status"] == "SUPERSEDED"
    assert signed["certificate"]["superseded_by"] == answer["certificate"]["superseded_by"]
    # The successor's page is plainly valid.
    assert "Valid certificate" in client.get(f"/verify/{new_vid}").get_data(as_text=True)


def test_the_holders_badge_of_a_superseded_certificate_is_gone(app, new_client, make_user,
                                                               make_track, issue):
    holder = make_user()
    old = issue(holder, track=make_track(exam=False))
    _reissue(app, old.id)
    client = new_client()
    client.login(holder.email)
    assert client.get(f"/verify/{old.verification_id}/badge.json").status_code == 404


def test_recertification_required_in_plain_words(app, client, make_user, make_track, issue):
    track = make_track("Working at Heights", exam=False)
    old = issue(make_user(), track=track)
    _bump(app, track)
    html = client.get(f"/verify/{old.verification_id}").get_data(as_text=True)
    assert "Re-certification required" in html
    assert "covers version 1.0 of Working at Heights, which is now at version 2.0" in html
    assert "not valid for the current version" in html
    answer = client.get(f"/verify/{old.verification_id}?format=json").get_json()
    assert answer["status"] == "RECERTIFICATION_REQUIRED"
    assert (answer["certificate"]["version"], answer["certificate"]["current_version"]) == (
        "1.0", "2.0")


def test_a_minor_version_keeps_the_page_valid(app, client, make_user, make_track, issue):
    track = make_track(exam=False)
    old = issue(make_user(), track=track)
    _bump(app, track, major=False)
    assert client.get(f"/verify/{old.verification_id}?format=json").get_json()["status"] == \
        "VALID"


def test_admin_list_and_detail_say_superseded_and_link_to_the_successor(
        app, admin_client, make_user, make_track, issue):
    old = issue(make_user(name="Mere Tahi"), track=make_track(exam=False))
    new_id, new_number, _ = _reissue(app, old.id)
    tab = admin_client.get("/admin/certificates?status=revoked").get_data(as_text=True)
    assert old.number in tab and ">Superseded<" in tab
    assert f">{new_number}</a>" in tab  # the list links to the successor too
    detail = admin_client.get(f"/admin/certificates/{old.id}", headers=HX).get_data(
        as_text=True)
    assert ">Superseded<" in detail and f"/admin/certificates/{new_id}" in detail
    assert new_number in detail and "Reinstate" not in detail
    refused = admin_client.post(f"/admin/certificates/{old.id}/reinstate", headers=HX)
    assert refused.status_code == 409
    assert f"its replacement {new_number} stands" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Certificate, old.id).status == S.SUPERSEDED


def test_the_api_refuses_to_reinstate_a_superseded_certificate(app, bearer, admin_user,
                                                               client, make_user, make_track,
                                                               issue):
    old = issue(make_user(), track=make_track(exam=False))
    _, new_number, _ = _reissue(app, old.id)
    answer = client.post(f"/api/admin/certificates/{old.id}/reinstate",
                         headers=bearer(admin_user))
    assert answer.status_code == 409
    assert new_number in answer.get_json()["error"]["message"]
    listed = client.get(f"/api/admin/certificates/{old.id}", headers=bearer(admin_user))
    assert listed.get_json()["status"] == listed.get_json()["standing"] == "SUPERSEDED"
    assert listed.get_json()["revocation"]["category"] == "superseded"


def test_me_offers_to_recertify(app, new_client, make_user, make_track, issue):
    holder = make_user()
    track = make_track("Hazard Awareness", exam=False)
    old = issue(holder, track=track)
    _bump(app, track)
    client = new_client()
    client.login(holder.email)
    html = client.get("/me").get_data(as_text=True)
    assert "Re-certification required" in html
    assert "covers version 1.0; Hazard Awareness is now at version 2.0" in html
    assert f'href="/learn/tracks/{track.id}"' in html and "Re-certify: take version 2.0" in html
    assert old.number in html
    # Not offered to a profile as current while it needs re-certification.
    assert "Add to LinkedIn profile" not in html


def test_the_track_page_publishes_a_major_version_once_and_lists_the_holders(
        app, manager_client, make_user, make_track, issue):
    track = make_track("Scaffolding", exam=False)
    holder = make_user(name="Hemi Walker")
    old = issue(holder, track=track)
    page = manager_client.get(f"/admin/tracks/{track.id}").get_data(as_text=True)
    assert '"from_version": "1.0"' in page and "Holders of an earlier version" not in page
    data = {"part": "major", "from_version": "1.0"}
    first = manager_client.post(f"/admin/tracks/{track.id}/version", data=data, headers=HX)
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert "v2.0" in html and "1 holder(s) must re-certify" in html
    assert "Hemi Walker" in html and old.number in html and "Re-certification required" in html
    again = manager_client.post(f"/admin/tracks/{track.id}/version", data=data, headers=HX)
    assert again.status_code == 409 and "at version 2.0 already" in again.get_data(as_text=True)
    bad = manager_client.post(f"/admin/tracks/{track.id}/version", data={"part": "huge"},
                              headers=HX)
    assert bad.status_code == 422
    with app.app_context():
        assert db.session.get(CertificationTrack, track.id).version == "2.0"
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.resource_type == "track", AuditLog.resource_id == str(track.id),
            AuditLog.action == "UPDATE")) == 1


def test_double_clicked_major_version_bumps_once(app, make_user, make_track, race):
    manager = make_user(role=Role.MANAGER)
    track = make_track(exam=False)
    responses = race(manager, "POST", f"/admin/tracks/{track.id}/version", n=5, headers=HX,
                     data={"part": "major", "from_version": "1.0"})
    assert _statuses(responses) == {200: 1, 409: 4}
    with app.app_context():
        assert db.session.get(CertificationTrack, track.id).version == "2.0"


def test_the_grace_period_field(app, manager_client, make_track):
    track = make_track(exam=False)
    form = {"name": track.name, "audience": "CLIENT_EMPLOYEE", "level": "FOUNDATION",
            "active": "y"}
    edit = manager_client.get(f"/admin/tracks/{track.id}/edit", headers=HX).get_data(
        as_text=True)
    assert 'name="recertification_grace_days"' in edit
    bad = manager_client.post(f"/admin/tracks/{track.id}", headers=HX,
                              data={**form, "recertification_grace_days": "-1"})
    assert bad.status_code == 422 and "From 0 to 3650 days." in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CertificationTrack, track.id).recertification_grace_days == 0
    good = manager_client.post(f"/admin/tracks/{track.id}", headers=HX,
                               data={**form, "recertification_grace_days": "30"})
    assert good.status_code == 200 and "30 days' grace" in good.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CertificationTrack, track.id).recertification_grace_days == 30
        change = db.session.scalar(select(AuditLog.changes).where(
            AuditLog.resource_type == "track", AuditLog.resource_id == str(track.id))
            .order_by(AuditLog.seq.desc()).limit(1))
        assert "recertification_grace_days" in str(change)


def test_the_grace_period_in_the_seed_api(client, bearer, make_user):
    headers = bearer(make_user(role=Role.MANAGER))
    made = client.post(f"{API}/tracks", headers=headers, json={
        "name": "Rigging", "type": "INTERNAL", "recertificationGraceDays": 14})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["recertificationGraceDays"] == 14
    track_id = made.get_json()["id"]
    for bad in (-1, 3651, "ten", True):
        refused = client.patch(f"{API}/tracks/{track_id}", headers=headers,
                               json={"recertificationGraceDays": bad})
        assert refused.status_code == 422, (bad, refused.get_json())
        assert "recertificationGraceDays" in refused.get_json()["error"]["fields"]
    default = client.post(f"{API}/tracks", headers=headers, json={"name": "Knots",
                                                                  "type": "INTERNAL"})
    assert default.get_json()["recertificationGraceDays"] == 0
    staff = client.patch(f"{API}/tracks/{track_id}", headers=bearer(make_user()),
                         json={"recertificationGraceDays": 1})
    assert staff.status_code == 403


def test_approving_the_new_version_twice_at_once_supersedes_once(app, admin_user, make_user,
                                                                 make_track, race, issue):
    track, holder = make_track(exam=False), make_user()
    old = issue(holder, track=track)
    _bump(app, track)
    with app.app_context():
        enrolment = training.enrol(db.session.get(User, holder.id),
                                   db.session.get(CertificationTrack, track.id), Actor.system())
        for course in enrolment.track.courses:
            training.complete_course(training.progress_for(enrolment, course), Actor.system())
        db.session.commit()
        pending = db.session.scalar(select(Certificate).where(
            Certificate.recipient_id == holder.id, Certificate.status == S.PENDING))
        assert pending.track_version == "2.0"
        pending_id = pending.id
    responses = race(admin_user, "POST", f"/admin/certificates/{pending_id}/approve", n=6,
                     headers=HX)
    assert _statuses(responses) == {200: 1, 409: 5}
    with app.app_context():
        assert db.session.get(Certificate, old.id).status == S.SUPERSEDED
        assert db.session.get(Certificate, pending_id).supersedes_id == old.id
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == "CERT_SUPERSEDE", AuditLog.resource_id == str(old.id))) == 1
        assert db.session.scalar(select(func.count(Certificate.id)).where(
            Certificate.recipient_id == holder.id, Certificate.status == S.ISSUED)) == 1


def test_the_learner_is_told_the_truth_on_completing_the_new_version(app, new_client,
                                                                     make_user, make_track,
                                                                     issue):
    track, holder = make_track(), make_user()
    old = issue(holder, track=track)
    _bump(app, track)
    with app.app_context():
        enrolment = training.enrol(db.session.get(User, holder.id),
                                   db.session.get(CertificationTrack, track.id), Actor.system())
        reading = next(c for c in enrolment.track.courses if not c.has_exam)
        training.complete_course(training.progress_for(enrolment, reading), Actor.system())
        db.session.commit()
        exam = next(c for c in enrolment.track.courses if c.has_exam)
        answers = {f"answer-{q['id']}": [str(i) for i in q["correct"]] for q in exam.questions}
        exam_id = exam.id
    client = new_client()
    client.login(holder.email)
    answer = client.post(f"/learn/courses/{exam_id}/quiz", headers=HX, data=answers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    html = answer.get_data(as_text=True)
    assert "You have completed" in html
    assert (f"Your certificate for version 2.0 is waiting for approval; once approved it "
            f"replaces {old.number}.") in html


def test_the_audit_trail_says_superseded_in_words(app, admin_client, make_user, make_track,
                                                  issue):
    old = issue(make_user(), track=make_track(exam=False))
    _reissue(app, old.id)
    html = admin_client.get(f"/admin/audit?resource_type=certificate&resource_id={old.id}"
                            ).get_data(as_text=True)
    assert "superseded" in html and "cert supersede" not in html.lower()


def test_reissuing_the_old_version_while_the_new_one_is_approved_leaves_one_valid(
        app, admin_user, make_user, make_track, race, issue):
    """Re-issue of the v1 certificate against approval of the v2 request, at once: the
    person's row orders them, so either v2 supersedes v1's replacement or the re-issue is
    refused; never two issued certificates of one track."""
    track, holder = make_track(exam=False), make_user()
    old = issue(holder, track=track)
    _bump(app, track)
    with app.app_context():
        enrolment = training.enrol(db.session.get(User, holder.id),
                                   db.session.get(CertificationTrack, track.id), Actor.system())
        for course in enrolment.track.courses:
            training.complete_course(training.progress_for(enrolment, course), Actor.system())
        db.session.commit()
        pending_id = db.session.scalar(select(Certificate.id).where(
            Certificate.recipient_id == holder.id, Certificate.status == S.PENDING))
    responses = race(admin_user, calls=[
        ("POST", f"/admin/certificates/{old.id}/reissue", {"headers": HX}),
        ("POST", f"/admin/certificates/{pending_id}/approve", {"headers": HX})])
    assert [r.status_code for r in responses][1] == 200  # the approval always stands
    assert responses[0].status_code in (200, 409)
    with app.app_context():
        issued = db.session.scalars(select(Certificate).where(
            Certificate.recipient_id == holder.id, Certificate.status == S.ISSUED)).all()
        assert [(c.id, c.track_version) for c in issued] == [(pending_id, "2.0")]
