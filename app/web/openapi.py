"""The OpenAPI 3.1 document of the JSON API, generated from what validates the requests.

Nothing here is written per endpoint. For every /api rule of `app.url_map`:
- path parameters come from the rule's converters (`<int:...>` is bounded: 0..fields.MAX_ID);
- the request body is the JSON Schema of the WTForms class the view (or a helper it
  calls) hands to `validate_json`, found by reading the view's source, with the call's
  `aliases` (API names) and `partial` (PATCH: nothing required); keys the view takes off
  the body itself (`payload.get("x")`, `payload.pop("x")`) are listed too;
- query parameters are the names the view reads from `request.args`;
- every error answers the one error shape, `{"error": {"code", "message", "fields"}}`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from werkzeug.routing import IntegerConverter, Rule
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from app.services.fields import MAX_ID
from app.web.forms import Form

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "fields": {"type": "object",
                       "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        },
    }},
}
ERROR_STATUSES = {400: "Bad request (CSRF, malformed input)", 401: "Not authenticated",
                  403: "Not allowed for this role", 404: "Not found",
                  405: "Method not allowed", 409: "Conflict with the current state",
                  413: "Payload too large", 422: "Validation failed",
                  429: "Too many requests"}
METHODS = ("get", "post", "put", "patch", "delete")


def produces(mimetype: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a view whose success is a file of this type, not JSON (the document says so)."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.produces = mimetype  # type: ignore[attr-defined]
        return view

    return mark


# --- forms to JSON Schema ---------------------------------------------------------------

def _validators(unbound: Any) -> list[Any]:
    return list(unbound.kwargs.get("validators") or (unbound.args[1] if len(unbound.args) > 1
                                                       else []))


def _is_required(unbound: Any) -> bool:
    return any(isinstance(v, InputRequired | DataRequired) for v in _validators(unbound))


def field_schema(unbound: Any) -> dict[str, Any]:
    """The JSON Schema of one (unbound) WTForms field, as validate_json reads it."""
    cls = unbound.field_class
    validators = _validators(unbound)
    schema: dict[str, Any]
    if issubclass(cls, BooleanField):
        schema = {"type": "boolean"}
    elif issubclass(cls, IntegerField):
        schema = {"type": "integer", "minimum": -MAX_ID, "maximum": MAX_ID}
        for v in validators:
            if isinstance(v, NumberRange):
                if v.min is not None:
                    schema["minimum"] = v.min
                if v.max is not None:
                    schema["maximum"] = v.max
    elif issubclass(cls, DateField):
        schema = {"type": "string", "format": "date"}
    elif issubclass(cls, FieldList):
        inner = unbound.args[0] if unbound.args else unbound.kwargs.get("unbound_field")
        schema = {"type": "array", "items": field_schema(inner) if inner is not None else {}}
    elif issubclass(cls, FormField):
        form_class = unbound.args[0] if unbound.args else unbound.kwargs["form_class"]
        schema = form_schema(form_class)
    elif issubclass(cls, SelectField | SelectMultipleField):
        coerce = unbound.kwargs.get("coerce", str)
        choices = unbound.kwargs.get("choices")
        if coerce is not str:
            item: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        elif choices and not callable(choices):
            values = [c[0] if isinstance(c, tuple) else getattr(c, "value", c) for c in choices]
            item = {"type": "string", "enum": [str(v) for v in values]}
        else:
            item = {"type": "string"}
        schema = {"type": "array", "items": item} if issubclass(cls, SelectMultipleField) \
            else item
    else:  # StringField, TextAreaField, EmailField, PasswordField ...
        schema = {"type": "string"}
        for v in validators:
            if isinstance(v, Length):
                if v.max is not None and v.max >= 0:
                    schema["maxLength"] = v.max
                if v.min is not None and v.min > 0:
                    schema["minLength"] = v.min
    if not _is_required(unbound) and "type" in schema:
        schema = {**schema, "type": [schema["type"], "null"]}
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    label = unbound.args[0] if unbound.args and isinstance(unbound.args[0], str) \
        else unbound.kwargs.get("label")
    if isinstance(label, str):
        schema["title"] = label
    return schema


def _unbound(form_class: type[Form]) -> list[tuple[str, Any]]:
    found = []
    for name in dir(form_class):
        unbound = getattr(form_class, name, None)
        if getattr(unbound, "field_class", None) is not None:
            found.append((name, unbound))
    return sorted(found, key=lambda item: item[1].creation_counter)


def form_schema(form_class: type[Form], *, aliases: dict[str, str] | None = None,
                partial: bool = False, extra: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON object with the form's fields under their API names; unknown keys are
    refused (validate_json answers 422), so additionalProperties is false."""
    to_api = {field: name for name, field in (aliases or {}).items()}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, unbound in _unbound(form_class):
        api_name = to_api.get(name, name)
        properties[api_name] = field_schema(unbound)
        if _is_required(unbound) and not partial:
            required.append(api_name)
    for name in extra:
        properties.setdefault(name, {})
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False,
                              "title": form_class.__name__}
    if required:
        schema["required"] = required
    return schema


# --- what a view validates, read from its source ----------------------------------------

class _ViewReading(ast.NodeVisitor):
    def __init__(self) -> None:
        self.forms: list[ast.Call] = []
        self.body_keys: list[str] = []
        self.query_args: list[tuple[str, bool]] = []
        self.files: list[str] = []
        self.form_keys: list[tuple[str, bool]] = []
        self.reads_body = False
        self.calls: list[str] = []

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        func = node.func
        name = func.id if isinstance(func, ast.Name) else (
            func.attr if isinstance(func, ast.Attribute) else "")
        if name == "validate_json":
            self.forms.append(node)
        if name in ("json_body", "get_json"):
            self.reads_body = True
        if isinstance(func, ast.Name):
            self.calls.append(func.id)
        first = node.args[0] if node.args else None
        key = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) \
            else None
        if isinstance(func, ast.Attribute) and key is not None and func.attr in ("get", "pop"):
            owner = func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else (
                owner.attr if isinstance(owner, ast.Attribute) else "")
            typed = any(kw.arg == "type" for kw in node.keywords)
            if owner_name == "args":
                self.query_args.append((key, typed))
            elif owner_name == "files":
                self.files.append(key)
            elif owner_name == "form":
                self.form_keys.append((key, typed))
            elif owner_name == "payload":
                self.body_keys.append(key)
        self.generic_visit(node)


def _source_tree(function: Callable[..., Any]) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None


def _resolve(node: ast.AST, namespace: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, namespace)
        return getattr(owner, node.attr, None) if owner is not None else None
    if isinstance(node, ast.Constant):
        return node.value
    return None


def read_view(view: Callable[..., Any], depth: int = 2) -> dict[str, Any]:
    """The forms a view validates its JSON body with (and their options), the body keys it
    reads itself, and its query parameters; helpers it calls are read too."""
    found: dict[str, Any] = {"forms": [], "body_keys": [], "query": {}, "reads_body": False,
                             "files": [], "form_keys": {}}
    function = inspect.unwrap(view)
    tree = _source_tree(function)
    if tree is None:
        return found
    reading = _ViewReading()
    reading.visit(tree)
    namespace = function.__globals__
    for call in reading.forms:
        form_class = _resolve(call.args[0], namespace) if call.args else None
        if not (isinstance(form_class, type) and issubclass(form_class, Form)):
            continue
        options = {kw.arg: _resolve(kw.value, namespace) for kw in call.keywords if kw.arg}
        found["forms"].append((form_class, options.get("aliases") or {},
                               bool(options.get("partial"))))
    found["body_keys"] = list(dict.fromkeys(reading.body_keys))
    found["reads_body"] = reading.reads_body or bool(reading.forms)
    for key, typed in reading.query_args:
        found["query"].setdefault(key, typed)
    found["files"] = list(dict.fromkeys(reading.files))
    for key, typed in reading.form_keys:
        found["form_keys"].setdefault(key, typed)
    if depth:
        for name in dict.fromkeys(reading.calls):
            helper = namespace.get(name)
            if inspect.isfunction(helper) and helper is not function \
                    and helper.__module__.startswith("app."):
                inner = read_view(helper, depth - 1)
                found["forms"] += inner["forms"]
                found["body_keys"] += [k for k in inner["body_keys"]
                                       if k not in found["body_keys"]]
                for key, typed in inner["query"].items():
                    found["query"].setdefault(key, typed)
                found["reads_body"] = found["reads_body"] or inner["reads_body"]
    return found


# --- the document -----------------------------------------------------------------------

def _path_and_parameters(rule: Rule) -> tuple[str, list[dict[str, Any]]]:
    path = rule.rule
    parameters = []
    for name, converter in rule._converters.items():  # noqa: SLF001 - werkzeug keeps no public map
        if isinstance(converter, IntegerConverter):
            schema: dict[str, Any] = {"type": "integer", "minimum": converter.min or 0,
                                      "maximum": converter.max if converter.max is not None
                                      else MAX_ID}
        else:
            schema = {"type": "string", "pattern": "^[^/]+$"}
        parameter: dict[str, Any] = {"name": name, "in": "path", "required": True,
                                     "schema": schema}
        if isinstance(converter, IntegerConverter):
            parameter["example"] = 1  # the first row of its kind
        parameters.append(parameter)
    for name in rule.arguments:
        path = path.replace(f"<{_converter_text(rule, name)}>", "{" + name + "}")
    return path, parameters


def _converter_text(rule: Rule, name: str) -> str:
    for piece in rule.rule.split("<")[1:]:
        inside = piece.split(">", 1)[0]
        if inside.split(":")[-1] == name:
            return inside
    return name


def _responses(method: str, binary: str | None) -> dict[str, Any]:
    error = {"description": "An error", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    ok_content = {binary: {"schema": {"type": "string", "format": "binary"}}} \
        if binary else {"application/json": {"schema": {}}}
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": ok_content},
    }
    if method == "post":
        responses["201"] = {"description": "Created", "content": ok_content}
    if method == "delete":
        responses["204"] = {"description": "Deleted"}
    for status, description in ERROR_STATUSES.items():
        responses[str(status)] = {**error, "description": description}
    return responses


def build(app: Flask) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/") or rule.endpoint == OPENAPI_ENDPOINT:
            continue
        view = app.view_functions[rule.endpoint]
        reading = read_view(view)
        path, parameters = _path_and_parameters(rule)
        for method in METHODS:
            if method.upper() not in (rule.methods or ()):
                continue
            operation: dict[str, Any] = {
                "operationId": rule.endpoint.replace(".", "_"),
                "summary": (inspect.getdoc(view) or rule.endpoint).split("\n")[0],
                "tags": [rule.rule.split("/")[2]],
                "parameters": parameters + [
                    {"name": key, "in": "query", "required": False,
                     "schema": _scalar_schema(typed or key in ("page", "limit"))}
                    for key, typed in reading["query"].items()],
                "responses": _responses(method, binary=getattr(view, "produces", None) or (
                    "application/pdf" if rule.rule.endswith("/pdf") else None)),
            }
            if method != "get" and reading["files"]:
                operation["requestBody"] = {"required": True, "content": {
                    "multipart/form-data": {"schema": _multipart_schema(reading)}}}
            elif method != "get" and reading["reads_body"]:
                operation["requestBody"] = {"required": method != "post" or bool(
                    reading["forms"]) or bool(reading["body_keys"]), "content": {
                    "application/json": {"schema": _body_schema(reading, method)}}}
            paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Credwright JSON API", "version": "1",
                 "description": "Generated from the forms that validate each request "
                                "(app/web/openapi.py). Authenticate with a personal API "
                                "token: `Authorization: Bearer <token>`."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _scalar_schema(integer: bool) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID} if integer \
        else {"type": "string"}


def _multipart_schema(reading: dict[str, Any]) -> dict[str, Any]:
    """The files (`request.files.get(...)`) and fields (`request.form.get(...)`) a view
    reads from a multipart body."""
    properties: dict[str, Any] = {key: {"type": "string", "format": "binary"}
                                  for key in reading["files"]}
    properties.update({key: _scalar_schema(typed) for key, typed
                       in reading["form_keys"].items()})
    return {"type": "object", "properties": properties, "required": list(reading["files"]),
            "additionalProperties": False}


def _body_schema(reading: dict[str, Any], method: str) -> dict[str, Any]:
    forms = reading["forms"]
    if not forms:
        # The keys the view reads itself (of any JSON type: the view checks them).
        return {"type": "object", "properties": {k: {} for k in reading["body_keys"]},
                "additionalProperties": False}
    form_class, aliases, partial = forms[0]
    return form_schema(form_class, aliases=aliases, partial=partial or method == "patch",
                       extra=reading["body_keys"])


OPENAPI_ENDPOINT = "openapi.document"
bp = Blueprint("openapi", __name__)


@bp.route("/api/openapi.json")
def document() -> Any:
    """The OpenAPI 3.1 document of this API (public: it holds no data); built once per app."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if "openapi" not in app.extensions:
        app.extensions["openapi"] = build(app)
    return jsonify(app.extensions["openapi"])
