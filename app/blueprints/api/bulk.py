"""/api/admin/certificates/bulk (bulk issue) and /api/admin/micro-credentials/bulk (bulk
award): the pages' flow for integrations (upload -> preview, confirm, status with counts,
report), on the same services; one helper per step serves both kinds."""

from __future__ import annotations

import io
from types import ModuleType
from typing import Any

from flask import jsonify, request

from app.blueprints.api.routes import admin_bp, json_body
from app.services.bulk import awards as bulk_awards
from app.services.bulk import certificates as bulk_certificates
from app.services.bulk.csvfile import too_large_message
from app.services.errors import PayloadTooLarge, ValidationFailed
from app.web.auth import current_actor


def _flag(payload: dict[str, Any], key: str, default: bool) -> bool:
    value = payload.get(key, default)
    if not isinstance(value, bool):
        raise ValidationFailed("Some fields are not valid.", fields={key: ["Use true or false."]})
    return value


def _upload(bulk: ModuleType) -> Any:
    if request.mimetype == "text/csv":
        stream, filename = request.stream, request.args.get("filename", "upload.csv")
    else:
        payload = json_body()
        text = payload.get("csv")
        name = payload.get("filename", "upload.csv")
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("Send the CSV's text in \"csv\".",
                                   fields={"csv": ["The CSV's text."]})
        if not isinstance(name, str):
            raise ValidationFailed("Some fields are not valid.",
                                   fields={"filename": ["Enter text."]})
        if len(text) > bulk.max_bytes():  # characters: at least as many bytes
            raise PayloadTooLarge(too_large_message(bulk.max_bytes()))
        stream = io.BytesIO(text.encode("utf-8", "surrogatepass"))
        filename = name.strip()[:200] or "upload.csv"
    item = bulk.preview(current_actor(), stream, filename)
    return jsonify(bulk.to_api(item, with_rows=True)), 201


def _status(bulk: ModuleType, import_id: int) -> Any:
    item = bulk.get_import(import_id)
    data = bulk.to_api(item)
    data["progress"] = {k: v for k, v in bulk.progress(item).items()
                        if k in ("done", "total", "percent", "finished", "failed")}
    return jsonify(data)


def _confirm(bulk: ModuleType, import_id: int) -> Any:
    item = bulk.get_import(import_id)
    payload = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(payload, dict):
        raise ValidationFailed("Send a JSON object (or no body).")
    bulk.confirm(item, current_actor(), invite_unknown=_flag(payload, "invite", False),
                 notify_recipients=_flag(payload, "notify", True))
    return jsonify(bulk.to_api(item))


def _report(bulk: ModuleType, import_id: int) -> Any:
    item = bulk.get_import(import_id)
    return jsonify({"id": item.id, "status": item.status.value.lower(),
                    "rows": bulk.api_rows(item)})


@admin_bp.route("/certificates/bulk", methods=["POST"])
def upload_bulk_certificates() -> Any:
    """Upload a CSV (JSON {"csv": text, "filename"?}, or a text/csv body): the preview."""
    return _upload(bulk_certificates)


@admin_bp.route("/certificates/bulk/<int:import_id>")
def get_bulk_certificates(import_id: int) -> Any:
    """An import: its status and the rows per status (the progress)."""
    return _status(bulk_certificates, import_id)


@admin_bp.route("/certificates/bulk/<int:import_id>/confirm", methods=["POST"])
def confirm_bulk_certificates(import_id: int) -> Any:
    """Issue the ready rows (and, with "invite": true, invite the people without an
    account and issue theirs); 409 when it was confirmed already."""
    return _confirm(bulk_certificates, import_id)


@admin_bp.route("/certificates/bulk/<int:import_id>/report")
def report_bulk_certificates(import_id: int) -> Any:
    """Every row's outcome (issued / skipped / failed, with the certificate number)."""
    return _report(bulk_certificates, import_id)


@admin_bp.route("/micro-credentials/bulk", methods=["POST"])
def upload_bulk_awards() -> Any:
    """Upload a CSV of awards (JSON {"csv": text, "filename"?}, or a text/csv body): the
    preview, each row checked by the direct award's rules."""
    return _upload(bulk_awards)


@admin_bp.route("/micro-credentials/bulk/<int:import_id>")
def get_bulk_awards(import_id: int) -> Any:
    """An awards import: its status and the rows per status (the progress)."""
    return _status(bulk_awards, import_id)


@admin_bp.route("/micro-credentials/bulk/<int:import_id>/confirm", methods=["POST"])
def confirm_bulk_awards(import_id: int) -> Any:
    """Award the ready rows (and, with "invite": true, invite the people without an
    account and award theirs); 409 when it was confirmed already."""
    return _confirm(bulk_awards, import_id)


@admin_bp.route("/micro-credentials/bulk/<int:import_id>/report")
def report_bulk_awards(import_id: int) -> Any:
    """Every row's outcome (awarded / skipped / failed, with the credential's expiry)."""
    return _report(bulk_awards, import_id)
