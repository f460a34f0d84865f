"""Validating bodies and parameters against an OpenAPI 3.0 document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema.exceptions import SchemaError

from service_common.http import ApiError
from service_common.openapi import InvalidParameterError, OpenApiSchemas, to_json_schema

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "components": {
        "parameters": {
            "Limit": {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
            },
            "Statuses": {
                "name": "status",
                "in": "query",
                "style": "form",
                "explode": False,
                "schema": {"type": "array", "items": {"type": "string", "enum": ["open", "closed"]}},
            },
            "Code": {
                "name": "code",
                "in": "path",
                "schema": {"type": "string", "pattern": "^[0-9]{4}$", "title": "exactly 4 digits"},
            },
        },
        "schemas": {
            "Line": {"type": "string", "pattern": "^[^\\x00-\\x1f\\ud800-\\udfff]*$", "title": "one line"},
            "Note": {
                "type": "object",
                "additionalProperties": False,
                "required": ["text", "count"],
                "properties": {
                    "text": {"allOf": [{"$ref": "#/components/schemas/Line"}], "minLength": 1, "maxLength": 5},
                    "count": {"type": "integer", "minimum": 0, "maximum": 9},
                    "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "enum": ["a", "b"]}},
                    "extra": {"allOf": [{"$ref": "#/components/schemas/Extra"}], "nullable": True},
                },
            },
            "Extra": {
                "type": "object",
                "x-error-code": "invalid_extra_part",
                "additionalProperties": False,
                "properties": {"size": {"type": "integer"}},
            },
        },
    },
}


@pytest.fixture(scope="module")
def schemas() -> OpenApiSchemas:
    return OpenApiSchemas(DOCUMENT)


def refusal(schemas: OpenApiSchemas, body: object) -> tuple[int, str, str]:
    with pytest.raises(ApiError) as raised:
        schemas.check_body("#/components/schemas/Note", body)
    return raised.value.status, raised.value.code, raised.value.message


def test_a_valid_body_passes(schemas: OpenApiSchemas) -> None:
    assert schemas.check_body("#/components/schemas/Note", {"text": "hi", "count": 0, "extra": None}) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"count": 1}, (422, "invalid_text", "text is required")),
        ({"text": "", "count": 1}, (422, "invalid_text", "text must be 1 to 5 characters")),
        ({"text": "a\nb", "count": 1}, (422, "invalid_text", "text must be one line")),
        ({"text": "\ud800", "count": 1}, (422, "invalid_text", "text must be one line")),
        ({"text": "hi", "count": 10}, (422, "invalid_count", "count must be an integer from 0 to 9")),
        ({"text": "hi", "count": 1.0}, (422, "invalid_count", "count must be an integer")),
        ({"text": "hi", "count": True}, (422, "invalid_count", "count must be an integer")),
        ({"text": "hi", "count": 1, "tags": ["c"]}, (422, "invalid_tags", "tags[0] must be one of a, b")),
        ({"text": "hi", "count": 1, "tags": ["a"] * 3}, (422, "invalid_tags", "tags must be a list of at most 2 items")),
        ({"text": "hi", "count": 1, "extra": {"size": "big"}},
         (422, "invalid_extra_part", "extra.size must be an integer")),
        ({"text": "hi", "count": 1, "extra": {"colour": 1}},
         (422, "invalid_extra_part", "unknown field(s): colour; allowed: size")),
        ({"text": "hi", "count": 1, "secret\n": 1, "z": 2},
         (422, "unknown_field", "unknown field(s): z; allowed: count, extra, tags, text")),
    ],
)
def test_refusals_are_coded_and_worded_from_the_schema(
    schemas: OpenApiSchemas, body: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    assert refusal(schemas, body) == expected


def test_unknown_fields_come_before_other_faults(schemas: OpenApiSchemas) -> None:
    assert refusal(schemas, {"text": 5, "surprise": 1})[1] == "unknown_field"


def test_the_message_never_repeats_the_value(schemas: OpenApiSchemas) -> None:
    assert "13800138000" not in refusal(schemas, {"text": "13800138000", "count": 1})[2]


def test_a_dollar_pattern_ends_at_the_end_of_the_string(schemas: OpenApiSchemas) -> None:
    assert schemas.parameter("#/components/parameters/Code", "8000") == "8000"
    with pytest.raises(InvalidParameterError) as raised:
        schemas.parameter("#/components/parameters/Code", "8000\n")
    assert str(raised.value) == "code must be exactly 4 digits"


@pytest.mark.parametrize(("raw", "expected"), [(None, 5), ("", 5), ("1", 1), ("50", 50)])
def test_integer_parameters_are_parsed_with_their_default(
    schemas: OpenApiSchemas, raw: str | None, expected: int
) -> None:
    assert schemas.parameter("#/components/parameters/Limit", raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "limit must be an integer from 1 to 50"),
        ("9" * 400, "limit must be an integer from 1 to 50"),
        ("2.5", "limit must be an integer"),
        ("abc", "limit must be an integer"),
    ],
)
def test_integer_parameters_out_of_their_schema_are_refused(
    schemas: OpenApiSchemas, raw: str, message: str
) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        schemas.parameter("#/components/parameters/Limit", raw)
    assert str(raised.value) == message


def test_array_parameters_are_split_at_commas(schemas: OpenApiSchemas) -> None:
    assert schemas.parameter("#/components/parameters/Statuses", "open, closed") == ["open", "closed"]
    with pytest.raises(InvalidParameterError) as raised:
        schemas.parameter("#/components/parameters/Statuses", "open,gone")
    assert str(raised.value) == "status[1] must be one of open, closed"


def test_nullable_translation() -> None:
    assert to_json_schema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert to_json_schema({"type": "string", "enum": ["a"], "nullable": True}) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }
    assert to_json_schema({"allOf": [{"$ref": "#/x"}], "nullable": True, "x-error-code": "c"}) == {
        "anyOf": [{"type": "null"}, {"allOf": [{"$ref": "#/x"}], "x-error-code": "c"}],
        "x-error-code": "c",
    }


def test_load_checks_every_component_schema(tmp_path: Path) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text("openapi: 3.0.3\ncomponents:\n  schemas:\n    Bad: {type: 5}\n", encoding="utf-8")
    with pytest.raises(SchemaError):
        OpenApiSchemas.load(path)
