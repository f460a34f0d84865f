"""The per-call memory: kept an hour after the latest turn, a bounded number of answers per call."""

from __future__ import annotations

import asyncio

from channels.ivr.calls import CALL_TTL_S, MAX_TURNS_KEPT, AnsweredTurn, CallBook


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_call_lives_for_the_ttl_after_its_latest_turn() -> None:
    clock = FakeClock()
    book = CallBook(clock=clock)
    call = book.start("CA-1", "13800138000")
    assert book.get("CA-1") is call and book.get("CA-2") is None
    clock.now += CALL_TTL_S - 1
    book.touch("CA-1", call)
    clock.now += CALL_TTL_S - 1
    assert book.get("CA-1") is call
    clock.now += 2
    assert book.get("CA-1") is None and len(book) == 0


def test_the_oldest_call_goes_when_the_book_is_full() -> None:
    book = CallBook(max_calls=2)
    for call_id in ("CA-1", "CA-2", "CA-3"):
        book.start(call_id, None)
    assert (book.get("CA-1"), len(book)) == (None, 2)


async def test_a_call_keeps_the_latest_answers_and_the_highest_turn_id() -> None:
    call = CallBook().start("CA-1", None)
    answer: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
    for turn_id in range(1, MAX_TURNS_KEPT + 3):
        call.remember(turn_id, AnsweredTurn(f"fp{turn_id}", answer))
    assert len(call.turns) == MAX_TURNS_KEPT
    assert min(call.turns) == 3 and call.last_turn_id == MAX_TURNS_KEPT + 2
