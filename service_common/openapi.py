"""A service's openapi.yaml as the one statement of what its API accepts.

The document is loaded once; request bodies are validated against its component schemas
and query, path and header parameters against its parameter schemas, so that lengths,
patterns, enums and ranges are written only in openapi.yaml. OpenAPI 3.0 schemas are
JSON Schema draft 4 plus `nullable` (translated here), so jsonschema's draft 4 validator
checks them; draft 4 also keeps `3.0` from passing as an integer and reads the boolean
`exclusiveMinimum` as OpenAPI 3.0 does. Formats are not checked: times are parsed by the
services themselves, which need them in UTC.

An error becomes an `ApiError` 422 whose code is `x-error-code` of the nearest schema on
the way to the failing keyword that declares one, else `unknown_field` for a field the
schema does not list, else `invalid_<field>` for the innermost field named in the error's
path. Its message names the field and the reason, from the schema alone: never the input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator, RefResolver, validators
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from service_common.http import ApiError

ERROR_CODE_KEY = "x-error-code"
# Unknown field names are echoed only when they are plain identifiers, never raw input.
_SHOWN_FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def _whole_string_pattern(
    validator: Validator, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterable[ValidationError]:
    """`pattern` with `$` meaning the end of the string, as in ECMA 262 (Python's `$` also
    matches before a final line break, which would let "8000\\n" pass `^[0-9]{4}$`)."""
    if not isinstance(instance, str):
        return
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    if not re.search(pattern, instance):
        yield ValidationError(f"does not match {pattern!r}")


# OpenAPI 3.0 schemas are draft 4 schemas, with patterns read as ECMA 262 reads them.
SchemaValidator = validators.extend(Draft4Validator, {"pattern": _whole_string_pattern})


class InvalidParameterError(ValueError):
    """A parameter value that its schema refuses; the message names the parameter, not the value."""


def to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema (or a whole document) as JSON Schema draft 4.

    `nullable: true` becomes a `null` type (and a `None` in an enum), or, on a schema
    without a type (an `allOf` of a reference), an `anyOf` with `{"type": "null"}` first;
    such a wrapper keeps the schema's `x-error-code`.
    """
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items()}
    if not converted.pop("nullable", False):
        return converted
    if "type" not in converted:
        wrapper: dict[str, Any] = {"anyOf": [{"type": "null"}, converted]}
        if ERROR_CODE_KEY in converted:
            wrapper[ERROR_CODE_KEY] = converted[ERROR_CODE_KEY]
        return wrapper
    converted["type"] = [converted["type"], "null"]
    if "enum" in converted:
        converted["enum"] = [*converted["enum"], None]
    return converted


class OpenApiSchemas:
    """The schemas of one openapi.yaml, each validator built once, on first use.

    Args:
        document: The parsed openapi.yaml (OpenAPI 3.0).
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document: dict[str, Any] = to_json_schema(dict(document))
        self._resolver = RefResolver.from_schema(self._document)
        self._validators: dict[str, Validator] = {}

    @classmethod
    def load(cls, path: Path) -> OpenApiSchemas:
        """Reads and parses `path`, and checks that every component schema is valid."""
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise ValueError(f"{path} is not an OpenAPI document")
        schemas = cls(document)
        for schema in schemas._document.get("components", {}).get("schemas", {}).values():
            SchemaValidator.check_schema(schema)
        return schemas

    def schema(self, reference: str) -> dict[str, Any]:
        """The translated schema (or parameter) at `reference`, e.g. `#/components/schemas/NewRefund`."""
        _, resolved = self._resolver.resolve(reference)
        if not isinstance(resolved, dict):
            raise KeyError(reference)
        return resolved

    def check_body(self, reference: str, body: object) -> None:
        """Validates a request body against the schema at `reference`.

        Raises:
            ApiError: 422, coded and worded as the module docstring says.
        """
        errors = list(self._validator(reference).iter_errors(body))
        if errors:
            schema = self.schema(reference)
            first = min(errors, key=lambda error: _precedence(error, schema))
            raise self._api_error(first, schema)

    def parameter(self, reference: str, raw: str | None) -> Any:
        """The value of a query, path or header parameter, converted as its schema says.

        Integers are parsed; an array (`style: form`, `explode: false`) is split at commas
        and stripped. An absent or empty value is the schema's `default` (None without one).

        Raises:
            InvalidParameterError: When the schema refuses the value.
        """
        parameter = self.schema(reference)
        schema = parameter["schema"]
        if raw is None or raw == "":
            return schema.get("default")
        value = _converted(raw, schema, parameter["name"])
        errors = list(self._validator(f"{reference}/schema").iter_errors(value))
        if errors:
            raise InvalidParameterError(self._api_error(errors[0], schema, field=parameter["name"]).message)
        return value

    def _validator(self, reference: str) -> Validator:
        validator = self._validators.get(reference)
        if validator is None:
            validator = SchemaValidator(self.schema(reference), resolver=self._resolver)
            self._validators[reference] = validator
        return validator

    def _api_error(
        self, error: ValidationError, root: dict[str, Any], *, field: str | None = None
    ) -> ApiError:
        error = _without_null_branch(error)
        where: list[object] = list(error.absolute_path)
        nodes = list(self._schemas_along(root, error.absolute_schema_path))
        declared = [node[ERROR_CODE_KEY] for node in nodes if ERROR_CODE_KEY in node]
        if error.validator == "additionalProperties":
            return _unknown_fields_error(error, declared[-1] if declared else "unknown_field")
        if error.validator == "required":
            missing = next(name for name in error.validator_value if name not in error.instance)
            where.append(missing)
            property_schema = error.schema.get("properties", {}).get(missing)
            if isinstance(property_schema, dict) and ERROR_CODE_KEY in property_schema:
                declared.append(property_schema[ERROR_CODE_KEY])
        fields = [part for part in where if isinstance(part, str)]
        if declared:
            code = declared[-1]
        else:
            code = f"invalid_{fields[-1] if fields else field or 'body'}"
        named = _path_text([field, *where] if field else where) or "the body"
        return ApiError(422, code, f"{named} {_reason(error)}")

    def _schemas_along(self, root: dict[str, Any], schema_path: Iterable[Any]) -> Iterable[dict[str, Any]]:
        """The schemas from `root` to the failing keyword, references followed."""
        node: Any = root
        yield node
        for key in schema_path:
            # jsonschema leaves `$ref` out of the path: the next key is the referenced schema's.
            while isinstance(node, dict) and "$ref" in node and key not in node:
                _, node = self._resolver.resolve(node["$ref"])
                yield node
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                node = node[key]
            else:
                return
            if isinstance(node, dict):
                yield node


def _converted(raw: str, schema: Mapping[str, Any], name: str) -> Any:
    """A parameter's text as the type its schema gives."""
    if schema.get("type") == "integer":
        if not _INTEGER_TEXT.fullmatch(raw):
            raise InvalidParameterError(f"{name} must be an integer")
        try:
            return int(raw)
        except ValueError:  # more digits than Python converts
            raise InvalidParameterError(f"{name} must be an integer") from None
    if schema.get("type") == "array":
        return [part.strip() for part in raw.split(",")]
    return raw


def _precedence(error: ValidationError, root: Mapping[str, Any]) -> tuple[int, int]:
    """Unknown fields first, then the fields in the order the schema lists them."""
    if error.validator == "additionalProperties" and not error.absolute_path:
        return 0, 0
    fields = list(root.get("properties", {}))
    if error.absolute_path:
        top = error.absolute_path[0]
    elif error.validator == "required":
        top = next((name for name in error.validator_value if name not in error.instance), None)
    else:
        top = None
    return 1, fields.index(top) if top in fields else len(fields)


def _without_null_branch(error: ValidationError) -> ValidationError:
    """The error of the value's own schema, for a value that a `nullable` wrapper refused."""
    while error.validator == "anyOf" and error.context and error.validator_value[0] == {"type": "null"}:
        error = next(child for child in error.context if child.relative_schema_path[0] != 0)
    return error


def _unknown_fields_error(error: ValidationError, code: str) -> ApiError:
    allowed = sorted(error.schema.get("properties", {}))
    unknown = set(error.instance) - set(allowed)
    shown = sorted(name for name in unknown if _SHOWN_FIELD_NAME.fullmatch(name))
    return ApiError(
        422,
        code,
        "unknown field(s): " + (", ".join(shown) if shown else "(not shown)")
        + f"; allowed: {', '.join(allowed)}",
    )


def _reason(error: ValidationError) -> str:
    """Why the value was refused, worded from the schema only (never from the value)."""
    schema, keyword = error.schema, error.validator
    if keyword == "type":
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return "must be " + " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in types)
    if keyword == "enum":
        allowed = ("null" if value is None else str(value) for value in schema["enum"])
        return "must be one of " + ", ".join(allowed)
    if keyword == "required":
        return "is required"
    if keyword in ("minLength", "maxLength"):
        return "must be " + _bounds(schema.get("minLength"), schema.get("maxLength"), "characters")
    if keyword in ("minItems", "maxItems"):
        return "must be a list of " + _bounds(schema.get("minItems"), schema.get("maxItems"), "items")
    if keyword in ("minimum", "maximum"):
        return _range(schema)
    if keyword == "pattern":
        title = schema.get("title")
        return f"must be {title}" if title else f"must match the pattern {schema['pattern']}"
    if schema.get("title"):
        return f"must be {schema['title']}"
    return "is not of an accepted form"


def _path_text(path: Iterable[object]) -> str:
    """skus[0], context.summary: where in the body the refused value is."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _bounds(least: int | None, most: int | None, unit: str) -> str:
    if least is not None and most is not None:
        return f"{least} to {most} {unit}"
    if most is not None:
        return f"at most {most} {unit}"
    return f"at least {least} {unit}"


def _range(schema: Mapping[str, Any]) -> str:
    kind = "an integer" if schema.get("type") == "integer" else "a number"
    least, most = schema.get("minimum"), schema.get("maximum")
    if schema.get("exclusiveMinimum") and least is not None and most is None:
        return f"must be {kind} greater than {least}"
    if least is not None and most is not None:
        return f"must be {kind} from {least} to {most}"
    if least is not None:
        return f"must be {kind} of at least {least}"
    return f"must be {kind} of at most {most}"
