"""Certificate PDFs: A4 landscape, drawn by xhtml2pdf from templates/certificates/pdf.html.

What the PDF says comes only from the certificate's frozen `snapshot` (plus its number,
verification code and the public verify URL), never from live user or course rows: a
renamed course or a changed name does not change a certificate already issued.

Fonts: every font a PDF uses is embedded, as a subset of the glyphs it prints.
DejaVu Sans (static/fonts/, in the repository) draws Latin with macrons and diacritics,
Greek, Cyrillic, Hebrew and Arabic. It has no CJK glyphs, so a run of Han, kana or
Hangul is set in WenQuanYi Micro Hei (CJK_FONT: TrueType outlines in a collection, face
0; all three scripts; Debian's fonts-wqy-microhei, which `make static` installs when
missing and copies into static/fonts/), declared only in PDFs that have such a run.
Without that file a CJK run falls back to ReportLab's CID fonts (STSong-Light, HeiseiMin-W3,
HYSMyeongJo-Medium), which are not embedded (boxes in viewers without CJK fonts), and a
warning is logged.

Resources: the only things the template loads are the fonts under /static/fonts/ and
the QR code as a data: URI. `link_callback` confines every fetch to the static folder
(any other scheme, host or path is refused), and the render runs under xhtml2pdf's
resource policy, which forbids network fetches and local reads outside that folder too.
User text reaches the template as data and Jinja escapes it, so a "name" that looks like
markup is printed, not parsed.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import segno
import segno.encoder as segno_encoder
from flask import current_app
from reportlab import rl_config
from reportlab.graphics.barcode import registerWidget
from reportlab.graphics.shapes import DirectDraw, Group
from reportlab.graphics.widgetbase import Widget
from reportlab.lib.attrmap import AttrMap, AttrMapValue
from reportlab.lib.validators import isNumber, isString
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from xhtml2pdf import default as xhtml2pdf_default
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from app.models import Certificate
from app.services import urls
from app.services.certificates import templates

log = logging.getLogger(__name__)

TEMPLATE = "certificates/pdf.html"
#: What link_callback answers for a refused resource: an empty data: URI, which reads
#: nothing from anywhere. (Answering None would make xhtml2pdf fall back to the
#: original URI, leaving only the resource policy between it and the fetch.)
BLOCKED = "data:,"
#: The only data: URIs a certificate loads are its template's logo and signature, stored
#: as PNG (JPEG accepted too). No SVG (svglib would parse markup, which can reference
#: files and URLs) and no GIF: nothing the template prints needs them.
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg)[;,]", re.IGNORECASE)

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")

#: Certificate titles by type; an unknown type reads "<Label> Certificate".
_TITLES = {"COMPLETION": "Certificate of Completion", "MASTERY": "Certificate of Mastery",
           "TEACHING": "Teaching Certificate"}
_STATEMENTS = {"COMPLETION": "has successfully completed",
               "MASTERY": "has demonstrated mastery of",
               "TEACHING": "is certified to teach"}


# --- Resources -----------------------------------------------------------------------

#: The CJK font, inside the static folder (copied there by `make static`).
CJK_FONT = "fonts/wqy-microhei.ttc"

def static_root() -> Path:
    return Path(current_app.static_folder or "").resolve()


def link_callback(uri: Any, rel: Any = None) -> str:
    """Where xhtml2pdf may read `uri` from: a file inside the static folder, the data:
    image URI itself, or BLOCKED.

    Accepted: "/static/..." URLs, paths relative to the static folder, absolute paths
    that resolve (symlinks followed) inside it, and data:image/png or jpeg URIs. Refused: every
    other scheme (file:, http:, https:, ftp:, ...), network paths ("//host/x"), and
    anything that resolves outside the static folder ("../", "/etc/passwd").
    """
    if not isinstance(uri, str) or not uri or "\x00" in uri:
        return _refuse(uri, "not a usable URI")
    uri = uri.strip()
    if uri.lower().startswith("data:"):
        return uri if _DATA_IMAGE.match(uri) else _refuse(uri, "data: that is not an image")
    parts = urlsplit(uri)
    if parts.scheme or parts.netloc:
        return _refuse(uri, f"scheme {parts.scheme or '//'!r} not allowed")
    if parts.query or parts.fragment:
        return _refuse(uri, "query or fragment")
    root = static_root()
    path = unquote(parts.path)
    if "\x00" in path or "\\" in path:
        return _refuse(uri, "not a usable path")
    static_url = (current_app.static_url_path or "/static").rstrip("/") + "/"
    if path.startswith(static_url):
        candidate = root / path[len(static_url):]
    elif path.startswith("/"):
        candidate = Path(path)
    else:
        candidate = root / path
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError, ValueError):
        return _refuse(uri, "cannot be resolved")
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return _refuse(uri, "outside the static folder or missing")
    return str(resolved)


# --- Fonts: parsed and registered once per process -------------------------------------
#
# The template names its faces by family ("Credwright Sans", "Credwright CJK") instead
# of loading them with @font-face: an @font-face makes xhtml2pdf read and hash the whole
# font file on every render (6 ms for the two DejaVu faces), and the CJK collection was
# parsed once per weight (2 x 330 ms) in each worker. Registered here once, both weights
# of CJK share one parsed face, and the PDF still embeds a subset of each face it uses.

SANS_FAMILY = "Credwright Sans"
CJK_FAMILY = "Credwright CJK"
_SANS = ("CredwrightSans", "fonts/DejaVuSans.ttf")
_SANS_BOLD = ("CredwrightSans-Bold", "fonts/DejaVuSans-Bold.ttf")
_CJK_FACE = "CredwrightCJK"
_font_lock = threading.Lock()
_registered: dict[str, Path] = {}


def _register(face: str, path: Path) -> None:
    """Register `path` as `face` unless that file is registered under it already."""
    if _registered.get(face) == path:
        return
    pdfmetrics.registerFont(TTFont(face, str(path)))
    _registered[face] = path


def prepare_fonts(*, cjk: bool = False) -> None:
    """Parse the embedded fonts (and, with `cjk`, the CJK one when installed) unless this
    process did already: the first certificate a worker renders pays for it, or a worker
    calls this at start. Safe from several threads."""
    root = static_root()
    with _font_lock:
        _register(_SANS[0], root / _SANS[1])
        _register(_SANS_BOLD[0], root / _SANS_BOLD[1])
        pdfmetrics.registerFontFamily(_SANS[0], normal=_SANS[0], bold=_SANS_BOLD[0],
                                      italic=_SANS[0], boldItalic=_SANS_BOLD[0])
        xhtml2pdf_default.DEFAULT_FONT[SANS_FAMILY.lower()] = _SANS[0]
        if cjk and (root / CJK_FONT).is_file():
            _register(_CJK_FACE, root / CJK_FONT)
            pdfmetrics.registerFontFamily(_CJK_FACE, normal=_CJK_FACE, bold=_CJK_FACE,
                                          italic=_CJK_FACE, boldItalic=_CJK_FACE)
            xhtml2pdf_default.DEFAULT_FONT[CJK_FAMILY.lower()] = _CJK_FACE
        # ReportLab's canvas starts every page by selecting its initial font, and its
        # graphics select theirs: Helvetica by default, a standard-14 font that is never
        # embedded, listed in the PDF although nothing is drawn in it. A TrueType initial
        # font is not selected until text is drawn in it (then embedded as a subset).
        rl_config.canvas_basefontname = _SANS[0]
        rl_config.defaultGraphicsFontName = _SANS[0]
        # Compressed streams stay binary: ASCII85 on top (ReportLab's default, for
        # 7-bit channels) made each PDF a quarter larger and cost 3 ms to encode.
        rl_config.useA85 = 0


def cjk_font_url() -> str | None:
    """The CJK family for the template (registered now), or None (and a warning) when
    the font file is not installed."""
    if (static_root() / CJK_FONT).is_file():
        prepare_fonts(cjk=True)
        return CJK_FAMILY
    log.warning("certificate PDF: %s is missing (run `make static`); CJK text falls back "
                "to fonts that are not embedded", CJK_FONT)
    return None


def _refuse(uri: Any, reason: str) -> str:
    log.warning("certificate PDF: refused resource %.120r (%s)", uri, reason)
    return BLOCKED


def resource_policy() -> ResourceAccessPolicy:
    """xhtml2pdf's own gate, behind link_callback: no network at all, local reads only
    inside the static folder, and its server limits (time, size, depth) on."""
    return ResourceAccessPolicy.server(static_root(), allow_remote=False,
                                       allow_private_networks=False,
                                       max_render_seconds=60)


# --- Text ----------------------------------------------------------------------------

#: Han ideographs (with extensions and compatibility forms), CJK punctuation and
#: symbols, fullwidth forms; kana; Hangul. DejaVu Sans draws none of them.
_HAN = r"\u2e80-\u2fdf\u3000-\u303f\u3190-\u319f\u31c0-\u31ef\u3200-\u32ff\u3300-\u33ff" \
       r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef" \
       r"\U00020000-\U0003134f"
_KANA = r"\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HANGUL = r"\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"
_CJK_RUN = re.compile(f"[{_HAN}{_KANA}{_HANGUL}]+")
_KANA_CHAR = re.compile(f"[{_KANA}]")
_HANGUL_CHAR = re.compile(f"[{_HANGUL}]")


def script_runs(text: str | None) -> list[tuple[str, str | None]]:
    """`text` cut into (run, css class): None for what DejaVu Sans draws, a cjk-* class
    for a run of CJK characters: Korean for Hangul, Japanese for kana and for Han in a
    text that has kana somewhere (山田 さくら), Simplified Chinese for other Han."""
    if not text:
        return []
    japanese = bool(_KANA_CHAR.search(text))
    runs: list[tuple[str, str | None]] = []
    position = 0
    for match in _CJK_RUN.finditer(text):
        if match.start() > position:
            runs.append((text[position:match.start()], None))
        run = match.group()
        if _HANGUL_CHAR.search(run) and not _KANA_CHAR.search(run):
            # A Hangul run is Korean; hanja written next to it stay in that face.
            css = "cjk-kr"
        elif japanese:
            css = "cjk-jp"
        else:
            css = "cjk-sc"
        runs.append((run, css))
        position = match.end()
    if position < len(text):
        runs.append((text[position:], None))
    return runs


def long_date(value: str | date | None) -> str | None:
    """"2026-03-04" -> "4 March 2026" (English month names whatever the locale)."""
    if not value:
        return None
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def name_size(name: str) -> int:
    """The recipient's name in points: large, but one or two lines even at 200 chars."""
    length = len(name)
    return 36 if length <= 26 else 30 if length <= 36 else 24 if length <= 52 else (
        18 if length <= 90 else 16)


def subject_size(subject: str) -> int:
    length = len(subject)
    return 22 if length <= 40 else 18 if length <= 70 else 14 if length <= 120 else 13


# --- Verification ----------------------------------------------------------------------

def verify_url(verification_id: str) -> str:
    """The public verify page, always on PUBLIC_BASE_URL.

    Built from the configured public address rather than the current request's host:
    the PDF is rendered by a worker (no request) or inline inside some admin's request
    (whose Host may be internal), and it must print the same canonical URL either way
    (app/services/urls.py builds it).
    """
    return urls.verify_url(verification_id)


#: segno's masking, module by module, was half the QR code's cost (8 masks tried per
#: symbol, two Python calls per module). The same XOR, row at a time: for a symbol size
#: and a mask, which modules flip depends on nothing else, so it is computed once per
#: process (at most 40 sizes x 8 masks). Exact: the masks tried, their scores and the
#: one chosen are segno's own (a test compares every module with segno's code).
_MASK_ROWS: dict[tuple[Any, int, int], tuple[int, ...]] = {}
_segno_apply_mask = segno_encoder.apply_mask


def _apply_mask_by_rows(matrix: Any, mask_pattern: Any, width: int, height: int,
                        is_encoding_region: Any) -> None:
    # is_encoding_region is segno's closure over the function patterns of a symbol of
    # this size; mask functions are fresh closures per symbol but share their code.
    key = (mask_pattern.__code__, width, height)
    rows = _MASK_ROWS.get(key)
    if rows is None:
        rows = tuple(int.from_bytes(bytes(
            1 if is_encoding_region(i, j) and mask_pattern(i, j) else 0
            for j in range(width)), "big") for i in range(height))
        _MASK_ROWS[key] = rows
    for i, flips in enumerate(rows):
        row = matrix[i]
        row[:] = (int.from_bytes(row, "big") ^ flips).to_bytes(width, "big")


segno_encoder.apply_mask = _apply_mask_by_rows


def qr_code(url: str) -> segno.QRCode:
    """The verify URL's QR code: medium error correction, never a Micro QR."""
    return segno.make(url, error="m", micro=False)


def qr_data_uri(url: str) -> str:
    """A QR code of `url` as an SVG data: URI: black on white, medium error correction,
    a 4-module quiet zone. xhtml2pdf draws it (through svglib) as vector paths, sharp at
    any size; the template prints it 92 pt wide, about 2 pt (0.7 mm) a module."""
    return qr_code(url).svg_data_uri(scale=10, border=4)


#: The quiet zone around the QR code, in modules (the standard's 4).
QR_BORDER = 4


def qr_rectangles(qr: segno.QRCode) -> list[tuple[int, int, int, int]]:
    """The dark modules as few rectangles (x, y, width, height in modules, y up, the
    quiet zone included): runs of a row, merged with the same run on the rows below."""
    rows = [bytes(row) for row in qr.matrix]
    size = len(rows) + 2 * QR_BORDER
    open_runs: dict[tuple[int, int], list[int]] = {}  # (x, width) -> [top row, height]
    done: list[tuple[int, int, int, int]] = []
    for y, row in enumerate(rows):
        runs = set()
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.add((start, x - start))
            else:
                x += 1
        for key in list(open_runs):
            if key in runs:
                open_runs[key][1] += 1
                runs.discard(key)
            else:
                top, height = open_runs.pop(key)
                done.append((key[0], top, key[1], height))
        for key in runs:
            open_runs[key] = [y, 1]
    done.extend((key[0], top, key[1], height) for key, (top, height) in open_runs.items())
    return [(x + QR_BORDER, size - QR_BORDER - top - height, width, height)
            for x, top, width, height in sorted(done, key=lambda r: (r[1], r[0]))]


class _QrModules(DirectDraw):
    """The QR code written straight into the page as one filled path of rectangles
    (vector, a few hundred integers): no SVG to parse, no shape per module."""

    def __init__(self, value: str, size: float) -> None:
        self.value = value
        self.size = size

    def drawDirectly(self, renderer: Any) -> None:  # noqa: N802 (ReportLab's name)
        qr = qr_code(self.value)
        modules = qr.symbol_size(border=QR_BORDER)[0]
        unit = self.size / modules
        ops = " ".join(f"{x} {y} {w} {h} re" for x, y, w, h in qr_rectangles(qr))
        renderer._canvas.addLiteral(f"q 0 g {unit:.6f} 0 0 {unit:.6f} 0 0 cm {ops} f Q")

    def getBounds(self) -> tuple[float, float, float, float]:  # noqa: N802
        return (0, 0, self.size, self.size)


class VerifyQrWidget(Widget):
    """xhtml2pdf's <pdf:barcode type="qr" value="..." barwidth=".."> with segno's encoder
    and a direct vector drawing; registered (below) under ReportLab's "QR" code name,
    which replaces ReportLab's own QR widget in this process (nothing else uses it).
    Its drawing through svglib cost 17 ms a certificate, and ReportLab's encoder 40."""

    codeName = "QR"
    _attrMap = AttrMap(value=AttrMapValue(isString), barWidth=AttrMapValue(isNumber),
                       barHeight=AttrMapValue(isNumber))

    def __init__(self, value: str = "", barWidth: float = 92,  # noqa: N803
                 barHeight: float = 92) -> None:
        self.value = value
        self.barWidth = barWidth
        self.barHeight = barHeight

    def getBounds(self) -> tuple[float, float, float, float]:  # noqa: N802
        return (0, 0, self.barWidth, self.barWidth)

    def draw(self) -> Group:
        return Group(_QrModules(self.value, self.barWidth))


registerWidget(VerifyQrWidget)


# --- Rendering -----------------------------------------------------------------------

def certificate_context(certificate: Certificate) -> dict[str, Any]:
    """Everything the template prints, from the snapshot (and the certificate's number,
    code and verification id)."""
    snap = dict(certificate.snapshot or {})
    type_ = str(snap.get("type") or "").upper()
    type_label = snap.get("type_label") or type_.title() or "Certificate"
    recipient = str(snap.get("recipient_name") or "")
    subject = str(snap.get("subject") or "")
    track = snap.get("track")
    kind = snap.get("subject_kind") or "track"
    version = snap.get("version")
    number = snap.get("number") or certificate.number or ""
    url = verify_url(certificate.verification_id) if certificate.verification_id else None
    if kind == "course":
        subject_note = "Course" + (f" of the {track} track" if track and track != subject
                                   else "")
    else:
        subject_note = "Certification track"
    if version:
        subject_note += f", version {version}"
    runs = {
        "recipient_runs": script_runs(recipient),
        "subject_runs": script_runs(subject),
        "subject_note_runs": script_runs(subject_note),
        "issuer_runs": script_runs(str(snap.get("issuer") or "")),
        "issuer_caps_runs": script_runs(str(snap.get("issuer") or "").upper()),
        "issued_by_runs": script_runs(snap.get("issued_by")),
    }
    # The template version frozen at issue (none: the built-in look).
    brand = templates.branding_of(snap.get("template_version_id"))
    issued_on = long_date(snap.get("issued_on"))
    wording = {"recipient": recipient, "subject": subject, "date": issued_on or "",
               "number": number, "issuer": str(snap.get("issuer") or ""),
               "type": type_label}
    title = templates.fill(brand.title_text, wording) or _TITLES.get(
        type_, f"{type_label} Certificate")
    runs["title_runs"] = script_runs(title)
    runs["body_runs"] = script_runs(templates.fill(brand.body_text, wording))
    runs["signer_runs"] = script_runs(brand.signer_name)
    runs["signer_title_runs"] = script_runs(brand.signer_title)
    has_cjk = any(css for value in runs.values() for _run, css in value)
    return {
        **runs,
        # Declared only when a CJK run needs it (parsing the font costs time once).
        "cjk_font": cjk_font_url() if has_cjk else None,
        "brand": brand,
        "title": title,
        "statement": _STATEMENTS.get(type_, "has been awarded"),
        "type_label": type_label,
        "recipient_name": recipient,
        "name_size": name_size(recipient),
        "subject": subject,
        "subject_size": subject_size(subject),
        "issuer": str(snap.get("issuer") or ""),
        "issued_on": issued_on,
        "expires_on": long_date(snap.get("expires_on")),
        "number": number,
        "verification_code": certificate.verification_code,
        "verify_url": url,
        # Drawn by VerifyQrWidget (<pdf:barcode type="qr">) from this URL.
        "qr": url,
    }


def render_html(certificate: Certificate) -> str:
    """The template, rendered with only the certificate's context: no context processors
    (no request, no current user), autoescaped like every .html template."""
    template = current_app.jinja_env.get_template(TEMPLATE)
    return template.render(**certificate_context(certificate))


#: xhtml2pdf's user-agent stylesheet cut to what the certificate's elements use (the same
#: values as its DEFAULT_CSS for html, b, body, div and p): parsing the whole of it
#: (lists, headings, tables, forms, TOC) cost a few percent of every render, and the
#: pages come out pixel-identical.
DEFAULT_CSS = """
html { font-family: Helvetica; font-size: 10px; font-weight: normal; color: #000000;
       margin: 0; padding: 0; line-height: 150%; border: 1px none; display: inline;
       width: auto; height: auto; white-space: normal; }
b, strong { font-weight: bold; }
body, div, p { display: block; }
p { margin: 1em 0; }
"""


def html_to_pdf(html: str) -> bytes:
    """HTML to PDF through link_callback and the resource policy; raises RuntimeError
    when xhtml2pdf reports errors or writes no PDF."""
    prepare_fonts()
    out = io.BytesIO()
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8", link_callback=link_callback,
                            resource_policy=resource_policy(), default_css=DEFAULT_CSS)
    data = out.getvalue()
    if result.err or not data.startswith(b"%PDF"):
        raise RuntimeError(f"PDF rendering failed ({result.err} errors)")
    return data


def warm_up() -> None:
    """Do once what every render would otherwise pay first: the fonts parsed (the CJK one
    too when installed) and the template compiled. A worker calls it before it forks its
    work horses, so each horse starts with them (a horse's own caches die with it)."""
    prepare_fonts(cjk=(static_root() / CJK_FONT).is_file())
    current_app.jinja_env.get_template(TEMPLATE)


def render_certificate(certificate: Certificate) -> bytes:
    """The certificate as a one-page A4 landscape PDF. Raises RuntimeError if xhtml2pdf
    fails."""
    try:
        return html_to_pdf(render_html(certificate))
    except RuntimeError as exc:
        raise RuntimeError(f"certificate {certificate.id}: {exc}") from exc
