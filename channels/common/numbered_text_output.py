"""The output of the text-only channels (WeChat, WeCom): one turn's answers collected as
texts, a message's options shown as numbered lines and picked by the shopper's digit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rasa.core.channels.channel import OutputChannel

MAX_BUTTONS = 9
_DIGIT_CHOICE = re.compile(r"[1-9１-９]")
_FULL_WIDTH_DIGITS = str.maketrans("１２３４５６７８９", "123456789")


def render_buttons(text: str, buttons: Sequence[dict[str, Any]], prompt: str) -> tuple[str, list[str]]:
    """A message with options as plain text: numbered lines, answered by a digit.

    Args:
        text: The bot's message.
        buttons: Its options (`title`, `payload`).
        prompt: The line before the options ("请回复数字选择：").

    Returns:
        The text to send, and the payload of each numbered option in order.
    """
    options = [button for button in buttons if button.get("title")][:MAX_BUTTONS]
    lines = [text.strip(), prompt if options else ""]
    lines += [f"{number}. {button['title']}" for number, button in enumerate(options, 1)]
    payloads = [str(button.get("payload") or button["title"]) for button in options]
    return "\n".join(line for line in lines if line), payloads


def choose_button(text: str, payloads: Sequence[str]) -> str | None:
    """The payload of the option a shopper picked by replying its number, or None."""
    stripped = text.strip()
    if not _DIGIT_CHOICE.fullmatch(stripped):
        return None
    index = int(stripped.translate(_FULL_WIDTH_DIGITS)) - 1
    return payloads[index] if index < len(payloads) else None


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
