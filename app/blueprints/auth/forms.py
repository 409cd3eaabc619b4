from __future__ import annotations

from wtforms import EmailField, PasswordField
from wtforms.validators import EqualTo, InputRequired, Length

from app.services.auth import MIN_PASSWORD_LENGTH
from app.web.forms import Form


class LoginForm(Form):
    email = EmailField("Email", validators=[InputRequired("Enter your email."), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired("Enter your password."),
                                                     Length(max=1024)])


class PasswordChangeForm(Form):
    current_password = PasswordField("Current password", validators=[InputRequired()])
    password = PasswordField("New password", validators=[
        InputRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024,
                                message=f"Use at least {MIN_PASSWORD_LENGTH} characters."),
    ])
    confirm = PasswordField("Repeat the new password", validators=[
        InputRequired(), EqualTo("password", message="The two passwords differ."),
    ])
