"""Certificate PDFs: layout, scripts, the frozen snapshot, and resource confinement."""

from __future__ import annotations

import base64
import io
import socket
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader

from app.services import pdf

SNAPSHOT = {
    "number": "CERT-2026-00042", "recipient_name": "Aroha Ngāti Pōneke", "type": "COMPLETION",
    "type_label": "Completion", "subject": "Roofing Fundamentals", "subject_kind": "track",
    "track": "Roofing Fundamentals", "version": "2.1", "issued_on": "2026-03-04",
    "expires_on": "2028-03-04", "issuer": "Credwright", "issued_by": "Mereana Tūhoe",
}
# A 1x1 PNG: what a fetch that got through would have drawn (an image XObject).
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8Dw"
                         "HwAFBQIAX8jx0gAAAABJRU5ErkJggg==")


def _certificate(**snapshot: Any) -> SimpleNamespace:
    """What render_certificate reads of a Certificate: the snapshot, number, code, id."""
    return SimpleNamespace(id=7, snapshot={**SNAPSHOT, **snapshot}, number=SNAPSHOT["number"],
                           verification_id="vid-abcdefghijklmnopqrstuvwxyz012345",
                           verification_code="7K3QM-9PX2D")


def _render(app: Flask, **snapshot: Any) -> bytes:
    with app.app_context():
        return pdf.render_certificate(_certificate(**snapshot))


def _text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _resources(data: bytes) -> tuple[set[str], int]:
    """The fonts (BaseFont names) and the number of raster images on the first page,
    form XObjects included."""
    page = PdfReader(io.BytesIO(data)).pages[0]
    fonts: set[str] = set()
    images = 0

    def walk(resources: Any) -> None:
        nonlocal images
        resources = resources.get_object() if resources is not None else {}
        for font in (resources.get("/Font") or {}).values():
            fonts.add(str(font.get_object()["/BaseFont"]))
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Image":
                images += 1
            elif "/Resources" in xobject:
                walk(xobject["/Resources"])

    walk(page.get("/Resources"))
    return fonts, images


def _fonts(data: bytes) -> set[str]:
    return _resources(data)[0]


def _images(data: bytes) -> int:
    """Raster images drawn (the QR code is vector, so a certificate has none)."""
    return _resources(data)[1]


class _Listener:
    """A loopback TCP server that records every connection (and answers with a PNG, so
    a fetch that got through would have an image to draw)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(1)
                try:
                    conn.recv(4096)
                except OSError:
                    pass
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: image/png\r\n\r\n" + PIXEL)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener() -> Any:
    server = _Listener()
    yield server
    server.close()


@pytest.fixture
def recorded_callback(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every (uri, answer) link_callback gives during the test."""
    calls: list[tuple[str, str]] = []
    original = pdf.link_callback

    def recording(uri: Any, rel: Any = None) -> str:
        answer = original(uri, rel)
        calls.append((uri, answer))
        return answer

    monkeypatch.setattr(pdf, "link_callback", recording)
    return calls


# --- Layout ----------------------------------------------------------------------------

def test_a_certificate_is_one_a4_landscape_page(app):
    data = _render(app)
    assert data.startswith(b"%PDF")
    pages = PdfReader(io.BytesIO(data)).pages
    assert len(pages) == 1
    box = pages[0].mediabox
    assert float(box.width) > float(box.height)
    assert float(box.width) == pytest.approx(841.89, abs=1)
    assert float(box.height) == pytest.approx(595.28, abs=1)


def test_the_pdf_says_what_the_snapshot_says(app):
    app.config["PUBLIC_BASE_URL"] = "https://certs.example.nz"
    text = _render(app)
    text = _text(text)
    for expected in ("Certificate of Completion", "Aroha Ngāti Pōneke", "Roofing Fundamentals",
                     "Certification track, version 2.1", "4 March 2026", "4 March 2028",
                     "CERT-2026-00042", "CREDWRIGHT", "Mereana Tūhoe", "7K3QM-9PX2D",
                     "https://certs.example.nz/verify/vid-abcdefghijklmnopqrstuvwxyz012345"):
        assert expected in text, expected


def test_no_expiry_no_issuer_person_and_a_course_subject(app):
    text = _text(_render(app, type="TEACHING", type_label="Teaching", expires_on=None,
                         issued_by=None, subject="Flashings", subject_kind="course",
                         track="Roofing Fundamentals", version="1.0"))
    assert "Teaching Certificate" in text and "is certified to teach" in text
    assert "VALID UNTIL" not in text
    assert "Course of the Roofing Fundamentals track, version 1.0" in text
    assert "Issuer" in text


def test_long_names_and_titles_still_fit_on_one_page(app):
    data = _render(app, recipient_name="Wikitōria " * 20, subject="Membranes and flashings " * 8)
    assert len(PdfReader(io.BytesIO(data)).pages) == 1
    assert "Wikitōria" in _text(data)


def test_the_qr_code_is_drawn_as_vector_graphics(app):
    data = _render(app)
    assert _images(data) == 0  # no raster: the QR is a vector drawing
    with app.app_context():
        uri = pdf.qr_data_uri("https://example.test/verify/x")
    assert uri.startswith("data:image/svg+xml")


def test_the_qr_rectangles_cover_exactly_the_dark_modules():
    """The PDF's QR path (merged rectangles) paints every dark module of segno's symbol
    and nothing else, quiet zone included."""
    qr = pdf.qr_code("https://certs.example.nz/verify/vid-abcdefghijklmnopqrstuvwxyz012345")
    size = qr.symbol_size(border=pdf.QR_BORDER)[0]
    painted = [[0] * size for _ in range(size)]
    for x, y, width, height in pdf.qr_rectangles(qr):
        for row in range(size - y - height, size - y):  # y up -> rows down
            for column in range(x, x + width):
                painted[row][column] += 1
    border = pdf.QR_BORDER
    expected = [[0] * size for _ in range(size)]
    for r, line in enumerate(qr.matrix):
        for c, dark in enumerate(line):
            expected[r + border][c + border] = 1 if dark else 0
    assert painted == expected  # each dark module once, no light one


def test_the_pdf_draws_the_qr_rectangles(app):
    """The page's content stream holds the QR path, scaled to 92 pt."""
    app.config["PUBLIC_BASE_URL"] = "https://certs.example.nz"
    data = _render(app)
    page = PdfReader(io.BytesIO(data)).pages[0]
    content = page.get_contents().get_data().decode("latin-1")
    qr = pdf.qr_code("https://certs.example.nz/verify/vid-abcdefghijklmnopqrstuvwxyz012345")
    first = pdf.qr_rectangles(qr)[0]
    assert " ".join(map(str, first)) + " re" in content
    assert content.count(" re") >= len(pdf.qr_rectangles(qr))


def test_the_verify_url_uses_the_public_base_url_and_the_verify_route(app):
    app.config["PUBLIC_BASE_URL"] = "https://certs.example.nz/portal/"
    with app.app_context():
        url = pdf.verify_url("abc_DEF-123")
    assert url == "https://certs.example.nz/portal/verify/abc_DEF-123"
    # Inside someone's request on an internal host, the printed URL does not change.
    with app.test_request_context("/", base_url="http://10.0.0.5:8000/"):
        assert pdf.verify_url("abc_DEF-123") == url


def test_dates_are_written_out_in_english():
    assert pdf.long_date("2026-01-09") == "9 January 2026"
    assert pdf.long_date(None) is None


# --- Scripts ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["Ngāti Pōneke", "Zoë Brontë", "Tāmati Pōmare-Wēti",
                                  "Ελένη Παπαδοπούλου", "Дмитрий Иванов"])
def test_names_in_latin_greek_and_cyrillic_come_out_in_dejavu(app, name):
    data = _render(app, recipient_name=name)
    assert name in _text(data)
    fonts = _fonts(data)
    assert any(font.endswith("+DejaVuSans-Bold") for font in fonts), fonts


def _font_files(data: bytes) -> dict[str, int]:
    """Every font of every page (form XObjects included) -> the size of its embedded
    font program (FontFile, FontFile2 or FontFile3; a Type0 font's descendant's), or 0
    when the PDF only names the font and leaves the glyphs to the viewer."""
    found: dict[str, int] = {}

    def program(font: Any) -> int:
        if "/DescendantFonts" in font:
            font = font["/DescendantFonts"][0].get_object()
        descriptor = font.get("/FontDescriptor")
        descriptor = descriptor.get_object() if descriptor is not None else {}
        for key in ("/FontFile", "/FontFile2", "/FontFile3"):
            if key in descriptor:
                return len(descriptor[key].get_object().get_data())
        return 0

    def walk(resources: Any) -> None:
        resources = resources.get_object() if resources is not None else {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            found[str(font["/BaseFont"])] = program(font)
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if "/Resources" in xobject:
                walk(xobject["/Resources"])

    for page in PdfReader(io.BytesIO(data)).pages:
        walk(page.get("/Resources"))
    return found


@pytest.mark.parametrize("name", ["李伟", "山田さくら", "김민준", "Tāne 王秀英 Ngāti"])
def test_cjk_names_are_set_in_an_embedded_subset_and_stay_text(app, name):
    data = _render(app, recipient_name=name, subject=f"安全 Safety for {name}")
    text = _text(data)
    assert name in text and "安全 Safety for" in text
    files = _font_files(data)
    cjk = [font for font in files if font.endswith("+WenQuanYiMicroHei-0")]
    assert len(cjk) == 1, files
    # Subset: the PDF holds the glyphs it prints, not the 5 MB collection.
    assert 0 < files[cjk[0]] < 200_000, files


@pytest.mark.parametrize("snapshot", [
    {}, {"recipient_name": "Ελένη Παπαδοπούλου"}, {"recipient_name": "李伟"},
    {"recipient_name": "김민준", "subject": "屋根の安全", "issued_by": "山田さくら"},
    {"recipient_name": "Дмитрий", "issuer": "Ōtautahi 研修"}])
def test_every_font_in_the_pdf_is_embedded(app, snapshot):
    files = _font_files(_render(app, **snapshot))
    assert files and all(files.values()), files  # no font left to the viewer
    assert all("+" in font for font in files), files  # each one a subset (XXXXXX+Name)
    has_cjk = any(css for value in snapshot.values() for _run, css in pdf.script_runs(value))
    assert any(font.endswith("+WenQuanYiMicroHei-0") for font in files) == has_cjk, files


def test_without_the_cjk_font_file_cjk_falls_back_with_a_warning(app, monkeypatch, caplog):
    monkeypatch.setattr(pdf, "CJK_FONT", "fonts/not-installed.ttc")
    data = _render(app, recipient_name="李伟")
    assert "李伟" in _text(data)
    assert "/STSong-Light" in _fonts(data)
    assert "not-installed.ttc is missing" in caplog.text


def test_the_cjk_font_is_installed(app):
    """`make static` copies Debian's fonts-wqy-microhei next to DejaVu Sans."""
    path = Path(app.static_folder, pdf.CJK_FONT)
    assert path.is_file() and path.read_bytes()[:4] == b"ttcf"


def test_script_runs_split_cjk_from_the_rest():
    assert pdf.script_runs("李伟 (Li Wei)") == [("李伟", "cjk-sc"), (" (Li Wei)", None)]
    assert pdf.script_runs("山田 さくら") == [("山田", "cjk-jp"), (" ", None),
                                             ("さくら", "cjk-jp")]
    assert pdf.script_runs("김민준") == [("김민준", "cjk-kr")]
    assert pdf.script_runs("Ngāti Pōneke") == [("Ngāti Pōneke", None)]
    assert pdf.script_runs(None) == []


# --- Resources and injection -----------------------------------------------------------

def _passwd_lines() -> list[str]:
    try:
        return [line for line in Path("/etc/passwd").read_text().splitlines() if line][:3]
    except OSError:  # pragma: no cover - no /etc/passwd here
        return []


def test_markup_in_user_text_is_printed_and_fetches_nothing(app, listener, recorded_callback):
    img = '<img src="file:///etc/passwd">'
    link = f'<link rel="stylesheet" href="http://127.0.0.1:{listener.port}/x.css">'
    remote = f'<img src="http://127.0.0.1:{listener.port}/x.png">'
    data = _render(app, recipient_name=f"{img} Zoë", subject=f"{link}{remote}",
                   issuer=f"<style>@import url(http://127.0.0.1:{listener.port}/i.css);</style>",
                   issued_by='<a href="file:///etc/shadow">Mereana</a>')
    text = _text(data)
    assert img in text  # printed as text, not parsed as a tag
    assert f"127.0.0.1:{listener.port}/x.css" in text
    for line in _passwd_lines():
        assert line not in text and line.encode() not in data
    assert listener.connections == 0
    assert _images(data) == 0
    # The template loads nothing (fonts are registered in-process, the QR is drawn from
    # its URL): the callback was never asked for anything.
    assert recorded_callback == []


def _raw_html(port: int, secret_png: Path) -> str:
    """Markup as it would be if escaping ever failed: tags that fetch things."""
    return f"""<html><head>
      <link rel="stylesheet" href="http://127.0.0.1:{port}/x.css">
      <style>@import url("http://127.0.0.1:{port}/i.css");
             @font-face {{ font-family: Evil; src: url("file:///etc/passwd"); }}</style>
      </head><body>
      <p>Zoë</p>
      <img src="file:///etc/passwd">
      <img src="/etc/passwd">
      <img src="{secret_png}">
      <img src="file://{secret_png}">
      <img src="/static/../../{secret_png.name}">
      <img src="http://127.0.0.1:{port}/x.png">
      <img src="http://localhost:{port}/y.png">
      <img src="//127.0.0.1:{port}/z.png">
      </body></html>"""


def test_injected_tags_are_refused_by_link_callback(app, listener, recorded_callback,
                                                    tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(PIXEL)
    with app.app_context():
        data = pdf.html_to_pdf(_raw_html(listener.port, secret))
    assert data.startswith(b"%PDF") and "Zoë" in _text(data)
    assert listener.connections == 0
    assert _images(data) == 0  # neither the secret PNG nor the "remote" one was drawn
    for line in _passwd_lines():
        assert line.encode() not in data
    refused = {uri for uri, answer in recorded_callback if answer == pdf.BLOCKED}
    assert "file:///etc/passwd" in refused and "/etc/passwd" in refused
    assert str(secret) in refused and f"http://127.0.0.1:{listener.port}/x.png" in refused
    assert all(answer == pdf.BLOCKED for _uri, answer in recorded_callback)


def test_the_resource_policy_refuses_even_without_link_callback(app, listener, monkeypatch,
                                                                tmp_path):
    """Defence in depth: with a callback that lets everything through, xhtml2pdf's
    resource policy (no network, local reads only under static/) still refuses."""
    secret = tmp_path / "secret.png"
    secret.write_bytes(PIXEL)
    monkeypatch.setattr(pdf, "link_callback", lambda uri, rel=None: uri)
    with app.app_context():
        data = pdf.html_to_pdf(_raw_html(listener.port, secret))
    assert listener.connections == 0
    assert _images(data) == 0


@pytest.mark.parametrize("uri", [
    "file:///etc/passwd",
    "FILE:///etc/passwd",
    "http://127.0.0.1:9/x",
    "https://example.com/logo.png",
    "ftp://example.com/x",
    "javascript:alert(1)",
    "//example.com/x.png",
    "/etc/passwd",
    "../config.py",
    "../../../../etc/passwd",
    "/static/../__init__.py",
    "/static/%2e%2e/__init__.py",
    "/static/fonts/../../__init__.py",
    "fonts/../../config.py",
    "/static/fonts/missing.ttf",
    "/static/fonts/",
    "/static/fonts/DejaVuSans.ttf?x=1",
    "data:text/html,<script>alert(1)</script>",
    "data:application/pdf;base64,JVBERi0=",
    # SVG would go through svglib (markup that can name files and URLs); GIF is unused.
    "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'><image href='/etc/passwd'/></svg>",
    "DATA:IMAGE/SVG+XML;base64,PHN2Zz4=",
    "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
    "",
    "/static/fonts/DejaVuSans.ttf\x00.png",
    None,
])
def test_link_callback_refuses_everything_outside_static(app, uri):
    with app.app_context():
        assert pdf.link_callback(uri, None) == pdf.BLOCKED


def test_link_callback_accepts_the_bundled_fonts_and_image_data(app):
    with app.app_context():
        font = Path(app.static_folder, "fonts", "DejaVuSans.ttf").resolve()
        assert pdf.link_callback("/static/fonts/DejaVuSans.ttf", None) == str(font)
        assert pdf.link_callback("fonts/DejaVuSans.ttf", None) == str(font)
        assert pdf.link_callback(str(font), None) == str(font)
        bold = pdf.link_callback("/static/fonts/DejaVuSans-Bold.ttf", "/anywhere")
        assert Path(bold).is_file() and Path(bold).is_relative_to(pdf.static_root())
        png = "data:image/png;base64," + base64.b64encode(PIXEL).decode()
        assert pdf.link_callback(png, None) == png
        jpeg = "data:image/jpeg;base64,/9j/4AAQ"
        assert pdf.link_callback(jpeg, None) == jpeg
        assert (Path(app.static_folder) / "fonts" / "LICENSE").is_file()


def test_link_callback_does_not_follow_a_symlink_out_of_static(app, tmp_path):
    static = tmp_path / "static"
    (static / "fonts").mkdir(parents=True)
    outside = tmp_path / "outside.ttf"
    outside.write_bytes(b"not a font")
    (static / "fonts" / "escape.ttf").symlink_to(outside)
    (static / "fonts" / "ok.ttf").write_bytes(b"fine")
    app.static_folder = str(static)
    with app.app_context():
        assert pdf.link_callback("/static/fonts/escape.ttf", None) == pdf.BLOCKED
        assert pdf.link_callback("/static/fonts/ok.ttf", None) == str(
            (static / "fonts" / "ok.ttf").resolve())


def test_the_faster_qr_masking_gives_segnos_symbol_exactly(monkeypatch):
    """pdf replaces segno's module-by-module masking with a row-at-a-time XOR: the
    chosen mask and every module must be what segno's own code gives."""
    import random
    import string

    import segno
    import segno.encoder

    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "-_"
    urls = [f"https://certs.example.nz/verify/{''.join(rng.choices(alphabet, k=n))}"
            for n in [1, 8, 24, 32, 40, 60, 90, 140, 300] + [rng.randint(1, 200)
                                                            for _ in range(60)]]
    assert segno.encoder.apply_mask is pdf._apply_mask_by_rows
    fast = [(q.mask, q.matrix) for q in map(pdf.qr_code, urls)]
    monkeypatch.setattr(segno.encoder, "apply_mask", pdf._segno_apply_mask)
    assert [(q.mask, q.matrix) for q in map(pdf.qr_code, urls)] == fast
    assert len({mask for mask, _ in fast}) > 4  # many masks chosen, not one
