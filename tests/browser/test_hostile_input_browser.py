"""Hostile input as a person meets it: text pasted from somewhere with a control
character in it gets a readable message in place of the page's messages (not an error
page), and a name pasted with right-to-left override characters is kept without them."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import CertificationTrack, Role


def test_admin_pastes_a_control_character_then_a_bidi_override_into_a_track_name(
        app, page, live_server, log_in, make_user, screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Aroha Admin")
    log_in(admin.email)
    page.goto(f"{live_server}/admin/tracks")
    expect(page.get_by_role("heading", name="Certification tracks")).to_be_visible()

    row = page.locator("tr#track-new")
    row.locator('input[name="name"]').fill("Roof\u0007 safety")  # a BEL pasted from a terminal
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        row.get_by_role("button", name="Add track").click()
    assert info.value.status == 422
    message = page.locator("#flashes")
    expect(message).to_contain_text("Remove the control characters (such as NUL).")
    expect(page.get_by_role("heading", name="Certification tracks")).to_be_visible()
    expect(page.locator("h1")).to_have_count(1)  # the message, not a page inside the page
    screenshot("control-character-refused")
    with app.app_context():
        assert db.session.scalar(select(CertificationTrack)) is None

    row.locator('input[name="name"]').fill("\u202eRoof safety\u202c")
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        row.get_by_role("button", name="Add track").click()
    assert info.value.status == 200
    with app.app_context():
        track = db.session.scalar(select(CertificationTrack))
        assert track is not None and track.name == "Roof safety"
        track_id = track.id
    expect(page.locator(f"tr#track-{track_id}")).to_contain_text("Roof safety")
    expect(page.locator(f"tr#track-{track_id}")).not_to_contain_text(re.compile("\u202e"))
    expect(message).not_to_contain_text("control characters")  # the refusal is over
    screenshot("bidi-override-stripped")
    assert page_errors == []
