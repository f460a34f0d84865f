"""Speakable answers as pure functions, with the channel texts of the project's domain.yml."""

from __future__ import annotations

import pytest

from channels.common.channel_texts import ChannelTexts
from channels.ivr.channel import CHANNEL_TEXTS
from channels.ivr.render import (
    MAX_OPTIONS,
    BotMessage,
    Option,
    options_of,
    options_speech,
    read_digits,
    speakable,
    turn_speech,
)
from service_common.channel_metadata import ChannelMetadata, HandoffNotice

TEXTS = ChannelTexts.load(CHANNEL_TEXTS)


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("您好😊，请问有什么可以帮您？👍", "您好，请问有什么可以帮您？"),
        ("详情见 https://shop.example.com/orders?id=1 ，谢谢", "详情见，谢谢。"),
        ("请点[这里](https://example.com/help)查看", "请点这里查看。"),
        ("**注意**：退款 `1` 个工作日内到账", "注意：退款 1 个工作日内到账。"),
        ("# 退货须知\n- 商品完好\n- 吊牌齐全", "退货须知。商品完好。吊牌齐全。"),
        ("订单 8800001001（纯棉圆领T恤）当前状态：已签收。", "订单 8 8 0 0 0 0 1 0 0 1（纯棉圆领T恤）当前状态：已签收。"),
        ("服务单号 HO26112312345678，请稍候", "服务单号 HO 2 6 1 1 2 3 1 2 3 4 5 6 7 8，请稍候。"),
        ("退款 12345.00 元，尾号8000", "退款 12345.00 元，尾号8000。"),
        ("请说“转人工”", "请说“转人工”。"),
        ("❤️❤️ 谢谢", "谢谢。"),
        ("", ""),
    ],
)
def test_speakable(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


def test_read_digits_spaces_them() -> None:
    assert read_digits("8800") == "8 8 0 0"


def test_buttons_become_options_read_out_with_their_keys() -> None:
    buttons = [
        {"title": "8800001001 · 纯棉圆领T恤 · 11月17日", "payload": "8800001001"},
        {"title": "查物流", "payload": "/check_order_status"},
        {"title": "", "payload": "/nothing"},  # nothing to read out
        {"title": "转人工"},
    ]
    options = options_of(buttons)
    assert options == [
        Option("8 8 0 0 0 0 1 0 0 1，纯棉圆领T恤，11月17日", "8800001001"),
        Option("查物流", "/check_order_status"),
        Option("转人工", "转人工"),
    ]
    assert options_speech(options[1:], TEXTS) == "请说“查物流”或按1，说“转人工”或按2。"


def test_at_most_nine_options_one_key_each() -> None:
    buttons = [{"title": f"选项{n}", "payload": f"/p{n}"} for n in range(12)]
    assert len(options_of(buttons)) == MAX_OPTIONS


def test_a_turn_is_one_speech_and_the_options_of_its_last_buttons() -> None:
    messages = [
        BotMessage("您好！"),
        BotMessage("请问是哪个订单？", ({"title": "8800001001", "payload": "8800001001"},)),
        BotMessage("也可以直接说订单号。"),
    ]
    speech, options = turn_speech(messages, TEXTS)
    assert speech == "您好！请问是哪个订单？请说“8 8 0 0 0 0 1 0 0 1”或按1。也可以直接说订单号。"
    assert options == [Option("8 8 0 0 0 0 1 0 0 1", "8800001001")]
    assert turn_speech([BotMessage("好的。")], TEXTS) == ("好的。", [])


def test_a_message_from_rasa_keeps_its_response_name_and_channel_metadata_only() -> None:
    notice = HandoffNotice("HO26112312345678", "queued", 6, "user_request", None, "诉求：顾客要求人工服务")
    message = BotMessage.from_rasa(
        {
            "text": "已为您转接人工客服",
            "buttons": None,
            "utter_action": "utter_handoff_queued",
            "template": "utter_handoff_queued",
            "ticket_id": "HO26112312345678",
            "timestamp": 1.0,
            **ChannelMetadata(handoff=notice).message_values(),
        }
    )
    assert message == BotMessage("已为您转接人工客服", (), "utter_handoff_queued", ChannelMetadata(handoff=notice))
    assert BotMessage.from_rasa({"custom": {"text": "自定义"}}).text == "自定义"
    assert BotMessage.from_rasa({"text": None, "quick_replies": [{"title": "是"}]}).buttons == ({"title": "是"},)
