"""Status badges and icons: icon + words + colour, one look per status, every icon the app
names is in the sprite."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app.models import CertificateStatus, CredentialStatus, ProgressStatus
from app.services.certificates.status import Standing
from app.web.icons import ICONS, build_sprite, icon_markup
from app.web.status_badges import STATUS_LOOK, status_badge_html, tone_badge

APP = Path(__file__).resolve().parents[1] / "app"
LUCIDE = APP.parent / "node_modules" / "lucide-static" / "icons"


def test_every_status_of_every_enum_has_its_own_look() -> None:
    for enum in (CertificateStatus, CredentialStatus, ProgressStatus, Standing):
        for status in enum:
            assert status.value.lower() in STATUS_LOOK, status


def test_expired_and_revoked_differ_in_colour_and_icon() -> None:
    assert STATUS_LOOK["expired"][0] != STATUS_LOOK["revoked"][0]
    assert STATUS_LOOK["expired"][1] != STATUS_LOOK["revoked"][1]


def test_a_badge_has_icon_words_and_escapes(app: Any) -> None:
    with app.app_context():
        html = str(tone_badge("revoked", "<b>Revoked</b>", title='say "why"', html_id="x"))
        by_enum = str(status_badge_html(CredentialStatus.AWARDED))
    assert html.startswith('<span class="badge tone-revoked status-revoked" id="x" '
                           'title="say &#34;why&#34;">')
    assert '<svg class="icon" aria-hidden="true" focusable="false">' in html
    assert html.endswith("&lt;b&gt;Revoked&lt;/b&gt;</span>")
    assert "tone-ok" in by_enum and by_enum.endswith("</svg>Awarded</span>")


def test_an_unknown_icon_is_refused() -> None:
    with pytest.raises(KeyError):
        icon_markup("no-such-icon", "/static/vendor/icons.svg")


def test_every_icon_named_in_the_app_is_in_the_sprite_list() -> None:
    named = set()
    for path in APP.rglob("*"):
        if path.suffix in {".html", ".py"}:
            named |= set(re.findall(r"""\bicon\(\s*["']([a-z0-9-]+)["']""", path.read_text()))
    named |= {icon for _tone, icon in STATUS_LOOK.values()}
    assert named and named <= ICONS, named - ICONS


@pytest.mark.skipif(not LUCIDE.is_dir(), reason="node_modules not installed (make static)")
def test_the_sprite_holds_one_symbol_per_icon(tmp_path: Path) -> None:
    target = tmp_path / "icons.svg"
    build_sprite(LUCIDE, target)
    sprite = target.read_text()
    assert sorted(re.findall(r'<symbol id="([a-z0-9-]+)"', sprite)) == sorted(ICONS)
    assert "<script" not in sprite and 'viewBox="0 0 24 24"' in sprite


def test_ninety_day_warning_is_amber_not_green() -> None:
    css = (APP / "static" / "css" / "app.css").read_text()
    rules = re.findall(r"\.expiry-90\s*\{([^}]*)\}", css)
    assert rules and "color: var(--amber)" in rules[-1]


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_tone_reads_at_aa_contrast() -> None:
    """Each badge tone's words on its background, and the expiry colours on white: 4.5:1."""
    css = (APP / "static" / "css" / "app.css").read_text()
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})\b", css))
    for tone in ("ok", "info", "amber", "danger", "revoked", "neutral"):
        assert _contrast(colours[tone], colours[f"{tone}-bg"]) >= 4.5, tone
    for colour in ("orange", "amber", "danger"):
        assert _contrast(colours[colour], "#ffffff") >= 4.5, colour
    for fg, bg in (("#4527a0", "#ede7f6"), ("#8f3400", "#fff3e0")):  # admin, org admin roles
        assert f"background: {bg}; color: {fg}" in css and _contrast(fg, bg) >= 4.5
    used = {tone for tone, _icon in STATUS_LOOK.values()}
    for tone in used:
        assert re.search(rf"\.tone-{tone}\s*\{{", css), tone
