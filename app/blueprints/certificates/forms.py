"""Certificate forms: issue (admin), reject, revoke. The JSON API validates with these."""

from __future__ import annotations

from wtforms import BooleanField, DateField, IntegerField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from app.models import CertificateType
from app.services.certificates import REVOCATION_CATEGORIES
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


class ReasonForm(Form):
    reason = TextAreaField("Reason", validators=[InputRequired("Give a reason."),
                                                 Length(max=2000)])
    category = SelectField("Category", default="other", choices=[
        SelectChoice(c, c.replace("_", " ").capitalize()) for c in REVOCATION_CATEGORIES])
