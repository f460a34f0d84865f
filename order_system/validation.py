"""Checking what callers send before it reaches the database.

What a request may contain (lengths, patterns, enums, ranges, unknown fields) is stated
once, in openapi.yaml, and checked against it here (`service_common.openapi`). What a
schema cannot say stays in Python, each with its reason: phone numbers are normalised
before the account id is checked, amounts become `Decimal`, free text is stripped. Every
check raises `ApiError` with a stable code, so that no input, however malformed, ends as a
500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from order_system.models import CENT
from order_system.repository import NewRefund, NewReturn
from service_common.http import ApiError
from service_common.openapi import InvalidParameterError, OpenApiSchemas

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")

_PHONE_SEPARATORS = re.compile(r"[\s()-]")


@cache
def openapi_schemas() -> OpenApiSchemas:
    """openapi.yaml's schemas, loaded once per process (`create_app` loads them at start)."""
    return OpenApiSchemas.load(OPENAPI_PATH)


def order_id(value: str) -> str:
    """An order id taken from the path; one that cannot exist is simply not found (404)."""
    return _path_id("#/components/parameters/OrderId", value, "order_not_found")


def customer_id(value: str) -> str:
    """A customer id taken from the path; one that cannot exist is simply not found (404)."""
    return _path_id("#/components/parameters/CustomerId", value, "customer_not_found")


def _path_id(reference: str, value: str, not_found_code: str) -> str:
    try:
        return str(openapi_schemas().parameter(reference, value))
    except InvalidParameterError:
        raise ApiError(404, not_found_code, "no such resource") from None


def channel(value: str | None) -> str:
    """A channel name: web, wechat or phone (422 invalid_channel)."""
    return _required_query("#/components/parameters/Channel", value, "invalid_channel")


def account_id(channel_name: str, value: str | None) -> str:
    """An account id; phone numbers are normalised (+86 138-0013-8000 -> 13800138000)."""
    # Normalised before the check: the schema states what is looked up, not what is typed.
    if value is not None and channel_name == "phone":
        value = _national_phone_number(value)
    return _required_query("#/components/parameters/AccountId", value, "invalid_account_id")


def _required_query(reference: str, value: str | None, code: str) -> str:
    try:
        checked = openapi_schemas().parameter(reference, value)
    except InvalidParameterError as error:
        raise ApiError(422, code, str(error)) from None
    if checked is None:
        raise ApiError(422, code, f"{openapi_schemas().schema(reference)['name']} is required")
    return str(checked)


def _national_phone_number(value: str) -> str:
    digits = _PHONE_SEPARATORS.sub("", value)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            return digits[len(prefix):]
    if len(digits) == 13 and digits.startswith("86"):
        return digits[2:]
    return digits


def order_limit(value: str | None) -> int:
    """How many orders to list: 1 to 50, 5 when not given (422 invalid_limit)."""
    try:
        return int(openapi_schemas().parameter("#/components/parameters/OrderLimit", value))
    except InvalidParameterError as error:
        raise ApiError(422, "invalid_limit", str(error)) from None


def idempotency_key(value: str | None) -> str:
    """The Idempotency-Key header of a creating request (400 when missing or malformed)."""
    if not value:
        raise ApiError(400, "idempotency_key_required", "the Idempotency-Key header is required")
    try:
        return str(openapi_schemas().parameter("#/components/parameters/IdempotencyKey", value))
    except InvalidParameterError as error:
        raise ApiError(400, "invalid_idempotency_key", str(error)) from None


def last4(body: Mapping[str, Any]) -> str:
    """The `last4` of a verify-phone body: exactly four ASCII digits, as a string."""
    openapi_schemas().check_body("#/components/schemas/PhoneCheck", body)
    return str(body["last4"])


def new_return(body: Mapping[str, Any]) -> NewReturn:
    """A create-return body: {type, skus, reason, quality_issue}."""
    openapi_schemas().check_body("#/components/schemas/NewReturn", body)
    return NewReturn(
        type=str(body["type"]),
        skus=tuple(sorted(set(body["skus"]))),
        reason=body["reason"].strip(),
        quality_issue=body["quality_issue"],
    )


def new_refund(body: Mapping[str, Any]) -> NewRefund:
    """A create-refund body: {amount, reason, return_id (optional)}."""
    openapi_schemas().check_body("#/components/schemas/NewRefund", body)
    return NewRefund(
        amount=_positive_amount(body["amount"]),
        reason=body["reason"].strip(),
        return_id=body.get("return_id"),
    )


def _positive_amount(value: object) -> Decimal:
    # The schema cannot say that a string amount is positive, nor that a number has at
    # most two decimals: a number must read as the string form does (18.5 -> "18.5"),
    # which also refuses NaN and infinities. bool is an int to Python, not an amount.
    amount_text = openapi_schemas().schema("#/components/schemas/NewRefund")["properties"]["amount"]
    pattern = re.compile(amount_text["oneOf"][0]["pattern"].removeprefix("^").removesuffix("$"))
    text = str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    if not pattern.fullmatch(text) or Decimal(text) <= 0:
        raise ApiError(
            422, "invalid_amount", 'amount must be a positive amount with up to two decimals, e.g. "18.00"'
        )
    return Decimal(text).quantize(CENT)
