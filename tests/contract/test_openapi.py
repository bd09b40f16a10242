"""The OpenAPI document is the contract other systems build against: complete, with
examples that the service itself accepts, and the real problem shapes."""

from __future__ import annotations

import pytest

from tests.contract.routes import app_routes

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def doc() -> dict:
    from lims.config import Settings
    from lims.main import create_app

    app = create_app(Settings(database_url="sqlite:///:memory:"))
    app.state.engine.dispose()
    return app.openapi()


def _operations(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def test_every_route_of_the_app_is_in_the_document(doc):
    documented = {(p, m.upper()) for p, m, _ in _operations(doc)}
    routed = {(r.path, m) for r in app_routes() if r.route.include_in_schema
              for m in r.methods - {"HEAD"}}
    assert routed - documented == set()


def test_every_operation_has_a_summary_and_a_readable_id(doc):
    bare = [(p, m) for p, m, op in _operations(doc) if not op.get("summary")]
    assert bare == []
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert len(ids) == len(set(ids))
    assert all(i.replace("_", "").isalnum() and i.islower() for i in ids)


def test_every_request_body_has_an_example(doc):
    missing = [(p, m, ct) for p, m, op in _operations(doc)
               for ct, media in op.get("requestBody", {}).get("content", {}).items()
               if "example" not in media and "examples" not in media]
    assert missing == []


def test_every_event_has_its_example_and_its_data_fields(doc):
    from lims.domain import workflow

    body = doc["paths"]["/api/v1/samples/{sample_id}/transitions"]["post"]["requestBody"]
    media = body["content"]["application/json"]
    assert set(media["examples"]) == {t.event for t in workflow.TRANSITIONS}
    schemas = doc["components"]["schemas"]
    start = schemas["StartProcessingData"]["properties"]
    assert "method" in start and "description" in start["method"]


def test_every_error_response_is_a_problem_with_its_fields(doc):
    bad = []
    for path, method, op in _operations(doc):
        for code, answer in op["responses"].items():
            if not code.startswith("4"):
                continue
            content = answer.get("content", {})
            if path.startswith("/api/v1/fhir/"):
                ok = "OperationOutcome" in str(content.get("application/fhir+json"))
            else:
                ok = content.get(PROBLEM, {}).get("schema") == {
                    "$ref": "#/components/schemas/Problem"}
            if not ok:
                bad.append((path, method, code))
    assert bad == []
    problem = doc["components"]["schemas"]["Problem"]["properties"]
    assert {"type", "title", "status", "detail", "errors", "allowed_events",
            "blocked_by"} <= set(problem)


def test_the_api_key_is_a_security_scheme_not_a_parameter(doc):
    schemes = doc["components"]["securitySchemes"]
    assert {"type": "apiKey", "in": "header", "name": "X-API-Key"}.items() <= \
        schemes["ApiKey"].items()
    params = [p["name"].lower() for _, _, op in _operations(doc)
              for p in op.get("parameters", [])]
    assert "x-api-key" not in params
    secured = doc["paths"]["/api/v1/samples"]["get"]["security"]
    assert {"ApiKey": []} in secured


def test_every_write_documents_idempotency_and_if_match(doc):
    for path, method, op in _operations(doc):
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        if method == "post" and path != "/api/v1/auth/token":
            assert "Idempotency-Key" in names, path
        if method in ("post", "put", "patch") and any(
                f"{{{x}}}" in path for x in ("sample_id", "donor_id", "user_id")):
            assert "If-Match" in names, path
            assert "412" in op["responses"], path
