"""What a caller's turn means: the words the bot gets, or an answer from the channel.

Pure: decided from the turn and what the call remembers (a transcript waiting for
confirmation, the options read out last). The rules (README, "Keys and speech"):

- Keys (DTMF) are exact, so they are never confirmed; they win over a transcript sent
  with them. `#` ends the input (keys after it are ignored); `*` alone repeats what was
  said last; `*` among digits discards the input and asks for it again; `0` alone asks
  for a person (`/request_human`); while a confirmation waits, `1` confirms and `2` asks
  to say it again; a single digit picks one of the options read out last; any other
  digits are the caller's words (an order number, phone digits).
- A transcript that carries an order number, a mobile or four digits, heard with a
  confidence below the threshold, is not passed on yet: the channel reads the digits
  back and asks. "对"/`1` passes the transcript on, "不对"/`2` asks to say it again, and
  anything else is a new statement. A low-confidence transcript without digits is passed
  on: the NLU's own fallback asks the caller to rephrase what it does not understand.
- Saying an option's title picks it (its payload is sent), like pressing its key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.actions.conversation import find_last4, find_mobile, find_order_id
from bot.nlu.normalize import normalize
from channels.ivr.protocol import Turn
from channels.ivr.render import Option, read_digits

GREET_PAYLOAD = "/greet"
HUMAN_PAYLOAD = "/request_human"
HUMAN_KEY = "0"
REPEAT_KEY = "*"
END_KEY = "#"
CONFIRM_KEY = "1"
RETRY_KEY = "2"

CONFIRM_RESPONSES = {
    "order_id": "utter_channel_ivr_confirm_order_id",
    "mobile": "utter_channel_ivr_confirm_mobile",
    "digits": "utter_channel_ivr_confirm_digits",
}
SAY_AGAIN_RESPONSE = "utter_channel_ivr_say_again"
NO_INPUT_RESPONSE = "utter_channel_ivr_no_input"
KEYS_INVALID_RESPONSE = "utter_channel_ivr_keys_invalid"

# Yes and no to "您说的是…，对吗？", after normalisation (对对对 -> 对), punctuation stripped.
_NO = re.compile(r"^(?:不对|不是|错了|说错|不正确|不$)")
_YES = re.compile(r"^(?:(?:对|是|嗯|好|没错|正确|确认|可以|没问题)(?:的|啊|呀|吧|了)?)+$")
_PUNCTUATION = re.compile(r"[\s,.!?;:，。！？；：、~…]+")

HeardKind = Literal["order_id", "mobile", "digits"]
InboundKind = Literal["bot", "answer", "repeat", "end"]


@dataclass(frozen=True)
class Heard:
    """Digits found in a transcript: which kind, and the digits."""

    kind: HeardKind
    digits: str


@dataclass(frozen=True)
class Pending:
    """A transcript waiting for the caller to confirm the digits read back.

    Attributes:
        transcript: What the caller said; passed on as it is when confirmed.
        heard: The digits read back.
        confidence: The ASR confidence of the transcript.
    """

    transcript: str
    heard: Heard
    confidence: float


@dataclass(frozen=True)
class Inbound:
    """What to do with a turn.

    Attributes:
        kind: `bot` (send `text` to the bot), `answer` (say the channel's `response`),
            `repeat` (say again what was said last) or `end` (the caller hung up).
        text: The caller's words or a payload, for `bot`.
        source: How the words came: `speech`, `keys`, `option`, `confirmed`, `start`.
        response: The channel response to say, for `answer`.
        values: The response's values.
        pending: The confirmation waiting after this turn (None: nothing waits).
        confidence: The ASR confidence of the words passed on, if spoken.
    """

    kind: InboundKind
    text: str = ""
    source: str = ""
    response: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)
    pending: Pending | None = None
    confidence: float | None = None


def heard_digits(transcript: str) -> Heard | None:
    """The order number, mobile or four digits in a transcript (spoken digits too)."""
    order_id = find_order_id(transcript)
    if order_id:
        return Heard("order_id", order_id)
    mobile = find_mobile(transcript)
    if mobile:
        return Heard("mobile", mobile)
    last4 = find_last4(transcript)
    return Heard("digits", last4) if last4 else None


def yes_or_no(transcript: str) -> bool | None:
    """True for a yes, False for a no, None for anything else."""
    words = _PUNCTUATION.sub("", normalize(transcript).text)
    if _NO.match(words):
        return False
    if _YES.match(words):
        return True
    return None


def chosen_option(transcript: str, options: Sequence[Option]) -> Option | None:
    """The option whose title the caller said, or whose number they said alone."""
    words = _PUNCTUATION.sub("", normalize(transcript).text)
    if words.isascii() and words.isdigit() and 1 <= int(words) <= len(options):
        return options[int(words) - 1]
    for option in options:
        if words and words == _PUNCTUATION.sub("", normalize(option.title).text):
            return option
    return None


def interpret(
    turn: Turn, pending: Pending | None, options: Sequence[Option], confidence_threshold: float
) -> Inbound:
    """Decides what a turn means (see the module docstring for the rules).

    Args:
        turn: The validated turn.
        pending: The transcript waiting for confirmation, if any.
        options: The options read out in the last answer.
        confidence_threshold: Below this, digits heard are confirmed first.
    """
    if turn.event == "end":
        return Inbound("end")
    if turn.event == "start":
        return Inbound("bot", GREET_PAYLOAD, "start")
    keys = turn.dtmf.split(END_KEY, 1)[0]
    if keys:
        return _keys(keys, pending, options)
    if not turn.transcript:
        return Inbound("answer", response=NO_INPUT_RESPONSE, pending=pending)
    return _speech(turn.transcript, turn.confidence, pending, options, confidence_threshold)


def _keys(keys: str, pending: Pending | None, options: Sequence[Option]) -> Inbound:
    if keys == REPEAT_KEY:
        return Inbound("repeat", pending=pending)
    if REPEAT_KEY in keys:
        return Inbound("answer", response=KEYS_INVALID_RESPONSE, pending=pending)
    if pending is not None and keys == CONFIRM_KEY:
        return _confirmed(pending)
    if pending is not None and keys == RETRY_KEY:
        return Inbound("answer", response=SAY_AGAIN_RESPONSE)
    if keys == HUMAN_KEY:
        return Inbound("bot", HUMAN_PAYLOAD, "keys")
    if len(keys) == 1 and 1 <= int(keys) <= len(options):
        return Inbound("bot", options[int(keys) - 1].payload, "option")
    return Inbound("bot", keys, "keys")


def _speech(
    transcript: str,
    confidence: float | None,
    pending: Pending | None,
    options: Sequence[Option],
    confidence_threshold: float,
) -> Inbound:
    heard = heard_digits(transcript)
    if pending is not None and heard is None:
        answer = yes_or_no(transcript)
        if answer is True:
            return _confirmed(pending)
        if answer is False:
            return Inbound("answer", response=SAY_AGAIN_RESPONSE)
    option = chosen_option(transcript, options)
    if option is not None:
        return Inbound("bot", option.payload, "option", confidence=confidence)
    if heard is not None and confidence is not None and confidence < confidence_threshold:
        return Inbound(
            "answer",
            response=CONFIRM_RESPONSES[heard.kind],
            values={"digits": read_digits(heard.digits)},
            pending=Pending(transcript, heard, confidence),
        )
    return Inbound("bot", transcript, "speech", confidence=confidence)


def _confirmed(pending: Pending) -> Inbound:
    return Inbound("bot", pending.transcript, "confirmed", confidence=pending.confidence)
