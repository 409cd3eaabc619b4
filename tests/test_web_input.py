"""app/web/input.py's control-character guard on form values that are not text: None
only reaches request.form when a test builds the request in Python (off the wire every
value is a string), and the guard must let it pass to the view instead of raising."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request
from werkzeug.datastructures import ImmutableMultiDict

from app.services.errors import ValidationFailed
from app.web.input import FIELD, refuse_control_characters


def _guard_with_form(app: Flask, items: list[tuple[str, Any]]) -> None:
    with app.test_request_context("/login", method="POST"):
        # Set on the request object itself (werkzeug caches form and files there).
        real = request._get_current_object()  # type: ignore[attr-defined]
        real.form, real.files = ImmutableMultiDict(items), ImmutableMultiDict()
        refuse_control_characters()


def test_a_form_value_of_none_is_not_an_error(app: Flask) -> None:
    _guard_with_form(app, [("name", None), ("email", "a@example.test")])


def test_control_characters_beside_a_none_are_still_refused(app: Flask) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _guard_with_form(app, [("name", None), ("email", "a\x00@example.test")])
    assert refused.value.fields == {"email": [FIELD]}
