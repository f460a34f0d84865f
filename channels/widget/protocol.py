"""The widget's socket.io events as pure functions: what a shopper's event says, and how a
bot message is rendered for the widget (the protocol is in the README, "Web widget").

Nothing here does I/O or keeps state, so all of it is tested without a server.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

MAX_MESSAGE_CHARS = 1000
MAX_QUICK_REPLIES = 10
_MESSAGE_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
# C0 controls other than tab and newline, and DEL: nothing a shopper types.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A placeholder Rasa left unfilled ("{paid_at}"): the value was not given.
_UNFILLED = re.compile(r"\{[^{}\n]+\}")
ORDER_CARD_FIELDS = ("order_id", "status_text", "amount", "paid_at")
# The values an action gives with the order-status response for the card's item lines.
ORDER_ITEMS_KEY = "order_items"

ErrorCode = Literal["malformed", "message_too_long", "expired_token", "bot_unavailable"]


class MalformedEvent(ValueError):
    """A shopper's event is not what the protocol allows.

    Attributes:
        code: The `widget_error` code to answer with.
    """

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code: ErrorCode = code


@dataclass(frozen=True)
class ShopperMessage:
    """A `user_uttered` event that passed every check.

    Attributes:
        text: What the shopper wrote (or a quick reply's payload), trimmed.
        client_message_id: The widget's id for the message, for the duplicate filter.
    """

    text: str
    client_message_id: str


def parse_user_uttered(args: tuple[Any, ...]) -> ShopperMessage:
    """The shopper's message in a `user_uttered` event's arguments.

    Raises:
        MalformedEvent: `message_too_long` above MAX_MESSAGE_CHARS; `malformed` for
            anything but one object with a non-blank string `message` and a string
            `message_id` (1-128 printable ASCII characters).
    """
    if len(args) != 1 or not isinstance(args[0], dict):
        raise MalformedEvent("malformed", "not one object")
    data = args[0]
    message, message_id = data.get("message"), data.get("message_id")
    if not isinstance(message, str):
        raise MalformedEvent("malformed", "`message` is not a string")
    if len(message) > MAX_MESSAGE_CHARS:
        raise MalformedEvent("message_too_long", f"{len(message)} characters")
    text = _CONTROL_CHARS.sub("", message).strip()
    if not text:
        raise MalformedEvent("malformed", "`message` is blank")
    if not isinstance(message_id, str) or not _MESSAGE_ID_PATTERN.fullmatch(message_id):
        raise MalformedEvent("malformed", "`message_id` is missing or malformed")
    return ShopperMessage(text, message_id)


def dedupe_key(conversation_id: str, client_message_id: str) -> str:
    """The duplicate filter's key: the widget's message id within its conversation."""
    return f"{conversation_id}\n{client_message_id}"


def message_id_for(conversation_id: str, client_message_id: str) -> str:
    """The Rasa message id of a shopper's message: the same for every copy of it, so the
    action server's idempotency keys hold even for a copy the duplicate filter missed
    (after a restart)."""
    return hashlib.sha256(dedupe_key(conversation_id, client_message_id).encode()).hexdigest()[:32]


# ---- bot messages ---------------------------------------------------------------------------


def render_bot_message(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The `bot_uttered` payload of one bot message, or None when it has nothing to show.

    Args:
        message: A message as Rasa gives it to an output channel: `text`, `buttons` or
            `quick_replies`, `custom` (the widget variation's `order_card`), and the values
            the action gave with the response (`order_items`).

    Returns:
        `{"text", "quick_replies"?, "order_card"?}`; images, attachments and other custom
        payloads are not part of the widget protocol and are left out.
    """
    text = message.get("text")
    text = text.strip() if isinstance(text, str) else ""
    payload: dict[str, Any] = {"text": text}
    quick_replies = render_quick_replies(message.get("quick_replies") or message.get("buttons"))
    if quick_replies:
        payload["quick_replies"] = quick_replies
    custom = message.get("custom")
    if isinstance(custom, Mapping):
        card = render_order_card(custom.get("order_card"), message.get(ORDER_ITEMS_KEY))
        if card is not None:
            payload["order_card"] = card
    if not text and "order_card" not in payload:
        return None
    return payload


def render_quick_replies(buttons: Any) -> list[dict[str, str]]:
    """Rasa buttons as quick replies: `{"title", "payload"}`, both non-empty strings."""
    if not isinstance(buttons, list):
        return []
    replies: list[dict[str, str]] = []
    for button in buttons:
        if not isinstance(button, Mapping):
            continue
        title, payload = button.get("title"), button.get("payload")
        if isinstance(title, str) and title.strip() and isinstance(payload, str) and payload.strip():
            replies.append({"title": title.strip(), "payload": payload.strip()})
    return replies[:MAX_QUICK_REPLIES]


def render_order_card(card: Any, items: Any) -> dict[str, Any] | None:
    """An order card from the response's `order_card` fields and the action's item lines.

    Args:
        card: The filled `custom.order_card` of the widget's response variation.
        items: The action's `order_items`: `[{"name", "quantity"}]`.

    Returns:
        `{"order_id", "status_text", "items": [{"name", "quantity"}], "amount", "paid_at"}`,
        all strings (a value the action did not give is ""); None without an order id.
    """
    if not isinstance(card, Mapping):
        return None
    rendered: dict[str, Any] = {name: _card_text(card.get(name)) for name in ORDER_CARD_FIELDS}
    if not rendered["order_id"]:
        return None
    lines: list[dict[str, str]] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and _card_text(item.get("name")):
            lines.append({"name": _card_text(item.get("name")), "quantity": _card_text(item.get("quantity"))})
    rendered["items"] = lines
    return rendered


def _card_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    text = str(value).strip() if isinstance(value, (str, int, float)) else ""
    return "" if _UNFILLED.fullmatch(text) else text
