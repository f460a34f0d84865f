"""What the bot writes, made speakable: pure functions from bot messages to one text a
TTS reads out, and from buttons to options the caller says or keys.

A phone has no screen: links, emoji and markdown go; buttons become "请说“查退款”或按1，
说“查物流”或按2。" (worded in domain.yml); numbers that are read digit by digit (order
numbers, ticket numbers, phones) are spaced so a TTS does not read 8800001001 as an
amount.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service_common.channel_metadata import ChannelMetadata

MAX_OPTIONS = 9
OPTIONS_RESPONSE = "utter_channel_ivr_options"
OPTION_RESPONSE = "utter_channel_ivr_option"

_URL = re.compile(r"(?:https?://|www\.)[^\s，。；！？、）)\]】]+", re.IGNORECASE)
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKDOWN_EMPHASIS = re.compile(r"(\*\*|__|\*|~~|`)(?=\S)(.+?)(?<=\S)\1")
_MARKDOWN_LINE_START = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+•]\s+)", re.MULTILINE)
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002b00-\U00002bff\U00002300-\U000023ff"
    "\ufe00-\ufe0f\u200d\u20e3\U000e0020-\U000e007f]"
)
# Separators of button titles ("8800001001 · 纯棉圆领T恤 · 11月17日").
_SEPARATORS = re.compile(r"\s*[·•|｜]\s*")
# Five digits or more, not an amount's integer part: read one by one (after a space
# when letters lead, as in a ticket number HO2611...).
_LONG_NUMBER = re.compile(r"(?<![0-9.])([A-Za-z]?)([0-9]{5,})(?!\.[0-9])(?![0-9])")
_SENTENCE_END = "。！？!?…；;：:"
_BLANKS = re.compile(r"[ \t]+")
_BLANK_BEFORE_MARK = re.compile(r"[ \t]+(?=[，。！？；：、）])")

Texts = Callable[..., str]


@dataclass(frozen=True)
class Option:
    """An option read out to the caller: its speakable title and what choosing it sends."""

    title: str
    payload: str


@dataclass(frozen=True)
class BotMessage:
    """One message of the bot's turn, as Rasa hands it to the output channel.

    Attributes:
        text: What the bot says.
        buttons: Its buttons (`title`, `payload`).
        response: The domain response it was made from (`utter_action`), if any.
        channel_metadata: What the action told the channel with it (a handoff ticket).
    """

    text: str
    buttons: tuple[Mapping[str, Any], ...] = ()
    response: str | None = None
    channel_metadata: ChannelMetadata = field(default_factory=ChannelMetadata)

    @classmethod
    def from_rasa(cls, message: Mapping[str, Any]) -> BotMessage:
        """A message dict from Rasa's `OutputChannel.send_response`."""
        text = message.get("text")
        custom = message.get("custom")
        if not text and isinstance(custom, Mapping) and isinstance(custom.get("text"), str):
            text = custom["text"]
        buttons = message.get("buttons") or message.get("quick_replies") or []
        response = message.get("utter_action")
        return cls(
            text=str(text or ""),
            buttons=tuple(b for b in buttons if isinstance(b, Mapping)),
            response=str(response) if response else None,
            channel_metadata=ChannelMetadata.of(message),
        )


def read_digits(digits: str) -> str:
    """Digits spaced so that a TTS reads them one by one: 8800 -> "8 8 0 0"."""
    return " ".join(digits)


def speakable(text: str) -> str:
    """`text` without links, emoji or markdown, as one line a TTS reads well.

    Line breaks become sentence breaks, title separators (·) commas, and numbers of five
    digits or more are spaced to be read digit by digit.
    """
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _URL.sub("", text)
    text = _MARKDOWN_LINE_START.sub("", text)
    text = _MARKDOWN_EMPHASIS.sub(r"\2", text)
    text = _EMOJI.sub("", text)
    text = _SEPARATORS.sub("，", text)
    text = _LONG_NUMBER.sub(lambda m: " ".join(filter(None, (m.group(1), read_digits(m.group(2))))), text)
    lines = [_BLANK_BEFORE_MARK.sub("", _BLANKS.sub(" ", line)).strip(" ，,") for line in text.splitlines()]
    return "".join(_closed(line) for line in lines if line)


def _closed(sentence: str) -> str:
    """A sentence with a closing mark, so joined sentences are read with a pause."""
    return sentence if sentence[-1] in _SENTENCE_END else f"{sentence}。"


def options_of(buttons: Sequence[Mapping[str, Any]]) -> list[Option]:
    """The options a message's buttons offer, at most nine (one key each)."""
    options = []
    for button in buttons:
        title = speakable(str(button.get("title") or "")).rstrip(_SENTENCE_END)
        if title:
            options.append(Option(title, str(button.get("payload") or button["title"])))
    return options[:MAX_OPTIONS]


def options_speech(options: Sequence[Option], texts: Texts) -> str:
    """The sentence that reads the options out: "请说“查退款”或按1，说“查物流”或按2。"."""
    choices = "，".join(
        texts(OPTION_RESPONSE, title=option.title, number=number) for number, option in enumerate(options, 1)
    )
    return texts(OPTIONS_RESPONSE, options=choices)


def turn_speech(messages: Sequence[BotMessage], texts: Texts) -> tuple[str, list[Option]]:
    """The bot's turn as one speech, and the options the caller can pick next.

    The options are those of the last message with buttons, read out right after it.
    """
    pieces: list[str] = []
    options: list[Option] = []
    for message in messages:
        sentence = speakable(message.text)
        if sentence:
            pieces.append(sentence)
        offered = options_of(message.buttons)
        if offered:
            options = offered
            pieces.append(options_speech(offered, texts))
    return "".join(pieces), options
