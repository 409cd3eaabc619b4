"""Baked badges: a PNG badge image carrying the credential in an `iTXt` chunk keyed
`openbadgecredential` (OB 3.0 "Baking"; the text is the VC-JWT or the JSON credential,
uncompressed, before IEND), an SVG badge carrying it in an `<openbadges:credential
verify="...">` element right after the `<svg>` tag, and reading both back.

The image itself is drawn with Pillow: a disc in the site's colours with the initials of
the achievement and a caption band.
"""

from __future__ import annotations

import io
import struct
import zlib
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw, ImageFont

KEYWORD = b"openbadgecredential"
SVG_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class NotBaked(Exception):
    """Not a PNG, or a PNG without an openbadgecredential iTXt chunk."""


def badge_png(title: str, caption: str = "", size: int = 256) -> bytes:
    """A simple square badge: a ring and disc, the title's initials, a caption."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 4, size - 4, size - 4), fill=(16, 82, 122, 255),
                 outline=(230, 176, 41, 255), width=10)
    words = [w for w in title.replace("\u2014", " ").split() if w[:1].isalnum()]
    initials = "".join(w[0] for w in words[:3]).upper() or "CW"
    font = ImageFont.load_default(size=size // 4)
    draw.text((size / 2, size * 0.45), initials, fill=(255, 255, 255, 255), font=font,
              anchor="mm")
    if caption:
        small = ImageFont.load_default(size=size // 14)
        draw.text((size / 2, size * 0.72), caption[:28], fill=(255, 255, 255, 255),
                  font=small, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    if not png.startswith(_SIGNATURE):
        raise NotBaked("Not a PNG file.")
    chunks, offset = [], len(_SIGNATURE)
    while offset + 8 <= len(png):
        (length,) = struct.unpack(">I", png[offset:offset + 4])
        kind = png[offset + 4:offset + 8]
        chunks.append((kind, png[offset + 8:offset + 8 + length]))
        offset += 12 + length
        if kind == b"IEND":
            break
    return chunks


def bake(png: bytes, credential: str) -> bytes:
    """The PNG with one iTXt chunk (keyword, no compression, no language) holding
    `credential`, inserted before IEND; an earlier baked credential is replaced."""
    itxt = KEYWORD + b"\0" + b"\0\0" + b"\0" + b"\0" + credential.encode("utf-8")
    out = [_SIGNATURE]
    for kind, data in _chunks(png):
        if kind == b"iTXt" and data.split(b"\0", 1)[0] == KEYWORD:
            continue
        if kind == b"IEND":
            out.append(_chunk(b"iTXt", itxt))
        out.append(_chunk(kind, data))
    return b"".join(out)


def unbake(png: bytes) -> str:
    """The credential text of a baked PNG, or NotBaked."""
    for kind, data in _chunks(png):
        if kind != b"iTXt":
            continue
        keyword, rest = data.split(b"\0", 1)
        if keyword != KEYWORD:
            continue
        compressed, _method = rest[0], rest[1]
        _language, rest = rest[2:].split(b"\0", 1)
        _translated, text = rest.split(b"\0", 1)
        return (zlib.decompress(text) if compressed else text).decode("utf-8")
    raise NotBaked("No openbadgecredential iTXt chunk.")


def _initials(title: str) -> str:
    words = [w for w in title.replace("\u2014", " ").split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:3]).upper() or "CW"


def badge_svg(title: str, caption: str = "", size: int = 256) -> str:
    """The same badge as `badge_png`, drawn as SVG (every text escaped)."""
    half = size / 2
    caption_text = (f'<text x="{half}" y="{size * 0.74}" font-size="{size // 14}" '
                    f'text-anchor="middle" fill="#fff">{escape(caption[:28])}</text>'
                    if caption else "")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
            f'width="{size}" height="{size}" role="img"><title>{escape(title)}</title>'
            f'<circle cx="{half}" cy="{half}" r="{half - 9}" fill="#10527a" '
            f'stroke="#e6b029" stroke-width="10"/>'
            f'<text x="{half}" y="{size * 0.5}" font-size="{size // 4}" font-family="sans-serif" '
            f'font-weight="bold" text-anchor="middle" fill="#fff">{escape(_initials(title))}</text>'
            f"{caption_text}</svg>")


def bake_svg(svg: str, credential: str) -> str:
    """The SVG with the `xmlns:openbadges` declaration on its `<svg>` tag and, directly
    after it, one `<openbadges:credential verify="<VC-JWT>">` element (OB 3.0 baking
    with a VC-JWT proof)."""
    start = svg.index("<svg")
    end = svg.index(">", start)
    tag = svg[start:end]
    if "xmlns:openbadges" not in tag:
        tag += f' xmlns:openbadges="{SVG_NAMESPACE}"'
    element = f"<openbadges:credential verify={quoteattr(credential)}></openbadges:credential>"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + svg[:start] + tag + ">" + element
            + svg[end + 1:])


def unbake_svg(svg: str | bytes) -> str:
    """The VC-JWT of a baked SVG (the first `openbadges:credential` element's `verify`),
    or the JSON credential in its body; NotBaked when there is none."""
    text = svg.decode("utf-8", "replace") if isinstance(svg, bytes) else svg
    if "<!DOCTYPE" in text or "<!ENTITY" in text:  # no entity expansion, ever
        raise NotBaked("An SVG with a DTD is not read.")
    try:
        root = ElementTree.fromstring(text)  # noqa: S314 - no DTD, so no entities
    except ElementTree.ParseError as exc:
        raise NotBaked("Not an SVG file.") from exc
    element = root.find(f"{{{SVG_NAMESPACE}}}credential")
    if element is None:
        raise NotBaked("No openbadges:credential element.")
    return element.get("verify") or (element.text or "").strip()
