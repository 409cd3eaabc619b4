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
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import segno
from flask import current_app
from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from app.models import Certificate
from app.services import urls

log = logging.getLogger(__name__)

TEMPLATE = "certificates/pdf.html"
#: What link_callback answers for a refused resource: an empty data: URI, which reads
#: nothing from anywhere. (Answering None would make xhtml2pdf fall back to the
#: original URI, leaving only the resource policy between it and the fetch.)
BLOCKED = "data:,"
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|svg\+xml)[;,]", re.IGNORECASE)

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
    that resolve (symlinks followed) inside it, and data:image/... URIs. Refused: every
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


def cjk_font_url() -> str | None:
    """The CJK font's URL for the template's @font-face, or None (and a warning) when the
    file is not installed."""
    if (static_root() / CJK_FONT).is_file():
        static_url = (current_app.static_url_path or "/static").rstrip("/")
        return f"{static_url}/{CJK_FONT}"
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


def qr_data_uri(url: str) -> str:
    """A QR code of `url` as an SVG data: URI: black on white, medium error correction,
    a 4-module quiet zone. xhtml2pdf draws it (through svglib) as vector paths, sharp at
    any size; the template prints it 92 pt wide, about 2 pt (0.7 mm) a module."""
    return segno.make(url, error="m", micro=False).svg_data_uri(scale=10, border=4)


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
    has_cjk = any(css for value in runs.values() for _run, css in value)
    return {
        **runs,
        # Declared only when a CJK run needs it (parsing the font costs time once).
        "cjk_font": cjk_font_url() if has_cjk else None,
        "title": _TITLES.get(type_, f"{type_label} Certificate"),
        "statement": _STATEMENTS.get(type_, "has been awarded"),
        "type_label": type_label,
        "recipient_name": recipient,
        "name_size": name_size(recipient),
        "subject": subject,
        "subject_size": subject_size(subject),
        "issuer": str(snap.get("issuer") or ""),
        "issued_on": long_date(snap.get("issued_on")),
        "expires_on": long_date(snap.get("expires_on")),
        "number": number,
        "verification_code": certificate.verification_code,
        "verify_url": url,
        "qr": qr_data_uri(url) if url else None,
    }


def render_html(certificate: Certificate) -> str:
    """The template, rendered with only the certificate's context: no context processors
    (no request, no current user), autoescaped like every .html template."""
    template = current_app.jinja_env.get_template(TEMPLATE)
    return template.render(**certificate_context(certificate))


#: ReportLab's canvas starts every page by selecting its initial font, and its graphics
#: (the QR code's SVG) select theirs: Helvetica by default, a standard-14 font that is
#: never embedded, listed in the PDF although nothing is drawn in it. A TrueType
#: initial font is not selected until text is drawn in it (then embedded as a subset).
_INITIAL_FONT = "CredwrightInitial-DejaVuSans"


def _initial_font() -> None:
    if _INITIAL_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_INITIAL_FONT, str(static_root() / "fonts" /
                                                          "DejaVuSans.ttf")))
    rl_config.canvas_basefontname = _INITIAL_FONT
    rl_config.defaultGraphicsFontName = _INITIAL_FONT


def html_to_pdf(html: str) -> bytes:
    """HTML to PDF through link_callback and the resource policy; raises RuntimeError
    when xhtml2pdf reports errors or writes no PDF."""
    _initial_font()
    out = io.BytesIO()
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8", link_callback=link_callback,
                            resource_policy=resource_policy())
    data = out.getvalue()
    if result.err or not data.startswith(b"%PDF"):
        raise RuntimeError(f"PDF rendering failed ({result.err} errors)")
    return data


def render_certificate(certificate: Certificate) -> bytes:
    """The certificate as a one-page A4 landscape PDF. Raises RuntimeError if xhtml2pdf
    fails."""
    try:
        return html_to_pdf(render_html(certificate))
    except RuntimeError as exc:
        raise RuntimeError(f"certificate {certificate.id}: {exc}") from exc
