"""The phone line's JSON protocol as pure functions: the turn request, strictly
validated, the caller's number, the ids derived from a call, and the reply.

The JSON both ways is documented in `channels/ivr/README.md`. Nothing here does I/O or
keeps state, so all of it is tested without a server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from channels.common.speech_transcript import speech_text

MAX_BODY_BYTES = 16 * 1024
MAX_TRANSCRIPT_CHARS = 500
MAX_TURN_ID = 100_000
_CALL_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_CALLER = re.compile(r"\+?[0-9]{3,20}")
_DTMF = re.compile(r"[0-9*#]{0,32}")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# What platforms send for a withheld number (or the number left out, or null).
WITHHELD_CALLERS = frozenset({"", "anonymous", "withheld", "private", "restricted", "unknown"})
EVENTS = ("start", "turn", "end")
_FIELDS = frozenset(
    {"call_id", "turn_id", "timestamp", "event", "caller", "transcript", "confidence", "dtmf"}
)
_REQUIRED = ("call_id", "turn_id", "timestamp")

Event = Literal["start", "turn", "end"]
CallAction = Literal["continue", "transfer", "hangup"]


class MalformedTurn(ValueError):
    """A turn request is not the documented JSON.

    Attributes:
        field: The offending field, or `body` when the body as a whole is wrong.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Turn:
    """One validated turn of a call.

    Attributes:
        call_id: The platform's id of the call.
        turn_id: The turn's number in the call (the same for every retry of it).
        timestamp: When the platform sent it, Unix seconds.
        event: `start` (the call was answered), `turn` (the caller said or keyed
            something) or `end` (the caller hung up).
        caller: The caller's number in national form (13800138000), or None when withheld.
        transcript: The ASR transcript, cleaned by `channels.common.speech_transcript.speech_text`.
        confidence: The ASR confidence (0..1), or None without a transcript.
        dtmf: The keys pressed, as sent (`[0-9*#]`, up to 32).
    """

    call_id: str
    turn_id: int
    timestamp: int
    event: Event = "turn"
    caller: str | None = None
    transcript: str = ""
    confidence: float | None = None
    dtmf: str = ""

    def fingerprint(self) -> str:
        """What must be the same in every retry of the turn (not the timestamp)."""
        content = [self.event, self.caller, self.transcript, self.confidence, self.dtmf]
        return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


def parse_turn(body: bytes) -> Turn:
    """The turn a request body carries, validated strictly.

    Raises:
        MalformedTurn: Not UTF-8 JSON, not an object, a field unknown, missing, given
            twice, of the wrong type, out of range or malformed.
    """
    try:
        document = json.loads(
            body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constants
        )
    except UnicodeDecodeError:
        raise MalformedTurn("body", "not UTF-8") from None
    except json.JSONDecodeError as error:
        raise MalformedTurn("body", f"not JSON ({error.msg})") from None
    if not isinstance(document, dict):
        raise MalformedTurn("body", "not a JSON object")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise MalformedTurn(unknown[0], "unknown field")
    for name in _REQUIRED:
        if name not in document:
            raise MalformedTurn(name, "missing")
    call_id = document["call_id"]
    if not isinstance(call_id, str) or not _CALL_ID.fullmatch(call_id):
        raise MalformedTurn("call_id", "must be 1-64 letters, digits or . _ : -")
    turn_id = _integer(document, "turn_id", 1, MAX_TURN_ID)
    timestamp = _integer(document, "timestamp", 0, 10**11)
    event = document.get("event", "turn")
    if event not in EVENTS:
        raise MalformedTurn("event", f"must be one of {', '.join(EVENTS)}")
    caller = caller_number(document.get("caller"))
    transcript = document.get("transcript", "")
    if not isinstance(transcript, str) or len(transcript) > MAX_TRANSCRIPT_CHARS:
        raise MalformedTurn("transcript", f"must be a string of at most {MAX_TRANSCRIPT_CHARS} characters")
    confidence = document.get("confidence")
    if confidence is not None and (
        isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1
    ):
        raise MalformedTurn("confidence", "must be a number from 0 to 1")
    cleaned = speech_text(transcript, MAX_TRANSCRIPT_CHARS)
    if cleaned and confidence is None:
        raise MalformedTurn("confidence", "missing (required with a transcript)")
    dtmf = document.get("dtmf", "")
    if not isinstance(dtmf, str) or not _DTMF.fullmatch(dtmf):
        raise MalformedTurn("dtmf", "must be up to 32 of 0-9 * #")
    return Turn(
        call_id=call_id,
        turn_id=turn_id,
        timestamp=timestamp,
        event=event,
        caller=caller,
        transcript=cleaned,
        confidence=float(confidence) if cleaned and confidence is not None else None,
        dtmf=dtmf,
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise MalformedTurn(key, "given twice")
        document[key] = value
    return document


def _no_constants(name: str) -> Any:
    raise MalformedTurn("body", f"{name} is not a JSON number")


def _integer(document: dict[str, Any], name: str, low: int, high: int) -> int:
    value = document[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MalformedTurn(name, f"must be an integer from {low} to {high}")
    return value


def caller_number(raw: Any) -> str | None:
    """The caller's number in national form, or None when the number is withheld.

    +86 and 0086 are dropped (+8613800138000 -> 13800138000, +861012345678 ->
    01012345678); a foreign number keeps its +. The order system knows each customer's
    phone as a `phone` account in national form.

    Raises:
        MalformedTurn: Neither a number (optionally with +) nor a withheld marker.
    """
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise MalformedTurn("caller", "must be a string or null")
    if raw.strip().lower() in WITHHELD_CALLERS:
        return None
    if not _CALLER.fullmatch(raw):
        raise MalformedTurn("caller", "must be 3-20 digits, optionally after +, or `anonymous`")
    for prefix in ("+86", "0086"):
        if raw.startswith(prefix):
            national = raw[len(prefix):]
            return national if _MOBILE.fullmatch(national) else f"0{national.lstrip('0')}"
    if len(raw) == 13 and raw.startswith("86") and _MOBILE.fullmatch(raw[2:]):
        return raw[2:]
    return raw


def is_fresh(timestamp: int, now: float, max_skew_s: float) -> bool:
    """Whether a turn's timestamp (Unix seconds) is within `max_skew_s` of `now`."""
    return abs(timestamp - now) <= max_skew_s


def token_matches(expected: str, authorization: str | None) -> bool | None:
    """Checks an `Authorization: Bearer <token>` header in constant time.

    Returns:
        None when there is no bearer token at all (401), else whether it is the right one.
    """
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return None
    return hmac.compare_digest(expected.encode(), given.strip().encode())


def conversation_id_for(call_id: str, key: str) -> str:
    """The Rasa conversation id of a call: a keyed hash of the call id.

    Never the caller's number (one person's calls are separate conversations, and the
    number is personal data); keyed, because the REST webhook lets anybody name a
    conversation id, and a guessable one would let a stranger continue a verified call.
    """
    digest = hmac.new(key.encode(), call_id.encode(), hashlib.sha256).hexdigest()
    return f"ivr-{digest[:32]}"


def message_id_for(call_id: str, turn_id: int) -> str:
    """The Rasa message id of a turn: the same for every retry of it."""
    return f"ivr-{hashlib.sha256(f'{call_id}:{turn_id}'.encode()).hexdigest()[:32]}"


def reply_json(
    turn: Turn,
    speech: str,
    action: CallAction,
    transfer: dict[str, Any] | None = None,
    callback: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The answer to a turn (see the README): what to say, then what to do with the call."""
    reply: dict[str, Any] = {
        "call_id": turn.call_id, "turn_id": turn.turn_id, "speech": speech, "action": action,
    }
    if transfer is not None:
        reply["transfer"] = transfer
    if callback is not None:
        reply["callback"] = callback
    return reply


def error_json(error: str, message: str, field: str | None = None) -> dict[str, Any]:
    """An error body: a stable code, a human-readable message, and the field if any."""
    body = {"error": error, "message": message}
    if field is not None:
        body["field"] = field
    return body
