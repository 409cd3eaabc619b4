"""Micro-credentials: the admin catalogue, a definition's staff, and evidence downloads."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.blueprints.credentials.forms import DefinitionForm, EvidenceForm, StatusForm
from app.models import CredentialStatus, Role
from app.services import credentials as mc
from app.services import dates, storage
from app.services import organizations as org_service
from app.services.credentials import awarded as awarded_service
from app.services.credentials import bulk_moves
from app.services.credentials.assignments import HOLDER_SORTS
from app.services.credentials.definitions import SORTS as DEFINITION_SORTS
from app.services.fields import parse_id, parse_ids
from app.services.pagination import clamp_page
from app.web.auth import current_actor, guard_blueprint
from app.web.boundary import attempt, submit
from app.web.files import private_file
from app.web.htmx import fragment_only, render, wants_fragment

bp = Blueprint("credentials", __name__, url_prefix="/admin/micro-credentials")
guard_blueprint(bp, [Role.ADMIN])

# Evidence is open to the holder and their org admin too, so it lives outside /admin.
evidence_bp = Blueprint("evidence", __name__, url_prefix="/credentials")

ROW = "partials/credentials/definition_row.html"
EDIT_ROW = "partials/credentials/definition_edit_row.html"
HOLDER_ROW = "partials/credentials/holder_row.html"


# --- Definitions ---------------------------------------------------------------------

@bp.route("")
def definitions() -> Any:
    q = request.args.get("q", "")
    sort = DEFINITION_SORTS.parse(request.args.get("sort"), request.args.get("dir"))
    page = mc.definitions_page(q, clamp_page(request.args.get("page")),
                               current_app.config["PAGE_SIZE"], sort)
    return render("credentials/definitions.html", "partials/credentials/definitions_table.html",
                  rows=page.items, page=page, q=q, sort=sort,
                  create_form=DefinitionForm(formdata=None))


@bp.route("", methods=["POST"])
def create_definition() -> Any:
    form = DefinitionForm()
    definition = submit(form, lambda: mc.create_definition(current_actor(), **form.values()))
    if definition is None:
        return fragment_only(EDIT_ROW, form=form, definition=None, status=form.status)
    return fragment_only("partials/credentials/definition_created.html",
                         definition=definition, assigned=0,
                         create_form=DefinitionForm(formdata=None))


@bp.route("/<int:definition_id>/row")
def definition_row(definition_id: int) -> Any:
    definition = mc.get_definition(definition_id)
    if not wants_fragment():
        return _definitions_page(q=definition.title)
    return fragment_only(ROW, definition=definition, assigned=mc.assigned_count(definition))


@bp.route("/<int:definition_id>/edit")
def edit_definition(definition_id: int) -> Any:
    definition = mc.get_definition(definition_id)
    form = DefinitionForm(formdata=None, obj=definition)
    if not wants_fragment():
        return _definitions_page(q=definition.title, editing=definition.id, edit_form=form)
    return fragment_only(EDIT_ROW, form=form, definition=definition,
                         assigned=mc.assigned_count(definition))


def _shown_sort() -> Any:
    """The list's sort as the page shows it: this URL's ?sort= (a row's URL loaded
    directly), else the page's own URL, which htmx names (HX-Current-URL, a history
    restore or a swap drawing the whole page)."""
    args: Any = request.args
    if "sort" not in args:
        query = urlsplit(request.headers.get("HX-Current-URL", "")).query
        args = {key: values[0] for key, values in parse_qs(query).items()}
    return DEFINITION_SORTS.parse(args.get("sort"), args.get("dir"))


def _definitions_page(q: str, editing: int | None = None, edit_form: Any = None) -> Any:
    sort = _shown_sort()
    rows = mc.definitions_page(q, 1, current_app.config["PAGE_SIZE"], sort).items
    return render("credentials/definitions.html", rows=rows, q=q, sort=sort,
                  create_form=DefinitionForm(formdata=None), editing_id=editing,
                  edit_form=edit_form)


@bp.route("/<int:definition_id>", methods=["POST"])
def update_definition(definition_id: int) -> Any:
    definition = mc.get_definition(definition_id)
    form = DefinitionForm()
    if submit(form, lambda: mc.update_definition(definition, current_actor(), **form.values())):
        return fragment_only(ROW, definition=definition, assigned=mc.assigned_count(definition))
    return fragment_only(EDIT_ROW, form=form, definition=definition,
                         assigned=mc.assigned_count(definition), status=form.status)


@bp.route("/<int:definition_id>/delete", methods=["POST"])
def delete_definition(definition_id: int) -> Any:
    definition = mc.get_definition(definition_id)
    _, error = attempt(lambda: mc.delete_definition(definition, current_actor()))
    if error is not None:
        return fragment_only(ROW, definition=definition, assigned=mc.assigned_count(definition),
                             row_error=error.message, status=error.status)
    return fragment_only("partials/empty.html")


# --- Awarded credentials, platform-wide -------------------------------------------------

@bp.route("/awarded")
def awarded() -> Any:
    """Every awarded credential in good standing (or expired), by expiry range,
    credential, organization and person; the dashboard's expiry figures link here.
    An unreadable filter is a 422 naming it (ValidationFailed, the boundary answers)."""
    filters = awarded_service.parse_filters(request.args)
    sort = awarded_service.SORTS.parse(request.args.get("sort"), request.args.get("dir"))
    page = awarded_service.awarded_page(filters, dates.today(),
                                        clamp_page(request.args.get("page")),
                                        current_app.config["PAGE_SIZE"], sort)
    return render("credentials/awarded.html", "partials/credentials/awarded_table.html",
                  page=page, filters=filters, sort=sort, today=dates.today(),
                  definitions=mc.definition_choices(),
                  organizations=org_service.organization_choices())


# --- A definition's staff --------------------------------------------------------------

def _holders_context(definition: Any) -> dict[str, Any]:
    status = request.args.get("status", "")
    q = request.args.get("q", "")
    sort = HOLDER_SORTS.parse(request.args.get("sort"), request.args.get("dir"))
    page = mc.holders(definition, status=status, q=q, page=clamp_page(request.args.get("page")),
                      per_page=current_app.config["PAGE_SIZE"], sort=sort)
    return {"definition": definition, "page": page, "status_filter": status, "q": q,
            "sort": sort,
            "today": dates.today(), "statuses": list(CredentialStatus)}


@bp.route("/<int:definition_id>/staff")
def staff(definition_id: int) -> Any:
    definition = mc.get_definition(definition_id)
    return render("credentials/staff.html", "partials/credentials/holders_table.html",
                  counts=mc.status_counts(definition),
                  organizations=org_service.all_organizations(), **_holders_context(definition))


@bp.route("/<int:definition_id>/counts")
def status_counts(definition_id: int) -> Any:
    definition = mc.get_definition(definition_id)
    return fragment_only("partials/credentials/status_counts.html", definition=definition,
                         counts=mc.status_counts(definition), statuses=list(CredentialStatus))


@bp.route("/<int:definition_id>/candidates")
def candidates(definition_id: int) -> Any:
    """The live staff search of the assign panel (htmx)."""
    definition = mc.get_definition(definition_id)
    org_id = request.args.get("organization_id", type=parse_id)
    rows = mc.assignable_staff(definition, request.args.get("q", ""), org_id)
    return fragment_only("partials/credentials/candidates.html", definition=definition,
                         rows=rows)


@bp.route("/<int:definition_id>/assign", methods=["POST"])
def assign(definition_id: int) -> Any:
    definition = mc.get_definition(definition_id)
    user_ids = parse_ids(request.form.getlist("user_ids"))
    created, error = attempt(lambda: mc.assign(definition, user_ids, current_actor(),
                                               notes=request.form.get("notes", "")[:1000]))
    if error is not None:
        return fragment_only("partials/credentials/assign_result.html", error=error.message,
                             status=error.status)
    response = fragment_only("partials/credentials/assign_result.html",
                             assigned=len(created or []))
    # The holders table and counts refresh themselves on this event.
    response.headers["HX-Trigger"] = "credentials-assigned"
    return response


def _holder_row(credential: Any, form: StatusForm | None = None, error: str | None = None,
                status: int = 200) -> Any:
    return fragment_only(HOLDER_ROW, credential=credential, today=dates.today(),
                         form=form or StatusForm(formdata=None), row_error=error, status=status)


@bp.route("/credentials/<int:credential_id>")
def holder_row(credential_id: int) -> Any:
    credential = mc.get_credential(credential_id)
    if not wants_fragment():
        return render("credentials/staff.html", counts=mc.status_counts(credential.definition),
                      organizations=org_service.all_organizations(),
                      **_holders_context(credential.definition))
    return _holder_row(credential)


@bp.route("/credentials/<int:credential_id>/status", methods=["POST"])
def change_status(credential_id: int) -> Any:
    credential = mc.get_credential(credential_id)
    form = StatusForm()
    target = request.form.get("status", "")
    if target not in CredentialStatus.__members__:
        return _holder_row(credential, form, "Choose a status.", 422)
    if not form.validate():
        return _holder_row(credential, form, "Check the note and date.", 422)
    _, error = attempt(lambda: mc.change_status(
        credential, CredentialStatus(target), current_actor(), note=form.note.data,
        expiry_date=form.expiry_date.data))
    if error is not None:
        form.add_service_error(error)
        return _holder_row(credential, form, error.message, error.status)
    response = _holder_row(credential)
    response.headers["HX-Trigger"] = "credentials-changed"
    return response


@bp.route("/<int:definition_id>/bulk-move", methods=["POST"])
def bulk_move(definition_id: int) -> Any:
    """Move the ticked holders to a status, each through change_status; the summary in
    place, and the table and counts refresh."""
    definition = mc.get_definition(definition_id)
    outcome, error = attempt(lambda: bulk_moves.move_many(
        current_actor(), definition, bulk_moves.selected_ids(request.form.getlist("id")),
        bulk_moves.target_status(request.form.get("to_status")),
        note=bulk_moves.check_note(request.form.get("note"))))
    if error is not None:
        return fragment_only("partials/credentials/bulk_result.html", error=error.message,
                             status=error.status)
    response = fragment_only("partials/credentials/bulk_result.html", outcome=outcome)
    if outcome.moved or outcome.already:
        # The counts refresh on the first, the holders table on the second. When every
        # one was refused nothing changed: the ticks and the chosen status stay for a retry.
        response.headers["HX-Trigger"] = "credentials-changed, credentials-moved"
    return response


@bp.route("/credentials/<int:credential_id>/evidence", methods=["POST"])
def upload_evidence(credential_id: int) -> Any:
    credential = mc.get_credential(credential_id)
    form = EvidenceForm()
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", ""):
        return _holder_row(credential, error="Choose a file to upload.", status=422)
    _, error = attempt(lambda: mc.attach_evidence(credential, upload.filename, upload.read(),
                                                  current_actor()))
    if error is not None:
        return _holder_row(credential, error=error.message, status=error.status)
    return _holder_row(credential)


# --- Evidence: the holder's or their org admin's upload, and downloads -----------------

EVIDENCE_CELL = "partials/credentials/evidence_cell.html"


@evidence_bp.route("/<int:credential_id>/evidence", methods=["POST"])
@login_required
def submit_evidence(credential_id: int) -> Any:
    """A holder (their own credential) or their org admin uploads evidence while the
    credential awaits assessment; anyone else gets 404."""
    credential = mc.get_credential(credential_id)
    if not mc.can_upload(current_user, credential):
        abort(404)
    form = EvidenceForm()
    upload = form.file.data
    error: Any = None
    if upload is None or not getattr(upload, "filename", ""):
        message, status = "Choose a file to upload.", 422
    else:
        _, error = attempt(lambda: mc.submit_evidence(credential, upload.filename,
                                                      upload.read(), current_actor()))
        message, status = (error.message, error.status) if error else (None, 200)
    if not wants_fragment():  # the form without JavaScript: back to the page it was on
        flash(message or "Evidence uploaded. An administrator reviews it before awarding.",
              "error" if message else "success")
        return redirect(url_for("main.me") if current_user.id == credential.user_id
                        else url_for("people.person", user_id=credential.user_id))
    return fragment_only(EVIDENCE_CELL, credential=credential, error=message,
                         saved=error is None and message is None, status=status)



@evidence_bp.route("/<int:credential_id>/evidence")
@login_required
def download(credential_id: int) -> Any:
    credential = mc.get_credential(credential_id)
    # Someone who may not see it learns nothing, not even that it exists.
    if not mc.can_see(current_user, credential) or not credential.evidence_key:
        abort(404)
    if not storage.exists(credential.evidence_key):
        abort(404)
    return private_file(storage.read(credential.evidence_key),
                        credential.evidence_content_type,
                        credential.evidence_filename or "evidence")
