"""The holder downloads their Open Badges from /me by clicking: for a certificate and for
an awarded micro-credential, the credential with its Data Integrity proof (.json), the
VC-JWT (.jwt) and the baked badge image (.png), each the same credential."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
from playwright.sync_api import expect

from app.extensions import db
from app.services.open_badges import baking
from tests.open_badges_support import award_micro_credential, validate_schema

TRACK = "Reclad Fundamentals"


def _download(page, row, name: str, tmp_path: Path) -> tuple[str, bytes]:
    with page.expect_download() as info:
        row.get_by_role("link", name=name).click()
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    return download.suggested_filename, target.read_bytes()


def _three_files(page, row, tmp_path: Path) -> None:
    name, data = _download(page, row, "Open Badge (JSON-LD)", tmp_path)
    assert name.endswith("-open-badge.json")
    credential = json.loads(data)
    validate_schema(credential)
    assert credential["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    name, data = _download(page, row, "Open Badge (VC-JWT)", tmp_path)
    assert name.endswith("-open-badge.jwt")
    claims = jwt.decode(data.decode(), options={"verify_signature": False})
    assert claims["id"] == credential["id"] and claims["iss"] == credential["issuer"]["id"]
    name, data = _download(page, row, "Badge image (PNG)", tmp_path)
    assert name.endswith("-open-badge.png") and data.startswith(b"\x89PNG")
    baked = jwt.decode(baking.unbake(data), options={"verify_signature": False})
    assert baked["id"] == credential["id"]


def test_the_holder_downloads_the_three_files_from_me(app, page, live_server, log_in,
                                                      make_user, make_track, issue,
                                                      screenshot, tmp_path, page_errors):
    holder = make_user(name="Tāne Ngāti Pōneke")
    certificate = issue(holder, track=make_track(TRACK, validity_months=24))
    with app.app_context():
        credential = award_micro_credential(holder)
        title = credential.definition.title
        db.session.remove()

    log_in(holder.email)
    page.get_by_role("link", name="My page").first.click()
    expect(page.locator("#my-certificates")).to_be_visible()
    certificate_row = page.locator(f"#my-certificate-{certificate.id}")
    expect(certificate_row.get_by_role("link", name="Open Badge (VC-JWT)")).to_be_visible()
    screenshot("me-downloads")
    _three_files(page, certificate_row, tmp_path)

    credential_row = page.locator("#my-credentials tr", has_text=title)
    expect(credential_row.get_by_role("link", name="Badge image (PNG)")).to_be_visible()
    _three_files(page, credential_row, tmp_path)
    assert page_errors == []
