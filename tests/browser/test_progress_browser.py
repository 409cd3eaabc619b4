"""Every write shows progress: while an htmx request runs, the button that sent it is
disabled (a double-click sends one request), the bar at the top of the window shows and the
region being refreshed is aria-busy; once the answer is in, all three are gone and stale
errors are cleared by the swap. The request is held by Playwright (page.route) until the
test lets it go, so the in-between state is looked at, not raced."""

from __future__ import annotations

from playwright.sync_api import expect

from app.models import Role


def test_adding_a_user_shows_progress_and_a_double_click_posts_once(
        page, live_server, log_in, make_user, org, screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    log_in(admin.email)
    page.goto(f"{live_server}/admin/users")

    held = []
    page.route("**/admin/users", lambda route: held.append(route)
               if route.request.method == "POST" else route.continue_())
    posts = []
    page.on("request", lambda r: posts.append(r.url)
            if r.method == "POST" and r.url.endswith("/admin/users") else None)

    # A refused row first: its error is shown...
    button = page.locator("#user-new").get_by_role("button", name="Add user")
    page.locator("#user-new-name").fill("Pita Progress")
    button.click()
    page.wait_for_function("() => document.querySelector('#busy.htmx-request')")
    held.pop().continue_()
    expect(page.locator("#user-new-email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#user-new-email-errors")).to_be_visible()

    # ...then the good one, double-clicked, with the answer held back.
    page.locator("#user-new-email").fill("pita@example.test")
    page.locator("#user-new-organization").select_option(index=1)
    button.dblclick()
    page.wait_for_function("() => document.querySelector('#busy.htmx-request')")
    expect(button).to_be_disabled()
    busy = page.locator("#busy")
    expect(busy).to_have_class("busy-bar htmx-indicator htmx-request")
    # Shown after its 150 ms delay, not just present.
    page.wait_for_function("() => getComputedStyle(document.getElementById('busy')).opacity > 0.5")
    expect(page.locator("#user-new")).to_have_attribute("aria-busy", "true")
    screenshot("while-adding")
    page.wait_for_timeout(300)  # a second click, had it been sent, would show by now
    assert len(posts) == 2 and len(held) == 1, posts  # the refused one, then one

    held.pop().continue_()
    row = page.locator("#users-rows tr", has_text="pita@example.test")
    expect(row).to_be_visible()
    expect(row).to_be_focused()
    expect(busy).not_to_have_class("busy-bar htmx-indicator htmx-request")
    page.wait_for_function("() => getComputedStyle(document.getElementById('busy')).opacity < 0.1")
    expect(page.locator("[aria-busy=true]")).to_have_count(0)
    # The swap cleared the stale error, and the new blank row's button works again.
    expect(page.locator("#user-new-email-errors")).to_have_count(0)
    expect(page.locator("#user-new").get_by_role("button", name="Add user")).to_be_enabled()
    assert len(posts) == 2, posts
    screenshot("after-adding")
    assert not [e for e in page_errors if "/admin/users" in e], page_errors
