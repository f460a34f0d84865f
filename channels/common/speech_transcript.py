"""What a speech recogniser's transcript needs before it is a shopper's words.

Shared by every channel that receives speech as text: the phone line (`channels/ivr`)
and WeChat voice messages (their `Recognition`). The NLU normaliser
(`bot/nlu/normalize.py`) already handles what speech and typing have in common
(fillers such as 嗯/呃, spoken digits 八八零零, stutters); this adds what only recognisers
do: they put punctuation where the speaker paused, also inside a number read out in
groups ("8800，0010，01", "幺三八、零零一三"), and close every transcript with 。.
"""

from __future__ import annotations

import re

# Arabic, full-width and spoken digits (as bot/nlu/normalize.py reads them).
_DIGIT = "0-9０-９零〇洞一幺二两三四五六七八九"
# A pause a recogniser writes between two digit groups: commas, enumeration comma, full
# stop, spaces. Not `.` between Arabic digits (a decimal point) nor `-` (the normaliser
# joins dashes itself).
_PAUSE_BETWEEN_DIGITS = re.compile(rf"(?<=[{_DIGIT}])(?:\s*[,，、。]\s*|\s+)(?=[{_DIGIT}])")
_TRAILING_STOPS = re.compile(r"[\s。.，,]+$")
_WHITESPACE = re.compile(r"\s+")


def speech_text(transcript: str, limit: int) -> str:
    """A recogniser's transcript as the shopper's words for the bot.

    Pauses between digit groups become one space, so the normaliser joins the groups
    when they have the shape of an order or phone number (and leaves them apart when
    not); the closing full stop and surrounding whitespace go.

    Args:
        transcript: The recogniser's text.
        limit: The most characters kept (longer transcripts are cut).

    Returns:
        The cleaned text; empty when nothing was recognised.
    """
    text = _WHITESPACE.sub(" ", transcript).strip()
    text = _PAUSE_BETWEEN_DIGITS.sub(" ", text)
    return _TRAILING_STOPS.sub("", text)[:limit].strip()
