"""Journeys of issue 15's profiles lane, in a real browser:
- Staff [phone]: publish a public profile from My page, open its link in a fresh
  anonymous browser and read the certificate there, unpublish, and the link is gone.
- Implementation manager: turn on "Issue the certificate on completion" in the track's
  row; a learner's completion then shows an issued certificate on My page.
- Implementation manager: start a renewal campaign on a track's page; the holder sees
  the invitation in their notifications and re-enrols from it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Certificate, Role
from app.services import dates
from tests.browser.conftest import log_in_page

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_DIR=str(tmp_path / "storage"))


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a phone"


def test_staff_publishes_reads_and_unpublishes_their_profile(
        app, page, new_page, live_server, log_in, make_user, org, make_track, issue,
        screenshot, page_errors):
    app.config["PUBLIC_BASE_URL"] = live_server
    page.set_viewport_size(PHONE)
    learner = make_user(Role.STAFF, org, name="Aroha Ngata")
    certificate = issue(learner, track=make_track("Roof Safety", exam=False))
    log_in(learner.email)
    page.goto(f"{live_server}/me")
    panel = page.locator("#public-profile")
    expect(panel).to_contain_text("Your profile is not published")
    panel.get_by_role("button", name="Publish my profile").click()
    link = panel.locator("#profile-link")
    expect(link).to_be_visible()
    url = link.inner_text().strip()
    assert re.fullmatch(rf"{re.escape(live_server)}/p/[A-Za-z0-9_-]{{22,}}", url), url
    _fits(page)
    screenshot("published-on-me")

    visitor = new_page()  # a stranger, not logged in, who was sent the link
    visitor.set_viewport_size(PHONE)
    visitor.goto(url)
    expect(visitor.get_by_role("heading", name="Aroha Ngata")).to_be_visible()
    entry = visitor.locator(".profile-entry")
    expect(entry).to_contain_text("Roof Safety")
    expect(entry).to_contain_text(certificate.number)
    expect(visitor.locator("body")).not_to_contain_text(learner.email)
    expect(visitor.locator("body")).not_to_contain_text("Acme Roofing")
    _fits(visitor)
    screenshot("public-profile", on=visitor)
    entry.get_by_role("link", name="Verify this certificate").click()
    expect(visitor.locator(".verify-status")).to_contain_text("Valid certificate")

    # Unpublishing breaks every shared link: it asks first; dismissed, nothing changes.
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    panel.get_by_role("button", name="Unpublish").click()
    expect(panel.get_by_role("button", name="Unpublish")).to_be_visible()
    assert asked and "link stops working" in asked[0]
    assert visitor.goto(url).status == 200
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Unpublish").click()
    expect(panel).to_contain_text("Your profile is not published")
    response = visitor.goto(url)
    assert response.status == 404
    expect(visitor.locator("body")).not_to_contain_text("Aroha Ngata")
    screenshot("link-gone", on=visitor)
    assert page_errors == []


def test_manager_turns_on_auto_issue_and_a_completion_is_issued(
        app, page, new_page, live_server, log_in, make_user, org, make_track, screenshot,
        page_errors):
    manager = make_user(Role.MANAGER, name="Mana Manager")
    learner = make_user(Role.STAFF, org, name="Björn Ødegård")
    track = make_track("Ladder Use", exam=False)
    log_in(manager.email)
    page.goto(f"{live_server}/admin/tracks")
    row = page.locator(f"#track-{track.id}")
    row.get_by_role("button", name="Edit").click()
    page.locator(f"#track-{track.id}-auto-issue").check()
    page.locator(f"#track-{track.id}").get_by_role("button", name="Save").click()
    expect(page.locator(f"#track-{track.id}")).to_contain_text("Issued on completion")
    screenshot("auto-issue-on")

    learner_page = new_page()
    log_in_page(learner_page, live_server, learner.email)
    learner_page.goto(f"{live_server}/learn/tracks/{track.id}")
    learner_page.get_by_role("button", name="Enrol in this track").click()
    learner_page.get_by_role("link", name="Reading").click()
    learner_page.get_by_role("button", name="Mark complete").click()
    learner_page.goto(f"{live_server}/me")
    with app.app_context():
        number = db.session.scalar(db.select(Certificate.number).where(
            Certificate.recipient_id == learner.id))
    assert number and number.startswith("CERT-")
    row = learner_page.locator("#my-certificates tr", has_text="Ladder Use")
    expect(row).to_contain_text(number)
    expect(row).to_contain_text("Active")
    screenshot("issued-on-completion", on=learner_page)
    assert page_errors == []


def test_a_campaign_invites_a_holder_who_sees_it_and_re_enrols(
        app, page, new_page, live_server, log_in, make_user, org, make_track, issue,
        screenshot, page_errors):
    manager = make_user(Role.MANAGER, name="Mana Manager")
    holder = make_user(Role.STAFF, org, name="Wiremu Tānekaha")
    track = make_track("Working at Heights", exam=False)
    certificate = issue(holder, track=track)
    with app.app_context():
        db.session.get(Certificate, certificate.id).expires_at = dates.today() + timedelta(20)
        db.session.commit()
    log_in(manager.email)
    page.goto(f"{live_server}/admin/tracks/{track.id}")
    panel = page.locator("#renewals")
    panel.get_by_label("Certificates expiring within (days)").fill("30")
    panel.get_by_role("button", name="Start campaign").click()
    campaign_row = page.locator("#renewal-campaigns tbody tr").first
    expect(campaign_row.locator(".invited-count")).to_have_text("1")
    screenshot("campaign-started")

    holder_page = new_page()
    holder_page.set_viewport_size(PHONE)
    log_in_page(holder_page, live_server, holder.email)
    holder_page.goto(f"{live_server}/me")
    notice = holder_page.locator("#notifications li", has_text="Renew your certificate")
    expect(notice).to_contain_text("Working at Heights")
    _fits(holder_page)
    screenshot("holder-notified", on=holder_page)
    notice.get_by_role("button", name="Renew your certificate: Working at Heights").click()
    holder_page.get_by_role("button", name="Re-enrol in Working at Heights").click()
    expect(holder_page).to_have_url(re.compile(rf"/learn/tracks/{track.id}$"))
    expect(holder_page.locator("#flashes")).to_contain_text("re-enrolled")
    screenshot("re-enrolled", on=holder_page)
    page.reload()
    expect(page.locator("#renewal-campaigns tbody tr").first.locator(".re-enrolled-count")
           ).to_have_text("1")
    assert page_errors == []
