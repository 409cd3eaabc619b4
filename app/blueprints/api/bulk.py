"""/api/admin/certificates/bulk: bulk issue from a CSV, the page's flow for integrations
(upload -> preview, confirm, status with counts, report), on the same services."""

from __future__ import annotations

import io
from typing import Any

from flask import jsonify, request

from app.blueprints.api.routes import admin_bp, json_body
from app.services.bulk import certificates as bulk
from app.services.bulk.csvfile import too_large_message
from app.services.errors import PayloadTooLarge, ValidationFailed
from app.web.auth import current_actor


def _flag(payload: dict[str, Any], key: str, default: bool) -> bool:
    value = payload.get(key, default)
    if not isinstance(value, bool):
        raise ValidationFailed("Some fields are not valid.", fields={key: ["Use true or false."]})
    return value


@admin_bp.route("/certificates/bulk", methods=["POST"])
def upload_bulk_certificates() -> Any:
    """Upload a CSV (JSON {"csv": text, "filename"?}, or a text/csv body): the preview."""
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


@admin_bp.route("/certificates/bulk/<int:import_id>")
def get_bulk_certificates(import_id: int) -> Any:
    """An import: its status and the rows per status (the progress)."""
    item = bulk.get_import(import_id)
    data = bulk.to_api(item)
    data["progress"] = {k: v for k, v in bulk.progress(item).items()
                        if k in ("done", "total", "percent", "finished", "failed")}
    return jsonify(data)


@admin_bp.route("/certificates/bulk/<int:import_id>/confirm", methods=["POST"])
def confirm_bulk_certificates(import_id: int) -> Any:
    """Issue the ready rows (and, with "invite": true, invite the people without an
    account and issue theirs); 409 when it was confirmed already."""
    item = bulk.get_import(import_id)
    payload = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(payload, dict):
        raise ValidationFailed("Send a JSON object (or no body).")
    bulk.confirm(item, current_actor(), invite_unknown=_flag(payload, "invite", False),
                 notify_recipients=_flag(payload, "notify", True))
    return jsonify(bulk.to_api(item))


@admin_bp.route("/certificates/bulk/<int:import_id>/report")
def report_bulk_certificates(import_id: int) -> Any:
    """Every row's outcome (issued / skipped / failed, with the certificate number)."""
    item = bulk.get_import(import_id)
    return jsonify({"id": item.id, "status": item.status.value.lower(),
                    "rows": [bulk.row_to_api(row, number)
                             for row, number in bulk.rows_with_numbers(item)]})
