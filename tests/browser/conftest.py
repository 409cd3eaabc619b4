"""Browser fixtures: the test app on a live server, and headless Chromium through Playwright.

The browser is Debian's chromium (/usr/bin/chromium, installed by `make chromium`), or
the executable CHROMIUM_PATH names, never Playwright's own download. When it is missing
the browser tests FAIL rather than skip: a silently skipped browser test would hide
breakage in CI. Every test in this directory is marked `browser` (by the hook below).

SQLite note: the server answers from its own threads while the test drives the browser,
so test code must never hold a transaction open across page actions. The factories in
tests/conftest.py create data in short-lived app contexts and commit at once; a test that
reads the database itself should do it in a `with app.app_context():` block of its own.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import PASSWORD

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without these, chromium on a machine with no internet stalls on background network calls.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 10_000
# A whole page load (its document and every stylesheet, script and image): a CI machine
# running both xdist workers, their servers and Chromium once took 10 s for a page that
# takes 40 ms alone (test_every_journey_page_has_no_serious_axe_violation, /org).
NAVIGATION_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1366, "height": 900}


def artifacts_dir(config: pytest.Config) -> Path:
    path = config.rootpath / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


def artifact_name(nodeid_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid_name)


_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser is a `browser` test (`-m "not browser"` skips
    them all), marked here by directory rather than test by test."""
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    # Keep each phase's report on the item, so the page fixture knows whether the test failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app served over HTTP from a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Browser tests need Debian's chromium at {CHROMIUM}, and it is missing "
            "(or not executable). "
            "Install it with `make chromium` (apt-get install chromium), or set "
            "CHROMIUM_PATH. These tests fail rather than skip on purpose.",
            pytrace=False,
        )
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:  # pragma: no cover - depends on the environment
        pytest.fail("Browser tests need the `playwright` package: make test-deps",
                    pytrace=False)

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    """JavaScript errors and console errors seen by `page` (failed HTTP statuses aside)."""
    return []


def _open_page(browser: Any, page_errors: list[str]) -> Any:
    """A page in a fresh browser context (its own cookies) that reports its errors."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-NZ")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.append(f"pageerror: {exc}"))

    def on_console(message: Any) -> None:
        # A 403/422 answer is logged as "Failed to load resource"; tests check those
        # statuses themselves. Anything else (CSP violations, script errors) is a fault.
        if message.type == "error" and "Failed to load resource" not in message.text:
            source = message.location.get("url", "") if message.location else ""
            page_errors.append(f"console: {message.text} (from {source}, on {page.url})")

    page.on("console", on_console)
    return page


def _screenshot_if_failed(page: Any, request: pytest.FixtureRequest, suffix: str = "") -> None:
    report = getattr(request.node, "rep_call", None)
    path = artifacts_dir(request.config) / f"{artifact_name(request.node.name + suffix)}.png"
    path.unlink(missing_ok=True)  # a failure screenshot from an earlier run misleads
    if report is not None and report.failed:
        try:
            page.screenshot(path=str(path), full_page=True, caret="initial")
            print(f"\nscreenshot of the failed test: {path}")
        except Exception as exc:  # a crashed page must not hide the real failure
            print(f"\ncould not save a screenshot: {exc}")


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, page_errors: list[str]) -> Iterator[Any]:
    """A page in a fresh browser context; a screenshot is saved if the test fails."""
    page = _open_page(browser, page_errors)
    try:
        yield page
    finally:
        _screenshot_if_failed(page, request)
        page.context.close()


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest,
             page_errors: list[str]) -> Iterator[Callable[[], Any]]:
    """Pages in further fresh browser contexts (another person logged in at once).

    Their errors go to the same `page_errors`; each saves a screenshot if the test fails.
    """
    pages: list[Any] = []

    def factory() -> Any:
        pages.append(_open_page(browser, page_errors))
        return pages[-1]

    try:
        yield factory
    finally:
        for n, extra in enumerate(pages, start=2):
            _screenshot_if_failed(extra, request, suffix=f"-page{n}")
            extra.context.close()


@pytest.fixture
def screenshot(page: Any, request: pytest.FixtureRequest) -> Callable[..., Path]:
    """Save a full-page screenshot as test-artifacts/<test name>-<label>.png.

    caret="initial": Playwright's default (hide the caret) leaves `style=""` on inputs,
    which htmx then copies while settling a swap, and the CSP rightly blocks that.
    """

    def take(label: str, on: Any = None) -> Path:
        """`on`: another page (from `new_page`) to photograph instead of `page`."""
        name = artifact_name(f"{request.node.name}-{label}")
        path = artifacts_dir(request.config) / f"{name}.png"
        (on or page).screenshot(path=str(path), full_page=True, caret="initial")
        return path

    return take


def post_by_click(page: Any, control: Any, path: str) -> Any:
    """Click an htmx control and return the POST response it caused (the request whose
    path ends with `path`)."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.split("?")[0].endswith(path)
    ) as info:
        control.click()
    return info.value


AXE_SOURCE = _HERE.parents[1] / "node_modules" / "axe-core" / "axe.min.js"
AXE_FAILING_IMPACTS = ("critical", "serious")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2.x A/AA and best practice).

    axe-core comes from the npm registry (a devDependency, installed by `make static`) and
    is evaluated into the page by Playwright, which the CSP does not govern; it is never
    served to users.
    """
    if not AXE_SOURCE.is_file():
        pytest.fail(f"{AXE_SOURCE} is missing: run `make static` (npm ci installs axe-core)",
                    pytrace=False)
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => {
        const r = await window.axe.run(document, {resultTypes: ["violations"]});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary}))}));
    }""")
    return list(result)


def axe_failures(page: Any, label: str = "") -> str:
    """The critical and serious violations on the page as it is now, as a readable report
    (each rule with the elements it names), or "" when there are none."""
    failing = [v for v in axe_violations(page) if v["impact"] in AXE_FAILING_IMPACTS]
    if not failing:
        return ""
    lines = [f"axe-core on {page.url}{f' ({label})' if label else ''}: "
             f"{len(failing)} critical/serious violation(s)"]
    for v in failing:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:6]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    {node['target']}: {summary[:300]}")
    return "\n".join(lines)


def axe_check(page: Any, label: str = "") -> None:
    """Assert axe-core finds no critical and no serious violation on the page as it is now."""
    report = axe_failures(page, label)
    if report:
        pytest.fail(report, pytrace=False)


def log_in_page(page: Any, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Log a page in through the real login form."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/login")
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login(\?|$)"))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def open_main_menu(page: Any) -> None:
    """At phone widths (<= 768 px) the header's links sit behind its Menu button: tap it,
    as a person would; at wider widths the links are in view and nothing is clicked."""
    toggle = page.get_by_role("navigation", name="Main").get_by_role("button", name="Menu")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()


@pytest.fixture
def log_in(page: Any, live_server: str) -> Callable[..., None]:
    """Log `page` in through the real login form."""

    def do(email: str, password: str = PASSWORD) -> None:
        log_in_page(page, live_server, email, password)

    return do


@pytest.fixture
def demo(app: Flask) -> dict[str, Any]:
    """The demo organization, people, catalogue and certificates (`flask seed --demo`),
    and the ids the journey pages need (the phone-layout and axe-core walks)."""
    from sqlalchemy import select

    from app import seed
    from app.extensions import db
    from app.models import (
        Certificate,
        CertificateStatus,
        CertificationTrack,
        Course,
        ImplementationProject,
        MicroCredentialDefinition,
        User,
    )

    with app.app_context():
        seed.reference_data()
        seed.demo_data()
        db.session.commit()
        track = db.session.scalar(select(CertificationTrack).where(
            CertificationTrack.name == seed.DEMO_TRACK))
        exam = db.session.scalar(select(Course).where(
            Course.track_id == track.id, Course.has_exam.is_(True)))
        certificate = db.session.scalar(select(Certificate).where(
            Certificate.status == CertificateStatus.ISSUED).order_by(Certificate.id))
        return {
            "track": track.id, "course": track.courses[0].id, "exam": exam.id,
            "project": db.session.scalar(select(ImplementationProject.id)),
            "definition": db.session.scalar(select(MicroCredentialDefinition.id)),
            "certificate": certificate.id, "verification": certificate.verification_id,
            "staff": seed.demo_user("staff@demo.test").id,
            "user": db.session.scalar(select(User.id).where(User.email == "tane@demo.test")),
        }
