"""The output of the text-only channels: one turn's answers collected as texts."""

from __future__ import annotations

from typing import Any

from rasa.core.channels.channel import OutputChannel

from channels.wechat.protocol import render_buttons


class NumberedTextOutput(OutputChannel):
    """Collects one turn's answers as plain texts; options become numbered lines, which
    the shopper answers with a digit (WeChat, WeCom).

    Attributes:
        texts: The texts of the turn, in order.
        button_payloads: The payloads of the last numbered options shown in the turn.
    """

    def __init__(self, buttons_prompt: str) -> None:
        self.texts: list[str] = []
        self.button_payloads: list[str] = []
        self._buttons_prompt = buttons_prompt

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        if text.strip():
            self.texts.append(text.strip())

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        rendered, payloads = render_buttons(text, buttons, self._buttons_prompt)
        await self.send_text_message(recipient_id, rendered)
        if payloads:
            self.button_payloads = payloads

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, f"图片：{image}")

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, f"附件：{attachment}")

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        text = json_message.get("text")
        if isinstance(text, str):
            await self.send_text_message(recipient_id, text)
