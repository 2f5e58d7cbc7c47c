"""GET /api/openapi.json: an OpenAPI 3.1 document of the JSON API, generated from the code.

The paths and methods come from the app's url_map (every rule under /api), the request
bodies from the pydantic models the views validate with (app.api.introspect finds them),
the descriptions from the views' docstrings. Nothing is written by hand, so the document
cannot drift from what the API does.

The document is public, like the README that lists the same calls: it holds no secret
and no data, and a trader's tooling (Swagger UI, a client generator) fetches it before it
has a session. The calls it describes still need a token or a session.
"""

import inspect
import logging
import re

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel
from werkzeug.routing import Rule, parse_converter_args
from werkzeug.routing.converters import (
    FloatConverter,
    NumberConverter,
    PathConverter,
    UUIDConverter,
)

from app.api.introspect import ViewContract, contract_of, remember_source

logger = logging.getLogger(__name__)

bp = Blueprint("openapi", __name__, url_prefix="/api")

API_PREFIX = "/api/"
DOCUMENT_PATH = "/api/openapi.json"
OPENAPI_VERSION = "3.1.0"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
UNDOCUMENTED_METHODS = {"HEAD", "OPTIONS"}  # Flask answers these for every rule
REF = "#/components/schemas/{model}"
VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<args>.*?)\))?:)?(?P<name>\w+)>")

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every refusal (DESIGN §5.4): a 4xx status with this body.",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "The fields at fault and what is wrong with each; {} if none.",
                    "additionalProperties": {"type": "string"},
                },
            },
        }
    },
}


@bp.get("/openapi.json")
def document():
    """This document: OpenAPI 3.1, generated from the routes and their pydantic models."""
    cached = current_app.extensions.get("openapi_document")
    if cached is None:
        cached = current_app.extensions["openapi_document"] = build_document(current_app)
    return jsonify(cached)


def read_view_sources(app: Flask) -> None:
    """Read the API views' source now, while it is the code just imported: the document is
    built from it at the first request, and a deploy that replaced the files under a
    running server would otherwise describe (or fail to find) code that is not running.
    Parsed once per process."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX):
            remember_source(app.view_functions[rule.endpoint])


def build_document(app: Flask) -> dict:
    schemas: dict[str, dict] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(API_PREFIX):
            continue
        contract = contract_of(app.view_functions[rule.endpoint])
        if contract.body is not None:
            _add_model(contract.body, schemas)
        methods = sorted(rule.methods - UNDOCUMENTED_METHODS)
        for method in methods:
            suffix = f"_{method.lower()}" if len(methods) > 1 else ""
            operation = _operation(app, rule, method, contract, suffix)
            paths.setdefault(_openapi_path(rule), {})[method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "DeskPilot JSON API",
            "version": "1",
            "description": (
                "Under /api. Authenticate with `Authorization: Bearer <api token>` "
                "(`python run.py token`), or with the owner's session cookie plus the "
                "page's CSRF token in `X-CSRF-Token` on writes. Decimals travel as strings, "
                "times as ISO 8601 UTC."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "Refused: the error shape.",
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="Error")}}
                    },
                }
            },
            "securitySchemes": _security_schemes(app),
        },
    }


def _operation(app: Flask, rule: Rule, method: str, contract: ViewContract, suffix: str) -> dict:
    view = app.view_functions[rule.endpoint]
    doc = inspect.getdoc(view)
    name = rule.endpoint.removeprefix("api.")
    operation: dict = {
        "operationId": name + suffix,
        "tags": [name.split(".")[0]],
        "summary": doc.split("\n\n")[0].replace("\n", " ") if doc else _words(view.__name__),
    }
    if doc:
        operation["description"] = doc
    parameters = _path_parameters(app, rule) + [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in sorted(contract.query.items())
    ]
    if parameters:
        operation["parameters"] = parameters
    body = _request_body(contract)
    if body is not None and method not in SAFE_METHODS:
        operation["requestBody"] = body
    takes_input = bool(contract.query or operation.get("requestBody"))  # a bad path id is 404
    operation["responses"] = _responses(contract, takes_input, rule)
    if rule.rule == DOCUMENT_PATH:
        operation["security"] = []  # public: see the module's docstring
    elif method in SAFE_METHODS:
        operation["security"] = [{"apiToken": []}, {"session": []}]
    else:
        operation["security"] = [{"apiToken": []}, {"session": [], "csrfToken": []}]
    return operation


def _request_body(contract: ViewContract) -> dict | None:
    if contract.declared_body is not None:
        return contract.declared_body
    if contract.body is None:
        return None
    schema = {"$ref": REF.format(model=contract.body.__name__)}
    return {
        "required": not contract.body_optional,
        "content": {"application/json": {"schema": schema}},
    }


def _responses(contract: ViewContract, takes_input: bool, rule: Rule) -> dict:
    responses: dict = {}
    for status in sorted(contract.statuses):
        if status == 204:
            responses["204"] = {"description": "Done; no body."}
        else:
            responses[str(status)] = {
                "description": "Success.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
    error = {"$ref": "#/components/responses/Error"}
    if takes_input:
        responses["400"] = error
    if rule.rule != DOCUMENT_PATH:
        responses["401"] = error
    if rule.arguments:
        responses["404"] = error
    responses["4XX"] = error  # the services' refusals: 409, 422, 423, 429 …
    return responses


def _add_model(model: type[BaseModel], schemas: dict) -> None:
    """The model and the models it nests, each a component of its own."""
    schema = model.model_json_schema(ref_template=REF)
    for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two request models are both named {name!r}")


def _openapi_path(rule: Rule) -> str:
    return VARIABLE.sub(lambda m: "{" + m["name"] + "}", rule.rule)


def _path_parameters(app: Flask, rule: Rule) -> list[dict]:
    parameters = []
    for match in VARIABLE.finditer(rule.rule):
        converter_class = app.url_map.converters[match["converter"] or "default"]
        args, kwargs = parse_converter_args(match["args"]) if match["args"] else ((), {})
        converter = converter_class(app.url_map, *args, **kwargs)
        parameters.append(
            {
                "name": match["name"],
                "in": "path",
                "required": True,
                "schema": _converter_schema(converter),
            }
        )
    return parameters


def _converter_schema(converter) -> dict:
    """`<int:id>` → integer (with the converter's bounds), `<uuid:…>` → uuid, else string."""
    if isinstance(converter, NumberConverter):
        schema: dict = {"type": "number" if isinstance(converter, FloatConverter) else "integer"}
        if converter.min is not None or not converter.signed:
            schema["minimum"] = converter.min if converter.min is not None else 0
        if converter.max is not None:
            schema["maximum"] = converter.max
        return schema
    if isinstance(converter, UUIDConverter):
        return {"type": "string", "format": "uuid"}
    if isinstance(converter, PathConverter):
        return {"type": "string"}
    return {"type": "string", "pattern": "^[^/]+$"}


def _security_schemes(app: Flask) -> dict:
    return {
        "apiToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The API token from `python run.py token` or the settings page.",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": app.config["SESSION_COOKIE_NAME"],
            "description": "The owner's session, from logging in on /login.",
        },
        "csrfToken": {
            "type": "apiKey",
            "in": "header",
            "name": "X-CSRF-Token",
            "description": "The page's CSRF token; a session's writes need it.",
        },
    }


def _words(name: str) -> str:
    return name.replace("_", " ").capitalize()
