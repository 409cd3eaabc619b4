"""Generated badge art (issue 14): each micro-credential definition and track shows a
badge drawn from its name's initials and its level (shape, colour and the level written
on it), the same every time, where badges show; the Open Badges image is untouched."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from app.models import TrackLevel


def _badges(html: str) -> dict[str, str]:
    """data-badge -> the decoded SVG of each badge image on the page."""
    return {m.group(2): unquote(m.group(1)) for m in re.finditer(
        r'<img class="badge-art" src="data:image/svg\+xml,([^"]+)"[^>]*data-badge="([^"]+)"', html)}


def test_definitions_and_tracks_get_their_badges(admin_client: Any, make_definition: Any,
                                                 make_track: Any) -> None:
    make_definition("Working at Heights", level=3)
    make_definition("Asbestos & Removal", level=7)
    track = make_track("Roof Safety", level=TrackLevel.ADVANCED)
    page = admin_client.get("/admin/micro-credentials").get_data(as_text=True)
    badges = _badges(page)
    assert {"WH-L3", "AR-L7"} <= set(badges)
    assert "<circle" in badges["WH-L3"] and "L3" in badges["WH-L3"]  # levels 1-3: a circle
    assert "M32 2 L58 17" in badges["AR-L7"]  # 7-10: a hexagon
    again = _badges(admin_client.get("/admin/micro-credentials").get_data(as_text=True))
    assert again["WH-L3"] == badges["WH-L3"]  # deterministic
    assert "RS-ADV" in _badges(admin_client.get("/admin/tracks").get_data(as_text=True))
    assert "RS-ADV" in _badges(admin_client.get(f"/admin/tracks/{track.id}").get_data(as_text=True))


def test_learner_pages_show_them_and_open_badges_keep_the_png(
        app: Any, staff_client: Any, staff_user: Any, make_definition: Any,
        make_credential: Any, make_track: Any) -> None:
    from app.models import CredentialStatus

    definition = make_definition("Harness Use", level=5)
    make_credential(definition, staff_user, CredentialStatus.AWARDED)
    make_track("Scaffold Basics")
    assert "HU-L5" in _badges(staff_client.get("/me").get_data(as_text=True))
    assert "SB-FND" in _badges(staff_client.get("/learn/tracks").get_data(as_text=True))
    image = staff_client.get(f"/achievements/micro-credential/{definition.id}/image.png")
    assert image.mimetype == "image/png"
