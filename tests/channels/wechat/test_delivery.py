"""One turn per push and one delivery per answer, with real asyncio tasks and timing."""

from __future__ import annotations

import asyncio

from channels.common.shared_state import SharedState
from channels.wechat.delivery import DeliveryBook


class Turns:
    """Bot turns that end when the test says so, counting how many were started."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()
        self.pushed: list[list[str]] = []

    async def turn(self) -> list[str]:
        self.started += 1
        await self.release.wait()
        return ["您好，订单已发货。"]

    def push(self, texts: list[str]) -> None:
        self.pushed.append(texts)


async def test_a_fast_turn_is_answered_passively_and_never_pushed() -> None:
    turns, book = Turns(), DeliveryBook()
    turns.release.set()
    delivery, first = book.get_or_start("msg:1", turns.turn, turns.push)
    assert first
    assert await delivery.passive_answer(1.0) == ["您好，订单已发货。"]
    await asyncio.sleep(0)
    assert (delivery.mode, turns.pushed) == ("passive", [])


async def test_a_slow_turn_answers_success_then_pushes_once() -> None:
    turns, book = Turns(), DeliveryBook()
    delivery, _ = book.get_or_start("msg:1", turns.turn, turns.push)
    assert await delivery.passive_answer(0.05) is None
    assert turns.pushed == []
    turns.release.set()
    await delivery.task
    await asyncio.sleep(0)
    assert (delivery.mode, turns.pushed) == ("push", [["您好，订单已发货。"]])
    # WeChat's later retry: no second turn, no second delivery.
    again, first = book.get_or_start("msg:1", turns.turn, turns.push)
    assert (again is delivery, first) == (True, False)
    assert await again.passive_answer(1.0) is None
    assert (turns.started, len(turns.pushed)) == (1, 1)


async def test_a_retry_still_waiting_when_the_turn_ends_takes_the_answer_passively() -> None:
    turns, book = Turns(), DeliveryBook()
    delivery, _ = book.get_or_start("msg:1", turns.turn, turns.push)
    assert await delivery.passive_answer(0.01) is None  # the first copy gave up
    retry, first = book.get_or_start("msg:1", turns.turn, turns.push)
    waiting = asyncio.ensure_future(retry.passive_answer(5.0))
    await asyncio.sleep(0.01)
    turns.release.set()
    assert await waiting == ["您好，订单已发货。"]
    await asyncio.sleep(0)
    assert (first, turns.started, turns.pushed, delivery.mode) == (False, 1, [], "passive")


async def test_concurrent_copies_share_one_turn_and_one_answer() -> None:
    turns, book = Turns(), DeliveryBook()

    async def copy() -> list[str] | None:
        delivery, _ = book.get_or_start("msg:7", turns.turn, turns.push)
        return await delivery.passive_answer(2.0)

    copies = [asyncio.ensure_future(copy()) for _ in range(10)]
    await asyncio.sleep(0.01)
    turns.release.set()
    answers = await asyncio.gather(*copies)
    assert answers == [["您好，订单已发货。"]] * 10
    assert (turns.started, turns.pushed, len(book)) == (1, [], 1)


async def test_different_pushes_get_different_turns() -> None:
    turns, book = Turns(), DeliveryBook()
    turns.release.set()
    for key in ("msg:1", "msg:2", "event:o:1:subscribe"):
        delivery, first = book.get_or_start(key, turns.turn, turns.push)
        assert first
        await delivery.passive_answer(1.0)
    assert turns.started == 3


async def test_an_answer_is_pushed_when_wechat_drops_the_waiting_connection() -> None:
    turns, book = Turns(), DeliveryBook()
    delivery, _ = book.get_or_start("msg:1", turns.turn, turns.push)
    waiting = asyncio.ensure_future(delivery.passive_answer(5.0))
    await asyncio.sleep(0.01)
    waiting.cancel()  # Sanic cancels the handler when the client hangs up
    await asyncio.gather(waiting, return_exceptions=True)
    turns.release.set()
    await delivery.task
    await asyncio.sleep(0)
    assert turns.pushed == [["您好，订单已发货。"]]


async def test_an_answer_is_pushed_when_the_connection_drops_just_as_the_turn_ends() -> None:
    turns, book = Turns(), DeliveryBook()
    delivery, _ = book.get_or_start("msg:1", turns.turn, turns.push)
    waiting = asyncio.ensure_future(delivery.passive_answer(5.0))
    await asyncio.sleep(0.01)
    turns.release.set()
    while not delivery.task.done():
        await asyncio.sleep(0)
    waiting.cancel()  # the turn is done, but the waiting copy never got to take the answer
    await asyncio.gather(waiting, return_exceptions=True)
    await asyncio.sleep(0)
    assert (waiting.cancelled(), turns.pushed) == (True, [["您好，订单已发货。"]])


async def test_a_push_another_process_claimed_runs_no_turn_here_and_is_answered_there() -> None:
    claims = SharedState().map("wechat:pushes", ttl_s=600)  # one map, as Redis is for two processes
    turns, there, here = Turns(), DeliveryBook(claims=claims), DeliveryBook(claims=claims)
    theirs, _ = there.get_or_start("msg:1", turns.turn, turns.push)
    ours, first = here.get_or_start("msg:1", turns.turn, turns.push)
    retry, again = here.get_or_start("msg:1", turns.turn, turns.push)
    assert (first, again, retry is ours) == (True, False, True)
    # Answered (`success`) at once although the turn is still running, there.
    assert await asyncio.wait_for(ours.passive_answer(5.0), 1.0) is None
    assert await asyncio.wait_for(retry.passive_answer(5.0), 1.0) is None
    assert (ours.mode, await ours.task) == ("elsewhere", None)
    turns.release.set()
    assert await theirs.passive_answer(1.0) == ["您好，订单已发货。"]
    await asyncio.sleep(0)
    assert (turns.started, turns.pushed, theirs.mode) == (1, [], "passive")


async def test_the_process_that_claimed_a_push_pushes_the_answer_nobody_waits_for() -> None:
    claims = SharedState().map("wechat:pushes", ttl_s=600)
    turns, there, here = Turns(), DeliveryBook(claims=claims), DeliveryBook(claims=claims)
    theirs, _ = there.get_or_start("msg:1", turns.turn, turns.push)
    assert await theirs.passive_answer(0.01) is None  # WeChat gave up on the first copy there
    ours, _ = here.get_or_start("msg:1", turns.turn, turns.push)  # its retry reaches this process
    assert await ours.passive_answer(5.0) is None
    turns.release.set()
    await theirs.task
    await asyncio.sleep(0)
    assert (theirs.mode, ours.mode, turns.started, turns.pushed) == ("push", "elsewhere", 1, [["您好，订单已发货。"]])
