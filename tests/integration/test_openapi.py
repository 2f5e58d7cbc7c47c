"""GET /api/openapi.json: a valid OpenAPI 3.1 document, generated from the routes and the
pydantic models the views validate with, so a new route or field shows up by itself."""

import inspect
import re
import shutil

import jsonschema
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from app import create_app
from app.api import introspect
from app.api.openapi import build_document
from app.api.schemas import ManualOrder, parse_body
from tests.conftest import make_config

UNDOCUMENTED = {"HEAD", "OPTIONS"}


class ProbeBody(BaseModel):
    """A model no route uses until a test adds one."""

    probe_field: int


def probe_view():
    """Probe a new route."""
    return parse_body(ProbeBody)


def hidden_model_view():
    model = ProbeBody
    return parse_body(model)


@pytest.fixture
def document(client):
    response = client.get("/api/openapi.json")  # no token, no session: it is public
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_api_rule_and_method_is_in_the_document(app, document):
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")]
    assert len(rules) > 50
    for rule in rules:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - UNDOCUMENTED:
            assert method.lower() in document["paths"][path], (method, path)


def test_bodies_are_the_models_the_views_validate_with(document):
    operation = document["paths"]["/api/orders"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ManualOrder"
    schema = document["components"]["schemas"]["ManualOrder"]
    assert set(schema["properties"]) == set(ManualOrder.model_fields)
    assert schema["additionalProperties"] is False  # unknown fields are refused
    assert "limit_price" in schema["properties"]
    halt = document["paths"]["/api/accounts/{account_id}/halt"]["post"]["requestBody"]
    assert halt["required"] is False  # parse_body(HaltRequest, optional=True)


def test_a_new_route_and_its_model_show_up_without_writing_the_document(app):
    app.add_url_rule("/api/probe/<id:probe_id>", view_func=probe_view, methods=["POST"])
    found = build_document(app)
    operation = found["paths"]["/api/probe/{probe_id}"]["post"]
    assert operation["summary"] == "Probe a new route."
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ProbeBody"}
    assert "probe_field" in found["components"]["schemas"]["ProbeBody"]["properties"]
    [parameter] = operation["parameters"]
    assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    validate(found)


def test_a_body_model_the_document_cannot_name_stops_the_build(app):
    app.add_url_rule("/api/hidden", view_func=hidden_model_view, methods=["POST"])
    with pytest.raises(TypeError, match="named directly"):
        build_document(app)


def test_paths_queries_security_and_statuses_come_from_the_code(document):
    accounts = document["paths"]["/api/accounts/{account_id}"]
    [parameter] = accounts["get"]["parameters"]
    assert parameter["in"] == "path" and parameter["schema"]["type"] == "integer"
    assert set(accounts["delete"]["responses"]) >= {"204", "401", "404", "4XX"}
    assert "201" in document["paths"]["/api/accounts"]["post"]["responses"]
    orders = document["paths"]["/api/orders"]["get"]
    queries = {p["name"]: p["schema"] for p in orders["parameters"]}
    assert queries["account_id"]["type"] == "integer" and queries["status"]["type"] == "string"
    since = document["paths"]["/api/webhook-events"]["get"]["parameters"]
    assert {"name": "since", "in": "query", "required": False} | {
        "schema": {"type": "string", "format": "date-time"}
    } in since
    assert orders["security"] == [{"apiToken": []}, {"session": []}]
    writes = document["paths"]["/api/orders"]["post"]["security"]
    assert {"session": [], "csrfToken": []} in writes
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiToken"] == schemes["apiToken"] | {"type": "http", "scheme": "bearer"}
    assert schemes["csrfToken"]["name"] == "X-CSRF-Token"
    assert document["paths"]["/api/openapi.json"]["get"]["security"] == []


def test_a_real_refusal_matches_the_error_component(api, document):
    answer = api.post("/api/orders", {"symbol": "MES1!", "extra": 1})
    assert answer.status_code == 400
    component = document["components"]["schemas"]["Error"]
    jsonschema.validate(answer.get_json(), component)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"error": {"code": "x", "message": "y"}}, component)


def test_every_operation_but_the_document_needs_a_token_or_session(client, document):
    """The document's security is what the API's gate does: without credentials, 401."""
    for path, operations in document["paths"].items():
        if path == "/api/openapi.json":
            continue
        for method in operations:
            response = client.open(re.sub(r"\{\w+\}", "1", path), method=method)
            assert response.status_code == 401, (method, path)
            assert response.get_json()["error"]["code"] == "unauthorized"


def test_the_document_describes_the_code_imported_not_the_files_replaced_since(
    tmp_path, migrated_schema, monkeypatch
):
    """A deploy that replaces the files under a running server: the views' source was read
    when the app was built, so the document still comes (it was a 500 when read late)."""
    introspect._module_tree.cache_clear()
    shutil.copyfile(migrated_schema, tmp_path / "test.db")
    served = create_app(make_config(tmp_path))

    def files_gone(_module):
        raise OSError("could not get source code")

    monkeypatch.setattr(inspect, "getsource", files_gone)
    with served.test_client() as client:
        answer = client.get("/api/openapi.json")
    assert answer.status_code == 200
    assert "/api/analytics/monthly-review" in answer.get_json()["paths"]
