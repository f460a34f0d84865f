"""The per-call memory: kept an hour after the latest turn, a bounded number of answers per
call, as JSON in the channels' shared state (this process's memory, or the local Redis for
real: `TEST_REDIS_URL` overrides it)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator

import pytest

from channels.common.shared_state import SharedState
from channels.ivr.calls import (
    CALL_LOCK_TTL_S,
    MAX_TURNS_KEPT,
    AnsweredTurn,
    Call,
    CallBook,
    call_from_json,
    call_to_json,
)
from channels.ivr.inbound import Heard, Pending
from channels.ivr.render import Option

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DOWN_REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
# Short enough for a test to see the expiry, long enough for a loaded machine's event loop.
SHORT_TTL_S = 1.0


async def delete_prefix(prefix: str) -> None:
    client = SharedState(REDIS_URL, prefix).client()
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.close()


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[SharedState]:
    """This process's memory, or a key prefix of the test's own in the real Redis."""
    if request.param == "memory":
        yield SharedState()
        return
    shared = SharedState(REDIS_URL, f"test-ivr-{uuid.uuid4().hex[:8]}")
    yield shared
    await shared.client().close()
    await delete_prefix(shared.key_prefix)


def a_call() -> Call:
    """A call in the middle of things: answered turns, a confirmation waiting, options read out."""
    call = Call("13800138000")
    call.remember(1, AnsweredTurn("fp1", {"call_id": "CA-1", "turn_id": 1, "speech": "您好", "action": "continue"}))
    call.remember(3, AnsweredTurn("fp3", {
        "call_id": "CA-1", "turn_id": 3, "speech": "正在为您转接", "action": "transfer",
        "transfer": {"queue": "aftersales", "ticket_id": "HO1", "priority": 2, "reason": "user_request",
                     "order_id": None, "summary": "顾客要求转人工"},
    }))
    call.pending = Pending("订单号八八零零零零二零零三", Heard("order_id", "8800002003"), 0.42)
    call.options = [Option("8800002003，纯棉圆领T恤", "8800002003"), Option("转人工", "/request_human")]
    call.last_speech = "请问您要查哪个订单？"
    return call


def test_a_call_is_json_and_back_the_same() -> None:
    call = a_call()
    data = json.loads(json.dumps(call_to_json(call), ensure_ascii=False))

    assert call_from_json(data) == call
    assert isinstance(call_from_json(data).turns, OrderedDict) and list(call_from_json(data).turns) == [1, 3]
    assert data["pending"] == {"transcript": "订单号八八零零零零二零零三",
                               "heard": {"kind": "order_id", "digits": "8800002003"}, "confidence": 0.42}
    assert call_from_json(call_to_json(Call(None))) == Call(None)


@pytest.mark.parametrize(
    "change",
    [{"turns": [[1, "fp1"]]}, {"turns": [["1", "fp1", {}]]}, {"ended": "no"}, {"last_turn_id": None},
     {"pending": {"transcript": "x", "heard": {"kind": "postcode", "digits": "1"}, "confidence": 0.4}},
     {"options": [{"title": "转人工"}]}, {"caller": 138}],
    ids=["short-turn", "text-turn-id", "text-ended", "no-last-turn", "unknown-digits", "option-without-payload",
         "number-caller"],
)
def test_what_is_not_a_calls_state_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not a call's state"):
        call_from_json({**call_to_json(a_call()), **change})
    with pytest.raises(ValueError, match="not a call's state"):
        call_from_json(["not", "an", "object"])


async def test_a_call_lives_for_the_ttl_after_its_latest_turn(state: SharedState) -> None:
    book = CallBook(state, ttl_s=SHORT_TTL_S)
    call = await book.start("CA-1", "13800138000")
    assert await book.get("CA-1") == call and await book.get("CA-2") is None
    await asyncio.sleep(SHORT_TTL_S * 0.6)  # the expiry itself is under test: Redis's and the clock's
    await book.touch("CA-1", call)
    await asyncio.sleep(SHORT_TTL_S * 0.6)
    assert await book.get("CA-1") == call
    await asyncio.sleep(SHORT_TTL_S * 0.6)
    assert await book.get("CA-1") is None


async def test_the_oldest_call_goes_when_the_book_is_full() -> None:
    book = CallBook(SharedState(), max_calls=2)  # this process's memory; Redis has only the TTL
    for call_id in ("CA-1", "CA-2", "CA-3"):
        await book.start(call_id, None)
    assert [await book.get(call_id) for call_id in ("CA-1", "CA-2", "CA-3")] == [None, Call(None), Call(None)]


async def test_a_call_keeps_the_latest_answers_and_the_highest_turn_id(state: SharedState) -> None:
    book = CallBook(state)
    call = await book.start("CA-1", None)
    for turn_id in range(1, MAX_TURNS_KEPT + 3):
        call.remember(turn_id, AnsweredTurn(f"fp{turn_id}", {"turn_id": turn_id}))
    await book.touch("CA-1", call)
    kept = await book.get("CA-1")
    assert kept is not None
    assert len(kept.turns) == MAX_TURNS_KEPT
    assert min(kept.turns) == 3 and kept.last_turn_id == MAX_TURNS_KEPT + 2
    assert kept.turns[MAX_TURNS_KEPT + 2] == AnsweredTurn(f"fp{MAX_TURNS_KEPT + 2}", {"turn_id": MAX_TURNS_KEPT + 2})


async def test_a_calls_memory_is_read_by_another_book_on_the_same_redis() -> None:
    prefix = f"test-ivr-{uuid.uuid4().hex[:8]}"
    one, other = SharedState(REDIS_URL, prefix), SharedState(REDIS_URL, prefix)
    try:
        await CallBook(one).touch("CA-1", a_call())
        assert await CallBook(other).get("CA-1") == a_call()
        assert await CallBook(SharedState(REDIS_URL, f"{prefix}-elsewhere")).get("CA-1") is None
    finally:
        await one.client().close()
        await other.client().close()
        await delete_prefix(prefix)


async def test_an_unreadable_memory_is_a_call_starting_over(caplog: pytest.LogCaptureFixture) -> None:
    prefix = f"test-ivr-{uuid.uuid4().hex[:8]}"
    state = SharedState(REDIS_URL, prefix)
    try:
        await state.map("ivr:calls", ttl_s=60).put("CA-1", {"caller": "13800138000"})
        assert await CallBook(state).get("CA-1") is None
        assert "memory of call CA-1 is unreadable" in caplog.text
    finally:
        await state.client().close()
        await delete_prefix(prefix)


async def test_two_books_on_the_same_redis_take_a_calls_lock_one_after_the_other() -> None:
    prefix = f"test-ivr-{uuid.uuid4().hex[:8]}"
    one, other = SharedState(REDIS_URL, prefix), SharedState(REDIS_URL, prefix)
    order: list[str] = []
    first_holds, second_refused, release_first = asyncio.Event(), asyncio.Event(), asyncio.Event()
    first_book, second_book = CallBook(one), CallBook(other)
    # Watches the second book's tries at the lock shared by the processes.
    shared_locks = second_book._shared_locks
    assert shared_locks is not None
    claim = shared_locks.claim

    async def watched_claim(key: str) -> bool:
        won = await claim(key)
        if not won:
            second_refused.set()
        return won

    shared_locks.claim = watched_claim  # type: ignore[method-assign]

    async def first() -> None:
        async with first_book.locked("CA-1"):
            order.append("first in")
            first_holds.set()
            await release_first.wait()
            order.append("first out")

    async def second() -> None:
        await first_holds.wait()
        async with second_book.locked("CA-1"):
            order.append("second in")

    try:
        tasks = [asyncio.ensure_future(first()), asyncio.ensure_future(second())]
        await asyncio.wait_for(second_refused.wait(), 10)  # the second tried while the first holds it
        lock_key = f"{prefix}:ivr:call_locks:CA-1"
        assert 0 < await one.client().pttl(lock_key) <= CALL_LOCK_TTL_S * 1000
        assert order == ["first in"]
        release_first.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert order == ["first in", "first out", "second in"]
        assert await one.client().exists(lock_key) == 0  # let go after the second, too
    finally:
        await one.client().close()
        await other.client().close()
        await delete_prefix(prefix)


async def test_turns_of_one_process_take_the_lock_in_the_order_they_asked(state: SharedState) -> None:
    book = CallBook(state)
    order: list[int] = []

    async def turn(number: int) -> None:
        async with book.locked("CA-1"):
            await asyncio.sleep(0)
            order.append(number)

    await asyncio.wait_for(asyncio.gather(*(turn(number) for number in range(5))), 10)
    assert order == [0, 1, 2, 3, 4]
    assert book._local_locks == {}  # nothing left behind for a call with no turn running


async def test_with_redis_down_a_call_is_forgotten_but_its_lock_never_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    book = CallBook(SharedState(DOWN_REDIS_URL, "test-down"))
    await book.touch("CA-1", a_call())
    async with book.locked("CA-1"):
        assert await book.get("CA-1") is None
    assert "Redis unreachable" in caplog.text

