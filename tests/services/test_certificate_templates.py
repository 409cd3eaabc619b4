"""Certificate templates: validation (colours, wording, images), versions frozen at issue,
the PDF and verify page printing them, admin-only pages, and saves racing."""

from __future__ import annotations

import io
import re
import struct
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfReader

from app.extensions import db
from app.models import Certificate, CertificateTemplate, CertificateTemplateVersion
from app.services import pdf, storage
from app.services.certificates import template_preview
from app.services.certificates import templates as service
from app.services.context import Actor
from app.services.errors import Conflict, ValidationFailed

DESIGN = {"primary_color": "#0b5394", "accent_color": "#e69138", "border_style": "double",
          "title_text": "Certificate of {type}", "body_text": "Awarded to {recipient} on {date}.",
          "signer_name": "Hēmi Walker", "signer_title": "Head of Training"}


def _png(width: int = 40, height: int = 20, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 30), (10, 120, 10)).save(out, format="JPEG")
    return out.getvalue()


def _other_format(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (1, 2, 3)).save(out, format=kind)
    return out.getvalue()


def _text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _images(data: bytes) -> int:
    page = PdfReader(io.BytesIO(data)).pages[0]
    xobjects = (page.get("/Resources") or {}).get("/XObject") or {}
    count = 0
    for x in xobjects.values():
        x = x.get_object()
        if x.get("/Subtype") == "/Image":
            count += 1
        elif "/Resources" in x:
            inner = (x["/Resources"].get_object().get("/XObject") or {})
            count += sum(1 for y in inner.values() if y.get_object().get("/Subtype") == "/Image")
    return count


def _create(app: Any, name: str = "Brand", **design: Any) -> int:
    with app.app_context():
        template = service.create_template(Actor.system(), name, {**DESIGN, **design})
        db.session.commit()
        return template.id


# --- Validation ------------------------------------------------------------------------

@pytest.mark.parametrize("color", ["", "red", "#fff", "#12345g", "#1234567", None, 12,
                                   "javascript:", "#000000;}body{x"])
def test_bad_colours_are_refused(app, color):
    with app.app_context(), pytest.raises(ValidationFailed) as raised:
        service.check_design({**DESIGN, "primary_color": color})
    assert "primary_color" in raised.value.fields


@pytest.mark.parametrize(("wording", "message"), [
    ("Hello {name}", "Unknown placeholder {name}"),
    ("{{recipient}}", "Braces only go around a placeholder"),
    ("Open { brace", "Braces only go around a placeholder"),
    ("{recipient.__class__}", "Unknown placeholder"),
    ("{% for x in y %}", "Unknown placeholder"),
])
def test_bad_wording_is_refused_with_a_clear_message(app, wording, message):
    with app.app_context(), pytest.raises(ValidationFailed) as raised:
        service.check_design({**DESIGN, "body_text": wording})
    assert message in raised.value.fields["body_text"][0]


def test_fill_replaces_placeholders_as_plain_text():
    assert service.fill("To {recipient}: {subject}", {"recipient": "<b>Zoë</b>",
                                                      "subject": "{date}"}) \
        == "To <b>Zoë</b>: {date}"  # no second pass, no markup


#: Numbers as a form sends them, including the ones str.isdigit() lets through but int()
#: refuses ("²", Arabic-Indic digits) and ones past every INTEGER column (20 digits).
_NUMBERS = st.one_of(st.text(max_size=24), st.integers(-3, 10**22).map(str),
                     st.sampled_from(["²", "١", "٣٤", "1²", "9" * 20, "2147483648", " 1 ",
                                      "1.0", "+1", "0", ""]))
_SUBJECTS = st.one_of(st.text(max_size=30), st.builds(
    lambda kind, number: f"{kind}:{number}",
    st.sampled_from(["track", "course", "definition", "Track", ""]), _NUMBERS))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(primary=st.text(max_size=12), body=st.text(max_size=80), title=st.text(max_size=40),
       border=st.sampled_from(["double", "single", "none", "dotted", ""]),
       base_version=_NUMBERS, subject=_SUBJECTS)
def test_any_input_is_saved_or_refused_never_a_500(app, admin_client, primary, body, title,
                                                   border, base_version, subject):
    response = admin_client.post("/admin/certificate-templates", data={
        "name": "Hypothesis", "primary_color": primary, "accent_color": "#b08d57",
        "border_style": border, "title_text": title, "body_text": body})
    assert response.status_code in (303, 409, 422), response.status_code
    with app.app_context():
        fixed = db.session.scalar(db.select(CertificateTemplate.id).where(
            CertificateTemplate.name == "Fixed"))
    fixed = fixed or _create(app, "Fixed")
    saved = admin_client.post(f"/admin/certificate-templates/{fixed}", data={
        "name": "Fixed", **DESIGN, "primary_color": primary, "body_text": body,
        "base_version": base_version})
    assert saved.status_code in (303, 409, 422), (base_version, saved.status_code)
    assigned = admin_client.post(f"/admin/certificate-templates/{fixed}/assign",
                                 data={"subject": subject})
    # A flashed message (303), or 422 for control characters (app/web/input.py).
    assert assigned.status_code in (303, 422), (subject, assigned.status_code)
    preview = admin_client.post("/admin/certificate-templates/preview", data={
        "primary_color": primary, "border_style": border, "title_text": title,
        "body_text": body}, headers={"HX-Request": "true"})
    assert preview.status_code in (200, 422)  # 422: control characters (app/web/input.py)
    assert b"<script" not in preview.data


# --- Images ----------------------------------------------------------------------------

def test_png_and_jpeg_are_re_encoded_as_png():
    for data in (_png(), _jpeg()):
        clean = service.check_image(data, "logo")
        assert clean.startswith(b"\x89PNG")
        assert Image.open(io.BytesIO(clean)).format == "PNG"
    # A large upload is stored at print size, its shape kept.
    stored = Image.open(io.BytesIO(service.check_image(_png(2000, 600), "logo")))
    assert stored.size == (1000, 300)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _huge_png(width: int, height: int) -> bytes:
    """A tiny file that claims a vast image (a decompression bomb's header)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


@pytest.mark.parametrize(("data", "message"), [
    (b"this is not an image at all", "not a PNG or JPEG"),
    (b"", "empty"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><image href="http://127.0.0.1:9/x.png"/></svg>',
     "not a PNG or JPEG"),
    (b"GIF89a" + b"\x00" * 40, "not a PNG or JPEG"),
    (_other_format("GIF"), "not a PNG or JPEG"),  # a real image, of another format
    (_other_format("BMP"), "not a PNG or JPEG"),
    (_huge_png(3000, 1000), "at most 2000x2000"),
    (_huge_png(60000, 60000), "too many pixels"),  # Pillow's bomb guard, before any decoding
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not a PNG or JPEG"),
    (b"x" * (service.IMAGE_MAX_BYTES + 1), "larger than 1024 KB"),
])
def test_bad_images_are_refused_with_a_clear_message(data, message):
    with pytest.raises(ValidationFailed) as raised:
        service.check_image(data, "logo")
    assert message in raised.value.fields["logo"][0]


def test_a_polyglot_keeps_only_its_pixels():
    """A PNG with an HTML/script payload after IEND: accepted as the image it is, and
    re-encoded without the payload."""
    polyglot = _png() + b"<html><script>alert(1)</script></html>PK\x03\x04"
    clean = service.check_image(polyglot, "logo")
    assert b"<script" not in clean and b"PK\x03\x04" not in clean


def test_the_upload_form_refuses_a_non_image_named_png(admin_client):
    response = admin_client.post("/admin/certificate-templates", data={
        "name": "Fake logo", **DESIGN, "logo": (io.BytesIO(b"%PDF-1.4 not a png"), "logo.png")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "This is not a PNG or JPEG image." in response.get_data(as_text=True)


# --- Versions, freezing, the PDF -------------------------------------------------------

def test_each_save_is_a_new_version_and_a_stale_one_is_409(app):
    template_id = _create(app)
    with app.app_context():
        template = db.session.get(CertificateTemplate, template_id)
        version = service.save_version(Actor.system(), template, 1,
                                       {**DESIGN, "signer_name": "Second"})
        assert version.number == 2
        with pytest.raises(Conflict):
            service.save_version(Actor.system(), template, 1, {**DESIGN, "signer_name": "Third"})
        db.session.commit()
        numbers = [v.number for v in db.session.scalars(db.select(
            CertificateTemplateVersion).where(CertificateTemplateVersion.template_id == template_id))]
        assert sorted(numbers) == [1, 2]


def test_an_issued_certificate_keeps_its_version(app, make_user, make_track, issue):
    track = make_track("Branded track")
    template_id = _create(app, signer_name="First Signer")
    with app.app_context():
        template = db.session.get(CertificateTemplate, template_id)
        service.assign(Actor.system(), template, f"track:{track.id}")
        db.session.commit()
    certificate = issue(make_user(name="Aroha Ngāti Pōneke"), track=track)
    with app.app_context():
        cert = db.session.get(Certificate, certificate.id)
        first = cert.snapshot["template_version_id"]
        assert first is not None
        before = pdf.render_certificate(cert)
        template = db.session.get(CertificateTemplate, template_id)
        service.save_version(Actor.system(), template, 1,
                             {**DESIGN, "signer_name": "Second Signer",
                              "primary_color": "#aa0000"})
        db.session.commit()
        cert = db.session.get(Certificate, certificate.id)
        after = pdf.render_certificate(cert)
        text = _text(after)
        assert "First Signer" in text and "Second Signer" not in text
        assert "Head of Training" in text
        assert "Awarded to Aroha Ngāti Pōneke on" in text
        assert "Certificate of Completion" in text
        assert _text(before) == text
    # A certificate issued now gets version 2.
    later = issue(make_user(), track=track)
    with app.app_context():
        cert = db.session.get(Certificate, later.id)
        assert cert.snapshot["template_version_id"] != first
        assert "Second Signer" in _text(pdf.render_certificate(cert))


def test_course_template_beats_track_beats_default(app, make_track):
    """version_id_for (what the issue freezes into the snapshot): the course's template,
    else its track's, else the default one, else none."""
    track = make_track("Precedence")
    course, other_course = track.courses[0], track.courses[1]
    default_id = _create(app, "Default one")
    track_id = _create(app, "Track one")
    course_id = _create(app, "Course one")
    with app.app_context():
        actor = Actor.system()

        def version_of(template_id: int) -> int:
            return service.current_version(db.session.get(CertificateTemplate, template_id)).id

        def frozen(**subject: Any) -> int | None:
            probe = Certificate(**subject)
            found = service.version_id_for(probe)
            if probe in db.session:
                db.session.expunge(probe)
            return found

        assert frozen(track_id=track.id) is None  # the built-in look
        service.set_default(actor, db.session.get(CertificateTemplate, default_id))
        assert frozen(track_id=track.id) == version_of(default_id)
        assert frozen(course_id=course.id) == version_of(default_id)
        service.assign(actor, db.session.get(CertificateTemplate, track_id), f"track:{track.id}")
        assert frozen(track_id=track.id) == version_of(track_id)
        assert frozen(course_id=course.id) == version_of(track_id)  # through the course's track
        service.assign(actor, db.session.get(CertificateTemplate, course_id),
                       f"course:{course.id}")
        assert frozen(course_id=course.id) == version_of(course_id)
        assert frozen(course_id=course.id, track_id=track.id) == version_of(course_id)
        assert frozen(course_id=other_course.id) == version_of(track_id)
        assert frozen(track_id=track.id) == version_of(track_id)
        # A new version of the course's template is what certificates get from now on.
        service.save_version(actor, db.session.get(CertificateTemplate, course_id), 1,
                             {**DESIGN, "signer_name": "Newer"})
        assert frozen(course_id=course.id) == version_of(course_id)
        db.session.rollback()
    assert not hasattr(service, "template_for")  # one rule, in one place


def test_logo_and_signature_are_embedded_and_nothing_is_fetched(app, make_user, make_track,
                                                                issue, monkeypatch):
    track = make_track("Logo track")
    with app.app_context():
        template = service.create_template(
            Actor.system(), "With images",
            {**DESIGN, "body_text": "See https://127.0.0.1:9/x.png and file:///etc/passwd"},
            {"logo": _png(120, 40), "signature": _jpeg()})
        service.assign(Actor.system(), template, f"track:{track.id}")
        db.session.commit()
    certificate = issue(make_user(), track=track)
    asked: list[str] = []
    original = pdf.link_callback
    monkeypatch.setattr(pdf, "link_callback", lambda uri, rel=None: (
        asked.append(uri), original(uri, rel))[1])
    with app.app_context():
        data = pdf.render_certificate(db.session.get(Certificate, certificate.id))
    assert _images(data) == 2  # the logo and the signature, nothing else
    assert asked and all(uri.startswith("data:image/png;base64,") for uri in asked)
    assert "https://127.0.0.1:9/x.png" in _text(data)  # printed, not fetched


def test_the_verify_page_shows_the_versions_branding(app, client, make_user, make_track, issue):
    track = make_track("Verify brand")
    with app.app_context():
        template = service.create_template(Actor.system(), "Verify brand", DESIGN,
                                           {"logo": _png(60, 30)})
        service.assign(Actor.system(), template, f"track:{track.id}")
        db.session.commit()
    certificate = issue(make_user(), track=track)
    with app.app_context():
        version_id = db.session.get(Certificate, certificate.id).snapshot["template_version_id"]
    page = client.get(f"/verify/{certificate.verification_id}").get_data(as_text=True)
    logo_url = f"/verify/template-logos/{version_id}.png"
    assert 'class="verify-logo"' in page and f'src="{logo_url}"' in page
    assert "data:image/png;base64," not in page  # not inlined on every view
    assert "%230b5394" in page  # the primary colour, in the band's SVG
    logo = client.get(logo_url)
    assert logo.status_code == 200 and logo.mimetype == "image/png"
    assert logo.data.startswith(b"\x89PNG")
    assert logo.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_template_logos_are_public_and_signatures_are_not(app, client):
    with app.app_context():
        template = service.create_template(Actor.system(), "Public logo", DESIGN,
                                           {"logo": _png(60, 30, (1, 2, 3)),
                                            "signature": _png(60, 30, (9, 9, 9))})
        signature_only = service.create_template(Actor.system(), "Signature only", DESIGN,
                                                 {"signature": _png()})
        db.session.commit()
        version = service.current_version(template)
        logo = storage.read(version.logo_key)
        signature = storage.read(version.signature_key)
        bare = service.current_version(signature_only).id
    served = client.get(f"/verify/template-logos/{version.id}.png")
    assert served.status_code == 200 and served.data == logo and served.data != signature
    for path in (f"/verify/template-logos/{bare}.png",  # a signature but no logo
                 "/verify/template-logos/999999.png", "/verify/template-logos/0.png",
                 "/verify/template-logos/99999999999999999999.png",
                 "/verify/template-logos/x.png"):
        assert client.get(path).status_code == 404, path
    # The signature stays admin-only.
    assert client.get(f"/admin/certificate-templates/versions/{version.id}/signature.png"
                      ).status_code in (302, 401)


def test_preview_is_an_escaped_svg():
    brand = service.Branding(**{**service.DEFAULTS, "title_text": "<script>x</script>"},
                             logo=None, signature=None)
    svg = template_preview.preview_svg(brand, "Issuer & Co")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "Issuer &amp; Co" in svg


# --- Pages: admins only, race ----------------------------------------------------------

def test_non_admins_are_refused(app, manager_client, staff_client, org_admin_client, client):
    template_id = _create(app)
    for who in (manager_client, staff_client, org_admin_client):
        for method, path in (("GET", "/admin/certificate-templates"),
                             ("GET", f"/admin/certificate-templates/{template_id}"),
                             ("POST", f"/admin/certificate-templates/{template_id}"),
                             ("POST", "/admin/certificate-templates/preview"),
                             ("GET", "/admin/certificate-templates/versions/1/logo.png")):
            assert who.open(path, method=method).status_code == 403, (method, path)
    assert client.get("/admin/certificate-templates").status_code in (302, 401)


def test_admin_creates_edits_and_assigns(app, admin_client, make_track):
    track = make_track("Assign me")
    response = admin_client.post("/admin/certificate-templates", data={
        "name": "Page made", **DESIGN, "logo": (io.BytesIO(_png()), "logo.png")},
        content_type="multipart/form-data")
    assert response.status_code == 303
    edit = response.headers["Location"]
    page = admin_client.get(edit).get_data(as_text=True)
    assert "Save as version 2" in page and "logo.png" in page
    version_id = int(re.search(r"/versions/(\d+)/logo\.png", page).group(1))
    image = admin_client.get(f"/admin/certificate-templates/versions/{version_id}/logo.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    assert "no-store" in image.headers["Cache-Control"]
    saved = admin_client.post(edit, data={"name": "Page made", **DESIGN, "base_version": "1",
                                          "signer_name": "Changed"})
    assert saved.status_code == 303
    stale = admin_client.post(edit, data={"name": "Page made", **DESIGN, "base_version": "1",
                                          "signer_name": "Other"})
    assert stale.status_code == 409
    assert "Someone saved this template meanwhile" in stale.get_data(as_text=True)
    assigned = admin_client.post(edit + "/assign", data={"subject": f"track:{track.id}"})
    assert assigned.status_code == 303
    assert f"Track: {track.name}" in admin_client.get(edit).get_data(as_text=True)
    bad = admin_client.post(edit + "/assign", data={"subject": "track:999999"})
    assert bad.status_code == 303  # refused with a message, nothing assigned
    with app.app_context():
        template = db.session.scalar(db.select(CertificateTemplate).where(
            CertificateTemplate.name == "Page made"))
        assert template.version == 2
        keys = [v.logo_key for v in template.versions]
        assert all(keys) and len(set(keys)) == 1  # the logo carried over to version 2
        assert all(storage.exists(k) for k in keys)


def test_double_clicked_save_makes_one_version(app, admin_user, race):
    template_id = _create(app)
    data = {"name": "Brand", **DESIGN, "base_version": "1", "signer_name": "Raced"}
    responses = race(admin_user, "POST", f"/admin/certificate-templates/{template_id}",
                     n=6, data=data)
    assert sorted(r.status_code for r in responses) == [303] * 6
    with app.app_context():
        assert db.session.get(CertificateTemplate, template_id).version == 2


def test_two_different_saves_at_once_make_one_version_and_a_409(app, admin_user, race):
    """Two admins (two sessions) save different designs from version 1 at the same
    moment: one becomes version 2, the other is told to reload (409)."""
    template_id = _create(app)
    path = f"/admin/certificate-templates/{template_id}"
    responses = race(admin_user, calls=[("POST", path, {"data": {
        "name": "Brand", **DESIGN, "base_version": "1", "signer_name": f"Admin {i}"}})
        for i in range(2)])
    assert sorted(r.status_code for r in responses) == [303, 409]
    with app.app_context():
        assert db.session.get(CertificateTemplate, template_id).version == 2


def test_default_and_unassign_from_the_page_are_audited(app, admin_client, make_track):
    from app.models import AuditLog, CertificateTemplateAssignment

    track = make_track("Unassign me")
    first, second = _create(app, "First"), _create(app, "Second")
    base = "/admin/certificate-templates"
    assert admin_client.post(f"{base}/{first}/default").status_code == 303
    assert admin_client.post(f"{base}/{second}/default").status_code == 303  # moves
    assert admin_client.post(f"{base}/{second}/assign",
                             data={"subject": f"track:{track.id}"}).status_code == 303
    with app.app_context():
        assert db.session.get(CertificateTemplate, first).default_key is None
        assert db.session.get(CertificateTemplate, second).is_default
        assignment = db.session.scalar(db.select(CertificateTemplateAssignment))
    page = admin_client.get(f"{base}/{second}").get_data(as_text=True)
    assert "This is the default template" in page
    # Another template's assignment id is not this template's to remove.
    wrong = admin_client.post(f"{base}/{first}/assignments/{assignment.id}/delete")
    assert wrong.status_code == 303
    with app.app_context():
        assert db.session.get(CertificateTemplateAssignment, assignment.id) is not None
    assert admin_client.post(
        f"{base}/{second}/assignments/{assignment.id}/delete").status_code == 303
    with app.app_context():
        assert db.session.get(CertificateTemplateAssignment, assignment.id) is None
        changes = [row.changes for row in db.session.scalars(db.select(AuditLog).where(
            AuditLog.resource_type == "certificate_template"))]
    assert any("unassigned" in (c or {}) for c in changes)
    assert sum(1 for c in changes if (c or {}).get("default") == [False, True]) == 2


# --- Subjects: ids in ASCII digits, tracks and courses only ----------------------------

@pytest.mark.parametrize("subject", ["track:²", "track:١", "course:1²", "track:" + "9" * 20,
                                     "track:2147483648", "track:0", "track:-1",
                                     "track:", "definition:1", "badge:1", "", None, 3])
def test_bad_subjects_are_refused_not_a_500(subject):
    with pytest.raises(ValidationFailed) as raised:
        service.parse_subject(subject)
    assert raised.value.fields["subject"] == ["Choose a track or course."]


def test_good_subjects_parse():
    assert service.parse_subject("track:3") == ("track", 3)
    assert service.parse_subject("course:2147483647") == ("course", 2147483647)


def test_micro_credential_definitions_are_not_offered(app, admin_client, make_track):
    """Nothing renders a template for a micro-credential award, so assigning one to a
    definition would do nothing: it is not offered, and refused if posted."""
    from app.models import MicroCredentialDefinition

    track = make_track("Offered")
    template_id = _create(app)
    with app.app_context():
        definition = db.session.scalar(db.select(MicroCredentialDefinition))
        assert all(not value.startswith("definition:")
                   for value, _ in service.subject_choices())
    page = admin_client.get(f"/admin/certificate-templates/{template_id}").get_data(as_text=True)
    picker = page[page.index('name="subject"'):]
    picker = picker[:picker.index("</select>")]
    assert "definition:" not in picker and "Micro-credential" not in picker
    assert f"track:{track.id}" in picker
    if definition is not None:
        response = admin_client.post(f"/admin/certificate-templates/{template_id}/assign",
                                     data={"subject": f"definition:{definition.id}"},
                                     follow_redirects=True)
        assert "Choose a track or course." in response.get_data(as_text=True)


@pytest.mark.parametrize("base_version", ["²", "١", "9" * 20, "2147483648", "0", "x", ""])
def test_a_bad_base_version_is_a_clear_422(app, admin_client, base_version):
    template_id = _create(app)
    response = admin_client.post(f"/admin/certificate-templates/{template_id}", data={
        "name": "Brand", **DESIGN, "base_version": base_version})
    assert response.status_code == 422
    assert "Reload the page" in response.get_data(as_text=True)


# --- Names: unique regardless of case, in the database too -----------------------------

def test_names_are_unique_regardless_of_case_in_the_database(app):
    from sqlalchemy.exc import IntegrityError

    _create(app, "Brand")
    with app.app_context():
        db.session.add(CertificateTemplate(name="BRAND", version=0))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_renaming_to_another_templates_name_is_409(app, admin_client):
    _create(app, "Brand")
    other = _create(app, "Other")
    response = admin_client.post(f"/admin/certificate-templates/{other}", data={
        **DESIGN, "name": "bRAND", "base_version": "1"})
    assert response.status_code == 409
    assert "A template with this name exists already." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CertificateTemplate, other).name == "Other"


def test_two_admins_creating_one_name_in_two_cases_make_one(app, admin_user, race):
    responses = race(admin_user, calls=[("POST", "/admin/certificate-templates", {"data": {
        **DESIGN, "name": name}}) for name in ("Raced name", "RACED NAME")])
    assert sorted(r.status_code for r in responses) == [303, 409]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(
            CertificateTemplate).where(db.func.lower(CertificateTemplate.name)
                                       == "raced name")) == 1


# --- Images are stored only by a save that goes through --------------------------------

def _stored_files(app: Any) -> set[str]:
    from pathlib import Path

    root = Path(app.config["STORAGE_DIR"]) / "branding"
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_a_refused_save_stores_no_image(app, admin_client, monkeypatch):
    """Refused by the name, the version or a field: nothing is written (not written and
    removed again: the write comes after every check)."""
    template_id = _create(app, "Brand")
    before = _stored_files(app)
    writes: list[str] = []
    original = storage.save
    monkeypatch.setattr(storage, "save", lambda data, prefix: (
        writes.append(prefix), original(data, prefix))[1])
    logo = {"logo": (io.BytesIO(_png()), "logo.png")}
    taken = admin_client.post("/admin/certificate-templates", data={
        **DESIGN, "name": "BRAND", **logo}, content_type="multipart/form-data")
    assert taken.status_code == 409
    assert admin_client.post(f"/admin/certificate-templates/{template_id}", data={
        **DESIGN, "name": "Brand", "base_version": "1", "signer_name": "New"}).status_code == 303
    stale = admin_client.post(f"/admin/certificate-templates/{template_id}", data={
        **DESIGN, "name": "Brand", "base_version": "1",
        "logo": (io.BytesIO(_png()), "logo.png")}, content_type="multipart/form-data")
    assert stale.status_code == 409
    bad_colour = admin_client.post("/admin/certificate-templates", data={
        **DESIGN, "name": "Fresh", "primary_color": "red",
        "logo": (io.BytesIO(_png()), "logo.png")}, content_type="multipart/form-data")
    assert bad_colour.status_code == 422
    assert writes == [] and _stored_files(app) == before


def test_a_rolled_back_save_removes_its_images_and_a_commit_keeps_them(app):
    before = _stored_files(app)
    with app.app_context():
        template = service.create_template(Actor.system(), "Rolled back", DESIGN,
                                           {"logo": _png(), "signature": _jpeg()})
        assert len(_stored_files(app) - before) == 2  # written just before the version row
        db.session.rollback()
    assert _stored_files(app) == before
    with app.app_context():
        template = service.create_template(Actor.system(), "Kept", DESIGN, {"logo": _png()})
        db.session.commit()
        template = db.session.get(CertificateTemplate, template.id)
        version = service.save_version(Actor.system(), template, 1, DESIGN,
                                       {"signature": _png()})
        db.session.commit()
        assert storage.exists(version.logo_key) and storage.exists(version.signature_key)
    assert len(_stored_files(app) - before) == 2
