"""The signature of the outgoing handoff webhook (pure functions; receivers can use `verify`).

`X-Aftersales-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, where
the timestamp is the `X-Aftersales-Timestamp` header (Unix seconds) and the body the raw
request body. Signing the timestamp lets a receiver refuse replays of old requests.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="
# How far a receiver should accept a timestamp from its own clock.
DEFAULT_TOLERANCE_S = 300.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Aftersales-Signature` header value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether a received webhook is genuine and recent.

    Args:
        secret: The shared secret (RECORDS_HANDOFF_WEBHOOK_SECRET).
        timestamp: The X-Aftersales-Timestamp header.
        body: The raw body, exactly as received.
        signature: The X-Aftersales-Signature header.
        now: The receiver's current Unix time.
        tolerance_s: The largest accepted difference between `timestamp` and `now`.
    """
    if not timestamp.isascii() or not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode("utf-8", "replace"))
