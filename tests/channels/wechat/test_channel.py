"""The WeChat channel in the real Rasa server of a stack started like `make up`: signed
plain and secure-mode pushes as WeChat sends them, retries, hostile requests, and the
slow path through a fake of WeChat's customer-service API."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import defusedxml.ElementTree
import pytest
import requests
import yaml
from wechatpy.crypto import WeChatCrypto

from channels.common.channel_texts import ChannelTexts
from channels.wechat.protocol import (
    IMAGE_ANSWER,
    IMAGE_EVIDENCE_ANSWER,
    TEXT_NAMES,
    UNSUPPORTED_ANSWER,
    conversation_id_for,
)
from tests.fixtures.desk import DeskAgent, wait_until
from tests.fixtures.fake_wechat import FakeWeChat, serve_fake_wechat
from tests.fixtures.servers import REPO_ROOT
from tests.fixtures.stack import Stack, rasa_beside
from tests.fixtures.wechat_client import WeChatServer, new_msg_id, new_openid, other_xml, text_xml, wechat_of

pytestmark = pytest.mark.stack

ZHANGWEI = "oWx_zhangwei_01"  # owns order 8800001001 (shared/acceptance/orders.yaml)
TEXTS = ChannelTexts.load(TEXT_NAMES)
GREETING = yaml.safe_load((REPO_ROOT / "domain.yml").read_text())["responses"]["utter_greet"][0]["text"]


def _random_aes_key() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))


@pytest.fixture(scope="module")
def wechat(running_stack: Stack) -> WeChatServer:
    return wechat_of(running_stack)


# ---- URL verification


def test_url_verification_echoes_echostr_only_when_signed(wechat: WeChatServer) -> None:
    verified = requests.get(wechat.url, params=wechat.query(echostr="7312345678901234567"), timeout=10)
    assert (verified.status_code, verified.text) == (200, "7312345678901234567")
    forged = {**wechat.query(echostr="7312345678901234567"), "signature": "0" * 40}
    assert requests.get(wechat.url, params=forged, timeout=10).status_code == 403
    stale = wechat.query(timestamp=int(time.time()) - 3600, echostr="1")
    assert requests.get(wechat.url, params=stale, timeout=10).status_code == 403


# ---- messages


def test_a_text_in_plain_mode_is_answered_passively_for_the_bound_account(wechat: WeChatServer) -> None:
    xml = text_xml(ZHANGWEI, "帮我查一下订单8800001001的物流", new_msg_id())
    started = time.monotonic()
    response = wechat.push(xml)
    assert time.monotonic() - started < 4.5
    reply = wechat.reply(response)
    assert (reply["MsgType"], reply["ToUserName"], reply["FromUserName"]) == ("text", ZHANGWEI, "gh_aftersales")
    # The account vouches for the shopper: the status comes without asking for phone digits.
    assert "订单 8800001001（纯棉圆领T恤）当前状态：已签收" in reply["Content"], reply["Content"]
    assert "后四位" not in reply["Content"]
    [turn] = wechat.turns_of(xml)
    assert turn["text"] == "帮我查一下订单8800001001的物流"
    assert turn["input_channel"] == "wechat"
    assert turn["metadata"]["account"] == {"channel": "wechat", "account_id": ZHANGWEI}
    assert turn["metadata"]["wechat"] == {"msg_type": "text"}


def test_a_voice_message_in_secure_mode_is_its_recognition(wechat: WeChatServer) -> None:
    openid = new_openid()
    xml = other_xml(openid, "voice", "<MediaId>voice_media_1</MediaId><Format>amr</Format>"
                                     f"<Recognition>我想查一下退款进度</Recognition><MsgId>{new_msg_id()}</MsgId>")
    response = wechat.push(xml, secure=True)
    assert "<Encrypt>" in response.text
    reply = wechat.reply(response, secure=True)
    assert (reply["MsgType"], reply["ToUserName"]) == ("text", openid)
    assert "订单号" in reply["Content"], reply["Content"]
    [turn] = wechat.turns_of(xml)
    assert turn["text"] == "我想查一下退款进度"
    assert turn["metadata"]["wechat"] == {"msg_type": "voice", "media_id": "voice_media_1"}


def test_a_new_follower_is_welcomed_once(wechat: WeChatServer) -> None:
    openid = new_openid()
    xml = other_xml(openid, "event", "<Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[]]></EventKey>")
    first, retry = wechat.push(xml), wechat.push(xml, secure=True)
    assert wechat.reply(first)["Content"] == GREETING
    assert wechat.reply(retry, secure=True)["Content"] == GREETING
    assert len(wechat.turns_of(xml)) == 1


def test_an_image_is_kept_for_the_next_message_and_is_complaint_evidence_during_a_complaint(
    wechat: WeChatServer, running_stack: Stack,
) -> None:
    openid = new_openid()

    def image(media_id: str) -> str:
        return other_xml(openid, "image", f"<PicUrl>http://mmbiz.qpic.cn/{media_id}.jpg</PicUrl>"
                                          f"<MediaId>{media_id}</MediaId><MsgId>{new_msg_id()}</MsgId>")

    outside = image("outside")
    assert wechat.reply(wechat.push(outside))["Content"] == TEXTS(IMAGE_ANSWER)
    assert wechat.turns_of(outside) == []  # an image is no bot turn of its own
    complaint = text_xml(openid, "我要投诉", new_msg_id())
    asked = wechat.reply(wechat.push(complaint))["Content"]
    assert "描述" in asked, asked
    assert wechat.reply(wechat.push(image("crack"), secure=True), secure=True)["Content"] == TEXTS(IMAGE_EVIDENCE_ANSWER)
    description = text_xml(openid, "收到的保温杯有裂缝，质量太差了", new_msg_id())
    assert "电话" in wechat.reply(wechat.push(description))["Content"]
    [with_first] = wechat.turns_of(complaint)
    [with_evidence] = wechat.turns_of(description)
    assert [(a["media_id"], a.get("evidence_for")) for a in with_first["metadata"]["attachments"]] == [
        ("outside", None)
    ]
    [evidence] = with_evidence["metadata"]["attachments"]
    assert evidence == {"kind": "image", "channel": "wechat", "media_id": "crack",
                        "url": "http://mmbiz.qpic.cn/crack.jpg", "received_at": evidence["received_at"],
                        "evidence_for": "complaint"}
    assert datetime.fromisoformat(evidence["received_at"]).utcoffset() == timedelta(0)
    contact = text_xml(openid, "13800138000", new_msg_id())
    assert "TS" in wechat.reply(wechat.push(contact))["Content"]
    ticket = _complaint_ticket(running_stack, conversation_id_for(openid, wechat.token))
    assert [(item["media_id"], item["url"], item["channel"]) for item in ticket["evidence"]] == [
        ("crack", "http://mmbiz.qpic.cn/crack.jpg", "wechat")
    ]


def _complaint_ticket(stack: Stack, conversation_id: str) -> dict[str, Any]:
    """The complaint ticket the conversation opened, from the record service."""
    headers = {"Authorization": f"Bearer {stack.env['RECORDS_TOKEN']}"}
    records = requests.get(stack.env["RECORDS_URL"], params={"conversation_id": conversation_id},
                           headers=headers, timeout=10).json()
    records = records["records"] if isinstance(records, dict) else records
    [complaint] = [record for record in records if record["kind"] == "complaint"]
    base = stack.env["RECORDS_URL"].removesuffix("/records")
    return dict(requests.get(f"{base}/complaints/{complaint['details']['ticket_id']}", headers=headers,
                             timeout=10).json())


def test_anything_else_gets_a_short_answer_and_no_turn(wechat: WeChatServer) -> None:
    openid = new_openid()
    location = other_xml(openid, "location", "<Location_X>23.13</Location_X><Location_Y>113.26</Location_Y>"
                                             f"<Scale>20</Scale><Label>广州</Label><MsgId>{new_msg_id()}</MsgId>")
    assert wechat.reply(wechat.push(location))["Content"] == TEXTS(UNSUPPORTED_ANSWER)
    unsubscribe = wechat.push(other_xml(openid, "event", "<Event>unsubscribe</Event>"))
    assert (unsubscribe.status_code, unsubscribe.text) == (200, "success")
    assert wechat.user_events(openid) == []


def test_text_that_closes_cdata_still_gets_valid_reply_xml(wechat: WeChatServer) -> None:
    openid = new_openid()
    xml = text_xml(openid, "我要退货]]]]><![CDATA[><MsgType>image</MsgType>", new_msg_id())
    response = wechat.push(xml)
    root = defusedxml.ElementTree.fromstring(response.text)
    assert [child.tag for child in root] == ["MsgType", "Content", "FromUserName", "ToUserName", "CreateTime"]
    assert root.findtext("MsgType") == "text" and root.findtext("Content")
    [turn] = wechat.turns_of(xml)
    assert turn["text"] == "我要退货]]><MsgType>image</MsgType>"


def test_options_become_numbered_lines_and_a_digit_picks_one(wechat: WeChatServer) -> None:
    openid = new_openid()
    # The second message in a row not understood is answered with every task as an option.
    wechat.reply(wechat.push(text_xml(openid, "/nlu_fallback", new_msg_id())))
    asked = wechat.reply(wechat.push(text_xml(openid, "/nlu_fallback", new_msg_id())))["Content"]
    assert "\n请回复数字选择：\n1. " in asked and "\n2. " in asked, asked
    picked = text_xml(openid, "1", new_msg_id())
    assert wechat.reply(wechat.push(picked))["Content"]
    turn = wechat.turns_of(picked)[-1]
    assert turn["text"].startswith("/") and turn["parse_data"]["intent"]["name"] == turn["text"][1:], turn["text"]


# ---- WeChat's retries


def test_retries_of_one_message_run_one_turn(wechat: WeChatServer) -> None:
    xml = text_xml(new_openid(), "我要退货", new_msg_id())
    replies = [wechat.reply(wechat.push(xml, secure=attempt == 1), secure=attempt == 1)["Content"]
               for attempt in range(3)]
    assert replies[0] and replies == [replies[0]] * 3
    assert len(wechat.turns_of(xml)) == 1


def test_concurrent_retries_run_one_turn(wechat: WeChatServer) -> None:
    xml = text_xml(new_openid(), "我的退款什么时候到账", new_msg_id())
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: wechat.push(xml), range(6)))
    contents = {wechat.reply(response)["Content"] for response in responses}
    assert len(contents) == 1 and contents != {""}
    assert len(wechat.turns_of(xml)) == 1


# ---- refused requests


def test_a_wrong_signature_is_403_and_no_turn(wechat: WeChatServer) -> None:
    openid = new_openid()
    xml = text_xml(openid, "我要退货", new_msg_id())
    params = {**wechat.query(openid=openid), "signature": "f" * 40}
    assert requests.post(wechat.url, params=params, data=xml.encode(), timeout=10).status_code == 403
    assert wechat.push(xml, secure=True, msg_signature="0" * 40).status_code == 403
    forger = WeChatServer(wechat.bot_url, wechat.bot_token, "forgedToken123", wechat.aes_key, wechat.app_id)
    assert forger.push(xml).status_code == 403
    assert wechat.push(xml, openid="oWx_somebody_else").status_code == 403
    assert wechat.user_events(openid) == []


def test_a_push_sealed_with_another_key_is_refused(wechat: WeChatServer) -> None:
    openid = new_openid()
    stranger = WeChatCrypto(wechat.token, _random_aes_key(), wechat.app_id)
    assert wechat.push(text_xml(openid, "我要退货", new_msg_id()), secure=True, crypto=stranger).status_code == 400
    assert wechat.user_events(openid) == []


def test_a_stale_or_future_timestamp_is_refused(wechat: WeChatServer) -> None:
    openid = new_openid()
    xml = text_xml(openid, "我要退货", new_msg_id())
    for timestamp in (int(time.time()) - 3600, int(time.time()) + 3600):
        assert wechat.push(xml, timestamp=timestamp).status_code == 403
    assert wechat.user_events(openid) == []


def test_hostile_and_malformed_bodies(wechat: WeChatServer) -> None:
    def post(body: bytes, **headers: str) -> requests.Response:
        return requests.post(wechat.url, params=wechat.query(), data=body, headers=headers, timeout=15)

    assert post(b"<xml><FromUserName>o</FromUserName>").status_code == 400
    assert post(b"").status_code == 400
    assert post(b"<xml><ToUserName>gh</ToUserName></xml>").status_code == 400  # no sender, no type
    laughs = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
              + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
              + ']><xml><FromUserName>o</FromUserName><MsgType>text</MsgType><Content>&j;</Content></xml>')
    started = time.monotonic()
    assert post(laughs.encode()).status_code == 400
    assert time.monotonic() - started < 1.0
    external = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                "<xml><FromUserName>o</FromUserName><MsgType>text</MsgType><Content>&x;</Content></xml>")
    assert post(external.encode()).status_code == 400
    assert post(b"<xml><Content>" + b"a" * (1024 * 1024) + b"</Content></xml>").status_code == 413


def test_a_signed_plain_query_cannot_carry_another_body(wechat: WeChatServer) -> None:
    victim, intruder = new_openid(), new_openid()
    params = wechat.query()
    genuine = text_xml(victim, "我要退货", new_msg_id())
    assert requests.post(wechat.url, params=params, data=genuine.encode(), timeout=15).status_code == 200
    forged = text_xml(intruder, "我要退货", new_msg_id())
    assert requests.post(wechat.url, params=params, data=forged.encode(), timeout=15).status_code == 403
    assert wechat.user_events(intruder) == []


# ---- a person takes over (issue 5): the agent's replies reach the shopper on WeChat


def _records(stack: Stack, conversation_id: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {stack.env['RECORDS_TOKEN']}"}
    answer = requests.get(stack.env["RECORDS_URL"], params={"conversation_id": conversation_id},
                          headers=headers, timeout=10).json()
    return list(answer["records"] if isinstance(answer, dict) else answer)


def test_an_agent_takes_over_on_wechat_and_gives_the_conversation_back(
    wechat: WeChatServer, running_stack: Stack
) -> None:
    agent = DeskAgent(running_stack.env["AGENT_URL"], running_stack.env["AGENT_TOKEN"])
    assert agent.call("GET", "/me").status_code == 200  # the agent is online
    openid, api = new_openid(), running_stack.wechat_api
    conversation = conversation_id_for(openid, wechat.token)

    asked = wechat.reply(wechat.push(text_xml(openid, "转人工", new_msg_id())))["Content"]
    [handoff] = [r for r in _records(running_stack, conversation) if r["kind"] == "handoff"]
    ticket_id = handoff["details"]["ticket_id"]
    assert ticket_id in asked and "请稍候" in asked, asked
    # Paused: the shopper's words go to the agent, the bot says nothing.
    waiting = wechat.push(text_xml(openid, "我的快递三天没动了", new_msg_id()))
    assert (waiting.status_code, waiting.text) == (200, "success")
    ticket = agent.ticket(ticket_id)
    assert ticket["conversation"]["paused"] is True
    assert "我的快递三天没动了" in [m["text"] for m in ticket["conversation"]["messages"] if m["role"] == "shopper"]

    agent.act(ticket_id, "claim")
    sent_before = len(api.sent)
    agent.act(ticket_id, "reply", {"text": "您好，我是客服小王，正在帮您查快递。"})
    [reply] = api.wait_for_messages(sent_before + 1)[sent_before:]
    assert (reply.touser, reply.content) == (openid, "您好，我是客服小王，正在帮您查快递。")

    resolved = agent.act(ticket_id, "resolve")
    assert resolved["satisfaction_requested"] is True
    question = api.wait_for_messages(sent_before + 2)[-1]
    assert question.touser == openid and "1–5" in question.content and "\n1. 5分 非常满意" in question.content
    thanks = wechat.reply(wechat.push(text_xml(openid, "1", new_msg_id())))["Content"]  # option 1: 5 points
    assert "感谢您的评价" in thanks, thanks
    [rating] = [r for r in _records(running_stack, conversation) if r["kind"] == "satisfaction"]
    assert (rating["outcome"], rating["details"]) == ("rated", {"rating": 5, "channel": "wechat"})
    assert agent.call("POST", f"/tickets/{ticket_id}/reply", {"text": "还在吗？"}).status_code == 409


# ---- the slow path: `success` at once, the answer by the customer-service API


@dataclass
class SlowServer:
    """A second Rasa whose reply window is 10 ms, with the fake as WeChat's API."""

    wechat: WeChatServer
    fake: FakeWeChat
    previous_crypto: WeChatCrypto


@pytest.fixture(scope="module")
def slow(running_stack: Stack, wechat: WeChatServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlowServer]:
    directory = tmp_path_factory.mktemp("slow_rasa")
    credentials = yaml.safe_load((REPO_ROOT / "credentials.yml").read_text())
    credentials["channels.wechat.WeChatInput"]["reply_window_seconds"] = 0.01
    credentials_file = directory / "credentials.yml"
    credentials_file.write_text(yaml.safe_dump(credentials))
    # A fake of its own, so that this server's messages are told apart from the stack's.
    fake = FakeWeChat(app_id=wechat.app_id, app_secret=running_stack.wechat_api.app_secret)
    server, _ = serve_fake_wechat(fake)
    new_key = _random_aes_key()  # the stack's key is now the previous one: a rotation
    environ = {"WECHAT_API_BASE": fake.url, "WECHAT_AES_KEY": new_key, "WECHAT_AES_KEY_PREVIOUS": wechat.aes_key,
               "WECHAT_APPID": fake.app_id, "WECHAT_APP_SECRET": fake.app_secret}
    try:
        with rasa_beside(running_stack, directory, environ, credentials_file) as second:
            slow_wechat = WeChatServer(second.url, wechat.bot_token, wechat.token, new_key, wechat.app_id)
            yield SlowServer(slow_wechat, fake, wechat.crypto)
    finally:
        server.shutdown()
        server.server_close()



def test_a_slow_answer_goes_through_the_customer_service_api(slow: SlowServer) -> None:
    xml = text_xml(ZHANGWEI, "帮我查一下订单8800001001的物流", new_msg_id())
    response = slow.wechat.push(xml)
    assert (response.status_code, response.text) == (200, "success")
    [sent] = slow.fake.wait_for_messages(1)
    assert sent.touser == ZHANGWEI
    assert "订单 8800001001（纯棉圆领T恤）当前状态：已签收" in sent.content, sent.content
    # WeChat's retry after it: `success`, no second turn, no second message.
    assert slow.wechat.push(xml).text == "success"
    # Over at once if a second message comes; otherwise after the timeout.
    wait_until(lambda: len(slow.fake.sent) > 1, timeout_s=1.0)
    assert len(slow.fake.sent) == 1
    assert len(slow.wechat.turns_of(xml)) == 1


def test_the_token_is_cached_and_refreshed_when_wechat_refuses_it(slow: SlowServer) -> None:
    already = len(slow.fake.wait_for_messages(0))
    tokens_before = slow.fake.token_requests
    slow.wechat.push(text_xml(new_openid(), "我要投诉", new_msg_id()))
    slow.fake.wait_for_messages(already + 1)
    assert slow.fake.token_requests == max(tokens_before, 1)
    slow.fake.revoke_tokens()
    openid = new_openid()
    slow.wechat.push(text_xml(openid, "我要投诉", new_msg_id()))
    sent = slow.fake.wait_for_messages(already + 2)
    assert sent[-1].touser == openid and "描述" in sent[-1].content
    assert slow.fake.token_requests == max(tokens_before, 1) + 1


def test_during_a_key_rotation_both_keys_open_pushes(slow: SlowServer) -> None:
    already = len(slow.fake.wait_for_messages(0))
    by_previous, by_current = new_openid(), new_openid()
    old = slow.wechat.push(text_xml(by_previous, "我要投诉", new_msg_id()), secure=True, crypto=slow.previous_crypto)
    new = slow.wechat.push(text_xml(by_current, "我要投诉", new_msg_id()), secure=True)
    assert (old.status_code, old.text, new.status_code, new.text) == (200, "success", 200, "success")
    sent = slow.fake.wait_for_messages(already + 2)
    assert {message.touser for message in sent[already:]} == {by_previous, by_current}
