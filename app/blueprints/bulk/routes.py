"""Bulk imports from a CSV (admin journey 6): upload, preview with each row's verdict,
confirm, a live progress bar (htmx polling) and the result report. One set of views for
every kind: /admin/certificates/bulk issues certificates (blueprint "bulk"),
/admin/micro-credentials/bulk awards micro-credentials ("bulk_awards"); each blueprint
is made by `make_blueprint` with its kind's service module and words."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from app.models import ImportStatus, Role, RowStatus
from app.services.bulk import awards as bulk_awards
from app.services.bulk import certificates as bulk_certificates
from app.services.bulk.csvfile import BOM, too_large_message
from app.services.bulk.kinds import Kind, kind_of
from app.services.errors import AlreadyDone
from app.web.auth import current_actor, guard_blueprint
from app.web.boundary import attempt
from app.web.files import content_disposition
from app.web.htmx import fragment_only, render

PROGRESS = "partials/bulk/progress.html"


@dataclass(frozen=True)
class Screen:
    """What the pages of one kind say and link to."""

    endpoint: str       # the blueprint's name: url_for(endpoint + ".show", ...)
    kind: Kind
    back: str           # the list the upload page leads back to
    back_label: str
    help: str           # what the columns hold, under the file input
    filename: str       # downloads: <filename>-template.csv, <filename>-<id>-report.csv


def make_blueprint(name: str, url_prefix: str, bulk: ModuleType, screen: Screen) -> Blueprint:
    bp = Blueprint(name, __name__, url_prefix=url_prefix)
    guard_blueprint(bp, [Role.ADMIN])
    words = {"k": screen.kind, "w": screen.kind.words, "screen": screen}

    def _upload_page(error: str | None = None, status: int = 200) -> Any:
        return render("bulk/upload.html", status=status, error=error,
                      imports=bulk.recent_imports(), columns=screen.kind.columns,
                      max_rows=bulk.max_rows(), max_mb=bulk.max_bytes() // (1024 * 1024),
                      **words)

    def _context(item: Any) -> dict[str, Any]:
        counts = bulk.counts(item)
        context: dict[str, Any] = {"item": item, "counts": counts,
                                   "progress": bulk.progress(item), "S": RowStatus,
                                   "I": ImportStatus, **words}
        if item.status == ImportStatus.PREVIEW:
            context["problems"] = bulk.rows(item, [RowStatus.INVALID, RowStatus.DUPLICATE,
                                                   RowStatus.INVITE], limit=bulk.PREVIEW_LIST)
            context["ready"] = bulk.rows(item, [RowStatus.READY], limit=50)
        else:
            context["outcome"] = bulk.rows(item, [RowStatus.SKIPPED, RowStatus.FAILED],
                                           limit=bulk.PREVIEW_LIST)
        return context

    _views(bp, bulk, screen, _upload_page, _context)
    return bp


def _views(bp: Blueprint, bulk: ModuleType, screen: Screen, _upload_page: Any,
           _context: Any) -> None:
    past = screen.kind.words.past

    @bp.route("")
    def index() -> Any:
        return _upload_page()

    @bp.route("/template.csv")
    def template() -> Any:
        response = Response(bulk.template_csv(), mimetype="text/csv")
        response.headers["Content-Disposition"] = content_disposition(
            f"{screen.filename}-template.csv")
        return response

    @bp.route("", methods=["POST"])
    def upload() -> Any:
        # Refused before reading a byte when the request says it is larger (the form's few
        # other fields take far less than the margin).
        if (request.content_length or 0) > bulk.max_bytes() + 64 * 1024:
            return _upload_page(too_large_message(bulk.max_bytes()), 413)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return _upload_page("Choose a CSV file to upload.", 422)
        created, error = attempt(lambda: bulk.preview(current_actor(), upload.stream,
                                                      upload.filename))
        if error is not None or created is None:
            return _upload_page(error.message if error else "The file could not be read.",
                                error.status if error else 422)
        return redirect(url_for(f"{bp.name}.show", import_id=created.id), 303)

    @bp.route("/<int:import_id>")
    def show(import_id: int) -> Any:
        return render("bulk/import.html", **_context(bulk.get_import(import_id)))

    @bp.route("/<int:import_id>/progress")
    def progress(import_id: int) -> Any:
        """The progress fragment the page polls while the job runs (once a second)."""
        item = bulk.get_import(import_id)
        context = _context(item)
        response = fragment_only(PROGRESS, **context)
        if context["progress"]["finished"]:  # done, failed or stalled: the poll stops
            response.headers["HX-Trigger"] = "bulk-finished"
        return response

    @bp.route("/<int:import_id>/resume", methods=["POST"])
    def resume(import_id: int) -> Any:
        """A failed or stalled import queued again (once, however often it is clicked)."""
        item = bulk.get_import(import_id)
        _, error = attempt(lambda: bulk.resume(item, current_actor()))
        if isinstance(error, AlreadyDone):
            flash(error.message, "info")
        elif error is not None:
            flash(error.message, "error")
        else:
            flash(f"Import #{import_id} resumed: the rows still pending are being {past}.",
                  "success")
        return redirect(url_for(f"{bp.name}.show", import_id=import_id), 303)

    @bp.route("/<int:import_id>/confirm", methods=["POST"])
    def confirm(import_id: int) -> Any:
        item = bulk.get_import(import_id)
        _, error = attempt(lambda: bulk.confirm(
            item, current_actor(), invite_unknown=request.form.get("invite") == "1",
            notify_recipients=request.form.get("notify", "1") == "1"))
        if isinstance(error, AlreadyDone):
            flash(error.message, "info")  # a double-click or another admin: one job all told
        elif error is not None:
            return render("bulk/import.html", status=error.status, error=error.message,
                          **_context(bulk.get_import(import_id)))
        return redirect(url_for(f"{bp.name}.show", import_id=import_id), 303)

    @bp.route("/<int:import_id>/report.csv")
    def report(import_id: int) -> Any:
        item = bulk.get_import(import_id)
        # Read inside the request's session; the BOM first so Excel reads the accents.
        lines = [BOM, *bulk.report_lines(item)]
        response = Response(lines, mimetype="text/csv")
        response.headers["Content-Disposition"] = content_disposition(
            f"{screen.filename}-{item.id}-report.csv")
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @bp.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Any:
        """A file over MAX_CONTENT_LENGTH: the upload page with the reason, not a bare 413."""
        limit = min(current_app.config.get("MAX_CONTENT_LENGTH") or bulk.max_bytes(),
                    bulk.max_bytes())
        return _upload_page(too_large_message(limit), 413)


bp = make_blueprint("bulk", "/admin/certificates/bulk", bulk_certificates, Screen(
    endpoint="bulk", kind=kind_of(bulk_certificates.KIND), back="certificates.index",
    back_label="Back to certificates", filename="bulk-issue",
    help="One of course or track on each row; type is completion, mastery or teaching; "
         "dates as YYYY-MM-DD."))
awards_bp = make_blueprint("bulk_awards", "/admin/micro-credentials/bulk", bulk_awards, Screen(
    endpoint="bulk_awards", kind=kind_of(bulk_awards.KIND), back="credentials.definitions",
    back_label="Back to micro-credentials", filename="bulk-award",
    help="The definition is the micro-credential's title or code; the award date is the day "
         "it was earned (blank: today); a blank expiry is the award date plus the "
         "credential's validity; notes record the evidence. Dates as YYYY-MM-DD."))
