"""The two checks of the /verify page: number + code, and a PDF upload."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from app.web.forms import Form

PDF_MAX_BYTES = 10 * 1024 * 1024  # 10 MiB


class CodeLookupForm(Form):
    number = StringField("Certificate number", validators=[
        InputRequired("Enter the certificate number."), Length(max=40)])
    code = StringField("Verification code", validators=[
        InputRequired("Enter the verification code."), Length(max=40)])


class PdfCheckForm(Form):
    pdf = FileField("Certificate PDF")
