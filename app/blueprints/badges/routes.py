"""Open Badges 3.0: the public documents a verifier walks to, and the holder's downloads.

Public (no login, rate limited like /verify; JSON for `application/json` /
`application/ld+json` or ?format=json, an HTML page for people where one makes sense;
CORS open, cached):

    GET /issuer                                    the issuer Profile + controller document
    GET /achievements/<track|course>/<id>/<type>   a certificate's Achievement
    GET /achievements/micro-credential/<id>        a micro-credential's Achievement
    GET /achievements/.../image.png                the achievement's badge image
    GET /keys/<kid>                                an RSA key's JWK / an Ed25519 Multikey
    GET /credentials/status/<purpose>              the signed BitstringStatusListCredential

The holder's own (login; anyone else, and anything not issued/awarded, gets 404):

    GET /me/badges/certificates/<verification_id>.<json|jwt|png|svg>
    GET /me/badges/micro-credentials/<id>.<json|jwt|png|svg>

`.json` is the credential with its Data Integrity proof (application/ld+json), `.jwt`
the VC-JWT (application/vc+jwt), `.png` and `.svg` the badge image with the VC-JWT baked in.
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    render_template,
    request,
)
from flask_login import current_user, login_required
from sqlalchemy import select

from app.extensions import db, limiter
from app.models import (
    Certificate,
    CertificateStatus,
    CredentialStatus,
    MicroCredentialDefinition,
    SigningKey,
    StaffMicroCredential,
)
from app.services import open_badges, signing
from app.services.open_badges import baking, credentials, serializers, status

bp = Blueprint("badges", __name__)

PUBLIC_CACHE = "public, max-age=300"
EXTENSIONS = ("json", "jwt", "png", "svg")


def _rate_limit() -> str:
    """The public documents share /verify's per-address limit (VERIFY_RATE_LIMIT)."""
    return current_app.config.get("VERIFY_RATE_LIMIT", "60 per minute")


public_limit = limiter.limit(_rate_limit)


def _wants_json() -> bool:
    if request.args.get("format", "").lower() == "json":
        return True
    best = request.accept_mimetypes.best_match(
        ["text/html", "application/json", "application/ld+json"])
    return best in ("application/json", "application/ld+json")


def _public(response: Response) -> Response:
    response.headers["Cache-Control"] = PUBLIC_CACHE
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Accept")
    return response


def _json(document: dict[str, Any], mimetype: str = "application/json") -> Response:
    response = make_response(json.dumps(document, ensure_ascii=False, indent=2))
    response.mimetype = mimetype
    return response


def _document(document: dict[str, Any], template: str, **context: Any) -> Response:
    """JSON for machines, the page for people (same URL)."""
    if _wants_json():
        kind = ("application/ld+json" if "application/ld+json" in
                request.headers.get("Accept", "") else "application/json")
        return _public(_json(document, kind))
    return _public(make_response(render_template(template, document=document, **context)))


# --- Public documents ----------------------------------------------------------------

@bp.route("/issuer")
@public_limit
def issuer() -> Any:
    return _document(credentials.issuer_document(), "badges/issuer.html")


@bp.route("/achievements/<any(track, course):kind>/<int:subject_id>/<type_>")
@public_limit
def certificate_achievement(kind: str, subject_id: int, type_: str) -> Any:
    achievement = credentials.current_certificate_achievement(kind, subject_id, type_)
    if achievement is None:
        abort(404)
    return _document({"@context": list(credentials.CONTEXT), **achievement},
                     "badges/achievement.html", achievement=achievement)


@bp.route("/achievements/<any(track, course):kind>/<int:subject_id>/<type_>/image.png")
@public_limit
def certificate_achievement_image(kind: str, subject_id: int, type_: str) -> Any:
    achievement = credentials.current_certificate_achievement(kind, subject_id, type_)
    if achievement is None:
        abort(404)
    return _png(baking.badge_png(achievement["name"]))


@bp.route("/achievements/micro-credential/<int:definition_id>")
@public_limit
def micro_credential_achievement(definition_id: int) -> Any:
    definition = db.get_or_404(MicroCredentialDefinition, definition_id)
    achievement = credentials.micro_credential_achievement(definition)
    return _document({"@context": list(credentials.CONTEXT), **achievement},
                     "badges/achievement.html", achievement=achievement)


@bp.route("/achievements/micro-credential/<int:definition_id>/image.png")
@public_limit
def micro_credential_image(definition_id: int) -> Any:
    definition = db.get_or_404(MicroCredentialDefinition, definition_id)
    return _png(baking.badge_png(definition.title, f"NZQCF level {definition.level}"))


def _png(data: bytes, *, public: bool = True) -> Response:
    response = make_response(data)
    response.mimetype = "image/png"
    return _public(response) if public else response


@bp.route("/keys/<kid>")
@public_limit
def key(kid: str) -> Any:
    """JSON only: a key has no page for people."""
    found = db.session.scalar(select(SigningKey).where(SigningKey.kid == kid))
    if found is None:
        abort(404)
    document = serializers.key_document(found)
    kind = "application/jwk+json" if found.alg == signing.RSA_ALGORITHM else "application/json"
    if found.alg != signing.RSA_ALGORITHM and "ld+json" in request.headers.get("Accept", ""):
        kind = "application/ld+json"
    return _public(_json(document, kind))


@bp.route("/credentials/status/<purpose>")
@public_limit
def status_list(purpose: str) -> Any:
    if purpose not in status.PURPOSES:
        abort(404)
    document = status.status_list_credential(purpose)
    response = _json(document, "application/vc+ld+json" if "vc+ld+json" in
                     request.headers.get("Accept", "") else "application/json")
    response.set_etag(status.etag(document))
    response = _public(response)
    response.headers["Cache-Control"] = "public, max-age=60, must-revalidate"
    return response.make_conditional(request)


# --- The holder's downloads ----------------------------------------------------------

def _download(owner: Certificate | StaffMicroCredential, extension: str) -> Response:
    if extension == "json":
        response = _json(open_badges.signed_json(owner), "application/ld+json")
    elif extension == "jwt":
        response = make_response(open_badges.signed_jwt(owner))
        response.mimetype = "application/vc+jwt"
    elif extension == "svg":
        response = make_response(serializers.baked_svg(owner))
        response.mimetype = "image/svg+xml"
    else:
        response = _png(serializers.baked_png(owner), public=False)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{serializers.filename(owner, extension)}"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/me/badges/certificates/<verification_id>.<any(json, jwt, png, svg):extension>")
@login_required
def certificate_download(verification_id: str, extension: str) -> Any:
    certificate = db.session.scalar(select(Certificate).where(
        Certificate.verification_id == verification_id))
    if (certificate is None or certificate.recipient_id != current_user.id
            or certificate.status != CertificateStatus.ISSUED):
        abort(404)
    return _download(certificate, extension)


@bp.route("/me/badges/micro-credentials/<int:credential_id>.<any(json, jwt, png, svg):extension>")
@login_required
def micro_credential_download(credential_id: int, extension: str) -> Any:
    credential = db.session.get(StaffMicroCredential, credential_id)
    if (credential is None or credential.user_id != current_user.id
            or credential.status != CredentialStatus.AWARDED or credential.awarded_at is None):
        abort(404)
    return _download(credential, extension)


@bp.app_template_global()
def open_badge_downloads(owner: Any) -> list[tuple[str, str]]:
    """(label, url) of the holder's three downloads, or [] when there are none."""
    from flask import url_for

    if isinstance(owner, Certificate):
        if owner.status != CertificateStatus.ISSUED or not owner.verification_id:
            return []
        endpoint, values = "badges.certificate_download", {"verification_id":
                                                           owner.verification_id}
    else:
        if owner.status != CredentialStatus.AWARDED or owner.awarded_at is None:
            return []
        endpoint, values = "badges.micro_credential_download", {"credential_id": owner.id}
    labels = {"json": "Open Badge (JSON-LD)", "jwt": "Open Badge (VC-JWT)",
              "png": "Badge image (PNG)", "svg": "Badge image (SVG)"}
    return [(labels[ext], url_for(endpoint, extension=ext, **values)) for ext in EXTENSIONS]
