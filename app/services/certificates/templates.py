"""Certificate templates: versioned designs for the PDF and the verify page.

- A template has versions; every save writes a new immutable version (the template's
  `version` counter is bumped by a conditional UPDATE from the number the editor
  started from: of two saves at once one wins, the other gets Conflict, 409).
- At issue, the certificate's snapshot records the version in force for it
  (`template_version_id`): the course's template, else its track's, else the default
  template, else none (the built-in look). Re-rendering later uses that version, so an
  edit never changes a certificate already issued.
- Wording is plain text with a few placeholders ({recipient}, {subject}, {date},
  {number}, {issuer}, {type}), filled in by `fill` (never Jinja: the result is data the
  PDF template escapes). Colours are #rrggbb.
- Images (logo, signature) are checked by content with Pillow (PNG or JPEG only, at most
  IMAGE_MAX_BYTES and IMAGE_MAX_SIDE pixels a side, decompression bombs refused),
  re-encoded as PNG (dropping anything else the file carried: metadata, trailing data of
  a polyglot) and stored privately; the renderer gets them as data: URIs, the admin
  pages through an admin-only route, the public verify page a version's logo (never its
  signature) through /verify/template-logos/<version id>.png, and nothing fetches a URL.
- A save writes its images to storage only after every check has passed (fields, name,
  version) and just before the version row; if the transaction is rolled back after
  that, the files written for it are deleted again (a session event, below). A crash
  between the write and the commit may still leave an unreferenced file.
- Templates are assigned to tracks and courses. Micro-credential awards have no PDF or
  template-aware page, so definitions are not offered (the column stays for later).
"""

from __future__ import annotations

import base64
import io
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import (
    AuditAction,
    Certificate,
    CertificateTemplate,
    CertificateTemplateAssignment,
    CertificateTemplateVersion,
    CertificationTrack,
    Course,
    MicroCredentialDefinition,
)
from app.services import audit, storage
from app.services.context import Actor
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.fields import Fields, parse_id, text
from app.services.persistence import flush_or_raise

COLOR = re.compile(r"#[0-9a-fA-F]{6}")
BORDER_STYLES = ("double", "single", "none")
PLACEHOLDERS = ("recipient", "subject", "date", "number", "issuer", "type")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
IMAGE_MAX_BYTES = 1024 * 1024
IMAGE_MAX_SIDE = 2000
#: Stored images fit in this box (width, height in pixels), scaled down keeping their shape.
PRINT_SIZE = (1200, 300)
IMAGE_KINDS = ("logo", "signature")
#: What a template can be assigned to (definitions: nothing renders for them yet).
SUBJECT_KINDS = ("track", "course")

#: The built-in look (what a certificate without a template shows).
DEFAULTS = {"primary_color": "#1f3a5f", "accent_color": "#b08d57", "border_style": "double",
            "title_text": None, "body_text": None, "signer_name": None,
            "signer_title": None}
DESIGN_FIELDS = tuple(DEFAULTS)


# --- Checks ------------------------------------------------------------------------------

def check_wording(value: Any, field: str, *, max_len: int) -> str | None:
    """Optional one-line text whose {placeholders} are all known ones."""
    cleaned = text(value, field, required=False, max_len=max_len)
    if cleaned is None:
        return None
    if cleaned.count("{") != cleaned.count("}") or len(_PLACEHOLDER.findall(cleaned)) \
            != cleaned.count("{"):
        raise ValidationFailed("Braces only go around a placeholder.", fields={field: [
            "Braces only go around a placeholder, such as {recipient}."]})
    unknown = [name for name in _PLACEHOLDER.findall(cleaned) if name not in PLACEHOLDERS]
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise ValidationFailed("Unknown placeholder.", fields={field: [
            f"Unknown placeholder {{{unknown[0]}}}: use {known}."]})
    return cleaned


def check_color(value: Any, field: str) -> str:
    if not isinstance(value, str) or not COLOR.fullmatch(value.strip()):
        raise ValidationFailed("Enter a colour as #rrggbb.",
                               fields={field: ["Enter a colour as #rrggbb, such as #1f3a5f."]})
    return value.strip().lower()


def check_design(values: dict[str, Any]) -> dict[str, Any]:
    """The design fields, cleaned; one ValidationFailed naming every bad field."""
    f = Fields()
    design = {
        "primary_color": f.check(check_color, values.get("primary_color"), "primary_color"),
        "accent_color": f.check(check_color, values.get("accent_color"), "accent_color"),
        "title_text": f.check(check_wording, values.get("title_text"), "title_text",
                              max_len=120),
        "body_text": f.check(check_wording, values.get("body_text"), "body_text",
                             max_len=500),
        "signer_name": f.check(text, values.get("signer_name"), "signer_name",
                               required=False, max_len=120),
        "signer_title": f.check(text, values.get("signer_title"), "signer_title",
                                required=False, max_len=120),
    }
    border = values.get("border_style")
    if border not in BORDER_STYLES:
        f.add("border_style", "Choose double, single or none.")
    design["border_style"] = border
    f.done()
    return design


def check_image(data: bytes, field: str) -> bytes:
    """The upload as a clean PNG, or ValidationFailed saying what is wrong with it."""

    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed(message, fields={field: [message]})

    if not data:
        raise refuse("The file is empty.")
    if len(data) > IMAGE_MAX_BYTES:
        raise refuse(f"The image is larger than {IMAGE_MAX_BYTES // 1024} KB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as probe:
                width, height = probe.size
                if width > IMAGE_MAX_SIDE or height > IMAGE_MAX_SIDE:
                    raise refuse(f"The image is {width}x{height} pixels; use at most "
                                 f"{IMAGE_MAX_SIDE}x{IMAGE_MAX_SIDE}.")
                probe.verify()
            with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as image:
                image.load()
                clean = image.convert("RGBA" if "A" in image.getbands()
                                      or image.mode == "P" else "RGB")
    except ValidationFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise refuse("The image has too many pixels.") from None
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for a bad file
        raise refuse("This is not a PNG or JPEG image.") from None
    # Printed at most 56 pt tall (about 230 px at 300 dpi): keeping 300 px keeps it sharp
    # and makes every render cheaper than a 2000 px original would.
    clean.thumbnail(PRINT_SIZE)
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=False)
    return out.getvalue()


# --- Reading -----------------------------------------------------------------------------

def get_template(template_id: int) -> CertificateTemplate:
    template = db.session.get(CertificateTemplate, template_id)
    if template is None:
        raise NotFound("Template not found.")
    return template


def list_templates() -> list[CertificateTemplate]:
    return list(db.session.scalars(select(CertificateTemplate).order_by(
        CertificateTemplate.default_key.is_(None), func.lower(CertificateTemplate.name))))


def current_version(template: CertificateTemplate) -> CertificateTemplateVersion | None:
    return db.session.scalar(select(CertificateTemplateVersion).where(
        CertificateTemplateVersion.template_id == template.id,
        CertificateTemplateVersion.number == template.version))


def versions_of(template: CertificateTemplate) -> list[CertificateTemplateVersion]:
    """Every version of `template`, newest first."""
    return list(db.session.scalars(select(CertificateTemplateVersion).where(
        CertificateTemplateVersion.template_id == template.id)
        .order_by(CertificateTemplateVersion.number.desc())))


def get_version(version_id: int) -> CertificateTemplateVersion:
    version = db.session.get(CertificateTemplateVersion, version_id)
    if version is None:
        raise NotFound("Template version not found.")
    return version


def assignments_of(template: CertificateTemplate) -> list[CertificateTemplateAssignment]:
    return list(db.session.scalars(select(CertificateTemplateAssignment).where(
        CertificateTemplateAssignment.template_id == template.id)
        .order_by(CertificateTemplateAssignment.id)))


def subject_label(assignment: CertificateTemplateAssignment) -> str:
    if assignment.track_id is not None:
        track = db.session.get(CertificationTrack, assignment.track_id)
        return f"Track: {track.name}" if track else "Track"
    if assignment.course_id is not None:
        course = db.session.get(Course, assignment.course_id)
        return f"Course: {course.title}" if course else "Course"
    definition = db.session.get(MicroCredentialDefinition, assignment.definition_id)
    return f"Micro-credential: {definition.title}" if definition else "Micro-credential"


def subject_choices() -> list[tuple[str, str]]:
    """("track:3", "Track: Roofing") ... for the assign picker (tracks and courses)."""
    tracks = db.session.scalars(select(CertificationTrack).order_by(CertificationTrack.name))
    courses = db.session.scalars(select(Course).where(Course.archived_at.is_(None))
                                 .order_by(Course.title))
    return ([(f"track:{t.id}", f"Track: {t.name}") for t in tracks]
            + [(f"course:{c.id}", f"Course: {c.title}") for c in courses])


def _assignment_for(column: Any, value: int | None) -> CertificateTemplateAssignment | None:
    if value is None:
        return None
    return db.session.scalar(select(CertificateTemplateAssignment).where(column == value))


def version_id_for(certificate: Certificate) -> int | None:
    """The template version in force for `certificate` now (frozen into its snapshot at
    issue), or None: the course's template, else its track's (the certificate's, or its
    course's), else the default one. The one-certificate case of `version_ids_for`."""
    return version_ids_for([certificate])[0]


def version_ids_for(certificates: Sequence[Certificate]) -> list[int | None]:
    """`version_id_for` of each certificate, in two queries however many there are (a
    bulk import's batch): the assignments of all their courses and tracks, then the
    default template's version if one of them has no assignment."""
    A, T, V = CertificateTemplateAssignment, CertificateTemplate, CertificateTemplateVersion
    subjects: list[tuple[int | None, int | None]] = []
    for certificate in certificates:
        course_id, track_id = certificate.course_id, certificate.track_id
        if course_id is not None and track_id is None:
            course = certificate.course or db.session.get(Course, course_id)
            track_id = course.track_id if course is not None else None
        subjects.append((course_id, track_id))
    course_ids = {c for c, _ in subjects if c}
    track_ids = {t for _, t in subjects if t}
    wanted = ([A.course_id.in_(course_ids)] if course_ids else []) + (
        [A.track_id.in_(track_ids)] if track_ids else [])
    by_course: dict[int, int] = {}
    by_track: dict[int, int] = {}
    if wanted:
        for course_id, track_id, version_id in db.session.execute(
                select(A.course_id, A.track_id, V.id).join(T, T.id == A.template_id)
                .join(V, (V.template_id == T.id) & (V.number == T.version))
                .where(or_(*wanted))):
            if course_id is not None:
                by_course[course_id] = version_id
            if track_id is not None:
                by_track[track_id] = version_id
    # The course's own template comes first, then its track's.
    found = [by_course.get(course_id or 0) or by_track.get(track_id or 0)
             for course_id, track_id in subjects]
    if all(version_id is not None for version_id in found):
        return found
    default = db.session.scalar(select(V.id).join(T, (V.template_id == T.id)
                                                  & (V.number == T.version))
                                .where(T.default_key.is_not(None)))
    return [default if version_id is None else version_id for version_id in found]


# --- Writing -----------------------------------------------------------------------------

def _name(value: Any, field: str = "name") -> str:
    return text(value, field, max_len=120, message="Use 1 to 120 characters.")  # type: ignore[return-value]


def _taken() -> Conflict:
    return Conflict("A template with this name exists already.",
                    fields={"name": ["A template with this name exists already."]})


def _name_taken(name: str, other_than: int | None = None) -> bool:
    query = select(CertificateTemplate.id).where(
        func.lower(CertificateTemplate.name) == name.lower())
    if other_than is not None:
        query = query.where(CertificateTemplate.id != other_than)
    return db.session.scalar(query) is not None


def _checked_images(images: dict[str, bytes | None] | None) -> dict[str, bytes]:
    """The uploads as clean PNGs (ValidationFailed for a bad one); nothing is stored."""
    return {kind: check_image(data, kind) for kind, data in (images or {}).items()
            if kind in IMAGE_KINDS and data}


#: session.info key: the files written in this transaction, deleted if it rolls back.
_WRITTEN = "certificate_template_files"


def _store_images(clean: dict[str, bytes]) -> dict[str, str]:
    """Write the checked images, as the last step before the version row (every check
    has passed by then). Their files are removed again if the transaction rolls back."""
    keys: dict[str, str] = {}
    for kind, data in clean.items():
        key = storage.save(data, "branding")[0]
        db.session.info.setdefault(_WRITTEN, []).append(str(storage.path_for(key)))
        keys[f"{kind}_key"] = key
    return keys


@event.listens_for(Session, "after_commit")
def _keep_written(session: Session) -> None:
    if not session.in_nested_transaction():  # releasing a SAVEPOINT fires this too
        session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "after_soft_rollback")
def _remove_written(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is not None:
        return  # a SAVEPOINT: the outer transaction may still commit them
    for path in session.info.pop(_WRITTEN, None) or ():
        try:
            os.unlink(path)
        except OSError:
            pass  # gone already, or unwritable: an unreferenced file at worst


def create_template(actor: Actor, name: Any, design: dict[str, Any],
                    images: dict[str, bytes | None] | None = None) -> CertificateTemplate:
    """A new template with its first version. Raises ValidationFailed, Conflict (the
    name is taken, also under a race)."""
    f = Fields()
    cleaned_name = f.check(_name, name, "name")
    try:
        cleaned = check_design(design)
    except ValidationFailed as exc:
        for field, messages in exc.fields.items():
            for message in messages:
                f.add(field, message)
        cleaned = {}
    f.done()
    clean_images = _checked_images(images)
    if _name_taken(cleaned_name):
        raise _taken()
    template = CertificateTemplate(name=cleaned_name, version=1)
    flush_or_raise(_taken(), add=[template])  # the unique index on lower(name), raced
    keys = _store_images(clean_images)
    version = CertificateTemplateVersion(template_id=template.id, number=1, **cleaned,
                                         **keys, created_by_id=_actor_id(actor))
    db.session.add(version)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "certificate_template", template.id,
                 {"name": template.name, "version": 1})
    return template


def save_version(actor: Actor, template: CertificateTemplate, base_version: Any,
                 design: dict[str, Any], images: dict[str, bytes | None] | None = None,
                 remove: tuple[str, ...] = (), name: Any = None) -> CertificateTemplateVersion:
    """A new version of `template` from `design` (images kept from the current version
    unless replaced or in `remove`). `base_version` is the version the editor started
    from; Conflict (409) when someone saved a newer one meanwhile."""
    cleaned = check_design(design)
    cleaned_name = _name(name) if name is not None else template.name
    if not isinstance(base_version, int) or isinstance(base_version, bool):
        raise ValidationFailed("Reload the page: the form has no version.")
    clean_images = _checked_images(images)
    if _name_taken(cleaned_name, other_than=template.id):
        raise _taken()
    previous = current_version(template)
    keys: dict[str, str | None] = {}
    for kind in IMAGE_KINDS:
        key = f"{kind}_key"
        if kind not in clean_images and kind not in remove and previous is not None:
            keys[key] = getattr(previous, key)
    try:
        with db.session.begin_nested():
            bumped = db.session.execute(
                update(CertificateTemplate)
                .where(CertificateTemplate.id == template.id,
                       CertificateTemplate.version == base_version)
                .values(version=CertificateTemplate.version + 1, name=cleaned_name,
                        updated_at=func.now())
                .execution_options(synchronize_session=False)).rowcount
    except IntegrityError:
        raise _taken() from None  # renamed to a name taken at the same moment
    if bumped != 1:
        db.session.refresh(template)
        latest = current_version(template)
        if latest is not None and latest.created_by_id == _actor_id(actor) \
                and latest.created_by_id is not None and not clean_images \
                and all(getattr(latest, k) == v for k, v in {**cleaned, **keys}.items()):
            return latest  # the same save twice (a double-click): saved once
        raise Conflict(f"Someone saved this template meanwhile (now version "
                       f"{template.version}). Reload to see their changes, then save again.")
    db.session.refresh(template)
    keys.update(_store_images(clean_images))
    version = CertificateTemplateVersion(template_id=template.id, number=template.version,
                                         **cleaned, **keys, created_by_id=_actor_id(actor))
    flush_or_raise(Conflict("Someone saved this template at the same moment. Reload and "
                            "save again."), add=[version])
    audit.record(actor, AuditAction.UPDATE, "certificate_template", template.id,
                 {"version": [base_version, version.number], "name": cleaned_name})
    return version


def set_default(actor: Actor, template: CertificateTemplate) -> CertificateTemplate:
    """Make `template` the default (the previous default stops being it)."""
    if template.is_default:
        return template
    db.session.execute(update(CertificateTemplate).where(
        CertificateTemplate.default_key.is_not(None)).values(default_key=None)
        .execution_options(synchronize_session=False))
    db.session.flush()
    template.default_key = "default"
    flush_or_raise(Conflict("Another template was made the default at the same moment."))
    db.session.refresh(template)
    audit.record(actor, AuditAction.UPDATE, "certificate_template", template.id,
                 {"default": [False, True]})
    return template


def parse_subject(value: Any) -> tuple[str, int]:
    """"track:3" -> ("track", 3); ValidationFailed otherwise (the id in ASCII digits,
    1..MAX_ID: "track:²" or twenty digits are refused, not a 500)."""
    kind, _, raw = str(value or "").partition(":")
    try:
        subject_id = parse_id(raw)
    except ValueError:
        subject_id = None
    if kind not in SUBJECT_KINDS or subject_id is None:
        raise ValidationFailed("Choose a track or course.",
                               fields={"subject": ["Choose a track or course."]})
    return kind, subject_id


def assign(actor: Actor, template: CertificateTemplate,
           subject: Any) -> CertificateTemplateAssignment:
    """Give a track or course this template (replacing its previous one)."""
    kind, subject_id = parse_subject(subject)
    model = {"track": CertificationTrack, "course": Course}[kind]
    if db.session.get(model, subject_id) is None:
        raise ValidationFailed("That subject does not exist.",
                               fields={"subject": ["Choose an existing item."]})
    column = getattr(CertificateTemplateAssignment, f"{kind}_id")
    existing = _assignment_for(column, subject_id)
    if existing is not None:
        if existing.template_id == template.id:
            return existing
        previous = existing.template_id
        existing.template_id = template.id
        db.session.flush()
        assignment = existing
    else:
        previous = None
        assignment = CertificateTemplateAssignment(template_id=template.id,
                                                   **{f"{kind}_id": subject_id})
        flush_or_raise(Conflict("It was given a template at the same moment. Reload."),
                       add=[assignment])
    audit.record(actor, AuditAction.UPDATE, "certificate_template", template.id,
                 {"assigned": f"{kind}:{subject_id}", "replaced_template": previous})
    return assignment


def unassign(actor: Actor, template: CertificateTemplate, assignment_id: int) -> None:
    assignment = db.session.get(CertificateTemplateAssignment, assignment_id)
    if assignment is None or assignment.template_id != template.id:
        raise NotFound("Assignment not found.")
    label = subject_label(assignment)
    db.session.delete(assignment)
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "certificate_template", template.id,
                 {"unassigned": label})


def _actor_id(actor: Actor) -> int | None:
    return actor.user.id if actor.user is not None else None


# --- Rendering ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Branding:
    """What the PDF and the verify page print of a template version."""

    primary_color: str
    accent_color: str
    border_style: str
    title_text: str | None
    body_text: str | None
    signer_name: str | None
    signer_title: str | None
    logo: str | None  # data:image/png;base64,...
    signature: str | None
    version_id: int | None = None


def _safe_color(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and COLOR.fullmatch(value) else fallback


def _data_uri(key: str | None) -> str | None:
    if not key or not storage.exists(key):
        return None
    return _encoded(str(storage.path_for(key)))


@lru_cache(maxsize=64)
def _encoded(path: str) -> str:
    """A stored image as a data: URI. Kept per file: a stored image never changes (its
    key is random and a new upload gets a new one), and a bulk run renders the same
    template's images thousands of times."""
    with open(path, "rb") as handle:
        return "data:image/png;base64," + base64.b64encode(handle.read()).decode("ascii")


def branding_of(version_id: Any) -> Branding:
    """The branding of a version id from a snapshot; the built-in look for None or an
    unknown id. Colours are checked again (a row is never trusted into CSS)."""
    version = (db.session.get(CertificateTemplateVersion, version_id)
               if isinstance(version_id, int) and not isinstance(version_id, bool) else None)
    if version is None:
        return Branding(**DEFAULTS, logo=None, signature=None)  # type: ignore[arg-type]
    return Branding(
        primary_color=_safe_color(version.primary_color, DEFAULTS["primary_color"]),
        accent_color=_safe_color(version.accent_color, DEFAULTS["accent_color"]),
        border_style=version.border_style if version.border_style in BORDER_STYLES
        else "double",
        title_text=version.title_text, body_text=version.body_text,
        signer_name=version.signer_name, signer_title=version.signer_title,
        logo=_data_uri(version.logo_key), signature=_data_uri(version.signature_key),
        version_id=version.id)


def preview_branding(design: dict[str, Any], template: CertificateTemplate | None = None,
                     remove: tuple[str, ...] = ()) -> Branding:
    """What a save of `design` would print (images: the template's current version's,
    unless in `remove`), for a preview; nothing is saved. Raises ValidationFailed for a
    bad design, naming every bad field (the API's preview; the editor previews leniently
    as the admin types)."""
    cleaned = check_design(design)
    saved = branding_of(current_version(template).id if template is not None
                        and current_version(template) is not None else None)
    return Branding(**cleaned, logo=None if "logo" in remove else saved.logo,
                    signature=None if "signature" in remove else saved.signature)


def public_logo(version_id: int) -> bytes | None:
    """The logo PNG of a template version, for the public verify page (a logo is printed
    on public certificates; signatures are never served publicly); None when the version
    does not exist or has no logo. A version never changes, so neither does this."""
    version = db.session.get(CertificateTemplateVersion, version_id)
    if version is None or not version.logo_key or not storage.exists(version.logo_key):
        return None
    return storage.read(version.logo_key)


def fill(wording: str | None, values: dict[str, str]) -> str | None:
    """Wording with its placeholders replaced by `values` (plain text in, plain text
    out; an unknown placeholder is left as written)."""
    if not wording:
        return None
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), wording)
