"""/admin/certificate-templates: list, create, edit (each save a new version) with a live
preview, assign to tracks and courses, choose the default. Admins
only; template images are served here only (to admins), never from static/."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from werkzeug.datastructures import FileStorage

from app.blueprints.certificate_templates.forms import AssignForm, TemplateForm
from app.models import Role
from app.services import storage
from app.services.certificates import template_preview
from app.services.certificates import templates as service
from app.services.errors import ValidationFailed
from app.services.fields import parse_id
from app.web.auth import current_actor, guard_blueprint
from app.web.boundary import attempt, submit
from app.web.files import private_file
from app.web.htmx import fragment_only, render

bp = Blueprint("certificate_templates", __name__, url_prefix="/admin/certificate-templates")
guard_blueprint(bp, [Role.ADMIN])

PREVIEW = "partials/certificate_templates/preview.html"


def _upload(field: Any) -> bytes | None:
    data = field.data
    if not isinstance(data, FileStorage) or not data.filename:
        return None
    return data.stream.read(service.IMAGE_MAX_BYTES + 1)


def _images(form: TemplateForm) -> dict[str, bytes | None]:
    return {"logo": _upload(form.logo), "signature": _upload(form.signature)}


def _brand_from_form(form: TemplateForm, template: Any = None) -> tuple[Any, list[str]]:
    """The branding the form describes (images: the saved version's, unless removed),
    and the problems with it, for the preview."""
    problems: list[str] = []
    try:
        design = service.check_design(form.design())
    except ValidationFailed as exc:
        problems = [m for messages in exc.fields.values() for m in messages] or [exc.message]
        design = {**service.DEFAULTS, **{k: v for k, v in form.design().items()
                                         if k in ("title_text", "body_text", "signer_name",
                                                  "signer_title", "border_style")
                                         and isinstance(v, str)}}
        for name in ("primary_color", "accent_color"):
            value = form.design().get(name)
            if isinstance(value, str) and service.COLOR.fullmatch(value):
                design[name] = value
        if design.get("border_style") not in service.BORDER_STYLES:
            design["border_style"] = "double"
    saved = service.branding_of(_current_version_id(template))
    return service.Branding(
        **{k: design.get(k) for k in service.DESIGN_FIELDS},
        logo=None if form.remove_logo.data else saved.logo,
        signature=None if form.remove_signature.data else saved.signature), problems


def _current_version_id(template: Any) -> int | None:
    if template is None:
        return None
    version = service.current_version(template)
    return version.id if version is not None else None


def _page(form: TemplateForm, template: Any = None, status: int = 200) -> Any:
    brand, problems = _brand_from_form(form, template)
    context: dict[str, Any] = {
        "form": form, "template": template,
        "preview": template_preview.preview_data_uri(brand, current_app.config["ISSUER_NAME"]),
        "problems": problems, "placeholders": service.PLACEHOLDERS, "saved": None}
    if template is not None:
        context.update(
            saved=service.current_version(template),
            assignments=[(a, service.subject_label(a))
                         for a in service.assignments_of(template)],
            assign_form=AssignForm(formdata=None), choices=service.subject_choices())
    return render("certificate_templates/edit.html", status=status, **context)


@bp.route("")
def index() -> Any:
    rows = [(t, [service.subject_label(a) for a in service.assignments_of(t)])
            for t in service.list_templates()]
    return render("certificate_templates/index.html", rows=rows)


@bp.route("/new")
def new() -> Any:
    return _page(TemplateForm(formdata=None))


@bp.route("", methods=["POST"])
def create() -> Any:
    form = TemplateForm()
    template = submit(form, lambda: service.create_template(
        current_actor(), form.name.data, form.design(), _images(form)))
    if template is None:
        return _page(form, status=form.status)
    flash(f"Template {template.name} created (version 1).", "success")
    return redirect(url_for(".edit", template_id=template.id), 303)


@bp.route("/<int:template_id>")
def edit(template_id: int) -> Any:
    template = service.get_template(template_id)
    version = service.current_version(template)
    form = TemplateForm(formdata=None, obj=version)
    form.name.data = template.name
    form.base_version.data = str(template.version)
    return _page(form, template)


def _base_version(value: Any) -> int | None:
    """The version the editor opened (ASCII digits, 1..MAX_ID), or None, which the
    service refuses with "Reload the page" (422): "²" or twenty digits are no 500."""
    try:
        return parse_id(value)
    except ValueError:
        return None


@bp.route("/<int:template_id>", methods=["POST"])
def save(template_id: int) -> Any:
    template = service.get_template(template_id)
    form = TemplateForm()
    remove = tuple(kind for kind in service.IMAGE_KINDS
                   if getattr(form, f"remove_{kind}").data)
    version = submit(form, lambda: service.save_version(
        current_actor(), template, _base_version(form.base_version.data),
        form.design(), _images(form), remove, name=form.name.data))
    if version is None:
        return _page(form, template, status=form.status)
    flash(f"Saved version {version.number}. Certificates issued from now on use it; "
          "those issued before keep their version.", "success")
    return redirect(url_for(".edit", template_id=template.id), 303)


@bp.route("/preview", methods=["POST"])
@bp.route("/<int:template_id>/preview", methods=["POST"])
def preview(template_id: int | None = None) -> Any:
    """The live preview (htmx, as the admin types): nothing is saved."""
    template = service.get_template(template_id) if template_id is not None else None
    brand, problems = _brand_from_form(TemplateForm(), template)
    return fragment_only(PREVIEW, problems=problems, preview=template_preview.preview_data_uri(
        brand, current_app.config["ISSUER_NAME"]))


@bp.route("/<int:template_id>/default", methods=["POST"])
def make_default(template_id: int) -> Any:
    template = service.get_template(template_id)
    _, error = attempt(lambda: service.set_default(current_actor(), template))
    flash(error.message if error else f"{template.name} is now the default template.",
          "error" if error else "success")
    return redirect(url_for(".edit", template_id=template.id), 303)


@bp.route("/<int:template_id>/assign", methods=["POST"])
def assign(template_id: int) -> Any:
    template = service.get_template(template_id)
    form = AssignForm()
    _, error = attempt(lambda: service.assign(current_actor(), template, form.subject.data))
    flash(error.message if error else "Assigned: certificates issued for it from now on "
          "use this template.", "error" if error else "success")
    return redirect(url_for(".edit", template_id=template.id), 303)


@bp.route("/<int:template_id>/assignments/<int:assignment_id>/delete", methods=["POST"])
def unassign(template_id: int, assignment_id: int) -> Any:
    template = service.get_template(template_id)
    _, error = attempt(lambda: service.unassign(current_actor(), template, assignment_id))
    flash(error.message if error else "Removed.", "error" if error else "success")
    return redirect(url_for(".edit", template_id=template.id), 303)


@bp.route("/versions/<int:version_id>/<kind>.png")
def image(version_id: int, kind: str) -> Any:
    if kind not in service.IMAGE_KINDS:
        abort(404)
    version = service.get_version(version_id)
    key = getattr(version, f"{kind}_key")
    if not key or not storage.exists(key):
        abort(404)
    return private_file(storage.read(key), "image/png", f"{kind}-{version_id}.png",
                        inline=True)
