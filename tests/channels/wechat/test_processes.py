"""Two WeChat channels, as two Rasa processes would run them, over one real Redis (the
local one; `TEST_REDIS_URL` overrides): WeChat's copies of one push spread over both run
one turn answered once, options shown by one are picked on the other, a picture received
by one goes with the text received by the other, and Redis down costs no turn.

Each channel is served by a Sanic server of its own in the test's event loop, with a
recording bot in place of Rasa's agent and the fake of WeChat's API for the
customer-service messages.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import requests
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from wechatpy.crypto import WeChatCrypto

from channels.common.channel_texts import ChannelTexts
from channels.common.shared_state import SharedState
from channels.common.tencent_push import parse_xml_fields, signature_of
from channels.wechat.channel import WeChatInput
from channels.wechat.protocol import (
    IMAGE_ANSWER,
    IMAGE_EVIDENCE_ANSWER,
    TEXT_NAMES,
    conversation_id_for,
    dedupe_key,
    message_id_for,
)
from channels.wechat.settings import WeChatSettings
from service_common.channel_metadata import ChannelMetadata
from tests.fixtures.fake_wechat import FAKE_APP_ID, FakeWeChat
from tests.fixtures.servers import free_port

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DOWN_REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
TOKEN = "processToken2024"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TEXTS = ChannelTexts.load(TEXT_NAMES)
MENU = [{"title": "查询退款进度", "payload": "/check_refund_status"}, {"title": "申请退货", "payload": "/request_return"}]
COMPLAINT_QUESTION = "请您具体描述一下遇到了什么问题？"


@dataclass
class RecordingBot:
    """Stands in for Rasa's agent: records each turn and answers `收到：<text>` (`怎么弄`:
    two options; `我要投诉`: a complaint question, whose channel metadata says pictures are
    evidence); a turn waits while `release` is not set."""

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
            await message.output_channel.send_text_with_buttons(message.sender_id, "请问您想办理哪项？", MENU)
        elif message.text == "我要投诉":
            told = ChannelMetadata(evidence_for="complaint").message_values()
            await message.output_channel.send_response(message.sender_id, {"text": COMPLAINT_QUESTION, **told})
        else:
            await message.output_channel.send_text_message(message.sender_id, f"收到：{message.text}")


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of the test's own in the real Redis; its keys are deleted afterwards."""
    prefix = f"test-wechat-{uuid.uuid4().hex[:8]}"
    yield prefix
    cleaner = SharedState(REDIS_URL, prefix)
    client = cleaner.client()
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.close()


def make_channel(fake: FakeWeChat, state: SharedState, reply_window_s: float = 4.0) -> WeChatInput:
    """The channel one Rasa process builds from credentials.yml, with its own state client."""
    settings = WeChatSettings(token=TOKEN, aes_key=AES_KEY, app_id=fake.app_id, app_secret=fake.app_secret,
                              api_base=fake.url, reply_window_s=reply_window_s)
    return WeChatInput(settings, TEXTS, shared_state=state)


@asynccontextmanager
async def served(channel: WeChatInput, bot: RecordingBot) -> AsyncIterator[str]:
    """Serves the channel's routes as Rasa does, on a free port; yields the webhook URL."""
    app = Sanic(f"wechat_process_{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.blueprint(channel.blueprint(bot), url_prefix="/webhooks/wechat")
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
        yield f"http://127.0.0.1:{port}/webhooks/wechat/webhook"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


def text_xml(openid: str, content: str, msg_id: str | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_aftersales]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id or new_msg_id()}</MsgId></xml>"
    )


def image_xml(openid: str, media_id: str) -> str:
    return (
        f"<xml><ToUserName>gh_aftersales</ToUserName><FromUserName>{openid}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType>image</MsgType>"
        f"<PicUrl>http://mmbiz.qpic.cn/{media_id}.jpg</PicUrl><MediaId>{media_id}</MediaId>"
        f"<MsgId>{new_msg_id()}</MsgId></xml>"
    )


def new_msg_id() -> str:
    return str(secrets.randbelow(10**15) + 10**15)


def new_openid() -> str:
    return "oWx_process_" + secrets.token_hex(6)


def signed_query(**extra: str) -> dict[str, str]:
    stamp, nonce = str(int(time.time())), secrets.token_hex(5)
    return {"timestamp": stamp, "nonce": nonce, "signature": signature_of(TOKEN, stamp, nonce), **extra}


async def push(url: str, xml: str, *, secure: bool = False, query: dict[str, str] | None = None) -> requests.Response:
    """Pushes `xml` signed (in secure mode also encrypted) as WeChat's servers do."""
    params = query or signed_query(openid=parse_xml_fields(xml)["FromUserName"])
    body = xml
    if secure:
        crypto = WeChatCrypto(TOKEN, AES_KEY, FAKE_APP_ID)
        sealed = parse_xml_fields(crypto.encrypt_message(xml, params["nonce"], params["timestamp"]))
        body = f"<xml><ToUserName>gh_aftersales</ToUserName><Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
        params = {**params, "encrypt_type": "aes", "msg_signature": sealed["MsgSignature"]}
    return await asyncio.to_thread(requests.post, url, params=params, data=body.encode(), timeout=15)


def content_of(response: requests.Response) -> str:
    """The text of a passive reply (plain mode)."""
    assert response.status_code == 200, response.text
    return parse_xml_fields(response.text)["Content"]


# ---- one push, three deliveries, two processes


async def test_three_deliveries_of_one_push_over_two_processes_run_one_turn_answered_once(
    fake_wechat: FakeWeChat, redis_prefix: str
) -> None:
    bot = RecordingBot()
    bot.release.clear()  # the bot is slower than the reply window
    one = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix), reply_window_s=0.2)
    other = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix), reply_window_s=0.2)
    openid = new_openid()
    xml = text_xml(openid, "我的退款什么时候到账")
    key = dedupe_key(parse_xml_fields(xml))
    async with served(one, bot) as url_one, served(other, bot) as url_other:
        first = await push(url_one, xml)
        # WeChat's retries reach the other process, plain and secure.
        retries = [await push(url_other, xml), await push(url_other, xml, secure=True)]
        assert [(r.status_code, r.text) for r in (first, *retries)] == [(200, "success")] * 3
        assert [turn.text for turn in bot.turns] == ["我的退款什么时候到账"]
        bot.release.set()
        [sent] = await asyncio.to_thread(fake_wechat.wait_for_messages, 1)
        assert (sent.touser, sent.content) == (openid, "收到：我的退款什么时候到账")
        # Nothing else can still send it: the first process pushed it, the other never ran it.
        [one_delivery, other_delivery] = [one.deliveries.find(key), other.deliveries.find(key)]
        assert one_delivery is not None and other_delivery is not None
        assert (one_delivery.mode, other_delivery.mode, other_delivery.task.result()) == ("push", "elsewhere", None)
        await one_delivery.task
    assert [(m.touser, m.content) for m in fake_wechat.sent] == [(openid, "收到：我的退款什么时候到账")]
    assert len(bot.turns) == 1 and bot.turns[0].message_id == message_id_for(key)
    claims = SharedState(REDIS_URL, redis_prefix).client()
    assert await claims.exists(f"{redis_prefix}:wechat:pushes:{key}") == 1  # the claim is in Redis
    await claims.close()


async def test_a_copy_still_waiting_where_the_turn_runs_replies_passively_and_the_other_says_success(
    fake_wechat: FakeWeChat, redis_prefix: str
) -> None:
    bot = RecordingBot()
    bot.release.clear()
    one = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix))
    other = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix))
    xml = text_xml(new_openid(), "我要退货")
    async with served(one, bot) as url_one, served(other, bot) as url_other:
        waiting = asyncio.ensure_future(push(url_one, xml))
        await bot.started.wait()
        elsewhere = await push(url_other, xml)
        assert (elsewhere.status_code, elsewhere.text) == (200, "success")
        bot.release.set()
        assert content_of(await waiting) == "收到：我要退货"
    assert len(bot.turns) == 1 and fake_wechat.sent == []


# ---- what one process remembers, the other knows


async def test_options_shown_by_one_process_are_picked_by_number_on_the_other(
    fake_wechat: FakeWeChat, redis_prefix: str
) -> None:
    bot = RecordingBot()
    one = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix))
    other = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix))
    openid = new_openid()
    async with served(one, bot) as url_one, served(other, bot) as url_other:
        asked = content_of(await push(url_one, text_xml(openid, "怎么弄")))
        assert asked == "请问您想办理哪项？\n请回复数字选择：\n1. 查询退款进度\n2. 申请退货"
        assert content_of(await push(url_other, text_xml(openid, "2"))) == "收到：/request_return"
        # Answered: a digit is a digit again, on either process.
        assert content_of(await push(url_one, text_xml(openid, "2"))) == "收到：2"
    assert [turn.text for turn in bot.turns] == ["怎么弄", "/request_return", "2"]
    assert {turn.sender_id for turn in bot.turns} == {conversation_id_for(openid, TOKEN)}


async def test_a_picture_received_by_one_process_goes_with_the_text_received_by_the_other(
    fake_wechat: FakeWeChat, redis_prefix: str
) -> None:
    bot = RecordingBot()
    one = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix))
    other = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix))
    openid = new_openid()
    async with served(one, bot) as url_one, served(other, bot) as url_other:
        assert content_of(await push(url_one, image_xml(openid, "crack"))) == TEXTS(IMAGE_ANSWER)
        assert bot.turns == []  # a picture is no turn of its own
        assert content_of(await push(url_other, text_xml(openid, "杯子有裂缝"))) == "收到：杯子有裂缝"
        assert content_of(await push(url_one, text_xml(openid, "还有"))) == "收到：还有"
    with_picture, after = bot.turns
    [picture] = with_picture.metadata["attachments"]
    assert picture == {"kind": "image", "channel": "wechat", "media_id": "crack",
                       "url": "http://mmbiz.qpic.cn/crack.jpg", "received_at": picture["received_at"]}
    assert after.metadata["attachments"] == []  # attached once


async def test_a_complaint_question_asked_by_one_process_makes_a_picture_on_the_other_evidence(
    fake_wechat: FakeWeChat, redis_prefix: str
) -> None:
    bot = RecordingBot()
    one = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix))
    other = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix))
    openid = new_openid()
    async with served(one, bot) as url_one, served(other, bot) as url_other:
        assert content_of(await push(url_one, text_xml(openid, "我要投诉"))) == COMPLAINT_QUESTION
        assert content_of(await push(url_other, image_xml(openid, "crack"))) == TEXTS(IMAGE_EVIDENCE_ANSWER)
        assert content_of(await push(url_one, text_xml(openid, "杯子有裂缝"))) == "收到：杯子有裂缝"
        # The bot's answer asks for no complaint's details: a picture now is no evidence.
        assert content_of(await push(url_other, image_xml(openid, "box"))) == TEXTS(IMAGE_ANSWER)
        assert content_of(await push(url_one, text_xml(openid, "还有"))) == "收到：还有"
    _, with_evidence, with_picture = bot.turns
    assert [(a["media_id"], a.get("evidence_for")) for a in with_evidence.metadata["attachments"]] == [
        ("crack", "complaint")
    ]
    assert [(a["media_id"], a.get("evidence_for")) for a in with_picture.metadata["attachments"]] == [("box", None)]


async def test_a_signed_plain_query_seen_by_one_process_cannot_carry_another_body_to_the_other(
    fake_wechat: FakeWeChat, redis_prefix: str
) -> None:
    bot = RecordingBot()
    one = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix))
    other = make_channel(fake_wechat, SharedState(REDIS_URL, redis_prefix))
    victim, intruder = new_openid(), new_openid()
    query = signed_query()
    genuine, forged = text_xml(victim, "我要退货"), text_xml(intruder, "我要退货")
    async with served(one, bot) as url_one, served(other, bot) as url_other:
        assert content_of(await push(url_one, genuine, query=query)) == "收到：我要退货"
        refused = await push(url_other, forged, query=query)
        assert (refused.status_code, refused.text) == (403, "invalid signature")
        retry = await push(url_other, genuine, query=query)  # the same body: accepted, the turn is one's
        assert (retry.status_code, retry.text) == (200, "success")
    assert [turn.metadata["account"]["account_id"] for turn in bot.turns] == [victim]


# ---- Redis down


async def test_with_redis_down_every_push_still_gets_its_one_turn(
    fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    bot = RecordingBot()
    channel = make_channel(fake_wechat, SharedState(DOWN_REDIS_URL, f"test-down-{uuid.uuid4().hex[:8]}"))
    openid = new_openid()
    xml = text_xml(openid, "我的快递到哪了")
    async with served(channel, bot) as url:
        assert content_of(await push(url, xml)) == "收到：我的快递到哪了"
        assert content_of(await push(url, xml)) == "收到：我的快递到哪了"  # a retry, in this process
        assert content_of(await push(url, image_xml(openid, "lost"))) == TEXTS(IMAGE_ANSWER)
        assert content_of(await push(url, text_xml(openid, "怎么弄"))).startswith("请问您想办理哪项？")
        assert content_of(await push(url, text_xml(openid, "1"))) == "收到：1"
    # One turn per push; what Redis should have kept (the picture, the options) is lost.
    assert [turn.text for turn in bot.turns] == ["我的快递到哪了", "怎么弄", "1"]
    assert bot.turns[1].metadata["attachments"] == []
    assert "Redis unreachable" in caplog.text
