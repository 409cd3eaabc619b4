"""Micro-credential forms; the JSON API validates with the same classes."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import DateField, IntegerField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from app.services.fields import MAX_ID
from app.web.forms import Form, strip

# The API speaks seed 001's camelCase; these map its names to the form's fields.
DEFINITION_API_FIELDS = {"skillStandard": "skill_standard", "issuingBody": "issuing_body",
                         "validityMonths": "validity_months"}


class DefinitionForm(Form):
    title = StringField("Title", filters=[strip], validators=[
        InputRequired("Enter a title."),
        Length(min=3, max=200, message="Use 3 to 200 characters.")])
    level = IntegerField("NQF level", validators=[
        InputRequired("Enter a level from 1 to 10."),
        NumberRange(min=1, max=10, message="Enter a level from 1 to 10.")])
    issuing_body = StringField("Issuing body", filters=[strip], validators=[
        InputRequired("Enter the issuing body."), Length(min=1, max=200)])
    skill_standard = StringField("Skill standard", filters=[strip],
                                 validators=[Optional(), Length(max=200)])
    requirements = TextAreaField("Requirements", filters=[strip], validators=[
        Optional(), Length(max=2000, message="Use at most 2000 characters.")])
    validity_months = IntegerField("Valid for (months)", validators=[
        Optional(), NumberRange(min=1, max=600, message="Enter 1 to 600 months, or leave empty.")])

    def values(self) -> dict[str, object]:
        fields = list(getattr(self, "present", None) or self._fields)
        return {name: getattr(self, name).data for name in fields}


class StatusForm(Form):
    note = StringField("Note", filters=[strip], validators=[Optional(), Length(max=1000)])
    expiry_date = DateField("Expires on", validators=[Optional()])


# The direct award's API names (camelCase, as seed 001's contract writes them).
AWARD_API_FIELDS = {"userId": "user_id", "awardedOn": "awarded_on",
                    "expiryDate": "expiry_date"}


class DirectAwardForm(Form):
    """An admin's award with its date (credentials.awards.award_directly)."""

    user_id = IntegerField("Staff member", validators=[
        InputRequired("Choose the staff member."),
        NumberRange(min=1, max=MAX_ID, message="Choose the staff member.")])
    awarded_on = DateField("Awarded on", validators=[Optional()])
    expiry_date = DateField("Expires on", validators=[Optional()])
    note = StringField("Note", filters=[strip], validators=[Optional(), Length(max=1000)])


class EvidenceForm(Form):
    file = FileField("Evidence document")
