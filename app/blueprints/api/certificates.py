"""/api/admin/certificates: seed 004's contract, on the same services as the page."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, request

from app.blueprints.api.routes import admin_bp, json_body, page_args, page_json
from app.blueprints.certificates.forms import IssueForm, ReasonForm, filters_from_args
from app.extensions import db
from app.services import certificates as cert_service
from app.services import storage
from app.services.certificates.queries import find_keyset, list_order
from app.services.errors import ValidationFailed
from app.services.keyset import cursor_after
from app.web.auth import current_actor
from app.web.files import private_file
from app.web.forms import validate_json


@admin_bp.route("/certificates")
def list_certificates() -> Any:
    """Seed 004's list: numbered pages (`page`, `limit`) as far as the capped count goes,
    and from anywhere `pagination.next`, the cursor to send as `after` for the next page
    (`before` with `pagination.prev` goes back): a page by cursor costs the same at any
    depth."""
    filters = filters_from_args(request.args, default_status="")  # 422: unknown status
    after, before = request.args.get("after"), request.args.get("before")
    page_number, limit = page_args()
    if after or before:
        keyset = find_keyset(filters, limit, after=after, before=before)
        return jsonify({"data": [cert_service.to_api(c) for c in keyset.items],
                        "pagination": {"limit": limit, "total": keyset.total,
                                       **({"total_capped": True} if keyset.total_capped
                                          else {}),
                                       "next": keyset.older, "prev": keyset.newer}})
    if page_number * limit > cert_service.COUNT_LIMIT:
        # OFFSET reads every row it skips: deep pages go by cursor.
        message = (f"Numbered pages reach the first {cert_service.COUNT_LIMIT:,} "
                   "certificates; for more, follow pagination.next (after=).")
        raise ValidationFailed(message, fields={"page": [message]})
    page = cert_service.find(filters, page_number, limit)
    body = page_json(page, [cert_service.to_api(c) for c in page.items])
    body["pagination"]["next"] = (cursor_after(list_order(filters), page.items[-1])
                                  if page.has_next and page.items else None)
    return jsonify(body)


@admin_bp.route("/certificates/pending")
def pending_certificates() -> Any:
    stmt = cert_service.search(cert_service.CertificateFilters(status="pending"))
    return jsonify({"certificates": [cert_service.pending_to_api(c)
                                     for c in db.session.scalars(stmt.limit(500))]})


@admin_bp.route("/certificates/<int:certificate_id>")
def get_certificate(certificate_id: int) -> Any:
    return jsonify(cert_service.to_api(cert_service.get_certificate(certificate_id)))


@admin_bp.route("/certificates", methods=["POST"])
def issue_certificate() -> Any:
    payload = json_body()
    if isinstance(payload, dict) and isinstance(payload.get("type"), str):
        payload["type"] = payload["type"].upper()  # the seed sends 'completion'
    form = validate_json(IssueForm, payload)
    certificate = form.issue(current_actor())
    return jsonify(cert_service.to_api(certificate)), 201


def _reason_form() -> ReasonForm:
    return validate_json(ReasonForm, json_body(), partial=True)


@admin_bp.route("/certificates/<int:certificate_id>/approve", methods=["POST"])
def approve_certificate(certificate_id: int) -> Any:
    certificate = cert_service.get_certificate(certificate_id)
    payload = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(payload, dict):
        raise ValidationFailed("Send a JSON object (or no body).")
    cert_service.approve(certificate, current_actor(),
                         notify_recipient=payload.get("notify", True) is not False)
    return jsonify(cert_service.to_api(certificate))


@admin_bp.route("/certificates/<int:certificate_id>/reject", methods=["POST"])
def reject_certificate(certificate_id: int) -> Any:
    certificate = cert_service.get_certificate(certificate_id)
    form = _reason_form()
    cert_service.reject(certificate, current_actor(), form.reason.data if "reason" in
                        form.present else "")
    return jsonify(cert_service.to_api(certificate))


@admin_bp.route("/certificates/<int:certificate_id>/revoke", methods=["POST"])
def revoke_certificate(certificate_id: int) -> Any:
    certificate = cert_service.get_certificate(certificate_id)
    form = _reason_form()
    if "reason" not in form.present:
        raise ValidationFailed("Give a reason for revoking.",
                               fields={"reason": ["Give a reason for revoking."]})
    category = form.category.data if "category" in form.present else "other"
    cert_service.revoke(certificate, current_actor(), form.reason.data, category)
    return jsonify(cert_service.to_api(certificate))


@admin_bp.route("/certificates/<int:certificate_id>/reinstate", methods=["POST"])
def reinstate_certificate(certificate_id: int) -> Any:
    certificate = cert_service.get_certificate(certificate_id)
    cert_service.reinstate(certificate, current_actor())
    return jsonify(cert_service.to_api(certificate))


@admin_bp.route("/certificates/<int:certificate_id>/pdf")
def certificate_pdf(certificate_id: int) -> Any:
    certificate = cert_service.get_certificate(certificate_id)
    if not certificate.pdf_key or not storage.exists(certificate.pdf_key):
        abort(404)
    return private_file(storage.read(certificate.pdf_key), "application/pdf",
                        f"{certificate.number}.pdf", inline=True)
