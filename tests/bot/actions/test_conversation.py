"""What actions read from a conversation (bot/actions/conversation.py): pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from bot.actions.conversation import (
    channel_of,
    conversation_id,
    find_last4,
    find_mobile,
    find_order_id,
    idempotency_key,
    latest_intent,
    latest_text,
    mentioned,
    transcript,
    trusted_account,
)
from tests.fixtures.actions import bot_event, make_tracker, user_event

ACCOUNT = {"account": {"channel": "wechat", "account_id": "oWx_zhangwei_01"}}


def test_the_conversation_id_is_the_sender_id() -> None:
    assert conversation_id(make_tracker(sender_id="conv-42")) == "conv-42"


@pytest.mark.parametrize(("channel", "expected"), [("wechat", "wechat"), ("rest", "rest"), ("", "rest")])
def test_channel_of_the_latest_message(channel: str, expected: str) -> None:
    assert channel_of(make_tracker(channel=channel)) == expected


def test_channel_of_a_conversation_without_a_message_is_rest() -> None:
    tracker = make_tracker()
    tracker.events = []

    assert channel_of(tracker) == "rest"


def test_latest_text_and_intent() -> None:
    tracker = make_tracker(text="我想退货", intent="request_return")
    empty = make_tracker()
    empty.latest_message = {}

    assert (latest_text(tracker), latest_intent(tracker)) == ("我想退货", "request_return")
    assert (latest_text(empty), latest_intent(empty)) == ("", None)


def test_mentioned_is_the_latest_value_of_an_entity_anywhere_in_the_conversation() -> None:
    history = [
        user_event("T恤想退", entities=[{"entity": "product", "value": "T恤"}]),
        bot_event("好的"),
        user_event("不对，是短裤", entities=[{"entity": "product", "value": "短裤"}]),
    ]
    tracker = make_tracker(
        history=history, text="订单8800001001", entities=[{"entity": "order_id", "value": "8800001001"}]
    )
    blank = make_tracker(text="这个", entities=[{"entity": "product", "value": ""}])

    assert mentioned(tracker, "product") == "短裤"
    assert mentioned(tracker, "order_id") == "8800001001"
    assert mentioned(tracker, "amount") is None
    assert mentioned(blank, "product") is None


@pytest.mark.parametrize(
    ("channel", "metadata", "account"),
    [
        ("wechat", ACCOUNT, ("wechat", "oWx_zhangwei_01")),
        ("widget", {"account": {"channel": "web", "account_id": "u_zhangwei"}}, ("web", "u_zhangwei")),
        ("rest", ACCOUNT, None),  # anyone can write the REST webhook's metadata
        ("wechat", {}, None),
        ("wechat", {"account": "oWx_zhangwei_01"}, None),
        ("wechat", {"account": {"channel": "wechat", "account_id": ""}}, None),
        ("wechat", {"account": {"channel": "wechat", "account_id": 42}}, None),
    ],
)
def test_trusted_account_only_from_a_channel_that_vouches_for_it(
    channel: str, metadata: dict[str, Any], account: tuple[str, str] | None
) -> None:
    assert trusted_account(make_tracker(channel=channel, metadata=metadata)) == account


@pytest.mark.parametrize(
    ("text", "order_id"),
    [
        ("8800001001", "8800001001"),
        ("订单号8800001001，谢谢", "8800001001"),
        ("八八零零零零一零零一", "8800001001"),
        ("８８００００１００１", "8800001001"),
        ("8800 0010 01", "8800001001"),
        ("电话13800138000订单8800001001", "8800001001"),
        ("13800138000", None),  # a mobile number, not an order number
        ("订单88000010012", None),  # eleven digits
        ("12345", None),
        ("", None),
    ],
)
def test_find_order_id(text: str, order_id: str | None) -> None:
    assert find_order_id(text) == order_id


@pytest.mark.parametrize(
    ("text", "last4"),
    [
        ("8000", "8000"),
        ("尾号8000", "8000"),
        ("13800138000", "8000"),  # the whole mobile number: its last four
        ("八零零零", "8000"),
        ("８０００", "8000"),
        ("8 0 0 0", "8000"),
        ("订单8800001001，手机尾号5678", "5678"),
        ("12345", None),
        ("138", None),
        ("不记得了", None),
    ],
)
def test_find_last4(text: str, last4: str | None) -> None:
    assert find_last4(text) == last4


@pytest.mark.parametrize(
    ("text", "mobile"),
    [
        ("13912345678", "13912345678"),
        ("139 1234 5678", "13912345678"),
        ("幺三九一二三四五六七八", "13912345678"),
        ("12912345678", None),  # no mobile number starts with 12
        ("139123456789", None),
        ("010-12345678", None),
    ],
)
def test_find_mobile(text: str, mobile: str | None) -> None:
    assert find_mobile(text) == mobile


def test_idempotency_key_is_the_same_for_a_retried_message_and_differs_otherwise() -> None:
    first = make_tracker(sender_id="conv-1", message_id="m1")
    retried = make_tracker(sender_id="conv-1", message_id="m1")
    next_message = make_tracker(sender_id="conv-1", message_id="m2")
    other_conversation = make_tracker(sender_id="conv-2", message_id="m1")

    key = idempotency_key(first, "record", "identity_check")

    assert len(key) == 40 and all(c in "0123456789abcdef" for c in key)
    assert idempotency_key(retried, "record", "identity_check") == key
    assert idempotency_key(first, "record", "refund_status") != key
    assert idempotency_key(next_message, "record", "identity_check") != key
    assert idempotency_key(other_conversation, "record", "identity_check") != key


def test_transcript_keeps_who_said_what_and_when() -> None:
    history = [
        user_event("我想退货", timestamp=1_750_000_000.0),
        {"event": "action", "name": "return_form", "timestamp": 1_750_000_000.5},
        bot_event("请问是哪个订单？", timestamp=1_750_000_001.0),
        bot_event("", timestamp=1_750_000_001.5),  # a message without text (buttons only)
    ]
    tracker = make_tracker(history=history, text="8800001001")

    assert transcript(tracker) == [
        {"role": "shopper", "text": "我想退货", "at": "2025-06-15T15:06:40+00:00"},
        {"role": "bot", "text": "请问是哪个订单？", "at": "2025-06-15T15:06:41+00:00"},
        {"role": "shopper", "text": "8800001001", "at": None},
    ]


def test_transcript_keeps_the_last_turns() -> None:
    history = [user_event(f"第{n}句") for n in range(60)]
    tracker = make_tracker(history=history, text="最后一句")

    turns = transcript(tracker, limit=3)

    assert [turn["text"] for turn in turns] == ["第58句", "第59句", "最后一句"]
    assert len(transcript(tracker)) == 50
