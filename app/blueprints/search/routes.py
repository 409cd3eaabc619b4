"""/search: the header's global search. The results page, and (the same URL asked by
htmx as you type) the dropdown of top hits. What each role finds: app/services/search.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from app.models import Role
from app.services import search as search_service
from app.web.auth import current_actor, guard_blueprint
from app.web.htmx import render, wants_fragment

bp = Blueprint("search", __name__, url_prefix="/search")
guard_blueprint(bp, list(Role))  # anyone logged in; the service scopes what they find

TOP_HITS = 5  # of each kind in the dropdown
PAGE_HITS = 20  # of each kind on the results page


@bp.route("")
def results() -> Any:
    found = search_service.search(current_actor().user, request.args.get("q", ""),
                                  limit=TOP_HITS if wants_fragment() else PAGE_HITS)
    return render("search/results.html", "partials/search/hits.html", results=found,
                  top_hits=TOP_HITS)
