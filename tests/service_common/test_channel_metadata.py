"""The channel metadata a bot message carries (service_common/channel_metadata.py)."""

from __future__ import annotations

from typing import Any

import pytest

from service_common.channel_metadata import CHANNEL_METADATA_KEY, ChannelMetadata, HandoffNotice

NOTICE = HandoffNotice(
    ticket_id="HO26112012345678",
    status="callback_scheduled",
    priority=6,
    reason="user_request",
    order_id="8800002002",
    summary="诉求：顾客要求人工服务",
    callback_at="2026-11-21T01:00:00+00:00",
)


def test_the_metadata_is_one_keyword_argument_of_json_and_reads_back_the_same() -> None:
    told = ChannelMetadata(handoff=NOTICE, evidence_for="complaint").message_values()

    assert told == {
        CHANNEL_METADATA_KEY: {
            "handoff": {
                "ticket_id": "HO26112012345678",
                "status": "callback_scheduled",
                "priority": 6,
                "reason": "user_request",
                "order_id": "8800002002",
                "summary": "诉求：顾客要求人工服务",
                "callback_at": "2026-11-21T01:00:00+00:00",
            },
            "evidence_for": "complaint",
        }
    }
    assert ChannelMetadata.of({"text": "…", **told}) == ChannelMetadata(handoff=NOTICE, evidence_for="complaint")
    assert ChannelMetadata(evidence_for="complaint").message_values() == {
        CHANNEL_METADATA_KEY: {"evidence_for": "complaint"}
    }


@pytest.mark.parametrize(
    "message",
    [
        {"text": "…"},
        {"text": "…", CHANNEL_METADATA_KEY: None},
        {"text": "…", CHANNEL_METADATA_KEY: "handoff"},
        {"text": "…", CHANNEL_METADATA_KEY: {"handoff": {"status": "queued"}}},
        {"text": "…", CHANNEL_METADATA_KEY: {"handoff": {"ticket_id": "HO1", "status": "closed"}}},
        {"text": "…", CHANNEL_METADATA_KEY: {"evidence_for": "return"}},
    ],
)
def test_a_message_without_known_metadata_tells_nothing(message: dict[str, Any]) -> None:
    assert ChannelMetadata.of(message) == ChannelMetadata()


def test_a_handoff_detail_of_the_wrong_type_is_none_and_the_ticket_still_counts() -> None:
    told = {"handoff": {"ticket_id": "HO1", "status": "queued", "priority": True, "reason": 3, "summary": ["x"]}}

    assert ChannelMetadata.from_json(told) == ChannelMetadata(handoff=HandoffNotice("HO1", "queued"))
