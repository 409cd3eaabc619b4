"""Certificate forms: issue (admin), reject, revoke, and the list's filters. The JSON API
validates with these."""

from __future__ import annotations

from datetime import date

from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, DateField, IntegerField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from app.models import Certificate, CertificateStatus, CertificateType
from app.services import certificates as cert_service
from app.services import training
from app.services import users as user_service
from app.services.certificates import REVOCATION_CATEGORIES
from app.services.context import Actor
from app.services.errors import ValidationFailed
from app.services.fields import parse_date, parse_id
from app.web.forms import Form

TYPE_CHOICES = [SelectChoice(t.value, t.label) for t in CertificateType]


class IssueForm(Form):
    user_id = IntegerField("Recipient", validators=[InputRequired("Choose the recipient.")])
    course_id = IntegerField("Course", validators=[Optional()])
    track_id = IntegerField("Track", validators=[Optional()])
    type = SelectField("Type", choices=TYPE_CHOICES, default=CertificateType.COMPLETION.value)
    issued_on = DateField("Issue date", validators=[Optional()])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)])
    notify = BooleanField("Notify the recipient", default=True)

    def issue(self, actor: Actor) -> Certificate:
        """Issue what the validated form says (the modal and POST /api/admin/certificates).
        Raises NotFound for an unknown person, course or track, and what
        `issue_certificate` raises."""
        course = training.get_course(self.course_id.data) if self.course_id.data else None
        track = training.get_track(self.track_id.data) if self.track_id.data else None
        return cert_service.issue_certificate(
            actor, recipient=user_service.get_user(self.user_id.data),
            type_=CertificateType(self.type.data), course=course, track=track,
            notes=self.notes.data, notify_recipient=bool(self.notify.data),
            issued_on=self.issued_on.data)


class ReasonForm(Form):
    reason = TextAreaField("Reason", validators=[InputRequired("Give a reason."),
                                                 Length(max=2000)])
    category = SelectField("Category", default="other", choices=[
        SelectChoice(c, c.replace("_", " ").capitalize()) for c in REVOCATION_CATEGORIES])


# The page's tabs (in order); every status is also a filter of the API.
TABS = (("pending", "Pending"), ("issued", "Issued"), ("rejected", "Rejected"),
        ("revoked", "Revoked"))


def _date(value: str | None) -> date | None:
    return parse_date(value)


def status_filter(value: str | None, default: str) -> str:
    """`status` of a list query: a certificate status (any case) or, absent or empty,
    `default`. Raises ValidationFailed (422, field "status") for anything else: an unknown
    status never silently lists another tab."""
    status = (value or "").strip().lower()
    if not status:
        return default
    known = [s.value.lower() for s in CertificateStatus]
    if status not in known:
        message = f"Unknown status. Use one of: {', '.join(known)}."
        raise ValidationFailed(message, fields={"status": [message]})
    return status


def type_filter(value: str | None) -> str:
    """`type` of a list query: a certificate type (any case) or empty for all. Raises
    ValidationFailed (422, field "type") for anything else, like status_filter."""
    type_ = (value or "").strip().upper()
    if type_ and type_ not in CertificateType.__members__:
        known = ", ".join(t.value.lower() for t in CertificateType)
        message = f"Unknown type. Use one of: {known}."
        raise ValidationFailed(message, fields={"type": [message]})
    return type_


def filters_from_args(args: MultiDict[str, str],
                      default_status: str = "pending") -> cert_service.CertificateFilters:
    """The list's filters from a query string (the page, the export and GET
    /api/admin/certificates, whose default is every status). Raises ValidationFailed for
    an unknown status or type; other unreadable filters are ignored."""
    return cert_service.CertificateFilters(
        status=status_filter(args.get("status"), default_status), q=args.get("q", ""),
        course_id=args.get("course_id", type=parse_id),
        track_id=args.get("track_id", type=parse_id),
        user_id=args.get("user_id", type=parse_id), type=type_filter(args.get("type")),
        date_from=_date(args.get("from")), date_to=_date(args.get("to")),
        expires_from=_date(args.get("expires_from")), expires_to=_date(args.get("expires_to")))
