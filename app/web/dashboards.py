"""The dashboards' figures with the link each gives to the list behind it (the services
count; the links need the request's URL map): admin, manager and org admin."""

from __future__ import annotations

from datetime import date, timedelta
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
        "credentials_expiring": dash.with_urls(
            figures.micro_credentials_expiring(today), lambda b: url_for(
                "credentials.awarded", expires_from=b.start.isoformat(),
                expires_to=b.last.isoformat())),
        "checks": dash.with_urls(figures.verifications_per_week(today), lambda b: url_for(
            "admin.verifications", **{"from": b.start.isoformat(), "to": b.last.isoformat()})),
        "failed": figures.failed_deliveries(),
    }


def manager_figures(today: date) -> dict[str, Any]:
    figures = dash.manager

    def learners(track_id: int, status: str | None = None) -> str:
        return url_for("training.track", track_id=track_id, status=status) + "#summary"

    funnels = [{"funnel": f, "bars": [
        {"label": "Enrolled", "count": f.enrolled, "url": learners(f.track_id)},
        {"label": "In progress", "count": f.in_progress,
         "url": learners(f.track_id, "IN_PROGRESS")},
        {"label": "Completed", "count": f.completed, "url": learners(f.track_id, "COMPLETED")},
    ]} for f in figures.track_funnels()]
    quizzes = [{"label": f"{q.track_name} ({q.passed} of {q.attempts:,} passed)",
                "count": q.pass_rate, "url": url_for("training.track", track_id=q.track_id),
                "quiz": q} for q in figures.quiz_figures(today)]
    projects = [{"readiness": r, "url": url_for("training.project",
                                                 project_id=r.status.project.id)}
                for r in figures.projects_going_live(today)]
    return {"funnels": funnels, "quizzes": quizzes, "projects": projects,
            "quiz_days": figures.QUIZ_WINDOW_DAYS, "horizon": figures.PROJECT_HORIZON_DAYS}


def org_figures(organization_id: int, today: date, org_arg: int | None) -> dict[str, Any]:
    """`org_arg`: the organization_id a platform admin's links keep (None for an org
    admin, who only ever sees their own)."""
    figures = dash.org

    def matrix(**args: Any) -> str:
        return url_for("org.matrix", organization_id=org_arg, **args)

    compliance = [{"label": f"{c.title} ({c.valid} of {c.assigned})", "count": c.percent,
                   "url": matrix(definition_id=c.definition_id, valid=1)}
                  for c in figures.compliance(organization_id, today)]
    forecast = dash.with_urls(figures.expiry_forecast(organization_id, today),
                              lambda b: matrix(status="AWARDED", expires_from=b.start.isoformat(),
                                               expires_to=b.last.isoformat()))
    risk = figures.staff_at_risk(organization_id, today)
    return {"compliance": compliance, "forecast": forecast, "risk": risk,
            "expired_url": matrix(risk="expired"),
            "soon_url": matrix(status="AWARDED",
                               expires_from=(today + timedelta(days=1)).isoformat(),
                               expires_to=risk.soon_until.isoformat())}
