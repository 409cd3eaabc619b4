from __future__ import annotations

from wtforms import EmailField, IntegerField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, NumberRange, Optional

from app.services.auth import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    TOKEN_DEFAULT_DAYS,
    TOKEN_MAX_DAYS,
)
from app.web.forms import Form, strip


class LoginForm(Form):
    email = EmailField("Email", validators=[InputRequired("Enter your email."), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired("Enter your password."),
                                                     Length(max=1024)])


def _new_password(label: str) -> PasswordField:
    # The length here for the form's message; the whole policy is auth.check_password.
    return PasswordField(label, validators=[
        InputRequired("Choose a password."),
        Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH,
               message=f"Use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."),
    ])


class PasswordChangeForm(Form):
    current_password = PasswordField("Current password", validators=[InputRequired(),
                                                                     Length(max=1024)])
    password = _new_password("New password")
    confirm = PasswordField("Repeat the new password", validators=[
        InputRequired(), EqualTo("password", message="The two passwords differ."),
    ])


class SetPasswordForm(Form):
    password = _new_password("New password")
    confirm = PasswordField("Repeat the new password", validators=[
        InputRequired(), EqualTo("password", message="The two passwords differ."),
    ])


class ForgotPasswordForm(Form):
    email = EmailField("Email", filters=[strip],
                       validators=[InputRequired("Enter your email."), Length(max=254)])


class ApiTokenForm(Form):
    name = StringField("Name", filters=[strip], validators=[
        InputRequired("Name the token (what will use it)."), Length(max=100)])
    expires_in_days = IntegerField("Expires after (days)", default=TOKEN_DEFAULT_DAYS,
                                   validators=[Optional(), NumberRange(
                                       min=1, max=TOKEN_MAX_DAYS,
                                       message=f"Choose between 1 and {TOKEN_MAX_DAYS} days.")])
