"""The portal's icons: Lucide's static SVGs (npm `lucide-static`, pinned in package.json),
the few the app uses gathered into one sprite, app/static/vendor/icons.svg, by
`make static` (`python -m app.web.icons <lucide icons dir> <sprite>`). Pages draw an icon
with `{{ icon("circle-check") }}` (a Jinja global, also called by the Python row
renderers): an inline <svg> that <use>s the sprite's symbol, aria-hidden, in the text's
colour (currentColor) and size (1em). An icon is decoration: the text beside it says
what it means."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from flask import current_app, g, has_request_context
from markupsafe import Markup, escape

from app.web.static_assets import static_url

SPRITE = "vendor/icons.svg"

# Every icon a template or renderer names; the sprite holds these and no others (a test
# checks that every icon("...") in app/ is listed here).
ICONS: frozenset[str] = frozenset({
    # statuses (app/web/status_badges.py)
    "badge-check", "ban", "calendar-x", "circle-check", "circle-dashed", "circle-play",
    "circle-x", "clock", "hourglass", "refresh-cw", "repeat-2", "triangle-alert",
    "circle-help",
    # header and page chrome
    "menu", "x", "log-out", "move-horizontal", "ellipsis", "plus",
})


def sprite_url() -> str:
    """The sprite's URL, looked up once per request (the row renderers ask per row)."""
    url = g.get("_icon_sprite_url")
    if url is None:
        url = (static_url(SPRITE) if has_request_context()
               else f"{current_app.static_url_path}/{SPRITE}")  # a job, a test
        g._icon_sprite_url = url
    return url


def icon_markup(name: str, href: str, css: str = "icon") -> str:
    """The <svg> for `name`, `href` the sprite's URL (a plain string: renderers that draw
    many rows build it once)."""
    if name not in ICONS:
        raise KeyError(f"icon {name!r} is not in app/web/icons.py's ICONS (nor the sprite)")
    return (f'<svg class="{css}" aria-hidden="true" focusable="false">'
            f'<use href="{escape(href)}#{name}"></use></svg>')


def icon(name: str, css: str = "icon") -> Markup:
    """`{{ icon("menu") }}`: the icon, hidden from assistive technology."""
    return Markup(icon_markup(name, sprite_url(), css))  # noqa: S704 - name is from ICONS


_SVG = re.compile(r"<svg\b[^>]*>(?P<body>.*)</svg>", re.S)


def build_sprite(source: Path, target: Path) -> None:
    """Write the sprite: one <symbol id="name"> per icon in ICONS, read from Lucide's
    icons/<name>.svg (their strokes and fills are on the <svg>, so the symbol and the
    .icon CSS class carry them)."""
    symbols = []
    for name in sorted(ICONS):
        text = (source / f"{name}.svg").read_text(encoding="utf-8")
        match = _SVG.search(text)
        if match is None:
            raise ValueError(f"{source / name}.svg: no <svg> element")
        body = " ".join(match["body"].split())
        symbols.append(f'<symbol id="{name}" viewBox="0 0 24 24" fill="none" '
                       f'stroke="currentColor" stroke-width="2" stroke-linecap="round" '
                       f'stroke-linejoin="round">{body}</symbol>')
    licence = "<!-- Lucide icons (lucide-static), ISC licence: https://lucide.dev/license -->"
    target.write_text(f'<svg xmlns="http://www.w3.org/2000/svg">{licence}'
                      f'{"".join(symbols)}</svg>\n', encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover - run by `make static`
    if len(sys.argv) != 3:
        sys.exit("usage: python -m app.web.icons <lucide-static/icons dir> <sprite.svg>")
    build_sprite(Path(sys.argv[1]), Path(sys.argv[2]))
