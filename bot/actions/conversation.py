"""What actions read from a conversation: its id, channel, the shopper's words, the transcript.

Pure functions over rasa-sdk's `Tracker`; no I/O.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Tracker

from bot.nlu.normalize import normalize
from service_common.channels import IVR_CHANNEL, REST_CHANNEL, WECHAT_CHANNEL, WECOM_CHANNEL, WIDGET_CHANNEL

# Not after a letter: SF1234567890 is a courier's tracking number.
ORDER_ID_PATTERN = re.compile(r"(?<![A-Za-z\d])(\d{10})(?!\d)")
MOBILE_PATTERN = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
FOUR_DIGITS_PATTERN = re.compile(r"(?<!\d)(\d{4})(?!\d)")
# Channels whose account ids are authenticated by the channel itself (a signed WeChat
# push, a shop-signed widget token, the telephone network's caller id). The REST webhook
# is not among them: anyone can put anything in its metadata.
TRUSTED_ACCOUNT_CHANNELS = frozenset({WECHAT_CHANNEL, WECOM_CHANNEL, WIDGET_CHANNEL, IVR_CHANNEL})
TRANSCRIPT_LIMIT = 50
# Hex digits of an idempotency key: short enough for the services' 100 characters, long
# enough that two decisions never share one.
IDEMPOTENCY_KEY_CHARS = 40


def conversation_id(tracker: Tracker) -> str:
    """The Rasa sender id, which the service records call the conversation id."""
    return str(tracker.sender_id)


def channel_of(tracker: Tracker) -> str:
    """The input channel of the latest message (`rest`, `wechat`, ...)."""
    return str(tracker.get_latest_input_channel() or REST_CHANNEL)


def latest_text(tracker: Tracker) -> str:
    """The shopper's latest words, as they wrote them."""
    return str(tracker.latest_message.get("text") or "")


def latest_intent(tracker: Tracker) -> str | None:
    """The intent of the shopper's latest message, if any."""
    intent = tracker.latest_message.get("intent") or {}
    name = intent.get("name")
    return str(name) if name else None


def mentioned(tracker: Tracker, entity: str) -> str | None:
    """The latest value the shopper gave for `entity` anywhere in the conversation."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        for found in (event.get("parse_data") or {}).get("entities") or []:
            if found.get("entity") == entity and found.get("value"):
                return str(found["value"])
    return None


def trusted_account(tracker: Tracker) -> tuple[str, str] | None:
    """The (channel, account id) the channel vouches for, or None.

    Channels put `{"account": {"channel": ..., "account_id": ...}}` into the message
    metadata after authenticating the shopper; only the trusted channels are believed.
    """
    channel = channel_of(tracker)
    if channel not in TRUSTED_ACCOUNT_CHANNELS:
        return None
    metadata = tracker.latest_message.get("metadata") or {}
    account = metadata.get("account") if isinstance(metadata, dict) else None
    if not isinstance(account, dict):
        return None
    account_channel, account_id = account.get("channel"), account.get("account_id")
    if isinstance(account_channel, str) and isinstance(account_id, str) and account_id:
        return account_channel, account_id
    return None


def find_order_id(text: str) -> str | None:
    """The ten-digit order number in `text` (spoken digits and full-width allowed)."""
    match = ORDER_ID_PATTERN.search(normalize(text).text)
    return match.group(1) if match else None


def find_last4(text: str) -> str | None:
    """Four phone digits in `text`: four digits standing alone, or a full mobile's last four."""
    normalised = normalize(text).text
    mobile = MOBILE_PATTERN.search(normalised)
    if mobile:
        return mobile.group(1)[-4:]
    match = FOUR_DIGITS_PATTERN.search(normalised)
    return match.group(1) if match else None


def find_mobile(text: str) -> str | None:
    """A mainland mobile number in `text`, as eleven digits."""
    match = MOBILE_PATTERN.search(normalize(text).text)
    return match.group(1) if match else None


def idempotency_key(tracker: Tracker, *parts: object) -> str:
    """A key that is the same when the same decision on the same message is retried."""
    message_id = tracker.latest_message.get("message_id") or ""
    raw = "|".join([conversation_id(tracker), str(message_id), *map(str, parts)])
    return hashlib.sha256(raw.encode()).hexdigest()[:IDEMPOTENCY_KEY_CHARS]


def transcript(tracker: Tracker, limit: int = TRANSCRIPT_LIMIT) -> list[dict[str, Any]]:
    """The conversation so far (last `limit` turns): who said what, and when (UTC ISO)."""
    turns: list[dict[str, Any]] = []
    for event in tracker.events:
        kind = event.get("event")
        if kind not in ("user", "bot") or not event.get("text"):
            continue
        stamp = event.get("timestamp")
        when = (
            datetime.fromtimestamp(float(stamp), timezone.utc).isoformat()
            if isinstance(stamp, (int, float))
            else None
        )
        turns.append({"role": "shopper" if kind == "user" else "bot", "text": event["text"], "at": when})
    return turns[-limit:]
