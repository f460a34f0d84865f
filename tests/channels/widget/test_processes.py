"""Two web widget channels, as two Rasa processes would run them, over one real Redis (the
local one; `TEST_REDIS_URL` overrides): a message resent after a reconnect that lands on
the other process is one turn, the bot's answers on one process reach the conversation's
sockets connected to the other, and Redis down costs no turn. Also one process on its own
memory (the embedded default), for the duplicate filter without the stack.

Each channel is served by a Sanic server of its own in the test's event loop, as Rasa
serves it, with a recording bot in place of Rasa's agent; the shoppers are socket.io
clients speaking the widget protocol (long-polling, as in test_channel.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from channels.common.shared_state import SharedState
from channels.widget.channel import SOCKETIO_NAMESPACE, WidgetInput
from channels.widget.protocol import message_id_for
from channels.widget.settings import WidgetSettings
from tests.fixtures.servers import free_port

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DOWN_REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
SOCKETIO_PATH = "webhooks/widget/socket.io"
SECRET = secrets.token_urlsafe(32)
EVENT_TIMEOUT_S = 20.0


@dataclass
class RecordingBot:
    """Stands in for Rasa's agent: records each turn and answers `收到：<text>`; `坏了`
    fails as a bot that is down does."""

    turns: list[UserMessage] = field(default_factory=list)

    async def __call__(self, message: UserMessage) -> None:
        self.turns.append(message)
        if message.text == "坏了":
            raise ConnectionError("the agent is not loaded")
        await message.output_channel.send_text_message(message.sender_id, f"收到：{message.text}")


class Shopper:
    """A browser widget: a socket.io client that speaks the widget protocol."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.confirmed: dict[str, Any] = {}

        @self.client.on("*")
        async def any_event(event: str, *data: Any) -> None:
            await self.events.put((event, data[0] if len(data) == 1 else data))

    async def connect(self, url: str, auth: dict[str, Any] | None = None) -> dict[str, Any]:
        """Connects (as a page of no origin: not a browser) and returns `session_confirm`."""
        await self.client.connect(url, socketio_path=SOCKETIO_PATH, auth=auth or {}, transports=["polling"],
                                  wait_timeout=10)
        event, self.confirmed = await self.next_event()
        assert event == "session_confirm", event
        return self.confirmed

    @property
    def conversation_id(self) -> str:
        return str(self.confirmed["conversation_id"])

    async def next_event(self) -> tuple[str, Any]:
        return await asyncio.wait_for(self.events.get(), EVENT_TIMEOUT_S)

    async def send(self, text: str, message_id: str | None = None) -> str:
        message_id = message_id or f"m-{time.monotonic_ns()}"
        await self.client.emit("user_uttered", {"message": text, "message_id": message_id})
        return message_id

    async def turn(self) -> list[dict[str, Any]]:
        """The `bot_uttered` payloads of one turn: after `bot_typing` true, up to false."""
        assert await self.next_event() == ("bot_typing", {"typing": True})
        uttered = []
        while (event := await self.next_event()) != ("bot_typing", {"typing": False}):
            assert event[0] == "bot_uttered", event
            uttered.append(event[1])
        return uttered

    async def close(self) -> None:
        if self.client.connected:
            await self.client.eio.disconnect(abort=True)


class LogWatch(logging.Handler):
    """Sets an event when the channel logs a line containing `words`."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.seen.set()


@asynccontextmanager
async def watching(words: str) -> AsyncIterator[LogWatch]:
    channel_logger = logging.getLogger("channels.widget.channel")
    watch = LogWatch(words)
    level = channel_logger.level
    channel_logger.addHandler(watch)
    channel_logger.setLevel(logging.INFO)
    try:
        yield watch
    finally:
        channel_logger.removeHandler(watch)
        channel_logger.setLevel(level)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of the test's own in the real Redis; its keys are deleted afterwards."""
    prefix = f"test-widget-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = SharedState(REDIS_URL, prefix).client()
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.close()


@pytest.fixture
async def shoppers() -> AsyncIterator[list[Shopper]]:
    """Shoppers a test opens (`shoppers.append(...)`), closed after it."""
    opened: list[Shopper] = []
    yield opened
    for shopper in opened:
        await shopper.close()


def new_shopper(opened: list[Shopper]) -> Shopper:
    shopper = Shopper()
    opened.append(shopper)
    return shopper


def make_channel(state: SharedState) -> WidgetInput:
    """The channel one Rasa process builds from credentials.yml, with its own state."""
    return WidgetInput(WidgetSettings(SECRET, ("https://shop.example.com",)), shared_state=state)


@asynccontextmanager
async def served(channel: WidgetInput, bot: RecordingBot) -> AsyncIterator[str]:
    """Serves the channel's routes and socket.io server as Rasa does, on a free port; yields its URL."""
    app = Sanic(f"widget_process_{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.blueprint(channel.blueprint(bot), url_prefix="/webhooks/widget")
    port = free_port()
    # Several apps start in this process: in test mode Sanic rewrites its HTTP class from
    # the original code each time (see tests/record_service/test_desk_page.py).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Sanic, "test_mode", True)
        server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                         access_log=False)
        assert server is not None
        await server.startup()
        await server.before_start()
        await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        assert channel.sio is not None
        await channel.sio.shutdown()  # engine.io's ping task
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


async def subscribed_servers(prefix: str, count: int) -> None:
    """Waits until `count` socket.io servers listen on the prefix's pub/sub channel (each
    subscribes when its first socket connects)."""
    client = SharedState(REDIS_URL, prefix).client()
    channel = f"{prefix}:{SOCKETIO_NAMESPACE}"
    try:
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while dict(await client.pubsub_numsub(channel)).get(channel.encode(), 0) < count:
            assert time.monotonic() < deadline, f"fewer than {count} servers subscribed to {channel}"
            await asyncio.sleep(0.02)
    finally:
        await client.close()


async def test_a_message_resent_to_the_other_process_after_a_reconnect_is_one_turn(
    redis_prefix: str, shoppers: list[Shopper]
) -> None:
    one, other = make_channel(SharedState(REDIS_URL, redis_prefix)), make_channel(SharedState(REDIS_URL, redis_prefix))
    bot = RecordingBot()
    async with served(one, bot) as one_url, served(other, bot) as other_url:
        shopper = new_shopper(shoppers)
        confirmed = await shopper.connect(one_url)
        message_id = await shopper.send("我想查一下退款进度", "m-1")
        assert [message["text"] for message in await shopper.turn()] == ["收到：我想查一下退款进度"]

        # The connection drops before the widget saw its message acknowledged; it reconnects
        # with its session token, lands on the other process, and resends the message.
        await shopper.close()
        back = new_shopper(shoppers)
        assert (await back.connect(other_url, {"session_token": confirmed["session_token"]}))["conversation_id"] == (
            shopper.conversation_id)
        async with watching("duplicate of message") as duplicate:
            await back.send("我想查一下退款进度", message_id)
            await asyncio.wait_for(duplicate.seen.wait(), EVENT_TIMEOUT_S)
        assert [message.message_id for message in bot.turns] == [message_id_for(shopper.conversation_id, "m-1")]
        assert back.events.empty()

        await back.send("8800002001", "m-2")
        assert [message["text"] for message in await back.turn()] == ["收到：8800002001"]
        assert [message.text for message in bot.turns] == ["我想查一下退款进度", "8800002001"]
        assert {message.sender_id for message in bot.turns} == {shopper.conversation_id}


async def test_the_bots_answers_on_one_process_reach_the_sockets_on_the_other(
    redis_prefix: str, shoppers: list[Shopper]
) -> None:
    one, other = make_channel(SharedState(REDIS_URL, redis_prefix)), make_channel(SharedState(REDIS_URL, redis_prefix))
    bot = RecordingBot()
    async with served(one, bot) as one_url, served(other, bot) as other_url:
        # One conversation open in two tabs, whose sockets landed on different processes.
        first_tab = new_shopper(shoppers)
        confirmed = await first_tab.connect(one_url)
        second_tab = new_shopper(shoppers)
        await second_tab.connect(other_url, {"session_token": confirmed["session_token"]})
        assert second_tab.conversation_id == first_tab.conversation_id
        await subscribed_servers(redis_prefix, 2)

        await first_tab.send("你好")
        expected = [{"text": "收到：你好"}]
        assert [{"text": m["text"]} for m in await first_tab.turn()] == expected
        assert [{"text": m["text"]} for m in await second_tab.turn()] == expected  # typing, answer, typing: via Redis

        # A message Rasa sends on its own (a reminder, `trigger_intent`) from the first process.
        output = one.get_output_channel()
        assert output is not None
        await output.send_text_message(first_tab.conversation_id, "您的退款已到账")
        assert await second_tab.next_event() == ("bot_uttered", {"text": "您的退款已到账"})
        assert await first_tab.next_event() == ("bot_uttered", {"text": "您的退款已到账"})

        # Another conversation on the other process hears none of it.
        stranger = new_shopper(shoppers)
        await stranger.connect(other_url)
        async with watching("duplicate of message") as duplicate:
            await second_tab.send("再问一下", "m-x")
            assert await second_tab.turn()
            await first_tab.send("再问一下", "m-x")
            await asyncio.wait_for(duplicate.seen.wait(), EVENT_TIMEOUT_S)
        assert await first_tab.turn()  # the second tab's turn, seen by the first
        assert stranger.events.empty()
        assert [message.text for message in bot.turns] == ["你好", "再问一下"]


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_a_duplicate_is_ignored_and_a_message_the_bot_failed_on_may_be_resent(
    backend: str, redis_prefix: str, shoppers: list[Shopper]
) -> None:
    channel = make_channel(SharedState(REDIS_URL, redis_prefix) if backend == "redis" else SharedState())
    bot = RecordingBot()
    async with served(channel, bot) as url:
        shopper = new_shopper(shoppers)
        await shopper.connect(url)
        await shopper.send("你好", "m-1")
        assert await shopper.turn()
        async with watching("duplicate of message") as duplicate:
            await shopper.send("你好", "m-1")
            await asyncio.wait_for(duplicate.seen.wait(), EVENT_TIMEOUT_S)

        await shopper.send("坏了", "m-2")
        assert await shopper.next_event() == ("bot_typing", {"typing": True})
        event, error = await shopper.next_event()
        assert (event, error["code"]) == ("widget_error", "bot_unavailable")
        assert await shopper.next_event() == ("bot_typing", {"typing": False})
        await shopper.send("坏了", "m-2")  # the widget's resend: the bot is tried again
        assert await shopper.next_event() == ("bot_typing", {"typing": True})
        assert (await shopper.next_event())[0] == "widget_error"
        assert await shopper.next_event() == ("bot_typing", {"typing": False})
        assert [message.text for message in bot.turns] == ["你好", "坏了", "坏了"]
        assert shopper.events.empty()


async def test_with_redis_down_a_turn_is_still_answered(shoppers: list[Shopper], caplog: pytest.LogCaptureFixture) -> None:
    channel = make_channel(SharedState(DOWN_REDIS_URL, f"test-down-{uuid.uuid4().hex[:8]}"))
    bot = RecordingBot()
    async with served(channel, bot) as url:
        shopper = new_shopper(shoppers)
        await shopper.connect(url)
        await shopper.send("你好", "m-1")
        assert [message["text"] for message in await shopper.turn()] == ["收到：你好"]
        # Nobody can tell it was taken: answered twice rather than lost.
        await shopper.send("你好", "m-1")
        assert [message["text"] for message in await shopper.turn()] == ["收到：你好"]
        assert [message.text for message in bot.turns] == ["你好", "你好"]
    assert "Redis unreachable" in caplog.text
