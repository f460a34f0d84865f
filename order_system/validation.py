"""Checking what callers send before it reaches the database.

Every check raises `ApiError` with a stable code, so that no input, however malformed,
ends as a 500: strings are length-limited, free of control characters and encodable as
UTF-8 (lone surrogates decoded from JSON are not), numbers are finite and small.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from order_system.models import CENT, CHANNELS, RETURN_TYPES
from order_system.repository import NewRefund, NewReturn
from service_common.http import ApiError

MAX_REASON_CHARS = 500
MAX_SKUS = 50
MAX_ORDER_LIMIT = 50
DEFAULT_ORDER_LIMIT = 5

_IDENTIFIER = re.compile(r"[A-Za-z0-9_-]{1,32}")
_SKU = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ACCOUNT_ID = re.compile(r"[\x21-\x7e]{1,128}")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")
_LAST4 = re.compile(r"[0-9]{4}")
_AMOUNT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")
_LIMIT = re.compile(r"[0-9]{1,3}")
_PHONE_SEPARATORS = re.compile(r"[\s()-]")
# Control characters other than tab and newline have no place in free text.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

_RETURN_FIELDS = frozenset({"type", "skus", "reason", "quality_issue"})
_REFUND_FIELDS = frozenset({"amount", "reason", "return_id"})


def path_id(value: str, not_found_code: str) -> str:
    """An id taken from the path; one that cannot exist is simply not found (404)."""
    if not _IDENTIFIER.fullmatch(value):
        raise ApiError(404, not_found_code, "no such resource")
    return value


def channel(value: str | None) -> str:
    """A channel name: web, wechat or phone (422 invalid_channel)."""
    if value not in CHANNELS:
        raise ApiError(422, "invalid_channel", f"channel must be one of {', '.join(CHANNELS)}")
    return value


def account_id(channel_name: str, value: str | None) -> str:
    """An account id; phone numbers are normalised (+86 138-0013-8000 -> 13800138000)."""
    if value is not None and channel_name == "phone":
        value = _national_phone_number(value)
    if value is None or not _ACCOUNT_ID.fullmatch(value):
        raise ApiError(422, "invalid_account_id", "account_id must be 1-128 visible ASCII characters")
    return value


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
    if value is None or value == "":
        return DEFAULT_ORDER_LIMIT
    if not _LIMIT.fullmatch(value) or not 1 <= int(value) <= MAX_ORDER_LIMIT:
        raise ApiError(422, "invalid_limit", f"limit must be an integer from 1 to {MAX_ORDER_LIMIT}")
    return int(value)


def idempotency_key(value: str | None) -> str:
    """The Idempotency-Key header of a creating request (400 when missing or malformed)."""
    if not value:
        raise ApiError(400, "idempotency_key_required", "the Idempotency-Key header is required")
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise ApiError(
            400, "invalid_idempotency_key", "Idempotency-Key must be 1-128 visible ASCII characters"
        )
    return value


def last4(body: Mapping[str, Any]) -> str:
    """The `last4` of a verify-phone body: exactly four ASCII digits, as a string."""
    _reject_unknown_fields(body, frozenset({"last4"}))
    value = body.get("last4")
    if not isinstance(value, str) or not _LAST4.fullmatch(value):
        raise ApiError(422, "invalid_last4", "last4 must be a string of exactly 4 digits")
    return value


def new_return(body: Mapping[str, Any]) -> NewReturn:
    """A create-return body: {type, skus, reason, quality_issue}."""
    _reject_unknown_fields(body, _RETURN_FIELDS)
    return_type = body.get("type")
    if return_type not in RETURN_TYPES:
        raise ApiError(422, "invalid_type", f"type must be one of {', '.join(RETURN_TYPES)}")
    skus = body.get("skus")
    if (
        not isinstance(skus, list)
        or not 1 <= len(skus) <= MAX_SKUS
        or not all(isinstance(sku, str) and _SKU.fullmatch(sku) for sku in skus)
    ):
        raise ApiError(422, "invalid_skus", f"skus must be a list of 1 to {MAX_SKUS} SKU strings")
    quality_issue = body.get("quality_issue")
    if not isinstance(quality_issue, bool):
        raise ApiError(422, "invalid_quality_issue", "quality_issue must be true or false")
    return NewReturn(
        type=str(return_type),
        skus=tuple(sorted(set(skus))),
        reason=_reason(body.get("reason")),
        quality_issue=quality_issue,
    )


def new_refund(body: Mapping[str, Any]) -> NewRefund:
    """A create-refund body: {amount, reason, return_id (optional)}."""
    _reject_unknown_fields(body, _REFUND_FIELDS)
    return_id = body.get("return_id")
    if return_id is not None and not (
        isinstance(return_id, str) and _IDENTIFIER.fullmatch(return_id)
    ):
        raise ApiError(422, "invalid_return_id", "return_id must be a return id or null")
    return NewRefund(
        amount=_positive_amount(body.get("amount")),
        reason=_reason(body.get("reason")),
        return_id=return_id,
    )


def _positive_amount(value: object) -> Decimal:
    # bool is an int to Python, and floats go through their shortest repr (18.5 -> "18.5").
    text = str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
    if not _AMOUNT.fullmatch(text) or Decimal(text) <= 0:
        raise ApiError(
            422, "invalid_amount", 'amount must be a positive amount with up to two decimals, e.g. "18.00"'
        )
    return Decimal(text).quantize(CENT)


def _reason(value: object) -> str:
    if (
        not isinstance(value, str)
        or len(value) > MAX_REASON_CHARS
        or _CONTROL_CHARACTERS.search(value)
        or not _is_utf8_encodable(value)
    ):
        raise ApiError(
            422, "invalid_reason", f"reason must be text of at most {MAX_REASON_CHARS} characters"
        )
    return value.strip()


def _is_utf8_encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reject_unknown_fields(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        # Field names are echoed only when they are plain identifiers, never raw input.
        shown = sorted(name for name in unknown if _IDENTIFIER.fullmatch(name))
        raise ApiError(
            422,
            "unknown_field",
            "unknown field(s): " + (", ".join(shown) if shown else "(not shown)")
            + f"; allowed: {', '.join(sorted(allowed))}",
        )
