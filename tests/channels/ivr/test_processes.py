"""Two phone-line channels, as two Rasa processes would run them, over one real Redis (the
local one; `TEST_REDIS_URL` overrides): what one remembers of a call (the digits waiting
for confirmation, the options read out, the last speech, the answered turns, the end of
the call) the other reads, a turn retried on the other while it runs is answered once,
and Redis down costs no turn.

Each channel answers turns as its `/turn` route does (`reply_to`, after the HTTP checks
that tests/channels/ivr/test_channel.py covers), with a recording bot in place of Rasa's
agent.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from rasa.core.channels.channel import UserMessage

from channels.common.shared_state import SharedState
from channels.ivr.channel import IvrInput
from channels.ivr.inbound import CONFIRM_RESPONSES
from channels.ivr.protocol import Turn, message_id_for
from channels.ivr.render import read_digits, speakable
from channels.ivr.settings import IvrSettings

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DOWN_REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
CALLER = "13800138000"
MENU = [{"title": "查询退款进度", "payload": "/check_refund_status"}, {"title": "转人工", "payload": "/request_human"}]


@dataclass
class RecordingBot:
    """Stands in for Rasa's agent: records each turn and answers `收到：<text>` (`怎么弄`:
    two options); a turn waits while `release` is not set."""

    turns: list[UserMessage] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.release.set()

    async def __call__(self, message: UserMessage) -> None:
        self.turns.append(message)
        self.started.set()
        await self.release.wait()
        if message.text == "怎么弄":
            await message.output_channel.send_response(message.sender_id, {"text": "请选择：", "buttons": MENU})
        else:
            await message.output_channel.send_response(message.sender_id, {"text": f"收到：{message.text}"})


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of the test's own in the real Redis; its keys are deleted afterwards."""
    prefix = f"test-ivr-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = SharedState(REDIS_URL, prefix).client()
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.close()


@pytest.fixture
async def two_processes(redis_prefix: str) -> AsyncIterator[tuple[IvrInput, IvrInput]]:
    """The channel as two Rasa processes build it from credentials.yml, each with its own Redis client."""
    settings = IvrSettings(token="t" * 32)
    one = IvrInput(settings, shared_state=SharedState(REDIS_URL, redis_prefix))
    other = IvrInput(settings, shared_state=SharedState(REDIS_URL, redis_prefix))
    yield one, other
    await one.shared_state.client().close()
    await other.shared_state.client().close()


def turn(call_id: str, turn_id: int, **fields: object) -> Turn:
    return Turn(call_id, turn_id, int(time.time()), caller=CALLER, **fields)  # type: ignore[arg-type]


def said(channel: IvrInput, name: str, **values: object) -> str:
    return speakable(channel.texts(name, **values))


async def test_digits_heard_by_one_process_are_confirmed_on_the_other(
    two_processes: tuple[IvrInput, IvrInput],
) -> None:
    one, other = two_processes
    bot = RecordingBot()
    call_id = f"CA-{uuid.uuid4().hex[:8]}"
    heard = "查一下订单号八八零零零零二零零三的退款"

    status, asked = await one.reply_to(turn(call_id, 1, transcript=heard, confidence=0.42), bot)
    assert (status, asked["speech"]) == (200, said(one, CONFIRM_RESPONSES["order_id"], digits=read_digits("8800002003")))
    assert bot.turns == []

    status, confirmed = await other.reply_to(turn(call_id, 2, transcript="对对对", confidence=0.9), bot)
    assert (status, confirmed["speech"], confirmed["action"]) == (200, f"收到：{heard}。", "continue")
    [message] = bot.turns
    assert (message.text, message.message_id) == (heard, message_id_for(call_id, 2))
    assert message.metadata["ivr"] == {"call_id": call_id, "turn_id": 2, "input": "confirmed", "confidence": 0.42}
    assert message.metadata["account"] == {"channel": "phone", "account_id": CALLER}

    # The other process keeps the first turn's answer for its retries, and knows what was said last.
    assert await other.reply_to(turn(call_id, 1, transcript=heard, confidence=0.42), bot) == (200, asked)
    status, conflict = await other.reply_to(turn(call_id, 1, transcript="转人工", confidence=0.9), bot)
    assert (status, conflict["error"]) == (409, "turn_conflict")
    status, repeated = await one.reply_to(turn(call_id, 3, dtmf="*"), bot)
    assert (status, repeated["speech"]) == (200, confirmed["speech"])
    status, late = await other.reply_to(turn(call_id, 2, transcript="对对对", confidence=0.9), bot)
    assert (status, late) == (200, confirmed)  # a late retry: turn 2's own answer, not turn 3's
    assert len(bot.turns) == 1


async def test_options_read_out_by_one_process_are_picked_on_the_other(
    two_processes: tuple[IvrInput, IvrInput],
) -> None:
    one, other = two_processes
    bot = RecordingBot()
    call_id = f"CA-{uuid.uuid4().hex[:8]}"

    status, offered = await one.reply_to(turn(call_id, 1, transcript="怎么弄", confidence=0.9), bot)
    assert status == 200 and "转人工" in offered["speech"]
    status, picked = await other.reply_to(turn(call_id, 2, dtmf="2#"), bot)
    assert (status, picked["speech"]) == (200, "收到：/request_human。")
    assert [(message.text, message.metadata["ivr"]["input"]) for message in bot.turns] == [
        ("怎么弄", "speech"), ("/request_human", "option"),
    ]


async def test_a_turn_retried_on_the_other_process_while_it_runs_is_answered_once(
    two_processes: tuple[IvrInput, IvrInput],
) -> None:
    one, other = two_processes
    bot = RecordingBot()
    bot.release.clear()
    call_id = f"CA-{uuid.uuid4().hex[:8]}"
    first = turn(call_id, 1, transcript="查一下退款", confidence=0.9)

    # Watches the other process's tries at the call's lock, shared by the processes.
    refused = asyncio.Event()
    shared_locks = other.calls._shared_locks
    assert shared_locks is not None
    claim = shared_locks.claim

    async def watched_claim(key: str) -> bool:
        won = await claim(key)
        if not won:
            refused.set()
        return won

    shared_locks.claim = watched_claim  # type: ignore[method-assign]

    running = asyncio.ensure_future(one.reply_to(first, bot))
    await asyncio.wait_for(bot.started.wait(), 10)
    retried = asyncio.ensure_future(other.reply_to(first, bot))
    later = asyncio.ensure_future(other.reply_to(turn(call_id, 2, dtmf="*"), bot))
    await asyncio.wait_for(refused.wait(), 10)  # the retry waits for the turn running on the first process
    assert len(bot.turns) == 1
    bot.release.set()
    answers = await asyncio.wait_for(asyncio.gather(running, retried, later), 20)

    assert answers[0] == answers[1] == (200, {"call_id": call_id, "turn_id": 1, "speech": "收到：查一下退款。",
                                              "action": "continue"})
    assert answers[2] == (200, {"call_id": call_id, "turn_id": 2, "speech": "收到：查一下退款。", "action": "continue"})
    assert [message.text for message in bot.turns] == ["查一下退款"]


async def test_a_call_hung_up_on_one_process_takes_no_turn_on_the_other(
    two_processes: tuple[IvrInput, IvrInput],
) -> None:
    one, other = two_processes
    bot = RecordingBot()
    call_id = f"CA-{uuid.uuid4().hex[:8]}"

    assert await one.reply_to(turn(call_id, 1, event="end"), bot) == (
        200, {"call_id": call_id, "turn_id": 1, "speech": "", "action": "hangup"})
    status, refused = await other.reply_to(turn(call_id, 2, transcript="喂", confidence=0.9), bot)
    assert (status, refused["error"]) == (409, "call_ended")
    status, foreign = await other.reply_to(
        Turn(call_id, 1, int(time.time()), "end", caller="13912345678"), bot)
    assert (status, foreign["error"]) == (409, "caller_changed")
    assert bot.turns == []


async def test_with_redis_down_every_turn_is_still_answered(caplog: pytest.LogCaptureFixture) -> None:
    settings = IvrSettings(token="t" * 32)
    channel = IvrInput(settings, shared_state=SharedState(DOWN_REDIS_URL, f"test-down-{uuid.uuid4().hex[:8]}"))
    bot = RecordingBot()
    call_id = f"CA-{uuid.uuid4().hex[:8]}"

    for turn_id, words in ((1, "查一下退款"), (2, "我要退货")):
        status, reply = await channel.reply_to(turn(call_id, turn_id, transcript=words, confidence=0.9), bot)
        assert (status, reply["speech"], reply["action"]) == (200, f"收到：{words}。", "continue")
    assert [message.text for message in bot.turns] == ["查一下退款", "我要退货"]
    assert "Redis unreachable" in caplog.text
