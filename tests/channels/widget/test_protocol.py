"""The widget's socket.io events and HTTP pages as pure functions, without a server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from channels.widget.pages import (
    DEMO_TEMPLATE,
    demo_page_headers,
    demo_page_html,
    request_origin,
)
from channels.widget.protocol import (
    MAX_MESSAGE_CHARS,
    MalformedEvent,
    ShopperMessage,
    message_id_for,
    parse_user_uttered,
    render_bot_message,
)
from service_common.channel_metadata import ChannelMetadata, HandoffNotice

REPO_ROOT = Path(__file__).resolve().parents[3]

# ---- user_uttered


def test_a_message_is_its_trimmed_text_and_the_widget_s_id() -> None:
    assert parse_user_uttered(({"message": "  我要退货\n", "message_id": "3f2a-11"},)) == ShopperMessage(
        "我要退货", "3f2a-11"
    )
    assert parse_user_uttered(({"message": "退\x00货\x1b", "message_id": "m"},)).text == "退货"
    assert parse_user_uttered(({"message": "字" * MAX_MESSAGE_CHARS, "message_id": "m"},)).text == "字" * 1000


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("我要退货",),
        (42,),
        (None,),
        (["我要退货"],),
        ({"message": "我要退货", "message_id": "m"}, "extra"),
        ({"message_id": "m"},),
        ({"message": 5, "message_id": "m"},),
        ({"message": {"text": "我要退货"}, "message_id": "m"},),
        ({"message": " \n\x00 ", "message_id": "m"},),
        ({"message": "我要退货"},),
        ({"message": "我要退货", "message_id": 7},),
        ({"message": "我要退货", "message_id": "has space"},),
        ({"message": "我要退货", "message_id": "m" * 129},),
        ({"message": "我要退货", "message_id": "编号"},),
    ],
)
def test_anything_else_is_malformed(args: tuple[Any, ...]) -> None:
    with pytest.raises(MalformedEvent) as raised:
        parse_user_uttered(args)
    assert raised.value.code == "malformed"


def test_a_message_over_1000_characters_is_too_long() -> None:
    with pytest.raises(MalformedEvent) as raised:
        parse_user_uttered(({"message": "字" * (MAX_MESSAGE_CHARS + 1), "message_id": "m"},))
    assert raised.value.code == "message_too_long"


def test_a_message_s_rasa_id_is_the_same_for_every_copy_and_differs_between_conversations() -> None:
    assert message_id_for("web-a", "m1") == message_id_for("web-a", "m1")
    assert len({message_id_for("web-a", "m1"), message_id_for("web-b", "m1"), message_id_for("web-a", "m2")}) == 3
    assert re.fullmatch(r"[0-9a-f]{32}", message_id_for("web-a", "m1"))


# ---- bot_uttered


def test_a_text_is_a_text() -> None:
    assert render_bot_message({"text": " 您好 ", "recipient_id": "web-a", "timestamp": 1.0}) == {"text": "您好"}


def test_the_channel_metadata_of_a_message_is_not_shown() -> None:
    notice = HandoffNotice("HO26112012345678", "queued", 6, "user_request", None, "诉求：顾客要求人工服务")
    told = ChannelMetadata(handoff=notice, evidence_for="complaint").message_values()
    assert render_bot_message({"text": "已为您转接人工客服", **told}) == {"text": "已为您转接人工客服"}


def test_buttons_and_quick_replies_become_quick_replies() -> None:
    buttons = [
        {"title": "8800001001 · 纯棉圆领T恤", "payload": "8800001001"},
        {"title": "", "payload": "/stop"},  # no title: not shown
        {"title": "转人工", "payload": "/request_human"},
        "not a button",
    ]
    expected = [{"title": "8800001001 · 纯棉圆领T恤", "payload": "8800001001"},
                {"title": "转人工", "payload": "/request_human"}]
    assert render_bot_message({"text": "请选择订单", "buttons": buttons}) == {"text": "请选择订单",
                                                                            "quick_replies": expected}
    assert render_bot_message({"text": "请选择", "quick_replies": buttons})["quick_replies"] == expected  # type: ignore[index]


def test_the_widget_variation_of_the_order_status_becomes_an_order_card() -> None:
    message = {
        "text": "订单 8800001001（纯棉圆领T恤）当前状态：已签收。",
        "custom": {"order_card": {"order_id": "8800001001", "status_text": "已签收", "amount": "199.00",
                                  "paid_at": "11月17日 10:00"}},
        "order_items": [{"name": "纯棉圆领T恤", "quantity": "1"}, {"name": "袜子", "quantity": 2}, {"qty": 1}],
    }
    assert render_bot_message(message) == {
        "text": "订单 8800001001（纯棉圆领T恤）当前状态：已签收。",
        "order_card": {"order_id": "8800001001", "status_text": "已签收", "amount": "199.00",
                       "paid_at": "11月17日 10:00",
                       "items": [{"name": "纯棉圆领T恤", "quantity": "1"}, {"name": "袜子", "quantity": "2"}]},
    }


def test_an_order_card_value_rasa_could_not_fill_is_empty() -> None:
    message = {"text": "订单状态", "custom": {"order_card": {"order_id": "8800001001", "status_text": "已签收",
                                                            "amount": "{order_amount}", "paid_at": None}}}
    card = render_bot_message(message)["order_card"]  # type: ignore[index]
    assert (card["amount"], card["paid_at"], card["items"]) == ("", "", [])


def test_no_card_without_an_order_and_nothing_without_text_or_card() -> None:
    assert render_bot_message({"text": "好的", "custom": {"order_card": {"order_id": "{order_id}"}}}) == {"text": "好的"}
    assert render_bot_message({"text": "好的", "custom": {"something": "else"}}) == {"text": "好的"}
    assert render_bot_message({"image": "https://example.com/a.png"}) is None
    assert render_bot_message({"text": "  ", "buttons": [{"title": "是", "payload": "/affirm"}]}) is None
    card_only = render_bot_message({"custom": {"order_card": {"order_id": "8800001001"}}})
    assert card_only is not None and card_only["text"] == "" and card_only["order_card"]["order_id"] == "8800001001"


# ---- pages


@pytest.mark.parametrize(
    ("scheme", "host", "origin"),
    [
        ("http", "127.0.0.1:5005", "http://127.0.0.1:5005"),
        ("https", "Shop.Example.com", "https://shop.example.com"),
        ("http", "[::1]:5005", "http://[::1]:5005"),
        ("http", "evil.example/<script>", None),
        ("http", "", None),
        ("ws", "127.0.0.1:5005", None),
    ],
)
def test_the_request_origin(scheme: str, host: str, origin: str | None) -> None:
    assert request_origin(scheme, host) == origin


def test_the_demo_page_embeds_the_widget_with_one_script_tag() -> None:
    template = DEMO_TEMPLATE.read_text(encoding="utf-8")
    anonymous = demo_page_html(template, "http://127.0.0.1:5005", None, None)
    assert anonymous.count("<script") == 1
    assert '<script src="/webhooks/widget/widget.js" data-server="http://127.0.0.1:5005" defer></script>' in anonymous
    assert 'data-logged-in="false"' in anonymous and "$" not in anonymous
    assert "优选生活馆" in anonymous
    logged_in = demo_page_html(template, "http://127.0.0.1:5005", "u_zhangwei", "aaa.bbb.ccc")
    assert ('<script src="/webhooks/widget/widget.js" data-server="http://127.0.0.1:5005" '
            'data-shopper-token="aaa.bbb.ccc" defer></script>') in logged_in
    assert 'data-logged-in="true"' in logged_in and "<strong>u_zhangwei</strong>" in logged_in


def test_the_demo_page_escapes_what_it_fills_in() -> None:
    page = demo_page_html('<p data-a="$server">$account</p>$shopper_token_attribute $logged_in',
                          'http://x"><script>', "<b>", '"><img src=x>')
    assert "<script>" not in page and "<b>" not in page and "<img" not in page


def test_the_demo_page_may_only_run_and_reach_its_own_origin() -> None:
    headers = demo_page_headers("https://shop.example.com")
    policy = dict(part.split(" ", 1) for part in headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self' wss://shop.example.com"
    assert policy["frame-ancestors"] == "'none'"
    assert demo_page_headers("http://127.0.0.1:5005")["Content-Security-Policy"].count("ws://127.0.0.1:5005") == 1
    assert (headers["X-Content-Type-Options"], headers["Cache-Control"]) == ("nosniff", "no-store")


# ---- the order card, from domain.yml's widget variation as Rasa fills it


async def test_rasa_fills_the_widget_variation_of_the_order_status_into_an_order_card() -> None:
    domain = Domain.load(str(REPO_ROOT / "domain.yml"))
    generator = TemplatedNaturalLanguageGenerator(domain.responses)
    tracker = DialogueStateTracker("web-0", domain.slots)
    values = {  # what bot/actions/orders.py gives with utter_order_status
        "order_id": "8800001001", "item_names": "纯棉圆领T恤", "status": "已签收", "shipment_note": "",
        "order_amount": "199.00", "paid_at": "11月17日 10:00",
        "order_items": [{"name": "纯棉圆领T恤", "quantity": "1"}],
    }
    for_widget = await generator.generate("utter_order_status", tracker, "widget", **values)
    assert for_widget is not None
    # Rasa gives the channel the filled response plus the action's values (RemoteAction).
    assert render_bot_message({**for_widget, **values}) == {
        "text": "订单 8800001001（纯棉圆领T恤）当前状态：已签收。还有其他可以帮您的吗？",
        "order_card": {"order_id": "8800001001", "status_text": "已签收", "amount": "199.00",
                       "paid_at": "11月17日 10:00", "items": [{"name": "纯棉圆领T恤", "quantity": "1"}]},
    }
    for_others = await generator.generate("utter_order_status", tracker, "rest", **values)
    assert for_others is not None and for_others["text"] == for_widget["text"] and not for_others.get("custom")
