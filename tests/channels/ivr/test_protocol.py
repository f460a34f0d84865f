"""The phone line's JSON protocol as pure functions: the turn request, callers, ids, replies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from channels.ivr.protocol import (
    MAX_TRANSCRIPT_CHARS,
    MalformedTurn,
    Turn,
    caller_number,
    conversation_id_for,
    is_fresh,
    message_id_for,
    parse_turn,
    reply_json,
    token_matches,
)

NOW = 1_790_000_000
VALID: dict[str, Any] = {
    "call_id": "CA-20261123-0001",
    "turn_id": 3,
    "timestamp": NOW,
    "caller": "+8613800138000",
    "transcript": "订单号八八零零，零零二零，零幺。",
    "confidence": 0.82,
    "dtmf": "",
}


def _body(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def test_a_full_turn() -> None:
    assert parse_turn(_body(VALID)) == Turn(
        call_id="CA-20261123-0001",
        turn_id=3,
        timestamp=NOW,
        event="turn",
        caller="13800138000",
        transcript="订单号八八零零 零零二零 零幺",
        confidence=0.82,
        dtmf="",
    )


def test_the_smallest_turns() -> None:
    keys_only = parse_turn(_body({"call_id": "c1", "turn_id": 1, "timestamp": NOW, "dtmf": "8000#"}))
    assert keys_only == Turn("c1", 1, NOW, dtmf="8000#")
    start = parse_turn(_body({"call_id": "c1", "turn_id": 1, "timestamp": NOW, "event": "start", "caller": None}))
    assert (start.event, start.caller, start.transcript, start.confidence) == ("start", None, "", None)
    # A confidence without words is ignored; an integer confidence is a number.
    silent = parse_turn(_body({**VALID, "transcript": " 。", "confidence": 1}))
    assert (silent.transcript, silent.confidence) == ("", None)
    assert parse_turn(_body({**VALID, "confidence": 1})).confidence == 1.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "body"),
        (b"\xff\xfe{}", "body"),
        (b"{\"call_id\": ", "body"),
        (b"[1, 2]", "body"),
        (b"\"call\"", "body"),
        (b'{"call_id": "c1", "turn_id": 1, "timestamp": 1, "confidence": NaN}', "body"),
        (b'{"call_id": "c1", "call_id": "c2", "turn_id": 1, "timestamp": 1}', "call_id"),
        (_body({**VALID, "extra": 1}), "extra"),
        (_body({k: v for k, v in VALID.items() if k != "call_id"}), "call_id"),
        (_body({k: v for k, v in VALID.items() if k != "turn_id"}), "turn_id"),
        (_body({k: v for k, v in VALID.items() if k != "timestamp"}), "timestamp"),
        (_body({**VALID, "call_id": ""}), "call_id"),
        (_body({**VALID, "call_id": "c" * 65}), "call_id"),
        (_body({**VALID, "call_id": "call id"}), "call_id"),
        (_body({**VALID, "call_id": 42}), "call_id"),
        (_body({**VALID, "turn_id": "3"}), "turn_id"),
        (_body({**VALID, "turn_id": True}), "turn_id"),
        (_body({**VALID, "turn_id": 0}), "turn_id"),
        (_body({**VALID, "turn_id": 3.5}), "turn_id"),
        (_body({**VALID, "timestamp": "now"}), "timestamp"),
        (_body({**VALID, "event": "ringing"}), "event"),
        (_body({**VALID, "caller": "138-0013-8000"}), "caller"),
        (_body({**VALID, "caller": "12"}), "caller"),
        (_body({**VALID, "caller": 13800138000}), "caller"),
        (_body({**VALID, "transcript": 8800}), "transcript"),
        (_body({**VALID, "transcript": "长" * (MAX_TRANSCRIPT_CHARS + 1)}), "transcript"),
        (_body({**VALID, "confidence": 1.5}), "confidence"),
        (_body({**VALID, "confidence": -0.1}), "confidence"),
        (_body({**VALID, "confidence": "0.9"}), "confidence"),
        (_body({**VALID, "confidence": True}), "confidence"),
        (_body({k: v for k, v in VALID.items() if k != "confidence"}), "confidence"),
        (_body({**VALID, "dtmf": "12a"}), "dtmf"),
        (_body({**VALID, "dtmf": "1" * 33}), "dtmf"),
        (_body({**VALID, "dtmf": 1}), "dtmf"),
    ],
)
def test_anything_but_the_documented_json_is_refused_naming_the_field(body: bytes, field: str) -> None:
    with pytest.raises(MalformedTurn) as refused:
        parse_turn(body)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("raw", "national"),
    [
        ("+8613800138000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("13800138000", "13800138000"),
        ("+861012345678", "01012345678"),
        ("01012345678", "01012345678"),
        ("+14155550100", "+14155550100"),
        (None, None),
        ("", None),
        ("anonymous", None),
        ("Withheld", None),
        ("PRIVATE", None),
        ("unknown", None),
    ],
)
def test_caller_numbers_in_national_form_and_withheld_numbers_as_none(raw: str | None, national: str | None) -> None:
    assert caller_number(raw) == national


def test_freshness() -> None:
    assert is_fresh(NOW, NOW + 300, 300) and is_fresh(NOW, NOW - 300, 300)
    assert not is_fresh(NOW, NOW + 301, 300) and not is_fresh(NOW + 301, NOW, 300)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer right-token", True),
        ("bearer right-token", True),
        ("Bearer  right-token ", True),
        ("Bearer wrong-token", False),
        ("Bearer right-token-and-more", False),
        ("Bearer", None),
        ("Basic cmlnaHQtdG9rZW4=", None),
        ("right-token", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, expected: bool | None) -> None:
    assert token_matches("right-token", header) is expected


def test_conversation_id_is_a_keyed_hash_of_the_call_never_of_the_caller() -> None:
    first = conversation_id_for("CA-1", "key-one")
    assert first.startswith("ivr-") and len(first) == 36
    assert first == conversation_id_for("CA-1", "key-one")
    assert first != conversation_id_for("CA-2", "key-one")
    assert first != conversation_id_for("CA-1", "key-two")
    assert "CA-1" not in first


def test_message_id_is_the_same_for_every_retry_of_a_turn() -> None:
    assert message_id_for("CA-1", 2) == message_id_for("CA-1", 2)
    assert len({message_id_for("CA-1", 2), message_id_for("CA-1", 3), message_id_for("CA-2", 2)}) == 3


def test_fingerprint_ignores_the_timestamp_only() -> None:
    turn = parse_turn(_body(VALID))
    assert parse_turn(_body({**VALID, "timestamp": NOW + 5})).fingerprint() == turn.fingerprint()
    assert parse_turn(_body({**VALID, "confidence": 0.9})).fingerprint() != turn.fingerprint()
    assert parse_turn(_body({**VALID, "dtmf": "1"})).fingerprint() != turn.fingerprint()


def test_reply() -> None:
    turn = parse_turn(_body(VALID))
    assert reply_json(turn, "好的。", "continue") == {
        "call_id": "CA-20261123-0001", "turn_id": 3, "speech": "好的。", "action": "continue",
    }
    transfer = {"queue": "aftersales", "ticket_id": "HO1"}
    assert reply_json(turn, "转接中。", "transfer", transfer=transfer)["transfer"] == transfer
    assert "transfer" not in reply_json(turn, "再见。", "hangup", callback={"ticket_id": "HO2"})
