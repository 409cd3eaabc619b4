"""/org: an organization's staff x credential matrix, with expiry warnings and CSV, and
read-only views of its training progress, certificates and projects' go-live readiness.
An org admin sees their own organization only (another's project is 404); a platform
admin may pick any (organization_id)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, abort, current_app, request, url_for
from flask_login import current_user

from app.blueprints.notifications.forms import OrgPreferencesForm
from app.blueprints.notifications.routes import preferences_page
from app.extensions import db
from app.models import (
    Audience,
    CertificateStatus,
    CredentialStatus,
    Organization,
    ProgressStatus,
    Role,
)
from app.services import credentials as mc
from app.services import dates, notifications, people, training
from app.services import organizations as org_service
from app.services.bulk.csvfile import BOM, safe_cell
from app.services.fields import parse_date, parse_id
from app.services.pagination import clamp_page
from app.web.auth import allow_roles, current_actor, guard_blueprint
from app.web.dashboards import org_figures
from app.web.htmx import render

bp = Blueprint("org", __name__, url_prefix="/org")
guard_blueprint(bp, [Role.ORG_ADMIN])


def _organization() -> Organization:
    """An org admin sees their own organization; a platform admin may pick any."""
    if current_user.role == Role.ADMIN:
        if "organization_id" in request.args:
            # An id that names no organization is not found: never a fallback to another.
            org_id = request.args.get("organization_id", type=parse_id)
            org = db.session.get(Organization, org_id) if org_id else None
        else:
            org = next(iter(org_service.all_organizations()), None)
    else:
        org = current_user.organization
    if org is None:
        abort(404)
    return org


def _filters() -> dict[str, Any]:
    status = request.args.get("status", "")
    return {"definition_id": request.args.get("definition_id", type=parse_id),
            "status": status if status in CredentialStatus.__members__ else "",
            "q": request.args.get("q", ""),
            # The dashboard's links: an expiry month or band, and the staff at risk.
            "expires_from": parse_date(request.args.get("expires_from")),
            "expires_to": parse_date(request.args.get("expires_to")),
            "risk": "expired" if request.args.get("risk") == "expired" else "",
            # The compliance figure's link: awarded and in date (credentials/status.py).
            "valid": request.args.get("valid") == "1"}


@bp.route("/dashboard")
@allow_roles(Role.ORG_ADMIN, Role.ADMIN)
def dashboard() -> Any:
    """The organization's compliance per credential, its expiry forecast by month and
    the staff at risk; every figure links to the matrix filtered to those staff."""
    org = _organization()
    return render("org/dashboard.html", org=org, organizations=_picker(),
                  org_arg=_org_arg(org), section="dashboard",
                  **org_figures(org.id, dates.today(), _org_arg(org)))


@bp.route("")
@allow_roles(Role.ORG_ADMIN, Role.ADMIN)
def matrix() -> Any:
    org = _organization()
    filters = _filters()
    today = dates.today()
    # The columns and the expiry summary in one pass over the organization's credentials.
    matrix = mc.org_matrix(org.id, page=clamp_page(request.args.get("page")),
                           per_page=current_app.config["PAGE_SIZE"], today=today, **filters)
    return render("org/matrix.html", "partials/org/matrix.html", org=org, matrix=matrix,
                  filters=filters, today=today, statuses=list(CredentialStatus),
                  summary=matrix.summary,
                  all_definitions=mc.definition_choices(),
                  organizations=(org_service.organization_choices()
                                 if current_user.role == Role.ADMIN else []))


@bp.route("/credentials.csv")
@allow_roles(Role.ORG_ADMIN, Role.ADMIN)
def export() -> Any:
    org = _organization()
    filters = _filters()  # the matrix's, so the file holds what the filtered page shows
    today = dates.today()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Name", "Email", "Credential", "Level", "Status", "Awarded",
                     "Expires", "Days left"])
    for name, email, title, level, status, awarded_at, expiry in db.session.execute(
            mc.org_credentials_for_export(org.id, today=today, **filters)):
        writer.writerow([safe_cell(v) for v in (
            name, email, title, level, status.label,
            awarded_at.date().isoformat() if awarded_at else "",
            expiry.isoformat() if expiry else "",
            (expiry - today).days if expiry else "")])
    # UTF-8 with a byte order mark: without it Excel reads the file in the machine's
    # ANSI code page and garbles every macron ("Tāne Ngāti Pōneke").
    response = Response(BOM + buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{org.slug}-credentials-{today.isoformat()}.csv"')
    return response


@bp.route("/preferences", methods=["GET", "POST"])
@allow_roles(Role.ORG_ADMIN, Role.ADMIN)
def preferences() -> Any:
    """What the organization's admins are sent about its staff, by email and text."""
    org = _organization()
    return preferences_page(
        OrgPreferencesForm(obj=org), list(notifications.ORG_PREFERENCES),
        lambda values: notifications.update_org_preferences(org, values, current_actor()),
        action=url_for("org.preferences",
                       organization_id=org.id if current_user.role == Role.ADMIN else None),
        audience=Audience.ORG, saved_message="Organization preferences saved.",
        heading=f"{org.name}: alert preferences", legend="Send our org admins",
        intro="What this organization's admins hear about their staff.")


# --- Read-only views of the organization ------------------------------------------------

def _picker() -> list[tuple[int, str]]:
    return org_service.organization_choices() if current_user.role == Role.ADMIN else []


def _org_arg(org: Organization) -> int | None:
    """The organization_id to keep in links: only a platform admin's pick needs it."""
    return org.id if current_user.role == Role.ADMIN else None


@bp.route("/progress")
@allow_roles(Role.ORG_ADMIN, Role.ADMIN)
def progress() -> Any:
    """Training progress of the organization's people, per person and track."""
    org = _organization()
    status = request.args.get("status", "")
    filters = {"q": request.args.get("q", ""),
               "track_id": request.args.get("track_id", type=parse_id),
               "status": status if status in ProgressStatus.__members__ else ""}
    sort = people.PROGRESS_SORTS.parse(request.args.get("sort"), request.args.get("dir"))
    page = people.org_progress(org.id, page=clamp_page(request.args.get("page")),
                               per_page=current_app.config["PAGE_SIZE"], sort=sort, **filters)
    return render("org/progress.html", "partials/org/progress_table.html", org=org,
                  page=page, filters=filters, sort=sort, statuses=list(ProgressStatus),
                  tracks=people.org_track_choices(org.id), organizations=_picker(),
                  org_arg=_org_arg(org), section="progress")


@bp.route("/certificates")
@allow_roles(Role.ORG_ADMIN, Role.ADMIN)
def certificates() -> Any:
    """The certificates of the organization's people, with their status."""
    org = _organization()
    status = request.args.get("status", "")
    filters = {"q": request.args.get("q", ""),
               "status": status if status in CertificateStatus.__members__ else ""}
    sort = people.CERTIFICATE_SORTS.parse(request.args.get("sort"), request.args.get("dir"))
    page = people.org_certificates(org.id, page=clamp_page(request.args.get("page")),
                                   per_page=current_app.config["PAGE_SIZE"], sort=sort,
                                   **filters)
    return render("org/certificates.html", "partials/org/certificates_table.html", org=org,
                  page=page, filters=filters, sort=sort, statuses=list(CertificateStatus),
                  organizations=_picker(), org_arg=_org_arg(org), today=dates.today(),
                  section="certificates")


@bp.route("/projects")
@allow_roles(Role.ORG_ADMIN, Role.ADMIN)
def projects() -> Any:
    """The organization's implementation projects and whether each is ready to go live."""
    org = _organization()
    return render("org/projects.html", org=org, projects=people.org_projects(org.id),
                  organizations=_picker(), org_arg=_org_arg(org), section="projects")


@bp.route("/projects/<int:project_id>")
@allow_roles(Role.ORG_ADMIN, Role.ADMIN)
def project(project_id: int) -> Any:
    """One project's readiness: each assignment's completions and who has not completed
    it yet. Another organization's project is 404 for an org admin."""
    if current_user.role == Role.ADMIN:
        found = training.get_project(project_id)
        org = found.organization
    else:
        org = _organization()
        found = people.org_project(org.id, project_id)
    status = training.project_status(found)
    return render("org/project.html", org=org, project=found, readiness=status,
                  blockers={item.assignment.id: people.blockers(found, item.assignment)
                            for item in status.assignments if not item.is_complete},
                  org_arg=_org_arg(org), organizations=[], section="projects")
