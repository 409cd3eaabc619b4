"""Phone-ready layout: at 390 x 844 no page of JOURNEYS.md is wider than the screen, for
each kind of person on the demo data; the header's Menu button opens, is used and closes
by keyboard; the skip link leads to the content; the main screens photographed at 1280
and 390 (test-artifacts/test_*-<page>-<width>.png)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from app import seed
from tests.browser.conftest import log_in_page

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def pages_of(kind: str, ids: dict[str, Any]) -> list[str]:
    """The pages each kind of person uses (JOURNEYS.md)."""
    if kind == "admin":
        return [
            "/admin/", "/admin/users", "/admin/organizations",
            "/admin/micro-credentials", f"/admin/micro-credentials/{ids['definition']}/staff",
            "/admin/micro-credentials/awarded",
            "/admin/tracks", f"/admin/tracks/{ids['track']}",
            f"/admin/courses/{ids['exam']}/quiz",
            "/admin/certificates", "/admin/certificates?status=issued",
            "/admin/certificates?status=revoked", f"/admin/certificates/{ids['certificate']}",
            "/admin/certificates/bulk", "/admin/certificate-templates",
            "/admin/projects", f"/admin/projects/{ids['project']}",
            "/admin/audit", "/admin/jobs", "/org", f"/people/{ids['user']}",
            f"/admin/tracks/{ids['track']}/learners/{ids['user']}",
        ]
    if kind == "manager":
        return ["/", "/admin/tracks", f"/admin/tracks/{ids['track']}",
                f"/admin/courses/{ids['exam']}/quiz", "/admin/projects",
                f"/admin/projects/{ids['project']}", "/teach"]
    if kind == "org_admin":
        return ["/", "/org", "/org/progress", "/org/certificates", "/org/projects",
                f"/org/projects/{ids['project']}", "/org/preferences", f"/people/{ids['staff']}"]
    if kind == "staff":
        return ["/", "/me", "/learn/tracks", f"/learn/tracks/{ids['track']}",
                f"/learn/courses/{ids['course']}", f"/learn/courses/{ids['exam']}",
                "/me/notifications", "/me/tokens", "/me/preferences"]
    return ["/login", "/forgot-password", "/verify", f"/verify/{ids['verification']}",
            "/verify/not-a-real-id"]


PEOPLE = [("admin", "admin@demo.test"), ("manager", "manager@demo.test"),
          ("org_admin", "orgadmin@demo.test"), ("staff", "zoe@demo.test"),
          ("anonymous", None)]

# What is wider than the screen, if anything: the page's width and the widest elements
# that stick out on the right (outside a box that scrolls them).
OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.right <= width + 1 || box.width === 0) continue;
    let inside = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p).overflowX;
      if (s === "auto" || s === "scroll" || s === "hidden") { inside = true; break; }
    }
    if (!inside) wide.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}` +
      `${el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : ""}` +
      ` right=${Math.round(box.right)}`);
  }
  return {scroll: document.documentElement.scrollWidth, inner: width, wide: wide.slice(0, 5)};
}"""


def overflow_of(page: Any) -> dict[str, Any]:
    return page.evaluate(OVERFLOW)


@pytest.mark.parametrize("kind,email", PEOPLE, ids=[k for k, _ in PEOPLE])
def test_no_page_is_wider_than_a_phone(page: Any, live_server: str, demo: dict[str, Any],
                                       kind: str, email: str | None) -> None:
    page.set_viewport_size(PHONE)
    if email:
        log_in_page(page, live_server, email, seed.DEMO_PASSWORD)
    too_wide = []
    for path in pages_of(kind, demo):
        response = page.goto(f"{live_server}{path}")
        expected = 404 if path.endswith("not-a-real-id") else 200
        assert response is not None and response.status == expected, f"{path}: {response and response.status}"
        found = overflow_of(page)
        if found["scroll"] > found["inner"]:
            too_wide.append(f"{path}: {found['scroll']} px > {found['inner']} ({found['wide']})")
    assert not too_wide, "\n".join(too_wide)


def test_tables_scroll_in_a_labelled_focusable_region_with_a_hint(
        page: Any, live_server: str, demo: dict[str, Any], screenshot: Any) -> None:
    page.set_viewport_size(PHONE)
    log_in_page(page, live_server, "orgadmin@demo.test", seed.DEMO_PASSWORD)
    page.goto(f"{live_server}/org")
    region = page.get_by_role("region", name=re.compile("credential", re.I))
    expect(region).to_be_visible()
    assert region.evaluate("el => el.scrollWidth > el.clientWidth"), "the matrix fits?"
    expect(page.get_by_text("Scroll sideways for more").first).to_be_visible()
    # The keyboard scrolls it: Tab to the region, then ArrowRight.
    region.focus()
    expect(region).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.activeElement.scrollLeft > 0")
    # The sticky name column is opaque: the cells scrolling under it do not show through.
    name_cell = region.locator("tbody th").first
    assert name_cell.evaluate("el => getComputedStyle(el).backgroundColor") not in (
        "rgba(0, 0, 0, 0)", "transparent")
    screenshot("org-matrix-scrolled-390")


def _menu_parts(page: Any) -> tuple[Any, Any]:
    nav = page.get_by_role("navigation", name="Main")
    return nav.get_by_role("button", name="Menu"), nav.get_by_role("link", name="My page")


def test_the_phone_menu_opens_and_closes_by_keyboard(
        page: Any, live_server: str, demo: dict[str, Any], screenshot: Any) -> None:
    page.set_viewport_size(PHONE)
    log_in_page(page, live_server, "zoe@demo.test", seed.DEMO_PASSWORD)
    page.goto(f"{live_server}/learn/tracks")
    menu, my_page = _menu_parts(page)
    expect(my_page).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    # The skip link comes first, and leads past the header.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(my_page).to_be_visible()
    header_height = page.locator("header.site-header").evaluate("el => el.offsetHeight")
    screenshot("menu-open-390")
    page.keyboard.press("Escape")
    expect(my_page).to_be_hidden()
    expect(menu).to_be_focused()
    expect(menu).to_have_attribute("aria-expanded", "false")
    closed_height = page.locator("header.site-header").evaluate("el => el.offsetHeight")
    assert closed_height < 80 < header_height, (closed_height, header_height)
    # Open it again with Space and follow a link with Enter: a person's way to My page.
    page.keyboard.press(" ")
    expect(my_page).to_be_visible()
    my_page.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/me$"))
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")


def test_skip_link_moves_to_the_content(page: Any, live_server: str,
                                        demo: dict[str, Any]) -> None:
    log_in_page(page, live_server, "admin@demo.test", seed.DEMO_PASSWORD)
    page.goto(f"{live_server}/admin/users")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()
    page.keyboard.press("Tab")  # the next stop is inside the content, not the header
    assert page.evaluate("() => !!document.activeElement.closest('main')")


def test_the_admin_header_stays_on_one_line_at_1280(page: Any, live_server: str,
                                                    demo: dict[str, Any]) -> None:
    page.set_viewport_size(DESKTOP)
    log_in_page(page, live_server, "admin@demo.test", seed.DEMO_PASSWORD)
    page.goto(f"{live_server}/admin/users")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    tops = page.locator("header.site-header nav > ul > li").evaluate_all(
        "items => items.filter(li => li.offsetParent).map(li => Math.round(li.getBoundingClientRect().top))")
    assert tops and max(tops) - min(tops) <= 8, tops


SCREENS = {
    "admin": ["/admin/", "/admin/users", "/admin/certificates?status=issued",
              "/admin/certificates?status=revoked", "/admin/certificates/{certificate}",
              "/admin/tracks/{track}",
              "/admin/micro-credentials", "/org"],
    "org_admin": ["/org", "/org/progress"],
    "staff": ["/me", "/learn/tracks"],
    "anonymous": ["/verify/{verification}"],
}


@pytest.mark.parametrize("kind,email", [p for p in PEOPLE if p[0] in SCREENS],
                         ids=[k for k, _ in PEOPLE if k in SCREENS])
def test_main_screens_photographed_at_both_widths(
        page: Any, live_server: str, demo: dict[str, Any], screenshot: Any,
        kind: str, email: str | None) -> None:
    if email:
        log_in_page(page, live_server, email, seed.DEMO_PASSWORD)
    for path in SCREENS[kind]:
        url = path.format(**demo)
        name = re.sub(r"[^a-z0-9]+", "-", path).strip("-") or "home"
        for label, size in (("1280", DESKTOP), ("390", PHONE)):
            page.set_viewport_size(size)
            page.goto(f"{live_server}{url}")
            expect(page.locator("main#content")).to_be_visible()
            screenshot(f"{name}-{label}")
