"""Pulling with kf/sync_msg against a local fake of WeCom, with a recording bot in place of
Rasa's agent: one turn per message however often it is pulled, answers by kf/send_msg,
and a restart (a fresh puller over the same state database) that neither loses nor
repeats a message. Options shown live in the shared state: two pullers (two Rasa processes)
on the real local Redis (`TEST_REDIS_URL` overrides) understand each other's."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, Event, UserUttered

from channels.common.channel_texts import ChannelTexts
from channels.common.shared_state import SharedState
from channels.wecom.api import KfApi
from channels.wecom.channel import CHANNEL_TEXTS
from channels.wecom.durable_state import ChannelState
from channels.wecom.protocol import conversation_id_for, message_id_for, send_msgid_for
from channels.wecom.puller import KfPuller
from tests.fixtures.fake_wecom import FAKE_CORP_ID, FAKE_OPEN_KFID, FAKE_SECRET, FAKE_TOKEN, FakeWeCom

TEXTS = ChannelTexts.load(required=CHANNEL_TEXTS)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DOWN_REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
MENU = [{"title": "查询退款进度", "payload": "/check_refund_status"}, {"title": "申请退货", "payload": "/request_return"}]


@dataclass
class RecordingBot:
    """Stands in for Rasa: records each turn in a tracker and answers `收到：<text>`."""

    turns: list[UserMessage] = field(default_factory=list)
    events: dict[str, list[Event]] = field(default_factory=dict)
    hang_on: str = ""
    fail_on: str = ""
    # Set when a turn reaches `hang_on`; the turn goes on once `release` is set (if ever).
    hanging: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, message: UserMessage) -> None:
        self.turns.append(message)
        if message.text == self.hang_on:
            self.hanging.set()
            await self.release.wait()  # cut off before Rasa records the turn
        if message.text == self.fail_on:
            raise RuntimeError("the action server is down")
        tracker = self.events.setdefault(message.sender_id, [])
        tracker.append(UserUttered(message.text, message_id=message.message_id))
        output = message.output_channel
        if message.text == "怎么弄":
            await output.send_text_with_buttons(message.sender_id, "请问您想办理哪项？", MENU)
            tracker.append(BotUttered("请问您想办理哪项？", data={"buttons": MENU}))
            return
        for text in (f"收到：{message.text}", "还有其他问题吗？"):
            await output.send_text_message(message.sender_id, text)
            tracker.append(BotUttered(text))

    def texts_of(self, message_ids: list[str]) -> list[str]:
        return [turn.text for turn in self.turns if turn.message_id in message_ids]

    async def retrieve_full_tracker(self, sender_id: str) -> Any:
        events = self.events.get(sender_id)
        return SimpleNamespace(events=list(events)) if events is not None else None


@pytest.fixture
def bot() -> RecordingBot:
    return RecordingBot()


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'wecom_state.db'}"


@pytest.fixture
def make_puller(fake_wecom: FakeWeCom, bot: RecordingBot, state_url: str) -> Iterator[Any]:
    made: list[KfPuller] = []

    def make(shared_state: SharedState | None = None) -> KfPuller:
        api = KfApi(fake_wecom.url, FAKE_CORP_ID, FAKE_SECRET, backoff_s=0.01)
        puller = KfPuller(api, ChannelState(state_url, "wecom"), TEXTS, FAKE_TOKEN, bot, lambda: bot,
                          shared_state=shared_state)
        made.append(puller)
        return puller

    yield make
    for puller in made:
        puller.api.close()
        puller.state.close()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of the test's own in the real Redis; its keys are deleted afterwards."""
    prefix = f"test-wecom-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = SharedState(REDIS_URL, prefix).client()
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.close()


async def pull_now(puller: KfPuller, fake: FakeWeCom) -> None:
    """What a callback does: a pull with its token; returns when it is done."""
    puller.request(FAKE_OPEN_KFID, fake.callback_token())
    await puller.queue.idle()


def conversation(customer: str) -> str:
    return conversation_id_for(FAKE_OPEN_KFID, customer, FAKE_TOKEN)


async def test_a_text_is_one_turn_answered_in_one_message(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any
) -> None:
    item = fake_wecom.customer_sends("wm_zhang", "我的退款什么时候到账")
    puller = make_puller()
    await pull_now(puller, fake_wecom)
    [turn] = bot.turns
    assert (turn.text, turn.sender_id, turn.input_channel) == ("我的退款什么时候到账", conversation("wm_zhang"), "wecom")
    assert turn.message_id == message_id_for(item["msgid"])
    assert turn.metadata == {"account": {"channel": "wecom", "account_id": "wm_zhang"},
                             "wecom": {"msg_type": "text", "open_kfid": FAKE_OPEN_KFID}}
    [sent] = fake_wecom.sent  # the turn's two texts in one message: WeCom allows 5 per message
    assert (sent.touser, sent.open_kfid, sent.msgid) == ("wm_zhang", FAKE_OPEN_KFID, send_msgid_for(item["msgid"], 0))
    assert sent.content == "收到：我的退款什么时候到账\n\n还有其他问题吗？"
    assert puller.state.cursor(FAKE_OPEN_KFID)


async def test_pages_are_followed_in_order_and_the_same_messages_are_not_handled_twice(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any
) -> None:
    fake_wecom.page_size = 2
    items = [fake_wecom.customer_sends(f"wm_{number % 2}", f"第{number}条") for number in range(5)]
    puller = make_puller()
    await pull_now(puller, fake_wecom)
    assert [turn.text for turn in bot.turns] == [f"第{number}条" for number in range(5)]
    assert len(fake_wecom.sync_requests) == 3
    await pull_now(puller, fake_wecom)  # a second callback: nothing new
    puller.state.save_cursor(FAKE_OPEN_KFID, "")  # even from the start again: all were handled
    await pull_now(puller, fake_wecom)
    assert len(bot.turns) == 5 and len(fake_wecom.sent) == 5
    assert {message.msgid for message in fake_wecom.sent} == {send_msgid_for(item["msgid"], 0) for item in items}


async def test_callbacks_in_a_row_pull_one_at_a_time(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any
) -> None:
    puller = make_puller()
    for number in range(4):
        fake_wecom.customer_sends("wm_zhang", f"消息{number}")
        puller.request(FAKE_OPEN_KFID, fake_wecom.callback_token())  # each message its own callback
    await puller.queue.idle()
    assert [turn.text for turn in bot.turns] == [f"消息{number}" for number in range(4)]
    assert len(fake_wecom.sent) == 4
    assert len(fake_wecom.sync_requests) <= 2  # one running, at most one waiting


async def test_a_restart_during_a_send_neither_loses_nor_repeats(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any
) -> None:
    first = fake_wecom.customer_sends("wm_zhang", "第一条")
    second = fake_wecom.customer_sends("wm_li", "第二条")
    fake_wecom.hold_sends()
    before = make_puller()
    before.request(FAKE_OPEN_KFID, fake_wecom.callback_token())
    deadline = time.monotonic() + 10
    while fake_wecom.held_sends < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert fake_wecom.held_sends == 1 and [turn.text for turn in bot.turns] == ["第一条"]
    await before.close()  # the process stops while the first answer is on its way...
    fake_wecom.release_sends(drop=True)  # ...and that send never reached WeCom
    after = make_puller()  # the next process, the same state database
    await after.catch_up()  # at start: what the last run did not finish
    await after.queue.idle()
    ids = [message_id_for(first["msgid"]), message_id_for(second["msgid"])]
    assert bot.texts_of(ids) == ["第一条", "第二条"]  # one turn each: the first was not run again
    assert [(message.touser, message.content) for message in fake_wecom.sent] == [
        ("wm_zhang", "收到：第一条\n\n还有其他问题吗？"),  # the answer Rasa recorded before the stop
        ("wm_li", "收到：第二条\n\n还有其他问题吗？"),
    ]
    await pull_now(after, fake_wecom)
    assert len(bot.turns) == 2 and len(fake_wecom.sent) == 2


async def test_a_restart_before_the_turn_was_recorded_runs_it(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any
) -> None:
    item = fake_wecom.customer_sends("wm_zhang", "卡住的消息")
    bot.hang_on = "卡住的消息"
    before = make_puller()
    before.request(FAKE_OPEN_KFID, fake_wecom.callback_token())
    while not bot.turns:
        await asyncio.sleep(0.02)
    await before.close()
    bot.hang_on = ""
    after = make_puller()
    await after.catch_up()
    await after.queue.idle()
    assert bot.events[conversation("wm_zhang")][0].message_id == message_id_for(item["msgid"])
    assert sum(isinstance(event, UserUttered) for event in bot.events[conversation("wm_zhang")]) == 1
    assert [message.content for message in fake_wecom.sent] == ["收到：卡住的消息\n\n还有其他问题吗？"]


async def test_the_welcome_uses_the_events_code_and_other_messages_get_channel_texts(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any
) -> None:
    entered = fake_wecom.customer_enters("wm_new")
    fake_wecom.customer_sends("wm_new", msgtype="image")
    fake_wecom.customer_sends("wm_new", msgtype="voice")
    fake_wecom.customer_sends("wm_new", msgtype="location")
    fake_wecom.customer_sends("wm_new", "客服回复的消息", origin=5)
    await pull_now(make_puller(), fake_wecom)
    assert [turn.text for turn in bot.turns] == ["/greet"]
    assert bot.turns[0].metadata["wecom"] == {"msg_type": "event", "event": "enter_session",
                                              "open_kfid": FAKE_OPEN_KFID}
    welcome, *answers = fake_wecom.sent
    assert (welcome.code, welcome.content) == (entered["event"]["welcome_code"], "收到：/greet\n\n还有其他问题吗？")
    assert [message.content for message in answers] == [
        TEXTS("utter_channel_wecom_image"), TEXTS("utter_channel_wecom_voice"),
        TEXTS("utter_channel_wecom_unsupported"),
    ]


async def test_options_are_numbered_and_a_digit_picks_one(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any
) -> None:
    puller = make_puller()
    fake_wecom.customer_sends("wm_zhang", "怎么弄")
    await pull_now(puller, fake_wecom)
    assert fake_wecom.sent[-1].content == "请问您想办理哪项？\n请回复数字选择：\n1. 查询退款进度\n2. 申请退货"
    fake_wecom.customer_sends("wm_zhang", "1")
    await pull_now(puller, fake_wecom)
    assert bot.turns[-1].text == "/check_refund_status"
    fake_wecom.customer_sends("wm_zhang", "1")  # the options were answered: a digit is a digit again
    await pull_now(puller, fake_wecom)
    assert bot.turns[-1].text == "1"


async def test_a_failing_bot_gets_an_apology_and_the_message_is_not_repeated(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any
) -> None:
    bot.fail_on = "我要投诉"
    fake_wecom.customer_sends("wm_zhang", "我要投诉")
    puller = make_puller()
    await pull_now(puller, fake_wecom)
    await pull_now(puller, fake_wecom)
    assert len(bot.turns) == 1
    assert [message.content for message in fake_wecom.sent] == [TEXTS("utter_channel_bot_unavailable")]


async def test_an_answer_wecom_refuses_is_logged_and_the_pull_goes_on(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake_wecom.customer_sends("wm_zhang", "第一条")
    puller = make_puller()
    for number in range(5):  # the 5 answers WeCom allows to that message are used up
        await puller.api.send_text("wm_zhang", FAKE_OPEN_KFID, f"人工回复{number}", f"manual{number}")
    fake_wecom.customer_sends("wm_li", "第二条")
    await pull_now(puller, fake_wecom)
    assert [message.touser for message in fake_wecom.sent[5:]] == ["wm_li"]
    assert "answer 1 of 1 to message" in caplog.text and "95001" in caplog.text
    await pull_now(puller, fake_wecom)
    assert len(bot.turns) == 2  # the refused answer does not rerun its turn


async def test_an_expired_token_is_refreshed_once_during_a_pull(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any
) -> None:
    puller = make_puller()
    fake_wecom.customer_sends("wm_zhang", "第一条")
    await pull_now(puller, fake_wecom)
    fake_wecom.expire_tokens()
    fake_wecom.customer_sends("wm_zhang", "第二条")
    await pull_now(puller, fake_wecom)
    assert fake_wecom.token_requests == 2
    assert [turn.text for turn in bot.turns] == ["第一条", "第二条"] and len(fake_wecom.sent) == 2


async def test_a_malformed_item_is_skipped_and_the_rest_handled(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any
) -> None:
    broken = fake_wecom.customer_sends("wm_zhang", "没有编号")
    broken["msgid"] = ""  # the fake serves the item as stored
    fake_wecom.customer_sends("wm_zhang", "正常的消息")
    puller = make_puller()
    await pull_now(puller, fake_wecom)
    assert [turn.text for turn in bot.turns] == ["正常的消息"]


async def test_without_wecom_the_cursor_stays_and_the_next_callback_pulls_again(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any
) -> None:
    fake_wecom.customer_sends("wm_zhang", "你好")
    puller = make_puller()
    await puller.api.access_token()
    fake_wecom.fail_next(3, "http500")
    await pull_now(puller, fake_wecom)
    assert bot.turns == [] and puller.state.cursor(FAKE_OPEN_KFID) == ""
    await pull_now(puller, fake_wecom)
    assert [turn.text for turn in bot.turns] == ["你好"]


async def test_options_shown_by_one_process_are_picked_by_number_on_the_other(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any, redis_prefix: str
) -> None:
    one, other = SharedState(REDIS_URL, redis_prefix), SharedState(REDIS_URL, redis_prefix)
    try:
        first, second = make_puller(one), make_puller(other)
        fake_wecom.customer_sends("wm_zhang", "怎么弄")
        await pull_now(first, fake_wecom)
        assert fake_wecom.sent[-1].content == "请问您想办理哪项？\n请回复数字选择：\n1. 查询退款进度\n2. 申请退货"
        fake_wecom.customer_sends("wm_zhang", "2")
        await pull_now(second, fake_wecom)
        assert bot.turns[-1].text == "/request_return"
        fake_wecom.customer_sends("wm_zhang", "2")  # answered, on either process: a digit again
        await pull_now(first, fake_wecom)
        assert bot.turns[-1].text == "2"
        assert [turn.text for turn in bot.turns] == ["怎么弄", "/request_return", "2"]
        assert len(fake_wecom.sent) == 3
    finally:
        await one.client().close()
        await other.client().close()


async def test_with_redis_down_every_message_still_gets_its_turn_and_answer(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any, caplog: pytest.LogCaptureFixture
) -> None:
    down = SharedState(DOWN_REDIS_URL, f"test-down-{uuid.uuid4().hex[:8]}")
    try:
        puller = make_puller(down)
        fake_wecom.customer_sends("wm_zhang", "怎么弄")
        fake_wecom.customer_sends("wm_zhang", "1")
        await pull_now(puller, fake_wecom)
    finally:
        await down.client().close()
    assert [turn.text for turn in bot.turns] == ["怎么弄", "1"]  # the options were not kept
    assert [message.content for message in fake_wecom.sent] == [
        "请问您想办理哪项？\n请回复数字选择：\n1. 查询退款进度\n2. 申请退货", "收到：1\n\n还有其他问题吗？",
    ]
    assert "Redis unreachable" in caplog.text


async def test_a_message_one_process_is_answering_is_left_to_it_by_the_other(
    fake_wecom: FakeWeCom, bot: RecordingBot, make_puller: Any, redis_prefix: str
) -> None:
    one, other = SharedState(REDIS_URL, redis_prefix), SharedState(REDIS_URL, redis_prefix)
    try:
        first, second = make_puller(one), make_puller(other)
        bot.hang_on = "我的退款呢"
        fake_wecom.customer_sends("wm_zhang", "我的退款呢")
        fake_wecom.customer_sends("wm_zhang", "在吗")
        first.request(FAKE_OPEN_KFID, fake_wecom.callback_token())
        await asyncio.wait_for(bot.hanging.wait(), 10)  # the first process is in the turn
        # A callback that reached the other process: a second turn would hang there too.
        await asyncio.wait_for(pull_now(second, fake_wecom), 10)
        # It neither runs the turn again nor overtakes it with the later message.
        assert [turn.text for turn in bot.turns] == ["我的退款呢"]
        bot.release.set()
        await first.queue.idle()
        assert [turn.text for turn in bot.turns] == ["我的退款呢", "在吗"]
        assert [message.content for message in fake_wecom.sent] == [
            "收到：我的退款呢\n\n还有其他问题吗？", "收到：在吗\n\n还有其他问题吗？",
        ]
        await pull_now(second, fake_wecom)  # the page is finished: nothing more
        assert len(bot.turns) == 2
    finally:
        await one.client().close()
        await other.client().close()

