"""/api/admin/certificate-templates: the template editor's actions for integrations
(list, read with versions, create, save a new version, default, assign, preview,
images), admins only, on the same service as /admin/certificate-templates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from werkzeug.datastructures import FileStorage

from app.blueprints.api.routes import admin_bp, json_body
from app.blueprints.certificate_templates.forms import (
    TEMPLATE_API_FIELDS,
    AssignForm,
    TemplateDesignForm,
)
from app.models import CertificateTemplate, CertificateTemplateVersion
from app.services import storage
from app.services.certificates import template_preview
from app.services.certificates import templates as service
from app.services.errors import NotFound, ValidationFailed
from app.services.fields import MAX_ID, parse_id
from app.web.auth import current_actor
from app.web.files import private_file
from app.web.forms import validate_json
from app.web.openapi import produces

BASE = "/certificate-templates"


def version_to_api(version: CertificateTemplateVersion) -> dict[str, Any]:
    images = {kind: (url_for("api.api_admin.template_image", version_id=version.id,
                             kind=kind) if getattr(version, f"{kind}_key") else None)
              for kind in service.IMAGE_KINDS}
    return {"id": version.id, "number": version.number,
            **{api: getattr(version, field) for api, field in TEMPLATE_API_FIELDS.items()},
            "logo": images["logo"], "signature": images["signature"],
            "createdAt": version.created_at.isoformat()}


def template_to_api(template: CertificateTemplate, *, versions: bool = False) -> dict[str, Any]:
    current = service.current_version(template)
    data: dict[str, Any] = {
        "id": template.id, "name": template.name, "version": template.version,
        "isDefault": template.is_default,
        "current": version_to_api(current) if current is not None else None,
        "assignments": [{"id": a.id, "trackId": a.track_id, "courseId": a.course_id,
                         "label": service.subject_label(a)}
                        for a in service.assignments_of(template)],
        "createdAt": template.created_at.isoformat(),
        "updatedAt": template.updated_at.isoformat()}
    if versions:
        data["versions"] = [version_to_api(v) for v in service.versions_of(template)]
    return data


def _base_version(value: Any) -> int:
    """The version the client read (`baseVersion`): of two saves from the same version,
    the second is refused (409), as in the editor."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
        raise ValidationFailed("Send the version you read as baseVersion.", fields={
            "baseVersion": ["The template's version you read (a whole number)."]})
    return value


def _merged_design(template: CertificateTemplate | None,
                   form: TemplateDesignForm | None = None) -> dict[str, Any]:
    """The current version's design (the built-in look for a new one) with the fields
    the request sent replacing it."""
    current = service.current_version(template) if template is not None else None
    design = {name: getattr(current, name) if current is not None else service.DEFAULTS[name]
              for name in service.DESIGN_FIELDS}
    if form is not None:
        design.update({name: getattr(form, name).data for name in service.DESIGN_FIELDS
                       if name in form.present})
    return design


@contextmanager
def _api_names(names: dict[str, str]) -> Iterator[None]:
    """The service names fields as the form does (primary_color): answer with the API's
    names (primaryColor), as validate_json does."""
    try:
        yield
    except ValidationFailed as exc:
        exc.fields = {names.get(k, k): v for k, v in exc.fields.items()}
        raise


API_NAMES = {field: name for name, field in TEMPLATE_API_FIELDS.items()}


@admin_bp.route(BASE)
def list_certificate_templates() -> Any:
    """Every template (the default first) with its current version and assignments."""
    return jsonify([template_to_api(t) for t in service.list_templates()])


@admin_bp.route(BASE, methods=["POST"])
def create_certificate_template() -> Any:
    """A new template (version 1) from a name and design; colours default to the
    built-in look. 409 when the name is taken."""
    form = validate_json(TemplateDesignForm, json_body(), aliases=TEMPLATE_API_FIELDS)
    with _api_names(API_NAMES):
        template = service.create_template(current_actor(), form.name.data, form.design())
    return jsonify(template_to_api(template, versions=True)), 201


@admin_bp.route(f"{BASE}/<int:template_id>")
def get_certificate_template(template_id: int) -> Any:
    """A template with every version, newest first."""
    return jsonify(template_to_api(service.get_template(template_id), versions=True))


@admin_bp.route(f"{BASE}/<int:template_id>", methods=["PATCH"])
def update_certificate_template(template_id: int) -> Any:
    """Save a new version: the fields sent replace the current version's (images are
    kept); `baseVersion` is the version read, 409 when someone saved since."""
    template = service.get_template(template_id)
    payload = json_body()
    base = _base_version(payload.pop("baseVersion", None))
    form = validate_json(TemplateDesignForm, payload, partial=True,
                         aliases=TEMPLATE_API_FIELDS)
    with _api_names(API_NAMES):
        service.save_version(current_actor(), template, base, _merged_design(template, form),
                             name=form.name.data if "name" in form.present else None)
    return jsonify(template_to_api(template, versions=True))


@admin_bp.route(f"{BASE}/<int:template_id>/default", methods=["POST"])
def default_certificate_template(template_id: int) -> Any:
    """Make it the default template (the previous default stops being it)."""
    template = service.set_default(current_actor(), service.get_template(template_id))
    return jsonify(template_to_api(template))


@admin_bp.route(f"{BASE}/<int:template_id>/assignments", methods=["POST"])
def assign_certificate_template(template_id: int) -> Any:
    """Give a track or course this template (`subject`: "track:<id>" or "course:<id>"),
    replacing the one it had; certificates issued for it from now on use it."""
    template = service.get_template(template_id)
    form = validate_json(AssignForm, json_body())
    assignment = service.assign(current_actor(), template, form.subject.data)
    return jsonify({"id": assignment.id, "trackId": assignment.track_id,
                    "courseId": assignment.course_id,
                    "label": service.subject_label(assignment)}), 201


@admin_bp.route(f"{BASE}/<int:template_id>/assignments/<int:assignment_id>",
                methods=["DELETE"])
def unassign_certificate_template(template_id: int, assignment_id: int) -> Any:
    """Stop giving that track or course this template."""
    service.unassign(current_actor(), service.get_template(template_id), assignment_id)
    return jsonify({"success": True})


def _svg(template: CertificateTemplate | None) -> Response:
    payload = json_body()
    remove = payload.pop("remove", [])
    if not isinstance(remove, list) or any(kind not in service.IMAGE_KINDS for kind in remove):
        raise ValidationFailed("Some fields are not valid.", fields={
            "remove": ['A list of "logo" and "signature".']})
    form = validate_json(TemplateDesignForm, payload, partial=True,
                         aliases=TEMPLATE_API_FIELDS)
    with _api_names(API_NAMES):
        brand = service.preview_branding(_merged_design(template, form), template,
                                         tuple(remove))
    svg = template_preview.preview_svg(brand, current_app.config["ISSUER_NAME"])
    return private_file(svg.encode("utf-8"), "image/svg+xml", "preview.svg", inline=True)


@admin_bp.route(f"{BASE}/preview", methods=["POST"])
@produces("image/svg+xml")
def preview_new_certificate_template() -> Any:
    """The editor's preview (an SVG of the PDF's layout) of a design; nothing is saved."""
    return _svg(None)


@admin_bp.route(f"{BASE}/<int:template_id>/preview", methods=["POST"])
@produces("image/svg+xml")
def preview_certificate_template(template_id: int) -> Any:
    """The preview of the template with the fields sent changed (and the images in
    `remove` left out); nothing is saved."""
    return _svg(service.get_template(template_id))


@admin_bp.route(f"{BASE}/<int:template_id>/images/<kind>", methods=["POST"])
def upload_certificate_template_image(template_id: int, kind: str) -> Any:
    """Save a new version with this logo or signature (multipart: `file`, PNG or JPEG up
    to 1 MB, checked by content, and `baseVersion`)."""
    template = service.get_template(template_id)
    if kind not in service.IMAGE_KINDS:
        raise NotFound("Only a logo or a signature.")
    upload = request.files.get("file")
    base = _base_version(request.form.get("baseVersion", type=parse_id))
    if not isinstance(upload, FileStorage) or not upload.filename:
        raise ValidationFailed("Send the image as the multipart field \"file\".",
                               fields={"file": ["A PNG or JPEG image, up to 1 MB."]})
    data = upload.stream.read(service.IMAGE_MAX_BYTES + 1)  # more is refused anyway
    if not data:  # the editor takes an empty file input as "no new image"; here it is one
        raise ValidationFailed("The file is empty.", fields={"file": ["The file is empty."]})
    with _api_names({kind: "file"}):
        service.save_version(current_actor(), template, base, _merged_design(template),
                             {kind: data})
    return jsonify(template_to_api(template, versions=True))


@admin_bp.route(f"{BASE}/<int:template_id>/images/<kind>", methods=["DELETE"])
def remove_certificate_template_image(template_id: int, kind: str) -> Any:
    """Save a new version without the logo or signature (`baseVersion` in the query)."""
    template = service.get_template(template_id)
    if kind not in service.IMAGE_KINDS:
        raise NotFound("Only a logo or a signature.")
    base = _base_version(request.args.get("baseVersion", type=parse_id))
    service.save_version(current_actor(), template, base, _merged_design(template),
                         remove=(kind,))
    return jsonify(template_to_api(template, versions=True))


@admin_bp.route("/certificate-template-versions/<int:version_id>/images/<kind>")
@produces("image/png")
def template_image(version_id: int, kind: str) -> Any:
    """A version's logo or signature (PNG)."""
    if kind not in service.IMAGE_KINDS:
        raise NotFound("Only a logo or a signature.")
    key = getattr(service.get_version(version_id), f"{kind}_key")
    if not key or not storage.exists(key):
        raise NotFound("This version has no such image.")
    return private_file(storage.read(key), "image/png", f"{kind}-{version_id}.png",
                        inline=True)
