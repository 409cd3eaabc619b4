"""The certificate template editor's form (the service checks colours and wording)."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from app.services.certificates.templates import BORDER_STYLES, DEFAULTS
from app.web.forms import Form, strip

#: The JSON API's names for the design fields (the page posts the form's own names).
TEMPLATE_API_FIELDS = {"primaryColor": "primary_color", "accentColor": "accent_color",
                       "borderStyle": "border_style", "titleText": "title_text",
                       "bodyText": "body_text", "signerName": "signer_name",
                       "signerTitle": "signer_title"}


class TemplateDesignForm(Form):
    """A template's name and design: the editor's text fields, and the API's JSON body."""

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

    def design(self) -> dict[str, object]:
        return {name: getattr(self, name).data for name in (
            "primary_color", "accent_color", "border_style", "title_text", "body_text",
            "signer_name", "signer_title")}


class TemplateForm(TemplateDesignForm):
    """The editor: the design, its images and the version it was opened at."""

    logo = FileField("Logo (PNG or JPEG, up to 1 MB)")
    signature = FileField("Signature image (PNG or JPEG, up to 1 MB)")
    remove_logo = BooleanField("Remove the logo")
    remove_signature = BooleanField("Remove the signature")
    base_version = HiddenField()


class AssignForm(Form):
    subject = SelectField("Track or course", validate_choice=False,
                          validators=[InputRequired("Choose what uses this template.")])
