"""order_system/openapi.yaml as a checker of real responses (shared by the order tests).

OpenAPI 3.0 schemas are almost JSON Schema; the two differences the description uses
(`nullable` and the boolean `exclusiveMinimum`) are translated, then `jsonschema`
validates a response body against the schema the description gives for its route.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "order_system" / "openapi.yaml"


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """The parsed openapi.yaml."""
    document = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema (or a whole document) as JSON Schema draft 7."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items()}
    if converted.get("exclusiveMinimum") is True:
        converted["exclusiveMinimum"] = converted.pop("minimum")
    if converted.pop("nullable", False):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        else:
            return {"anyOf": [{"type": "null"}, converted]}
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


@lru_cache(maxsize=1)
def _converted_document() -> dict[str, Any]:
    return to_json_schema(openapi_document())


def response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    """The JSON Schema openapi.yaml gives for a response (path as in the description)."""
    document = _converted_document()
    response = document["paths"][path][method.lower()]["responses"][str(status)]
    if "$ref" in response:
        response = _resolve(document, response["$ref"])
    return response["content"]["application/json"]["schema"]


def _resolve(document: dict[str, Any], reference: str) -> dict[str, Any]:
    node: Any = document
    for part in reference.removeprefix("#/").split("/"):
        node = node[part]
    return node


def assert_matches_description(path: str, method: str, status: int, body: Any) -> None:
    """Fails when `body` is not what openapi.yaml promises for this response."""
    schema = response_schema(path, method, status)
    resolver = jsonschema.RefResolver.from_schema(_converted_document())
    jsonschema.Draft7Validator(schema, resolver=resolver).validate(body)
