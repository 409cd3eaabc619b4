"""The certificate template editor's form (the service checks colours and wording)."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from app.services.certificates.templates import BORDER_STYLES, DEFAULTS
from app.web.forms import Form, strip


class TemplateForm(Form):
    name = StringField("Name", filters=[strip], validators=[
        InputRequired("Enter a name."), Length(max=120, message="Use at most 120 characters.")])
    primary_color = StringField("Primary colour", filters=[strip],
                                default=DEFAULTS["primary_color"])
    accent_color = StringField("Accent colour", filters=[strip],
                               default=DEFAULTS["accent_color"])
    border_style = SelectField("Border", default="double", validate_choice=False,
                               choices=[SelectChoice(s, s.title()) for s in BORDER_STYLES])
    title_text = StringField("Title line", filters=[strip], validators=[Optional()])
    body_text = StringField("Sentence under the subject", filters=[strip],
                            validators=[Optional()])
    signer_name = StringField("Signer's name", filters=[strip], validators=[Optional()])
    signer_title = StringField("Signer's title", filters=[strip], validators=[Optional()])
    logo = FileField("Logo (PNG or JPEG, up to 1 MB)")
    signature = FileField("Signature image (PNG or JPEG, up to 1 MB)")
    remove_logo = BooleanField("Remove the logo")
    remove_signature = BooleanField("Remove the signature")
    base_version = HiddenField()

    def design(self) -> dict[str, object]:
        return {name: getattr(self, name).data for name in (
            "primary_color", "accent_color", "border_style", "title_text", "body_text",
            "signer_name", "signer_title")}


class AssignForm(Form):
    subject = SelectField("Track or course", validate_choice=False,
                          validators=[InputRequired("Choose what uses this template.")])
