"""An admin designs a certificate template as a person does: types the wording, picks a
colour and sees the preview change, uploads a logo, saves, assigns it to a track, issues
a certificate of that track; the holder downloads the PDF (page 1 rendered with
pdftoppm, looked at) and the public verify page shows the template's logo and colours.
Then the admin edits the template: the certificate already issued keeps its look."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from pypdf import PdfReader

from app.models import Role
from tests.browser.conftest import artifact_name, artifacts_dir, log_in_page


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_DIR=str(tmp_path / "storage"))


def _logo(path: Path) -> Path:
    image = Image.new("RGB", (360, 120), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 119, 119), fill=(11, 83, 148))
    draw.ellipse((20, 20, 100, 100), fill=(230, 145, 56))
    draw.rectangle((140, 40, 350, 80), fill=(11, 83, 148))
    image.save(path, format="PNG")
    return path


def _text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def _page_one_png(data: bytes, request: pytest.FixtureRequest, label: str) -> Path:
    """Page 1 of the PDF as a PNG next to the screenshots (pdftoppm, poppler-utils)."""
    assert shutil.which("pdftoppm"), "pdftoppm (poppler-utils) is needed for this test"
    out = artifacts_dir(request.config) / artifact_name(f"{request.node.name}-{label}")
    source = out.with_suffix(".pdf")
    source.write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile",
                    str(source), str(out)], check=True, timeout=60)
    return out.with_suffix(".png")


def _download_pdf(page, tmp_path: Path, name: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").first.click()
    target = tmp_path / name
    info.value.save_as(str(target))
    data = target.read_bytes()
    assert data.startswith(b"%PDF")
    return data


def test_design_preview_assign_issue_pdf_and_verify(app, page, live_server, log_in, new_page,
                                                    make_user, make_track, screenshot,
                                                    page_errors, tmp_path, request):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    holder = make_user(Role.STAFF, name="Wiremu Tānekaha")
    track = make_track("Membrane Roofing")
    course = track.courses[0]
    log_in(admin.email)

    # Find the templates from the menu, start a new one.
    page.goto(f"{live_server}/admin/certificates")
    page.locator("nav").get_by_text("Manage").click()
    page.get_by_role("link", name="Certificate templates").click()
    expect(page.get_by_role("heading", name="Certificate templates")).to_be_visible()
    page.get_by_role("button", name="New template").click()

    preview = page.get_by_test_id("template-preview")
    before = preview.get_attribute("src")
    page.get_by_label("Name", exact=True).fill("Ngā Tuanui brand")
    page.get_by_label("Primary colour").fill("#0b5394")
    expect(preview).not_to_have_attribute("src", before)  # the preview followed the typing
    assert "%230b5394" in preview.get_attribute("src")
    page.get_by_label("Title line").fill("Certificate of {type}")
    page.get_by_label("Sentence under the subject").fill("Awarded to {recipient} on {date}.")
    expect(preview).to_have_attribute("src", re.compile("Awarded%20to%20Aroha"))
    # A typo in a placeholder is pointed out in the preview, not saved.
    page.get_by_label("Sentence under the subject").fill("Awarded to {recipent}.")
    expect(page.locator("#template-preview .errors")).to_contain_text(
        "Unknown placeholder {recipent}")
    page.get_by_label("Sentence under the subject").fill("Awarded to {recipient} on {date}.")
    expect(page.locator("#template-preview .errors")).to_have_count(0)
    page.get_by_label("Signer's name").fill("Hēmi Walker")
    page.get_by_label("Signer's title").fill("Head of Training")
    page.get_by_label("Logo (PNG or JPEG, up to 1 MB)").set_input_files(
        str(_logo(tmp_path / "logo.png")))
    screenshot("designing")
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_text("created (version 1)")).to_be_visible()
    expect(page.get_by_role("img", name="Current logo")).to_be_visible()
    expect(preview).to_have_attribute("src", re.compile("data%3Aimage/png"))  # logo shown

    # Assign it to the track.
    page.get_by_label("Use this template for").select_option(label=f"Track: {track.name}")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_text("Assigned:")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text=f"Track: {track.name}")).to_be_visible()
    screenshot("saved-and-assigned")

    # Issue a certificate of a course of that track (the track's template applies).
    page.goto(f"{live_server}/admin/certificates")
    page.get_by_role("button", name="Issue Certificate").click()
    dialog = page.locator("#issue-dialog")
    dialog.get_by_label("Search recipients").fill("Wiremu")
    dialog.locator("#recipient-results").get_by_label(re.compile("Wiremu Tānekaha")).check()
    dialog.locator('select[name="course_id"]').select_option(
        label=f"{track.name} — {course.title}")
    dialog.get_by_role("button", name="Issue").click()
    expect(page.get_by_text("Certificate issued")).to_be_visible()

    # The holder downloads it: the template's wording, signer and logo are on it.
    mine = new_page()
    log_in_page(mine, live_server, holder.email)
    mine.goto(f"{live_server}/me")
    data = _download_pdf(mine, tmp_path, "first.pdf")
    text = _text(data)
    assert "Certificate of Completion" in text
    assert "Awarded to Wiremu Tānekaha on" in text
    assert "Hēmi Walker" in text and "Head of Training" in text
    png = _page_one_png(data, request, "pdf-page1")
    assert png.is_file() and png.stat().st_size > 10_000

    # The public verify page shows the version's logo and colours.
    # (The link is on PUBLIC_BASE_URL; the test server answers on another port.)
    href = mine.get_by_role("link", name="Verification page").first.get_attribute("href")
    visitor = new_page()
    visitor.goto(f"{live_server}{urlsplit(href).path}")
    logo = visitor.get_by_role("img", name="Issuer logo")
    expect(logo).to_be_visible()
    # Linked from its public, cacheable address (not inlined), and it loads.
    expect(logo).to_have_attribute("src", re.compile(r"^/verify/template-logos/\d+\.png$"))
    assert logo.evaluate("img => img.complete && img.naturalWidth") > 0
    assert "%230b5394" in visitor.locator("img.verify-band").get_attribute("src")
    screenshot("verify-page", on=visitor)

    # The admin edits the template; the issued certificate keeps version 1.
    page.goto(f"{live_server}/admin/certificate-templates")
    page.get_by_role("link", name="Ngā Tuanui brand").click()
    page.get_by_label("Signer's name").fill("Someone Else")
    page.get_by_role("button", name="Save as version 2").click()
    expect(page.get_by_text("Saved version 2")).to_be_visible()
    mine.reload()
    again = _download_pdf(mine, tmp_path, "again.pdf")
    assert "Hēmi Walker" in _text(again) and "Someone Else" not in _text(again)
    assert not page_errors, page_errors
