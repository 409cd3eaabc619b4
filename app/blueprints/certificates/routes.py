"""/admin/certificates: tabs, filters, detail panel, issue, approve/reject, revoke,
reinstate, re-issue, PDFs and bulk ZIP exports (seed 004)."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, abort, current_app, request, send_file, url_for
from sqlalchemy import Select, select

from app.blueprints.certificates.forms import TABS, IssueForm, ReasonForm, filters_from_args
from app.extensions import db
from app.models import (
    BulkActionRun,
    CertificateType,
    CertificationTrack,
    Course,
    Role,
    RunStatus,
)
from app.services import certificates as cert_service
from app.services import dates, storage
from app.services import users as user_service
from app.services.certificates import bulk, exports
from app.services.certificates.queries import find_keyset, sorts_for
from app.services.errors import AlreadyDone, Conflict, ServiceError
from app.services.fields import parse_id
from app.web.auth import current_actor, guard_blueprint
from app.web.boundary import attempt, submit
from app.web.files import private_file
from app.web.htmx import fragment_only, render, wants_fragment

bp = Blueprint("certificates", __name__, url_prefix="/admin/certificates")
guard_blueprint(bp, [Role.ADMIN])

DETAIL = "partials/certificates/detail.html"


def _courses(*, archived: bool = True) -> list[Any]:
    """(id, title, track_name, archived) of the courses, for the filter (every course:
    old certificates name archived ones) and the issue select (`archived=False`: nobody
    is certified for a course taken off its track); plain rows, not entities (this runs
    on every list view)."""
    return list(db.session.execute(_courses_statement(archived)))


@cache
def _courses_statement(archived: bool) -> Select[Any]:
    # Built once: the same statement on every list view, and building it cost about as
    # much app CPU as running it (issue 16).
    stmt = (select(Course.id, Course.title, CertificationTrack.name.label("track_name"),
                   Course.archived_at.is_not(None).label("archived"))
            .join(Course.track).order_by(CertificationTrack.name, Course.sort_order))
    if not archived:
        stmt = stmt.where(Course.archived_at.is_(None))
    return stmt


def _list_context() -> dict[str, Any]:
    filters = filters_from_args(request.args)
    sort = sorts_for(filters).parse(request.args.get("sort"), request.args.get("dir"))
    # Older / Newer by cursor (after= / before=): a deep page costs what the first does.
    page = find_keyset(filters, current_app.config["PAGE_SIZE"],
                       after=request.args.get("after"), before=request.args.get("before"),
                       page_rows=True, sort=sort)
    pending, more = cert_service.pending_count()
    return {"filters": filters, "page": page, "tab": filters.status, "today": dates.today(),
            "sort": sort, "list_args": _only_list_args(request.args.items()),
            "pending_count": f"{pending:,}+" if more else pending,
            "types": list(CertificateType),
            "tabs": TABS, "revocation_categories": cert_service.REVOCATION_CATEGORIES}


@bp.route("")
def index() -> Any:
    return render("certificates/index.html", "partials/certificates/list.html",
                  courses=_courses(), **_list_context())


# The list's own query arguments (filters_from_args, the sort, the keyset cursor): the
# only ones passed on to the list's, the rows' and the Back link's URLs. Anything else
# (?endpoint=, ?certificate_id=, ?_method=) would reach url_for and make it a 500.
LIST_ARGS = ("status", "q", "course_id", "track_id", "user_id", "type", "from", "to",
             "expires_from", "expires_to", "sort", "dir", "after", "before")


def _only_list_args(pairs: Any) -> dict[str, str]:
    return {key: value for key, value in pairs if key in LIST_ARGS}


def _list_args() -> dict[str, str]:
    """The list's state (tab, filters, cursor) the detail was opened from: this URL's
    query on a GET (the rows' View links carry it), the page's own URL on an action's
    POST. It makes the detail's Back link return to the same filtered page."""
    if request.method == "GET":
        return _only_list_args(request.args.items())
    return _only_list_args(parse_qsl(urlsplit(request.headers.get("HX-Current-URL", "")).query))


@bp.route("/<int:certificate_id>")
def detail(certificate_id: int) -> Any:
    """The routed detail: the whole workspace (list beside it on wide screens, the detail
    alone with a Back link on phones) on a direct load or reload; the detail only when
    the list's View asks for it (hx-push-url gives it this address)."""
    certificate = cert_service.get_certificate(certificate_id)
    context = {"certificate": certificate, "today": dates.today(),
               "reason_form": ReasonForm(formdata=None), "back_args": _list_args()}
    if not wants_fragment():
        return render("certificates/index.html", courses=_courses(),
                      **{**_list_context(), **context})
    return fragment_only(DETAIL, **context)


def _after_action(certificate: Any, error: ServiceError | None = None,
                  form: ReasonForm | None = None) -> Any:
    """The detail panel again; the list refreshes itself on the event (after a conflict
    too: someone else changed the certificate, and the list should show it)."""
    response = fragment_only(DETAIL, certificate=certificate, today=dates.today(),
                             reason_form=form or ReasonForm(formdata=None),
                             back_args=_list_args(),
                             error=error.message if error else None,
                             # The outcome wanted holds already: a notice, not an error.
                             already=isinstance(error, AlreadyDone),
                             status=error.status if error else 200)
    if error is None or isinstance(error, Conflict):
        response.headers["HX-Trigger"] = "certificates-changed"
    return response


def _act(certificate_id: int, action: Any) -> Any:
    certificate = cert_service.get_certificate(certificate_id)
    form = ReasonForm()
    result, error = attempt(lambda: action(certificate, form))
    if error is not None:
        form.add_service_error(error)
        return _after_action(cert_service.get_certificate(certificate_id), error, form)
    return _after_action(result if result is not None else certificate)


@bp.route("/<int:certificate_id>/approve", methods=["POST"])
def approve(certificate_id: int) -> Any:
    return _act(certificate_id, lambda c, f: cert_service.approve(
        c, current_actor(), notify_recipient=request.form.get("notify", "1") == "1"))


@bp.route("/<int:certificate_id>/reject", methods=["POST"])
def reject(certificate_id: int) -> Any:
    return _act(certificate_id, lambda c, f: cert_service.reject(c, current_actor(),
                                                                 f.reason.data or ""))


@bp.route("/<int:certificate_id>/revoke", methods=["POST"])
def revoke(certificate_id: int) -> Any:
    return _act(certificate_id, lambda c, f: cert_service.revoke(
        c, current_actor(), f.reason.data or "", f.category.data or "other"))


@bp.route("/<int:certificate_id>/reinstate", methods=["POST"])
def reinstate(certificate_id: int) -> Any:
    return _act(certificate_id, lambda c, f: cert_service.reinstate(c, current_actor()))


@bp.route("/<int:certificate_id>/reissue", methods=["POST"])
def reissue(certificate_id: int) -> Any:
    """The answer shows the replacement, and the address follows it (keeping the list's
    tab and filters from the page's own URL): a reload or a shared link opens it."""
    certificate = cert_service.get_certificate(certificate_id)
    replacement, error = attempt(lambda: cert_service.reissue(certificate, current_actor()))
    if error is not None or replacement is None:
        return _after_action(cert_service.get_certificate(certificate_id), error)
    response = _after_action(replacement)
    args = {key: value for key, value in _list_args().items()
            if key not in ("after", "before")}
    response.headers["HX-Push-Url"] = url_for("certificates.detail",
                                              certificate_id=replacement.id, **args)
    return response


@bp.route("/<int:certificate_id>/pdf")
def pdf(certificate_id: int) -> Any:
    certificate = cert_service.get_certificate(certificate_id)
    if not certificate.pdf_key or not storage.exists(certificate.pdf_key):
        abort(404)
    return private_file(storage.read(certificate.pdf_key), "application/pdf",
                        f"{certificate.number}.pdf", inline=True)


# --- Issue ---------------------------------------------------------------------------

@bp.route("/new")
def new() -> Any:
    form = IssueForm(formdata=None, user_id=request.args.get("user_id", type=parse_id),
                     course_id=request.args.get("course_id", type=parse_id))
    return fragment_only("partials/certificates/issue_modal.html", form=form,
                         courses=_courses(archived=False),
                         recipient=_recipient(form.user_id.data))


def _recipient(user_id: int | None) -> Any:
    if not user_id:
        return None
    try:
        return user_service.get_user(user_id)
    except ServiceError:
        return None


@bp.route("/recipients")
def recipients() -> Any:
    """The issue modal's live recipient search: the same service as GET /api/admin/users."""
    q = request.args.get("q", "")
    users = list(db.session.scalars(user_service.search_users(q, status="active").limit(10))) \
        if q.strip() else []
    return fragment_only("partials/certificates/recipients.html", users=users, q=q)


@bp.route("", methods=["POST"])
def issue() -> Any:
    form = IssueForm()
    certificate = submit(form, lambda: form.issue(current_actor()))
    if certificate is None:
        return fragment_only("partials/certificates/issue_modal.html", form=form,
                             courses=_courses(archived=False),
                             recipient=_recipient(form.user_id.data),
                             status=form.status)
    response = fragment_only("partials/certificates/issued.html", certificate=certificate)
    response.headers["HX-Trigger"] = "certificates-changed"
    return response


# --- Bulk export ---------------------------------------------------------------------

@bp.route("/export", methods=["POST"])
def export() -> Any:
    export = exports.request_export(current_actor(), filters_from_args(request.args))
    return fragment_only("partials/certificates/export.html", export=export)


@bp.route("/exports/<int:export_id>")
def export_status(export_id: int) -> Any:
    export = exports.get_export(export_id) or abort(404)
    return fragment_only("partials/certificates/export.html", export=export)


@bp.route("/exports/<int:export_id>/download")
def export_download(export_id: int) -> Any:
    job = exports.get_export(export_id)
    if job is None or job.status != "ready" or not job.storage_key:
        abort(404)
    # Streamed from disk: an export can be hundreds of megabytes.
    return send_file(storage.path_for(job.storage_key), mimetype="application/zip",
                     as_attachment=True,
                     download_name=f"certificates-{job.created_at:%Y%m%d-%H%M}.zip")



# --- Bulk actions --------------------------------------------------------------------

BULK_RESULT = "partials/certificates/bulk_result.html"


def _bulk() -> Any:
    """What the bulk form asks for, done (or, for many, queued): a BulkOutcome, a run
    or, for "download", a CertificateExport. "All matching" reads the filters from this
    URL's query string (as the export does), never ids the browser sends."""
    action = request.form.get("action", "")
    everything = request.form.get("all") == "1"
    filters = filters_from_args(request.args)
    if action == "download":
        ids = None if everything else bulk.selected_ids(request.form.getlist("id"))
        return exports.request_export(current_actor(), filters, ids=ids)
    checked = bulk.check_action(action, request.form.get("reason"),
                                request.form.get("category"))
    ids = (bulk.matching_ids(filters) if everything
           else bulk.selected_ids(request.form.getlist("id")))
    if len(ids) > bulk.INLINE_LIMIT:
        return bulk.request_run(current_actor(), checked, ids, filters={
            key: value for key, value in request.args.items() if key not in ("page", "after",
                                                                             "before")})
    return bulk.apply(current_actor(), checked, ids)


@bp.route("/bulk-actions", methods=["POST"])
def bulk_action() -> Any:
    """Approve, reject or revoke the ticked certificates (or all matching the filters),
    each through its own lifecycle verb; or download them as a ZIP. The summary (or the
    job's progress) is shown in place and the list refreshes."""
    result, error = attempt(_bulk)
    if error is not None:
        return fragment_only(BULK_RESULT, error=error.message, status=error.status)
    if isinstance(result, BulkActionRun):
        return _run_fragment(result, first=True)
    if isinstance(result, bulk.BulkOutcome):
        response = fragment_only(BULK_RESULT, outcome=result)
        response.headers["HX-Trigger"] = "certificates-changed"
        return response
    return fragment_only(BULK_RESULT, export=result)


def _run_fragment(run: BulkActionRun, *, first: bool = False, notice: str | None = None,
                  status: int = 200) -> Any:
    """A run's progress (polled while it is queued or running), its failure with Resume,
    or, once done, its summary (and the list refreshes)."""
    shown = bulk.shown_status(run)
    if shown == RunStatus.DONE:
        response = fragment_only(BULK_RESULT, outcome=bulk.run_outcome(run), status=status)
        response.headers["HX-Trigger"] = "certificates-changed"
        return response
    error = None
    if shown == RunStatus.FAILED:
        error = run.error if run.status == RunStatus.FAILED else bulk.stale_error(run)
    response = fragment_only(BULK_RESULT, run=run, shown=shown, run_error=error,
                             so_far=bulk.run_outcome(run), first=first, notice=notice,
                             status=status)
    if shown == RunStatus.FAILED and run.done_count:  # what it did before it stopped
        response.headers["HX-Trigger"] = "certificates-changed"
    return response


@bp.route("/bulk-actions/<token>")
def bulk_status(token: str) -> Any:
    """A queued bulk action's progress (polled); failed (or its worker silent for
    STALE_AFTER), what it did so far and Resume; once done, its summary."""
    run, error = attempt(lambda: bulk.get_run(current_actor(), token))
    if error is not None or run is None:
        abort(404)
    return _run_fragment(run)


@bp.route("/bulk-actions/<token>/resume", methods=["POST"])
def bulk_resume(token: str) -> Any:
    """Queue a failed bulk action again: it goes on from where it stopped. A second
    click (or another admin) finds it queued already and sees its progress."""
    run, error = attempt(lambda: bulk.resume(current_actor(), token))
    if isinstance(error, AlreadyDone):
        return _run_fragment(bulk.get_run(current_actor(), token), first=True,
                             notice=error.message)
    if error is not None or run is None:
        return fragment_only(BULK_RESULT, error=error.message if error else "Not known.",
                             status=error.status if error else 404)
    return _run_fragment(run, first=True)
