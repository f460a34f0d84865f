"""The channel metadata: what a bot message tells the output channel besides its text.

An action adds it to the domain response it says,
`dispatcher.utter_message(response="utter_...", **metadata.message_values())`, and a
channel reads it back with `ChannelMetadata.of(message)`: the channel learns what the bot
decided from the message itself, with no response names to recognise and no second read
of another service or of Rasa's tracker store.

How it travels: Rasa (`RemoteAction._utter_responses`) puts an action's non-empty extra
keys into the bot message, and `OutputChannel.send_response` hands them to the output
channel as keyword arguments (`send_text_message(..., channel_metadata=...)`); an
overridden `send_response` sees the whole message. Its key is its own, not `custom`:
`send_response` sends a `custom` value as a message of its own, which a channel shows.
Channels that do not read it (the widget, Rasa's REST webhook) leave it out.

Actions and channels both import this module and nothing of each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

CHANNEL_METADATA_KEY = "channel_metadata"

HandoffStatus = Literal["queued", "callback_scheduled"]
EvidenceFor = Literal["complaint"]


@dataclass(frozen=True)
class HandoffNotice:
    """A handoff ticket the bot opened, as a channel that puts the shopper through needs it.

    Attributes:
        ticket_id: The ticket's number, told to the shopper.
        status: `queued` (a person takes it now) or `callback_scheduled` (outside human
            service hours: a person calls back).
        priority: The queue priority (1 = most urgent).
        reason: The record-contract handoff reason (`user_request`, `urgent`...).
        order_id: The order concerned, only when its owner was verified; else None.
        summary: The short Chinese summary the agent reads first.
        callback_at: When a person calls back (ISO 8601 in UTC, as the record service
            gives it), for a scheduled callback; else None.
    """

    ticket_id: str
    status: HandoffStatus
    priority: int | None = None
    reason: str | None = None
    order_id: str | None = None
    summary: str | None = None
    callback_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The notice as JSON."""
        return {
            "ticket_id": self.ticket_id,
            "status": self.status,
            "priority": self.priority,
            "reason": self.reason,
            "order_id": self.order_id,
            "summary": self.summary,
            "callback_at": self.callback_at,
        }

    @classmethod
    def from_json(cls, value: Any) -> HandoffNotice | None:
        """The notice, or None when `value` has no ticket number or no known status.

        A detail of the wrong type is None: the shopper is still put through.
        """
        if not isinstance(value, Mapping):
            return None
        ticket_id = value.get("ticket_id")
        if not (isinstance(ticket_id, str) and ticket_id and value.get("status") in get_args(HandoffStatus)):
            return None
        status: HandoffStatus = value["status"]
        priority = value.get("priority")
        return cls(
            ticket_id=ticket_id,
            status=status,
            priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else None,
            reason=_text(value, "reason"),
            order_id=_text(value, "order_id"),
            summary=_text(value, "summary"),
            callback_at=_text(value, "callback_at"),
        )


@dataclass(frozen=True)
class ChannelMetadata:
    """What one bot message tells its channel.

    Attributes:
        handoff: The handoff ticket the message announces, or None.
        evidence_for: What the pictures the shopper sends now are evidence for
            (`complaint`: the message asks for a complaint's details), or None.
    """

    handoff: HandoffNotice | None = None
    evidence_for: EvidenceFor | None = None

    def to_json(self) -> dict[str, Any]:
        """The metadata as JSON; what is not set is left out."""
        data: dict[str, Any] = {}
        if self.handoff is not None:
            data["handoff"] = self.handoff.to_json()
        if self.evidence_for is not None:
            data["evidence_for"] = self.evidence_for
        return data

    def message_values(self) -> dict[str, Any]:
        """The keyword arguments of `dispatcher.utter_message` that carry the metadata."""
        return {CHANNEL_METADATA_KEY: self.to_json()}

    @classmethod
    def from_json(cls, value: Any) -> ChannelMetadata:
        """The metadata of a JSON value; anything unknown or malformed is left out."""
        if not isinstance(value, Mapping):
            return cls()
        evidence_for = value.get("evidence_for")
        return cls(
            handoff=HandoffNotice.from_json(value.get("handoff")),
            evidence_for=evidence_for if evidence_for in get_args(EvidenceFor) else None,
        )

    @classmethod
    def of(cls, message: Mapping[str, Any]) -> ChannelMetadata:
        """The metadata of a bot message as Rasa gives it to an output channel (or of the
        keyword arguments of `send_text_message`); empty when it carries none."""
        return cls.from_json(message.get(CHANNEL_METADATA_KEY))


def _text(value: Mapping[str, Any], name: str) -> str | None:
    text = value.get(name)
    return text if isinstance(text, str) else None
