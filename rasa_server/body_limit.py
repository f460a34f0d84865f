"""Rasa's HTTP server refuses large request bodies: a shopper's message is a few hundred bytes.

Sanic's default limit is 100 MB, and Rasa's REST webhook stored a 1 MB "message" in the
tracker. The launcher sets Sanic's `REQUEST_MAX_SIZE` (read from `SANIC_REQUEST_MAX_SIZE`
when Rasa creates its app) to `RASA_MAX_BODY_BYTES`, 64 KiB by default: enough for every
channel's message and for the desk's calls to Rasa's API; a larger body gets 413.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

BODY_LIMIT_VARIABLE = "RASA_MAX_BODY_BYTES"
SANIC_BODY_LIMIT_VARIABLE = "SANIC_REQUEST_MAX_SIZE"  # Sanic's SANIC_ prefix + REQUEST_MAX_SIZE
DEFAULT_MAX_BODY_BYTES = 64 * 1024


class BodyLimitError(ValueError):
    """`RASA_MAX_BODY_BYTES` is not a positive whole number of bytes."""


def apply_body_limit(environ: MutableMapping[str, str] | None = None) -> int:
    """Sets Sanic's body limit in the environment before Rasa creates its app.

    Returns:
        The limit in bytes.

    Raises:
        BodyLimitError: The configured value is not a positive whole number.
    """
    environ = os.environ if environ is None else environ
    raw = (environ.get(BODY_LIMIT_VARIABLE) or "").strip()
    try:
        limit = int(raw) if raw else DEFAULT_MAX_BODY_BYTES
    except ValueError:
        raise BodyLimitError(f"{BODY_LIMIT_VARIABLE} must be a number of bytes, not {raw!r}") from None
    if limit <= 0:
        raise BodyLimitError(f"{BODY_LIMIT_VARIABLE} must be a positive number of bytes, not {raw!r}")
    environ[SANIC_BODY_LIMIT_VARIABLE] = str(limit)
    return limit
