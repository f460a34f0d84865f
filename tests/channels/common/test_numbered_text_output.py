"""The text-only channels' output: options as numbered lines, picked by the shopper's digit."""

from __future__ import annotations

from channels.common.numbered_text_output import choose_button, render_buttons


def test_buttons_become_numbered_lines_and_digits_pick_them() -> None:
    text, payloads = render_buttons(
        "您是想问下面哪一项？",
        [{"title": "查退款", "payload": "/check_refund_status"}, {"title": "退货", "payload": "/request_return"},
         {"title": ""}],
        "请回复数字选择：",
    )
    assert text == "您是想问下面哪一项？\n请回复数字选择：\n1. 查退款\n2. 退货"
    assert payloads == ["/check_refund_status", "/request_return"]
    assert choose_button("2", payloads) == "/request_return"
    assert choose_button(" ２ ", payloads) == "/request_return"
    assert choose_button("3", payloads) is None
    assert choose_button("12", payloads) is None
    assert choose_button("1号订单", payloads) is None
    assert render_buttons("好的", [], "请回复数字选择：") == ("好的", [])
