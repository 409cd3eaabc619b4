"""Polls are not the person's doing: no element of the templates that polls (hx-trigger
"every ...") shows the top progress bar (hx-indicator="unset", as app.js expects)."""

from __future__ import annotations

import re
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
# An element's opening tag, attributes and Jinja blocks inside it included.
TAG = re.compile(r"<[a-z][a-z0-9-]*\b(?:[^<>]|\{%.*?%\}|\{\{.*?\}\})*>", re.S)


def test_every_poll_leaves_the_progress_bar_alone() -> None:
    polls, loud = 0, []
    for path in sorted([*APP.glob("templates/**/*.html"), *APP.glob("partials/**/*.html")]):
        for tag in TAG.findall(path.read_text()):
            if re.search(r'hx-trigger="[^"]*\bevery\s', tag):
                polls += 1
                if 'hx-indicator="unset"' not in tag:
                    loud.append(f"{path.relative_to(APP)}: {tag[:90]}")
    assert polls >= 5
    assert loud == []
