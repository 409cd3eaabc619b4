"""Input at the door: what no view should ever see.

- `<int:...>` in every URL is bounded: an id beyond fields.MAX_ID (2**31-1, what the
  INTEGER id columns hold on PostgreSQL) is no route, so it answers 404 instead of an
  OverflowError or "integer out of range" in a query.
- Text with NUL or other control characters in the path, the query string, a form or a
  JSON body is refused before the view runs (PostgreSQL refuses NUL in text; nothing
  legitimate types a control character): 400 for the URL, 422 naming the field for a
  form or a JSON body. Newline, carriage return and tab are allowed in form and JSON
  values (multi-line fields); the services' field rules (app/services/fields.py) still
  decide where they are allowed.
- JSON bodies parse strictly: NaN, Infinity and numbers that overflow a float (1e400)
  are not JSON numbers the API accepts, so the body is refused as invalid JSON.
"""

from __future__ import annotations

import builtins
import json
import math
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter, Map

from app.services.errors import ServiceError, ValidationFailed
from app.services.fields import MAX_ID, has_control


def up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 0..limit (leading zeros allowed up to
    limit's width), so a larger number matches no route at all (404) rather than matching
    the path and failing conversion, which werkzeug answers 405 when another method's rule
    has the same path."""
    digits = str(limit)
    width = len(digits)
    branches = [rf"\d{{1,{width - 1}}}"] if width > 1 else []
    for i, d in enumerate(digits):
        if d != "0":
            rest = width - i - 1
            branches.append(digits[:i] + (f"[0-{int(d) - 1}]" if d != "1" else "0")
                            + (rf"\d{{{rest}}}" if rest else ""))
    branches.append(digits)
    return "(?:" + "|".join(branches) + ")"


class BoundedIntConverter(IntegerConverter):
    """werkzeug's `int` converter for 0..MAX_ID (unless the rule says less): the pattern
    itself stops at MAX_ID."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        bound = MAX_ID if max is None else builtins.min(max, MAX_ID)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=bound, signed=signed)
        if not signed and not fixed_digits:
            self.regex = up_to(bound)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number this API accepts")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} does not fit a number")
    return number


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing NaN/Infinity and overflowing numbers when parsing requests."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _refuse_constant)
        kwargs.setdefault("parse_float", _finite_float)
        return json.loads(s, **kwargs)


ONE_LINE = "Remove the control characters (such as NUL) from the address."
FIELD = "Remove the control characters (such as NUL)."


def _bad_strings(value: Any, path: str, *, multiline: bool) -> list[str]:
    """The places in a JSON value whose strings (keys too) hold control characters."""
    found: list[str] = []
    if isinstance(value, str):
        if has_control(value, multiline=multiline):
            found.append(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if has_control(str(key)):
                found.append(name)
            else:
                found.extend(_bad_strings(item, name, multiline=multiline))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(_bad_strings(item, f"{path}[{i}]" if path else f"[{i}]",
                                      multiline=multiline))
    return found


def refuse_control_characters() -> None:
    """before_request: refuse control characters anywhere a view would read text."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and has_control(value):
            raise ServiceError(ONE_LINE)
    for key, value in request.args.items(multi=True):
        if has_control(key) or has_control(value):
            raise ServiceError(ONE_LINE, fields={key if not has_control(key) else "?":
                                                    [ONE_LINE]})
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    # A form value is text off the wire; only a test building the request in Python can
    # put None (or another object) there, and that holds no control character to refuse.
    bad = [key for key, value in request.form.items(multi=True)
           if has_control(key) or (isinstance(value, str)
                                   and has_control(value, multiline=True))]
    bad += [key for key, upload in request.files.items(multi=True)
            if has_control(key) or has_control(upload.filename or "")]
    if request.is_json:
        payload = request.get_json(silent=True)
        if payload is not None:
            bad += _bad_strings(payload, "", multiline=True)
    if bad:
        names = sorted({name if not has_control(name) else "?" for name in bad})
        raise ValidationFailed(FIELD, fields={name: [FIELD] for name in names})


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered (the converter is looked up per rule)."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.json = StrictJSONProvider(app)
    app.before_request(refuse_control_characters)
