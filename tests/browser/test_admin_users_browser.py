"""/admin/users and /admin/audit in a real browser: htmx inline create, errors, edit, audit."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from app.extensions import db
from app.models import Role, User

NAME = "Tāne Ngāti Pōneke"
NEW_NAME = "Tāne Ngāti Pōneke-Rāwiri"
EMAIL = "tane.poneke@example.test"


def _user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)))


def _find_user(app, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def _click_and_wait(page, button, path: str):
    """Click an htmx button and return the POST response it caused."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.split("?")[0].endswith(path)
    ) as info:
        button.click()
    return info.value


def test_admin_creates_and_edits_a_user_inline_and_the_audit_lists_it(
        app, page, live_server, log_in, make_user, make_org, screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    org = make_org("Pōneke Scaffolding")
    log_in(admin.email)

    page.goto(f"{live_server}/admin/users")
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    page.evaluate("window.__marker = 1")
    users_before = _user_count(app)

    # Create through the inline row.
    row = page.locator("tr#user-new")
    row.locator('input[name="name"]').fill(NAME)
    row.locator('input[name="email"]').fill(EMAIL)
    row.locator('select[name="role"]').select_option("org_admin")
    row.locator('select[name="organization_id"]').select_option(label=org.name)
    row.locator('input[name="phone"]').fill("+64 21 555 0100")
    response = _click_and_wait(page, row.get_by_role("button", name="Add user"), "/admin/users")
    assert response.status == 200

    created = _find_user(app, EMAIL)
    assert created is not None, "the create row did not create the user"
    assert created.name == NAME and created.role == Role.ORG_ADMIN
    assert created.organization_id == org.id
    new_row = page.locator(f"tr#user-{created.id}")
    expect(new_row).to_contain_text(NAME)
    expect(new_row).to_contain_text(EMAIL)
    expect(new_row).to_contain_text("Organization admin")
    expect(new_row).to_contain_text(org.name)
    # A fresh, empty create row sits above the new user's row.
    expect(page.locator("tr#user-new")).to_have_count(1)
    expect(page.locator('tr#user-new input[name="name"]')).to_have_value("")
    expect(page.locator("#users-rows > tr").nth(1)).to_have_id(f"user-{created.id}")
    assert page.evaluate("window.__marker") == 1, "the page was reloaded, not swapped"
    assert _user_count(app) == users_before + 1
    screenshot("after-create")

    # An invalid email comes back in the row (422) and creates nothing.
    row = page.locator("tr#user-new")
    row.locator('input[name="name"]').fill("Bad Address")
    row.locator('input[name="email"]').fill("not-an-email")
    response = _click_and_wait(page, row.get_by_role("button", name="Add user"), "/admin/users")
    assert response.status == 422
    errors = page.locator("tr#user-new ul.errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("Enter a valid email address.")
    expect(page.locator("#user-new-email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#user-new-name")).to_have_value("Bad Address")
    expect(new_row).to_be_visible()
    assert page.evaluate("window.__marker") == 1
    assert _user_count(app) == users_before + 1
    assert _find_user(app, "not-an-email") is None
    screenshot("create-error")

    # Edit the new user's row in place.
    new_row.get_by_role("button", name="Edit").click()
    name_input = page.locator(f"#user-{created.id}-name")
    expect(name_input).to_have_value(NAME)
    expect(page.locator(f"tr#user-{created.id}.editing")).to_be_visible()
    screenshot("edit-row")
    name_input.fill(NEW_NAME)
    edit_row = page.locator(f"tr#user-{created.id}")
    response = _click_and_wait(page, edit_row.get_by_role("button", name="Save"),
                               f"/admin/users/{created.id}")
    assert response.status == 200
    expect(page.locator(f"tr#user-{created.id}.editing")).to_have_count(0)
    expect(page.locator(f"tr#user-{created.id}")).to_contain_text(NEW_NAME)
    expect(page.locator(f"tr#user-{created.id}").get_by_role("button", name="Edit")).to_be_visible()
    assert page.evaluate("window.__marker") == 1
    assert _find_user(app, EMAIL).name == NEW_NAME

    # The audit trail lists the CREATE, the invitation and the UPDATE, filtered to this user.
    page.goto(f"{live_server}/admin/audit")
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    page.evaluate("window.__marker = 1")
    page.locator('select[name="resource_type"]').select_option("user")
    expect(page).to_have_url(re.compile(r"resource_type=user"))
    page.locator('input[name="resource_id"]').fill(str(created.id))
    expect(page).to_have_url(re.compile(rf"resource_id={created.id}\b"))
    rows = page.locator("#audit-table tbody tr")
    expect(rows).to_have_count(3)
    update, invitation, create = rows.nth(0), rows.nth(1), rows.nth(2)  # newest first
    # In words: who (name, then email), what, to whom (by their current name).
    expect(invitation.locator(".badge")).to_have_text("sent an invitation to")
    for entry in (update, invitation, create):
        expect(entry).to_contain_text(f"person {NEW_NAME}")
        expect(entry).to_contain_text(admin.name)
        expect(entry).to_contain_text(admin.email)
    expect(create.locator(".badge")).to_have_text("created")
    expect(create).to_contain_text(EMAIL)
    expect(update.locator(".badge")).to_have_text("changed")
    expect(update).to_contain_text(f"Name: {NAME} → {NEW_NAME}")
    assert page.evaluate("window.__marker") == 1, "the audit filters reloaded the page"
    screenshot("audit")

    # Open the change and read it in words.
    update.get_by_role("link").first.click()
    sentence = page.locator("#audit-sentence")
    expect(sentence).to_have_text(f"{admin.name} changed person {NEW_NAME}")
    change = page.locator("table.audit-changes tr", has_text="Name")
    expect(change.locator("td").nth(0)).to_have_text(NAME)
    expect(change.locator("td").nth(1)).to_have_text(NEW_NAME)
    screenshot("audit-entry")
    page.get_by_role("link", name="Every entry about it").click()
    expect(page.locator("#audit-table tbody tr")).to_have_count(3)

    assert page_errors == []


def test_staff_user_gets_the_403_page_for_admin_users(
        page, live_server, log_in, staff_user, screenshot, page_errors):
    log_in(staff_user.email)
    expect(page.get_by_role("link", name="Users", exact=True)).to_have_count(0)

    response = page.goto(f"{live_server}/admin/users")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("You do not have permission to see this page.")).to_be_visible()
    expect(page.locator("#users-table")).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    screenshot("forbidden")

    assert page_errors == []
