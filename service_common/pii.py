"""Masking personal data (phones, ID numbers, e-mails, names, addresses) in log lines."""

from __future__ import annotations

import logging
import re
from typing import Any

# Mainland mobile numbers, possibly written with spaces or dashes (138 0013 8000).
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
# Resident identity card numbers: 17 digits and a check digit or X.
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# Structured fields whose whole value is personal: "name": "张伟", name=张伟, address=...
_NAMED_FIELD = re.compile(
    r"""(?P<key>["']?(?:name|customer_name|receiver|address|contact_name)["']?\s*[:=]\s*)"""
    r"""(?P<quote>["']?)(?P<value>[^"',}\s]+)(?P=quote)""",
    re.IGNORECASE,
)


def mask_phone(phone: str) -> str:
    """Masks a phone number for display or logs: 13800138000 -> 138****8000."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_personal_data(text: str) -> str:
    """Returns `text` with personal data masked, keeping enough to correlate log lines."""
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _NAMED_FIELD.sub(
        lambda m: f"{m.group('key')}{m.group('quote')}***{m.group('quote')}", text
    )


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not lose the log line
        message = str(record.msg)
    record.msg = mask_personal_data(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        # Formatters reuse a pre-filled exc_text, so the traceback is masked too.
        record.exc_text = mask_personal_data(_TRACEBACK_FORMATTER.formatException(record.exc_info))


_TRACEBACK_FORMATTER = logging.Formatter()


def install_pii_masking() -> None:
    """Masks personal data in every log record the process creates, from any logger.

    A record factory (not a handler filter) is used because Rasa, Sanic and SQLAlchemy
    install handlers of their own that do not propagate to the root logger.
    Idempotent.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "masks_personal_data", False):
        return

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        _mask_record(record)
        return record

    masking_factory.masks_personal_data = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masking_factory)
