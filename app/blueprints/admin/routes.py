"""Admin pages: dashboard, users, organizations, the audit trail and background jobs.

Tables follow one pattern: GET the list (full page, or the table fragment for htmx
search and paging); POST a create row; GET /<id>/edit swaps a row into edit mode and
POST /<id> saves it; a row with field errors comes back with status 422 and messages.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from app.blueprints.admin.forms import NewUserForm, OrganizationForm, UserForm
from app.extensions import db
from app.models import AuditAction, AuditLog, Organization, Role, User
from app.services import accounts, audit_text, dates
from app.services import audit as audit_service
from app.services import dashboards as dash
from app.services import jobs as jobs_service
from app.services import organizations as org_service
from app.services import users as user_service
from app.services.errors import ValidationFailed
from app.services.fields import parse_date, parse_id
from app.services.pagination import clamp_page, paginate
from app.web.auth import allow_roles, current_actor, guard_blueprint
from app.web.boundary import attempt, submit
from app.web.dashboards import admin_figures, manager_figures
from app.web.htmx import fragment_only, render, wants_fragment

bp = Blueprint("admin", __name__, url_prefix="/admin")
guard_blueprint(bp, [Role.ADMIN])

USER_ROW = "partials/admin/users/row.html"
USER_EDIT_ROW = "partials/admin/users/edit_row.html"
ORG_ROW = "partials/admin/organizations/row.html"
ORG_EDIT_ROW = "partials/admin/organizations/edit_row.html"


def _page_size() -> int:
    return current_app.config["PAGE_SIZE"]


@bp.route("/")
@allow_roles(Role.ADMIN, Role.MANAGER)
def dashboard() -> Any:
    """The admin's figures (pending work, issue and verification trends, what expires
    soon, failed deliveries) or, for a manager, their tracks' and projects' figures;
    every figure links to the list behind it."""
    today = dates.today()
    if current_user.role == Role.MANAGER:
        return render("admin/dashboard_manager.html", **manager_figures(today))
    counts = {
        "users": db.session.scalar(select(func.count(User.id)).where(User.active.is_(True))),
        "organizations": db.session.scalar(
            select(func.count(Organization.id)).where(Organization.active.is_(True))),
        "audit": audit_service.row_count(),
    }
    return render("admin/dashboard.html", counts=counts, **admin_figures(today))


@bp.route("/verifications")
def verifications() -> Any:
    """Public verification checks, newest first, between two dates (the dashboard's
    weekly bars link here)."""
    date_from = parse_date(request.args.get("from"))
    date_to = parse_date(request.args.get("to"))
    page = paginate(dash.admin.verification_checks(date_from, date_to),
                    clamp_page(request.args.get("page")), _page_size(), rows=True,
                    count_limit=dash.admin.COUNT_LIMIT)
    return render("admin/verifications.html", page=page,
                  filters={"from": date_from, "to": date_to})


# --- Users ---------------------------------------------------------------------------

def _user_list_context(editing_id: int | None = None, q: str | None = None,
                       edit_form: UserForm | None = None) -> dict[str, Any]:
    args = request.args
    org_id = args.get("organization_id", type=parse_id)
    role = args.get("role", "") if args.get("role", "") in {r.value for r in Role} else ""
    q = args.get("q", "") if q is None else q
    filters = {"q": q, "role": role, "organization_id": org_id,
               "status": args.get("status", "")}
    sort = user_service.SORTS.parse(args.get("sort"), args.get("dir"))
    page = paginate(
        user_service.search_users(filters["q"], role=role, organization_id=org_id,
                                  status=filters["status"], sort=sort),
        clamp_page(args.get("page")), _page_size(),
    )
    # One (id, name) list serves the filter and the create row's picker.
    organizations = org_service.organization_choices()
    return {"page": page, "filters": filters, "editing_id": editing_id, "sort": sort,
            "organizations": organizations,
            "create_form": NewUserForm(formdata=None, organizations=organizations),
            "edit_form": edit_form}


@bp.route("/users")
def users() -> Any:
    return render("admin/users.html", "partials/admin/users/table.html", **_user_list_context())


@bp.route("/users", methods=["POST"])
def create_user() -> Any:
    form = NewUserForm()
    # No password: the person is invited by email to set their own.
    user = submit(form, lambda: user_service.create_user(current_actor(), **form.values()))
    if user is None:
        return fragment_only(USER_EDIT_ROW, form=form, user=None, status=form.status)
    # The blank create row again, with the new user's row right under it.
    return fragment_only("partials/admin/users/created.html", user=user,
                         create_form=NewUserForm(formdata=None))


@bp.route("/users/<int:user_id>")
def user_row(user_id: int) -> Any:
    user = user_service.get_user(user_id)
    if wants_fragment():
        return fragment_only(USER_ROW, user=user)
    return _users_page_showing(user)


def _users_page_showing(user: User, editing: bool = False) -> Any:
    # Without htmx, a row's URL shows the users page narrowed to that user.
    edit_form = _edit_user_form(user) if editing else None
    return render("admin/users.html", **_user_list_context(
        editing_id=user.id if editing else None, q=user.email, edit_form=edit_form))


def _edit_user_form(user: User) -> UserForm:
    return UserForm(formdata=None, obj=user, role=user.role.value)


@bp.route("/users/<int:user_id>/edit")
def edit_user(user_id: int) -> Any:
    user = user_service.get_user(user_id)
    if not wants_fragment():
        return _users_page_showing(user, editing=True)
    return fragment_only(USER_EDIT_ROW, form=_edit_user_form(user), user=user)


@bp.route("/users/<int:user_id>", methods=["POST"])
def update_user(user_id: int) -> Any:
    user = user_service.get_user(user_id)
    form = UserForm()
    if submit(form, lambda: user_service.update_user(user, current_actor(), **form.values())):
        return fragment_only(USER_ROW, user=user)
    return fragment_only(USER_EDIT_ROW, form=form, user=user, status=form.status)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def set_user_active(user_id: int) -> Any:
    user = user_service.get_user(user_id)
    active = request.form.get("active") == "1"
    _, error = attempt(lambda: user_service.set_user_active(user, active, current_actor()))
    if error is not None:
        return fragment_only(USER_ROW, user=user, row_error=error.message, status=error.status)
    return fragment_only(USER_ROW, user=user)


@bp.route("/users/<int:user_id>/invite", methods=["POST"])
def invite_user(user_id: int) -> Any:
    """Send the invitation email again (a new link; the earlier one stops working)."""
    user = user_service.get_user(user_id)
    _, error = attempt(lambda: accounts.invite(user, current_actor()))
    if error is not None:
        return fragment_only(USER_ROW, user=user, row_error=error.message, status=error.status)
    return fragment_only(USER_ROW, user=user, invitation_sent=True)


# --- Organizations -------------------------------------------------------------------

def _org_list_context() -> dict[str, Any]:
    filters = {"q": request.args.get("q", ""), "status": request.args.get("status", "")}
    sort = org_service.SORTS.parse(request.args.get("sort"), request.args.get("dir"))
    page = paginate(org_service.search_organizations(filters["q"], filters["status"], sort),
                    clamp_page(request.args.get("page")), _page_size(), rows=True)
    return {"page": page, "filters": filters, "sort": sort,
            "create_form": OrganizationForm(formdata=None)}


def _member_count(org: Organization) -> int:
    return db.session.scalar(select(func.count(User.id)).where(User.organization_id == org.id))


@bp.route("/organizations")
def organizations() -> Any:
    return render("admin/organizations.html", "partials/admin/organizations/table.html",
                  **_org_list_context())


@bp.route("/organizations", methods=["POST"])
def create_organization() -> Any:
    form = OrganizationForm()
    org = submit(form, lambda: org_service.create_organization(current_actor(), **form.values()))
    if org is None:
        return fragment_only(ORG_EDIT_ROW, form=form, org=None, status=form.status)
    return fragment_only("partials/admin/organizations/created.html", org=org,
                         member_count=0, create_form=OrganizationForm(formdata=None))


@bp.route("/organizations/<int:org_id>")
def organization_row(org_id: int) -> Any:
    org = org_service.get_organization(org_id)
    return render("admin/organization.html", ORG_ROW, org=org, member_count=_member_count(org))


@bp.route("/organizations/<int:org_id>/edit")
def edit_organization(org_id: int) -> Any:
    org = org_service.get_organization(org_id)
    form = OrganizationForm(obj=org)
    return render("admin/organization.html", ORG_EDIT_ROW, org=org, form=form,
                  member_count=_member_count(org), editing=True)


@bp.route("/organizations/<int:org_id>", methods=["POST"])
def update_organization(org_id: int) -> Any:
    org = org_service.get_organization(org_id)
    form = OrganizationForm()
    if submit(form, lambda: org_service.update_organization(org, current_actor(),
                                                            **form.values())):
        return fragment_only(ORG_ROW, org=org, member_count=_member_count(org))
    return fragment_only(ORG_EDIT_ROW, form=form, org=org, status=form.status)


@bp.route("/organizations/<int:org_id>/active", methods=["POST"])
def set_organization_active(org_id: int) -> Any:
    org = org_service.get_organization(org_id)
    active = request.form.get("active", "")
    if active not in ("0", "1"):
        raise ValidationFailed("Choose deactivate or reactivate.",
                               fields={"active": ["Send 0 (deactivate) or 1 (reactivate)."]})
    org_service.set_organization_active(org, active == "1", current_actor())
    return fragment_only(ORG_ROW, org=org, member_count=_member_count(org))


# --- Audit trail ---------------------------------------------------------------------

def _parse_date(value: str | None) -> date | None:
    return parse_date(value)


@bp.route("/audit")
def audit() -> Any:
    args = request.args
    filters = audit_service.AuditFilters(
        actor=args.get("actor", ""), action=args.get("action", ""),
        resource_type=args.get("resource_type", ""), resource_id=args.get("resource_id", ""),
        date_from=_parse_date(args.get("from")), date_to=_parse_date(args.get("to")),
    )
    sort = audit_service.SORTS.parse(args.get("sort"), args.get("dir"))
    page = audit_service.find(filters, _page_size(), after=args.get("after"),
                              before=args.get("before"), sort=sort)
    return render("admin/audit.html", "partials/admin/audit/table.html", page=page, sort=sort,
                  described=audit_text.describe(page.items),
                  action_labels=audit_text.ACTION_LABELS,
                  filters=filters, actions=[a.value for a in AuditAction],
                  resource_types=audit_service.resource_types())


@bp.route("/audit/<int:entry_id>")
def audit_entry(entry_id: int) -> Any:
    entry = db.get_or_404(AuditLog, entry_id)
    return render("admin/audit_entry.html", entry=entry,
                  text=audit_text.describe([entry])[entry.id])


# --- Jobs ----------------------------------------------------------------------------
# Deliveries and the sweep run as RQ jobs with retries; what failed for good shows here,
# with a button to try it again, so no failure is lost silently.

JOBS_PANEL = "partials/admin/jobs/panel.html"


def _jobs_context(notice: str | None = None) -> dict[str, Any]:
    return {"queues": jobs_service.queue_state(), "outbox": jobs_service.outbox_backlog(),
            "failed_outbox": jobs_service.failed_outbox_jobs(),
            "deliveries": jobs_service.failed_deliveries(),
            "totals": jobs_service.delivery_totals(),
            "sweeps": jobs_service.recent_sweeps(), "notice": notice}


def _after_job_action(notice: str) -> Any:
    # htmx swaps the refreshed panel in place; a plain form post goes back to the page.
    if wants_fragment():
        return fragment_only(JOBS_PANEL, **_jobs_context(notice))
    flash(notice, "success")
    return redirect(url_for("admin.jobs"))


@bp.route("/jobs")
def jobs() -> Any:
    return render("admin/jobs.html", JOBS_PANEL, **_jobs_context())


@bp.route("/jobs/deliveries/<int:delivery_id>/retry", methods=["POST"])
def retry_delivery(delivery_id: int) -> Any:
    jobs_service.retry_delivery(delivery_id)  # NotFound / Conflict: the error handler answers
    return _after_job_action(f"Delivery {delivery_id} queued again.")


@bp.route("/jobs/outbox/<int:row_id>/retry", methods=["POST"])
def retry_outbox_job(row_id: int) -> Any:
    jobs_service.retry_outbox_job(row_id)  # NotFound / Conflict: the error handler answers
    return _after_job_action(f"Job {row_id} gets one more attempt.")


@bp.route("/jobs/failed/<job_id>/requeue", methods=["POST"])
def requeue_job(job_id: str) -> Any:
    jobs_service.requeue_failed(job_id)  # NotFound / Conflict: the error handler answers
    return _after_job_action(f"Job {job_id} requeued.")
