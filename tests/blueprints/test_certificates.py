"""/admin/certificates: tabs, filters, detail panel, issue modal and actions."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateStatus, CertificateType
from tests.conftest import HX

S = CertificateStatus


def _pending(app, user, track):
    with app.app_context():
        certificate = Certificate(type=CertificateType.COMPLETION, status=S.PENDING,
                                  recipient_id=user.id, track_id=track.id,
                                  live_key=Certificate.make_live_key(
                                      user.id, None, track.id, CertificateType.COMPLETION),
                                  progress_percent=100.0, sessions_attended=2)
        db.session.add(certificate)
        db.session.commit()
        return certificate.id


def test_the_pending_badge_is_capped_like_the_lists(app, admin_client, make_user, make_track,
                                                   monkeypatch):
    from app.services.certificates import queries

    monkeypatch.setattr(queries, "COUNT_LIMIT", 2)
    track = make_track()
    for _ in range(3):
        _pending(app, make_user(), track)
    html = admin_client.get("/admin/certificates").get_data(as_text=True)
    assert "2+ pending" in html
    monkeypatch.setattr(queries, "COUNT_LIMIT", 3)
    html = admin_client.get("/admin/certificates").get_data(as_text=True)
    assert "3 pending" in html and "3+ pending" not in html


def test_the_pending_count_follows_a_changed_cap(app, make_user, make_track, monkeypatch):
    """pending_count's statement is built once per cap (issue 16): a cap changed later
    is counted to, not the first one's LIMIT."""
    from app.services.certificates import queries

    track = make_track()
    for _ in range(5):
        _pending(app, make_user(), track)
    with app.app_context():
        for cap, expected in ((2, (2, True)), (4, (4, True)), (10, (5, False))):
            monkeypatch.setattr(queries, "COUNT_LIMIT", cap)
            assert queries.pending_count() == expected


def test_page_tabs_and_fragments(app, admin_client, make_user, make_track, issue):
    track = make_track()
    waiting = make_user(name="Waiting Wiremu")
    _pending(app, waiting, track)
    issued = issue(make_user(name="Issued Ihaia"), track=track)
    page = admin_client.get("/admin/certificates")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Certificate Management" in html
    assert "1 pending" in html and "Waiting Wiremu" in html and "Issued Ihaia" not in html
    assert "Progress 100% · Sessions attended 2" in html
    tab = admin_client.get("/admin/certificates?status=issued", headers=HX)
    fragment = tab.get_data(as_text=True)
    # The results region only: the tabs and filters stay outside it (the focus stays in
    # a filter), and the tabs and the hidden status come back out of band.
    assert fragment.strip().startswith('<div id="certificate-results">')
    assert 'role="search"' not in fragment
    assert 'id="certificate-tabs" aria-label="Certificate status" hx-swap-oob="true"' in fragment
    assert 'id="certificate-status" name="status" value="issued" hx-swap-oob="true"' in fragment
    assert "Issued Ihaia" in fragment and issued.number in fragment
    assert 'hx-swap-oob="true"' in fragment  # the pending count refreshes too
    assert "HX-Request" in tab.headers["Vary"]
    assert "Issued Ihaia" not in admin_client.get("/admin/certificates?status=issued&q=zzz",
                                                  headers=HX).get_data(as_text=True)


def test_detail_panel_and_pdf(app, admin_client, make_user, make_track, issue):
    certificate = issue(make_user(name="Zoë Brontë"), track=make_track())
    panel = admin_client.get(f"/admin/certificates/{certificate.id}", headers=HX)
    html = panel.get_data(as_text=True)
    assert 'id="certificate-detail"' in html and "Zoë Brontë" in html
    assert certificate.verification_code in html and "Revoke" in html
    full = admin_client.get(f"/admin/certificates/{certificate.id}")
    assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
    assert 'id="certificate-detail"' in full.get_data(as_text=True)
    pdf = admin_client.get(f"/admin/certificates/{certificate.id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_approve_and_reject_from_the_page(app, admin_client, make_user, make_track):
    track = make_track()
    first, second = _pending(app, make_user(), track), _pending(app, make_user(), make_track("B"))
    approved = admin_client.post(f"/admin/certificates/{first}/approve", headers=HX)
    assert approved.status_code == 200 and approved.headers["HX-Trigger"] == "certificates-changed"
    assert "CERT-" in approved.get_data(as_text=True)
    no_reason = admin_client.post(f"/admin/certificates/{second}/reject", headers=HX, data={})
    assert no_reason.status_code == 422
    rejected = admin_client.post(f"/admin/certificates/{second}/reject", headers=HX,
                                 data={"reason": "Evidence missing"})
    assert rejected.status_code == 200 and "Evidence missing" in rejected.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Certificate, first).status == S.ISSUED
        assert db.session.get(Certificate, second).status == S.REJECTED


def test_revoke_needs_a_reason_then_reinstate(app, admin_client, make_user, make_track, issue):
    certificate = issue(make_user(), track=make_track())
    url = f"/admin/certificates/{certificate.id}"
    refused = admin_client.post(f"{url}/revoke", headers=HX, data={"reason": ""})
    assert refused.status_code == 422 and "Give a reason" in refused.get_data(as_text=True)
    revoked = admin_client.post(f"{url}/revoke", headers=HX,
                                data={"reason": "Assessment was copied", "category": "misconduct"})
    assert revoked.status_code == 200 and "Reinstate" in revoked.get_data(as_text=True)
    reinstated = admin_client.post(f"{url}/reinstate", headers=HX)
    assert reinstated.status_code == 200 and "Revoke" in reinstated.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Certificate, certificate.id).status == S.ISSUED


def test_issue_modal_search_and_duplicate(app, admin_client, make_user, make_track):
    track = make_track()
    course = track.courses[0]
    learner = make_user(name="Ngaio Marsh")
    modal = admin_client.get("/admin/certificates/new", headers=HX)
    # Closed until app.js opens it with showModal() (data-modal): a real modal dialog.
    assert '<dialog id="issue-dialog" data-modal' in modal.get_data(as_text=True)
    found = admin_client.get("/admin/certificates/recipients?q=ngaio", headers=HX)
    assert "Ngaio Marsh" in found.get_data(as_text=True)
    data = {"user_id": str(learner.id), "course_id": str(course.id), "type": "MASTERY",
            "notes": "Assessed on site", "notify": "y"}
    issued = admin_client.post("/admin/certificates", headers=HX, data=data)
    assert issued.status_code == 200 and "Certificate issued" in issued.get_data(as_text=True)
    again = admin_client.post("/admin/certificates", headers=HX, data=data)
    assert again.status_code == 409
    assert "User already has this certificate" in again.get_data(as_text=True)
    missing = admin_client.post("/admin/certificates", headers=HX, data={"type": "MASTERY"})
    assert missing.status_code == 422 and "Choose the recipient." in missing.get_data(as_text=True)
    with app.app_context():
        assert len(db.session.scalars(select(Certificate)).all()) == 1


def test_bulk_export_zip(app, admin_client, make_user, make_track, issue):
    track = make_track()
    for _ in range(2):
        issue(make_user(), track=track)
    started = admin_client.post("/admin/certificates/export?status=issued", headers=HX)
    assert started.status_code == 200
    # The answer is rendered before the commit that starts the job; its poll shows it built
    # (jobs run inline in tests, so by then it is ready).
    assert "Building the ZIP" in started.get_data(as_text=True)
    with app.app_context():
        from app.models import CertificateExport

        export = db.session.scalar(select(CertificateExport))
    polled = admin_client.get(f"/admin/certificates/exports/{export.id}", headers=HX)
    assert "Download ZIP (2 certificates)" in polled.get_data(as_text=True)
    download = admin_client.get(f"/admin/certificates/exports/{export.id}/download")
    assert download.status_code == 200 and download.data[:2] == b"PK"


def test_staff_and_managers_are_refused(staff_client, manager_client):
    assert staff_client.get("/admin/certificates").status_code == 403
    assert manager_client.get("/admin/certificates").status_code == 403


def test_links_in_from_users_and_courses(app, admin_client, make_user, make_track, issue):
    track = make_track()
    learner = make_user(name="Linked Learner")
    issue(learner, course=track.courses[0])
    users = admin_client.get("/admin/users?q=linked", headers=HX).get_data(as_text=True)
    assert f"/admin/certificates?user_id={learner.id}&amp;status=issued" in users
    course_page = admin_client.get(f"/admin/tracks/{track.id}").get_data(as_text=True)
    assert f"/admin/certificates?course_id={track.courses[0].id}&amp;status=issued" in course_page
    filtered = admin_client.get(f"/admin/certificates?user_id={learner.id}&status=issued",
                                headers=HX).get_data(as_text=True)
    assert "Linked Learner" in filtered


def test_a_refused_reissue_leaves_the_certificate_as_it_is(app, admin_client, make_user,
                                                           make_track, issue):
    """Re-issue revokes the old certificate, then refuses to issue (the recipient is
    inactive): the panel must show the certificate still valid, as the database has it,
    not the undone revocation."""
    holder = make_user(name="Gone Away")
    certificate = issue(holder, track=make_track())
    with app.app_context():
        from app.models import User

        db.session.get(User, holder.id).active = False
        db.session.commit()
    response = admin_client.post(f"/admin/certificates/{certificate.id}/reissue", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "This account is inactive." in html
    assert 'class="badge tone-ok status-valid">' in html and "</svg>Active</span>" in html
    assert "</svg>Revoked</span>" not in html
    with app.app_context():
        after = db.session.get(Certificate, certificate.id)
        assert after.status == S.ISSUED and after.revocation_category is None


def test_a_rejected_certificate_is_found_again_in_the_rejected_tab(app, admin_client,
                                                                   make_user, make_track):
    track = make_track("Working at Height")
    certificate_id = _pending(app, make_user(name="Rīpeka Rejected"), track)
    rejected = admin_client.post(f"/admin/certificates/{certificate_id}/reject", headers=HX,
                                 data={"reason": "Logbook not signed."})
    assert rejected.status_code == 200
    assert "Rīpeka Rejected" not in admin_client.get("/admin/certificates").get_data(
        as_text=True)  # gone from Pending
    page = admin_client.get("/admin/certificates")
    assert 'status=rejected' in page.get_data(as_text=True)  # the tab is there
    tab = admin_client.get("/admin/certificates?status=rejected", headers=HX)
    html = tab.get_data(as_text=True)
    assert tab.status_code == 200 and "Rīpeka Rejected" in html and "Working at Height" in html
    assert 'aria-current="page">Rejected</a>' in html
    for other in ("issued", "revoked"):
        assert "Rīpeka Rejected" not in admin_client.get(
            f"/admin/certificates?status={other}", headers=HX).get_data(as_text=True)
    detail = admin_client.get(f"/admin/certificates/{certificate_id}", headers=HX)
    assert "Rejected" in detail.get_data(as_text=True)
    assert "Logbook not signed." in detail.get_data(as_text=True)


def test_an_unknown_status_is_a_clear_422_never_the_pending_list(app, admin_client, make_user,
                                                                 make_track):
    _pending(app, make_user(name="Pending Paora"), make_track())
    page = admin_client.get("/admin/certificates?status=bogus")
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and "Unknown status" in html and "Pending Paora" not in html
    fragment = admin_client.get("/admin/certificates?status=bogus", headers=HX)
    assert fragment.status_code == 422 and fragment.headers["HX-Retarget"] == "#flashes"
    assert "Unknown status" in fragment.get_data(as_text=True)
    export = admin_client.post("/admin/certificates/export?status=bogus", headers=HX)
    assert export.status_code == 422
    with app.app_context():
        from app.models import CertificateExport

        assert db.session.scalar(select(CertificateExport.id)) is None


def test_an_unknown_type_is_a_clear_422_in_the_page_and_the_api(admin_client, client, bearer,
                                                                admin_user):
    page = admin_client.get("/admin/certificates?status=issued&type=diploma")
    assert page.status_code == 422 and "Unknown type" in page.get_data(as_text=True)
    assert admin_client.get("/admin/certificates?status=issued&type=mastery").status_code == 200
    api = client.get("/api/admin/certificates?type=diploma", headers=bearer(admin_user))
    assert api.status_code == 422 and list(api.get_json()["error"]["fields"]) == ["type"]


def test_only_the_lists_own_arguments_reach_the_workspace_links(app, admin_client, make_user,
                                                                make_track, issue):
    """?endpoint=, ?certificate_id=, ?_method= on the detail (GET) and in the page's URL
    an action reads (HX-Current-URL) were passed to url_for: a 500. The list's filters
    and cursor still reach the Back link."""
    certificate = issue(make_user(), track=make_track())
    url = f"/admin/certificates/{certificate.id}"
    hostile = "endpoint=x&certificate_id=3&_method=POST&_external=1&status=issued&q=ab"
    for headers in ({}, HX):
        response = admin_client.get(f"{url}?{hostile}", headers=headers)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, headers
        assert 'href="/admin/certificates?status=issued&amp;q=ab"' in html
        assert "endpoint=" not in html and "_method" not in html
    listed = admin_client.get(f"/admin/certificates?{hostile}")
    assert listed.status_code == 200 and "endpoint=" not in listed.get_data(as_text=True)
    current = {**HX, "HX-Current-URL": f"http://localhost{url}?{hostile}"}
    revoked = admin_client.post(f"{url}/revoke", headers=current,
                                data={"reason": "Copied", "category": "misconduct"})
    assert revoked.status_code == 200
    assert 'href="/admin/certificates?status=issued&amp;q=ab"' in revoked.get_data(as_text=True)
    reissued = admin_client.post(f"{url}/reinstate", headers=current)
    assert reissued.status_code == 200
