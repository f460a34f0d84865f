"""What a caller's turn means: keys, speech, and the confirmation of digits heard badly."""

from __future__ import annotations

import pytest

from channels.ivr.inbound import (
    CONFIRM_RESPONSES,
    GREET_PAYLOAD,
    HUMAN_PAYLOAD,
    KEYS_INVALID_RESPONSE,
    NO_INPUT_RESPONSE,
    SAY_AGAIN_RESPONSE,
    Heard,
    Inbound,
    Pending,
    chosen_option,
    heard_digits,
    interpret,
    yes_or_no,
)
from channels.ivr.protocol import Turn
from channels.ivr.render import Option

THRESHOLD = 0.6
OPTIONS = [Option("查退款", "/check_refund_status"), Option("查物流", "/check_order_status")]
PENDING = Pending("订单号八八零零零零二零零一", Heard("order_id", "8800002001"), 0.41)


def said(transcript: str, confidence: float = 0.9) -> Turn:
    return Turn("CA-1", 2, 0, transcript=transcript, confidence=confidence)


def keyed(dtmf: str, transcript: str = "") -> Turn:
    return Turn("CA-1", 2, 0, transcript=transcript, confidence=0.9 if transcript else None, dtmf=dtmf)


def meaning(turn: Turn, pending: Pending | None = None, options: list[Option] | None = None) -> Inbound:
    return interpret(turn, pending, options or [], THRESHOLD)


# ---- events


def test_a_call_starts_with_a_greeting_and_ends_without_a_bot_turn() -> None:
    assert meaning(Turn("CA-1", 1, 0, event="start")) == Inbound("bot", GREET_PAYLOAD, "start")
    assert meaning(Turn("CA-1", 9, 0, event="end"), PENDING).kind == "end"


# ---- speech


def test_a_clear_transcript_is_the_callers_words() -> None:
    assert meaning(said("我想查一下退款")) == Inbound("bot", "我想查一下退款", "speech", confidence=0.9)
    # Digits heard with enough confidence go straight on.
    assert meaning(said("订单号8800002001", 0.6)) == Inbound("bot", "订单号8800002001", "speech", confidence=0.6)


@pytest.mark.parametrize(
    ("transcript", "kind", "digits"),
    [
        ("订单号八八零零零零二零零一的退款到了吗", "order_id", "8 8 0 0 0 0 2 0 0 1"),
        ("我的手机是幺三八零零幺三八零零零", "mobile", "1 3 8 0 0 1 3 8 0 0 0"),
        ("后四位是八零零零", "digits", "8 0 0 0"),
    ],
)
def test_digits_heard_with_low_confidence_are_read_back_first(transcript: str, kind: str, digits: str) -> None:
    inbound = meaning(said(transcript, 0.45))
    assert inbound == Inbound(
        "answer",
        response=CONFIRM_RESPONSES[kind],
        values={"digits": digits},
        pending=Pending(transcript, heard_digits(transcript) or Heard("digits", ""), 0.45),
    )


def test_low_confidence_without_digits_is_passed_on() -> None:
    assert meaning(said("我想退那个东西", 0.3)) == Inbound("bot", "我想退那个东西", "speech", confidence=0.3)


@pytest.mark.parametrize("answer", ["对", "对对对", "是的", "嗯嗯", "对的，没错"])
def test_yes_passes_the_pending_transcript_on(answer: str) -> None:
    assert meaning(said(answer), PENDING) == Inbound("bot", PENDING.transcript, "confirmed", confidence=0.41)


@pytest.mark.parametrize("answer", ["不对", "不是", "错了", "不"])
def test_no_asks_to_say_it_again_and_forgets_it(answer: str) -> None:
    assert meaning(said(answer), PENDING) == Inbound("answer", response=SAY_AGAIN_RESPONSE)


def test_anything_else_while_a_confirmation_waits_is_a_new_statement() -> None:
    # A correction with the digits again: a new statement, confirmed again if still unclear.
    corrected = meaning(said("不对，是八八零零零零二零零二", 0.5), PENDING)
    assert (corrected.response, corrected.values) == (CONFIRM_RESPONSES["order_id"], {"digits": "8 8 0 0 0 0 2 0 0 2"})
    assert meaning(said("我要转人工"), PENDING) == Inbound("bot", "我要转人工", "speech", confidence=0.9)


def test_saying_an_options_title_or_number_picks_it() -> None:
    assert meaning(said("查物流。"), options=OPTIONS) == Inbound("bot", "/check_order_status", "option", confidence=0.9)
    assert meaning(said("1"), options=OPTIONS).text == "/check_refund_status"
    assert meaning(said("3"), options=OPTIONS).text == "3"
    assert chosen_option("我要查物流", OPTIONS) is None


def test_silence_asks_again_and_keeps_the_confirmation() -> None:
    assert meaning(said("", 0.0), PENDING) == Inbound("answer", response=NO_INPUT_RESPONSE, pending=PENDING)
    assert meaning(keyed("#"), PENDING) == Inbound("answer", response=NO_INPUT_RESPONSE, pending=PENDING)


# ---- keys


def test_keys_are_the_callers_exact_words_up_to_the_hash() -> None:
    assert meaning(keyed("8800002001#")) == Inbound("bot", "8800002001", "keys")
    assert meaning(keyed("8000#99")) == Inbound("bot", "8000", "keys")
    # Keys win over speech sent with them, and are never confirmed.
    assert meaning(keyed("8000", "八零零零")) == Inbound("bot", "8000", "keys")


def test_star_repeats_and_star_among_digits_asks_again() -> None:
    assert meaning(keyed("*"), PENDING) == Inbound("repeat", pending=PENDING)
    assert meaning(keyed("*#")) == Inbound("repeat")
    assert meaning(keyed("88*00#"), PENDING) == Inbound("answer", response=KEYS_INVALID_RESPONSE, pending=PENDING)


def test_zero_asks_for_a_person() -> None:
    assert meaning(keyed("0")) == Inbound("bot", HUMAN_PAYLOAD, "keys")


def test_one_and_two_answer_a_confirmation() -> None:
    assert meaning(keyed("1"), PENDING, OPTIONS) == Inbound("bot", PENDING.transcript, "confirmed", confidence=0.41)
    assert meaning(keyed("2#"), PENDING, OPTIONS) == Inbound("answer", response=SAY_AGAIN_RESPONSE)
    # Other digits while a confirmation waits: the caller keyed the number instead.
    assert meaning(keyed("8800002001#"), PENDING) == Inbound("bot", "8800002001", "keys")


def test_a_single_digit_picks_an_option_read_out() -> None:
    assert meaning(keyed("2"), options=OPTIONS) == Inbound("bot", "/check_order_status", "option")
    assert meaning(keyed("3"), options=OPTIONS) == Inbound("bot", "3", "keys")
    assert meaning(keyed("1")) == Inbound("bot", "1", "keys")


def test_yes_or_no_words() -> None:
    assert [yes_or_no(w) for w in ("好的", "没错", "好像不对", "不用了", "八八")] == [True, True, None, None, None]
