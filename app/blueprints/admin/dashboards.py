"""The dashboards' figures with the link each gives to the list behind it (the services
count; the links need the request's URL map)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import url_for

from app.services import dashboards as dash


def admin_figures(today: date) -> dict[str, Any]:
    figures = dash.admin
    return {
        "pending": figures.pending_approvals(),
        "issued": dash.with_urls(figures.certificates_issued_per_month(today), lambda b: url_for(
            "certificates.index", status="issued", **{"from": b.start.isoformat(),
                                                      "to": b.last.isoformat()})),
        "expiring": dash.with_urls(figures.certificates_expiring(today), lambda b: url_for(
            "certificates.index", status="issued", expires_from=b.start.isoformat(),
            expires_to=b.last.isoformat())),
        "checks": dash.with_urls(figures.verifications_per_week(today), lambda b: url_for(
            "admin.verifications", **{"from": b.start.isoformat(), "to": b.last.isoformat()})),
        "failed": figures.failed_deliveries(),
    }


def manager_figures(today: date) -> dict[str, Any]:
    return {}
