"""A certificate template's live preview: an SVG image of the PDF's layout (A4 landscape,
the same frames, colours, border, logo, wording and signer), shown as a data: URI
<img>, so the admin page needs no inline style (the CSP forbids it) and nothing is
fetched (the images inside are data: URIs too). It is a mock that matches the PDF's
layout, not the PDF itself: the PDF is rendered by xhtml2pdf (app/services/pdf.py).

Every text is escaped for XML; colours are checked (#rrggbb) before they reach it.
"""

from __future__ import annotations

from urllib.parse import quote

from markupsafe import escape

from app.services.certificates.templates import COLOR, DEFAULTS, Branding, fill

SAMPLE = {"recipient": "Aroha Ngāti Pōneke", "subject": "Roofing Fundamentals",
          "date": "4 March 2026", "number": "CERT-2026-00042", "type": "Completion"}
WIDTH, HEIGHT = 842, 595
_FONT = "DejaVu Sans, Verdana, sans-serif"


def _text(x: float, y: float, value: str, size: float, color: str, *, bold: bool = False,
          anchor: str = "middle", spacing: float = 0) -> str:
    weight = ' font-weight="bold"' if bold else ""
    letter = f' letter-spacing="{spacing}"' if spacing else ""
    return (f'<text x="{x}" y="{y}" font-family="{_FONT}" font-size="{size}" '
            f'fill="{color}" text-anchor="{anchor}"{weight}{letter}>{escape(value)}</text>')


def _color(value: str | None, fallback: str) -> str:
    return value if isinstance(value, str) and COLOR.fullmatch(value) else fallback


def preview_svg(brand: Branding, issuer: str) -> str:
    primary = _color(brand.primary_color, DEFAULTS["primary_color"])
    accent = _color(brand.accent_color, DEFAULTS["accent_color"])
    values = {**SAMPLE, "issuer": issuer}
    title = fill(brand.title_text, values) or "Certificate of Completion"
    body = fill(brand.body_text, values)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>']
    if brand.border_style != "none":
        parts.append(f'<rect x="21" y="21" width="800" height="553" fill="none" '
                     f'stroke="{primary}" stroke-width="2.5"/>')
    if brand.border_style == "double":
        parts.append(f'<rect x="27" y="27" width="788" height="541" fill="none" '
                     f'stroke="{accent}" stroke-width="0.75"/>')
    if brand.logo:
        parts.append(f'<image x="50" y="40" height="56" width="130" '
                     f'preserveAspectRatio="xMinYMid meet" href="{escape(brand.logo)}"/>')
    parts += [
        _text(421, 64, issuer.upper(), 11, accent, bold=True, spacing=3),
        _text(421, 112, title, 30, primary, bold=True),
        _text(421, 146, "This is to certify that", 12, "#5b6675"),
        _text(421, 222, values["recipient"], 36, "#1c2430", bold=True),
        f'<line x1="220" y1="238" x2="622" y2="238" stroke="{accent}" stroke-width="0.75"/>',
        _text(421, 266, "has successfully completed", 12, "#5b6675"),
        _text(421, 298, values["subject"], 22, primary, bold=True),
        _text(421, 318, "Certification track", 10, "#5b6675"),
    ]
    if body:
        parts.append(_text(421, 342, body[:140], 10.5, "#1c2430"))
    if brand.signature:
        parts.append(f'<image x="346" y="404" height="56" width="150" '
                     f'preserveAspectRatio="xMidYMid meet" href="{escape(brand.signature)}"/>')
    signer = brand.signer_name or "Mereana Tūhoe"
    role = brand.signer_title or f"Issued on behalf of {issuer}"
    parts += [
        _text(421, 478, signer, 11, "#1c2430", bold=True),
        '<line x1="331" y1="484" x2="511" y2="484" stroke="#1c2430" stroke-width="0.75"/>',
        _text(421, 496, role, 8, "#5b6675"),
        _text(70, 412, "ISSUED ON", 7.5, "#7a8494", anchor="start", spacing=1),
        _text(70, 426, values["date"], 10.5, "#1c2430", anchor="start"),
        _text(70, 448, "CERTIFICATE NUMBER", 7.5, "#7a8494", anchor="start", spacing=1),
        _text(70, 462, values["number"], 10.5, "#1c2430", anchor="start", bold=True),
        '<rect x="651" y="398" width="92" height="92" fill="none" stroke="#7a8494" '
        'stroke-dasharray="4 3"/>',
        _text(697, 448, "QR", 12, "#7a8494"),
        _text(697, 506, "SCAN TO VERIFY", 7, "#7a8494", spacing=1),
        "</svg>",
    ]
    return "".join(parts)


def preview_data_uri(brand: Branding, issuer: str) -> str:
    return "data:image/svg+xml;charset=utf-8," + quote(preview_svg(brand, issuer))


def band_data_uri(brand: Branding) -> str:
    """A thin band in the template's colours, for the verify page (no inline style)."""
    primary = _color(brand.primary_color, DEFAULTS["primary_color"])
    accent = _color(brand.accent_color, DEFAULTS["accent_color"])
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 12" width="600" '
           f'height="12" preserveAspectRatio="none"><rect width="600" height="8" '
           f'fill="{primary}"/><rect y="9" width="600" height="3" fill="{accent}"/></svg>')
    return "data:image/svg+xml;charset=utf-8," + quote(svg)
