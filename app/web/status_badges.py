"""Every status badge of the portal: a certificate's, a micro-credential's, an
enrolment's and a course's, a go-live readiness. Each status shows an icon, its words and a
colour (app.css `.tone-*`, contrast AA): the meaning never rests on colour alone, and
Expired (red, a calendar crossed out) does not look like Revoked (dark, a ban sign).

The list pages draw hundreds of badges per page (app/web/certificate_rows.py,
app/web/matrix_cells.py), so a badge is one dict lookup and one f-string; the templates
call the same functions (macros.html's status_badge, the `status_badge_html`,
`tone_badge` and `certificate_badge` globals)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from app.web.icons import icon_markup, sprite_url

# status key (an enum value, lower case) -> (tone, icon)
STATUS_LOOK: dict[str, tuple[str, str]] = {
    # micro-credentials
    "not_started": ("neutral", "circle-dashed"),
    "in_training": ("info", "circle-play"),
    "assessment_pending": ("warn", "hourglass"),
    "awarded": ("ok", "circle-check"),
    "expired": ("danger", "calendar-x"),
    # enrolments and courses
    "in_progress": ("info", "circle-play"),
    "completed": ("ok", "circle-check"),
    "failed": ("danger", "circle-x"),
    # certificates, and their public standing
    "pending": ("warn", "hourglass"),
    "issued": ("ok", "badge-check"),
    "valid": ("ok", "badge-check"),
    "rejected": ("neutral", "circle-x"),
    "revoked": ("revoked", "ban"),
    "superseded": ("neutral", "repeat-2"),
    "recertification_required": ("warn", "refresh-cw"),
    "not_found": ("danger", "circle-help"),
    # go-live readiness and assignments
    "ready": ("ok", "circle-check"),
    "not_ready": ("danger", "triangle-alert"),
    "short": ("warn", "triangle-alert"),
}
_FALLBACK = ("neutral", "circle-dashed")
# (sprite URL, key) -> the badge's markup before and after its attributes
_starts: dict[tuple[str, str], tuple[str, str]] = {}


def tone_badge(key: str, label: str, title: str = "", html_id: str = "",
               href: str | None = None) -> Markup:
    """The badge for status `key` (STATUS_LOOK) reading `label`; `title` a tooltip,
    `html_id` an id (for out-of-band swaps), `href` the sprite (for renderers)."""
    href = href or sprite_url()
    start = _starts.get((href, key))
    if start is None:
        tone, name = STATUS_LOOK.get(key, _FALLBACK)
        start = _starts[(href, key)] = (
            f'<span class="badge tone-{tone} status-{escape(key)}"',
            f'>{icon_markup(name, href)}')
    attrs = ""
    if html_id:
        attrs += f' id="{escape(html_id)}"'
    if title:
        attrs += f' title="{escape(title)}"'
    return Markup(f"{start[0]}{attrs}{start[1]}{escape(label)}</span>")  # noqa: S704 - escaped


def status_badge_html(status: Any, html_id: str = "") -> Markup:
    """A status enum (value, label) as its badge: credentials, enrolments, courses,
    certificates."""
    return tone_badge(status.value.lower(), status.label, html_id=html_id)
