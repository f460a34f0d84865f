"""The cleanup a speech transcript gets before it is a shopper's words (phone line, WeChat voice)."""

from __future__ import annotations

import pytest

from bot.actions.conversation import find_last4, find_mobile, find_order_id
from channels.common.speech_transcript import speech_text


@pytest.mark.parametrize(
    ("transcript", "text"),
    [
        ("我想查一下退款进度。", "我想查一下退款进度"),
        ("  查一下\n退款  。", "查一下 退款"),
        ("订单号8800，0010，01。", "订单号8800 0010 01"),
        ("八八零零、零零幺零、零幺", "八八零零 零零幺零 零幺"),
        ("价格是12.50元。", "价格是12.50元"),
        ("你好？", "你好？"),
        ("。", ""),
        ("", ""),
    ],
)
def test_pauses_between_digit_groups_and_the_closing_stop_go(transcript: str, text: str) -> None:
    assert speech_text(transcript, 100) == text


def test_digit_groups_read_with_pauses_are_found_after_the_cleanup() -> None:
    assert find_order_id("8800，0010，01") is None  # what the recogniser wrote
    assert find_order_id(speech_text("8800，0010，01", 100)) == "8800001001"
    assert find_mobile(speech_text("幺三八，零零幺三，八零零零", 100)) == "13800138000"
    assert find_last4(speech_text("尾号八零，零零", 100)) == "8000"
    assert find_last4(speech_text("我买了3，4件", 100)) is None  # not four digits
    assert find_last4(speech_text("尾号八，零，零，零", 100)) == "8000"


def test_long_transcripts_are_cut() -> None:
    assert speech_text("长" * 50, 10) == "长" * 10
