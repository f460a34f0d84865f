"""order_system/openapi.yaml describes exactly the routes the app registers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from sanic import Sanic

from order_system.app import create_app
from order_system.settings import Settings
from tests.order_system.contract import openapi_document, to_json_schema

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


@pytest.fixture(scope="module")
def app() -> Iterator[Sanic]:
    application = create_app(Settings(token="test-token"))
    yield application
    # Sanic keeps a registry of app names; leave it as it was for other tests.
    Sanic._app_registry.pop(application.name, None)


def sanic_path_to_openapi(path: str) -> str:
    """api/orders/<order_id:str>/returns -> /api/orders/{order_id}/returns"""
    return "/" + re.sub(r"<([A-Za-z_][A-Za-z0-9_]*)(?::[^>]*)?>", r"{\1}", path.strip("/"))


def registered_operations(app: Sanic) -> set[tuple[str, str]]:
    return {
        (sanic_path_to_openapi(route.path), method.lower())
        for route in app.router.routes
        for method in route.methods
    }


def described_operations() -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_openapi_parses_as_openapi_3_0() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.0.")
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The value of ORDERS_TOKEN.",
    }
    assert document["security"] == [{"bearerAuth": []}]


def test_sanic_path_conversion() -> None:
    assert sanic_path_to_openapi("api/orders/<order_id:str>/returns") == (
        "/api/orders/{order_id}/returns"
    )
    assert sanic_path_to_openapi("health") == "/health"


def test_described_routes_are_exactly_the_registered_ones(app: Sanic) -> None:
    registered = registered_operations(app)
    assert len(registered) == 10
    assert described_operations() == registered


def test_only_health_is_open(app: Sanic) -> None:
    open_operations = {
        (path, method)
        for path, item in openapi_document()["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS and operation.get("security") == []
    }
    assert open_operations == {("/health", "get")}


def test_every_path_parameter_is_declared() -> None:
    document = openapi_document()
    for path, item in document["paths"].items():
        in_path = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            declared = {
                _resolve_parameter(document, parameter)["name"]
                for parameter in operation.get("parameters", [])
                if _resolve_parameter(document, parameter)["in"] == "path"
            }
            assert declared == in_path, f"{method.upper()} {path}"


def test_creating_operations_require_the_idempotency_key() -> None:
    document = openapi_document()
    for path in ("/api/orders/{order_id}/returns", "/api/orders/{order_id}/refunds"):
        parameters = [
            _resolve_parameter(document, parameter)
            for parameter in document["paths"][path]["post"]["parameters"]
        ]
        headers = [parameter for parameter in parameters if parameter["in"] == "header"]
        assert [(header["name"], header["required"]) for header in headers] == [
            ("Idempotency-Key", True)
        ]
        assert set(document["paths"][path]["post"]["responses"]) >= {"200", "201", "409"}


def test_every_error_response_has_the_error_shape() -> None:
    document = openapi_document()
    error_ref = {"$ref": "#/components/schemas/Error"}
    for name, response in document["components"]["responses"].items():
        assert response["content"]["application/json"]["schema"] == error_ref, name
    assert document["components"]["schemas"]["Error"]["properties"]["error"]["required"] == [
        "code",
        "message",
    ]


def test_every_reference_resolves() -> None:
    document = openapi_document()
    references = list(_references(document))
    assert references
    for reference in references:
        node: Any = document
        for part in reference.removeprefix("#/").split("/"):
            assert part in node, reference
            node = node[part]


def test_converted_schemas_are_valid_json_schema() -> None:
    for schema in to_json_schema(openapi_document())["components"]["schemas"].values():
        jsonschema.Draft7Validator.check_schema(schema)


def test_nullable_translation() -> None:
    assert to_json_schema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert to_json_schema({"allOf": [{"$ref": "#/x"}], "nullable": True}) == {
        "anyOf": [{"type": "null"}, {"allOf": [{"$ref": "#/x"}]}]
    }
    assert to_json_schema({"type": "number", "minimum": 0, "exclusiveMinimum": True}) == {
        "type": "number",
        "exclusiveMinimum": 0,
    }


def _resolve_parameter(document: dict[str, Any], parameter: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in parameter:
        return parameter
    node: Any = document
    for part in parameter["$ref"].removeprefix("#/").split("/"):
        node = node[part]
    return node


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)
