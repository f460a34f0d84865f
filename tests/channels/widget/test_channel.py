"""The web widget channel in the real Rasa server of a stack started like `make up`:
socket.io clients speaking the widget protocol as the browser widget does, the service
records the bot writes, and hostile clients (forged and expired tokens, foreign origins,
a known conversation id, duplicates, malformed and oversized events).

The Python socket.io client talks long-polling: python-engineio's websocket client needs a
newer aiohttp than Rasa's; the websocket transport is exercised with a raw Engine.IO
client instead (`test_the_websocket_transport_...`).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jwt
import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.legacy.client import connect as websocket_connect

from channels.widget.pages import WIDGET_BUNDLE
from channels.widget.protocol import message_id_for
from channels.widget.tokens import (
    SESSION_AUDIENCE,
    issue_session_token,
    session_key,
    sign_shopper_token,
    start_session,
)
from tests.fixtures.servers import REPO_ROOT
from tests.fixtures.stack import Stack, rasa_beside
from tests.fixtures.widget_client import (
    SOCKETIO_PATH,
    TURN_TIMEOUT_S,
    ZHANGWEI,
    Widget,
    WidgetServer,
    of_kind,
    texts,
    widget_server_of,
)

pytestmark = pytest.mark.stack

@pytest.fixture(scope="module")
def server(running_stack: Stack) -> WidgetServer:
    return widget_server_of(running_stack)


@pytest.fixture
async def widgets(server: WidgetServer) -> AsyncIterator[list[Widget]]:
    """Widgets a test opens (`widgets.append(Widget(server))`), closed after it."""
    opened: list[Widget] = []
    yield opened
    for widget in opened:
        await widget.close()


def new_widget(server: WidgetServer, opened: list[Widget]) -> Widget:
    widget = Widget(server)
    opened.append(widget)
    return widget


# ---- conversations


async def test_an_anonymous_shopper_checks_a_refund_with_phone_digits(
    server: WidgetServer, widgets: list[Widget]
) -> None:
    widget = new_widget(server, widgets)
    confirmed = await widget.connect()
    assert (confirmed["logged_in"], confirmed["display_name"]) == (False, None)
    assert re.fullmatch(r"web-[0-9a-f]{32}", widget.conversation_id)
    assert "订单号" in texts(await widget.say("我想查一下退款进度"))
    assert "后四位" in texts(await widget.say("8800002001"))
    answer = texts(await widget.say("8000"))
    assert "8800002001" in answer and "退款" in answer, answer

    records = server.records(widget.conversation_id)
    [identity] = of_kind(records, "identity_check")
    assert (identity["outcome"], identity["details"]["method"]) == ("verified", "phone_last4")
    [refund] = of_kind(records, "refund_status")
    assert (refund["order_id"], refund["outcome"]) == ("8800002001", "completed")
    events = server.user_events(widget.conversation_id)
    assert [event["text"] for event in events] == ["我想查一下退款进度", "8800002001", "8000"]
    assert {event["input_channel"] for event in events} == {"widget"}
    assert all("account" not in (event.get("metadata") or {}) for event in events)


async def test_a_logged_in_shopper_is_verified_by_account_and_resumes_with_the_session_token(
    server: WidgetServer, widgets: list[Widget]
) -> None:
    widget = new_widget(server, widgets)
    confirmed = await widget.connect({"shopper_token": server.shopper_token()})
    assert (confirmed["logged_in"], confirmed["display_name"]) == (True, "张伟")
    answer = texts(await widget.say("帮我查一下订单8800001001的物流"))
    assert "订单 8800001001（纯棉圆领T恤）当前状态：已签收" in answer, answer
    assert "后四位" not in answer
    [identity] = of_kind(server.records(widget.conversation_id), "identity_check")
    assert (identity["order_id"], identity["outcome"], identity["details"]["method"]) == (
        "8800001001", "verified", "account")
    [event] = server.user_events(widget.conversation_id)
    assert event["input_channel"] == "widget"
    assert event["metadata"]["account"] == {"channel": "web", "account_id": ZHANGWEI}

    # A network drop: the widget reconnects with only the session token it was given.
    await widget.close()
    again = new_widget(server, widgets)
    resumed = await again.connect({"session_token": confirmed["session_token"]})
    assert (resumed["conversation_id"], resumed["logged_in"], resumed["display_name"]) == (
        widget.conversation_id, True, "张伟")
    await again.say("谢谢")
    assert server.user_events(widget.conversation_id)[-1]["metadata"]["account"]["account_id"] == ZHANGWEI


async def test_a_logged_in_shopper_picks_an_order_from_quick_replies(
    server: WidgetServer, widgets: list[Widget]
) -> None:
    widget = new_widget(server, widgets)
    await widget.connect({"shopper_token": server.shopper_token()})
    [*_, asked] = await widget.say("我想查一下退款进度")
    replies = asked["quick_replies"]
    assert replies and all(re.fullmatch(r"\d{10}", reply["payload"]) for reply in replies), asked
    assert all(reply["title"].startswith(reply["payload"]) for reply in replies)
    picked = replies[0]["payload"]
    await widget.say(picked)  # what the widget sends on a click: the payload
    [refund] = of_kind(server.records(widget.conversation_id), "refund_status")
    assert refund["order_id"] == picked


async def test_the_order_status_comes_with_an_order_card(server: WidgetServer, widgets: list[Widget]) -> None:
    """Needs the model trained with this domain.yml (the widget variation of utter_order_status)."""
    widget = new_widget(server, widgets)
    await widget.connect({"shopper_token": server.shopper_token()})
    uttered = await widget.say("帮我查一下订单8800001001的物流")
    [status] = [message for message in uttered if "当前状态" in message["text"]]
    card = status["order_card"]
    assert {key: card[key] for key in ("order_id", "status_text", "items", "amount")} == {
        "order_id": "8800001001",
        "status_text": "已签收",
        "items": [{"name": "纯棉圆领T恤", "quantity": "1"}],
        "amount": "199.00",
    }
    assert re.fullmatch(r"\d{1,2}月\d{1,2}日 \d\d:\d\d", card["paid_at"]), card


# ---- who may connect


@pytest.mark.parametrize(
    ("make_auth", "token", "code", "text"),
    [
        (lambda s: {"shopper_token": sign_shopper_token("forged-" + s.secret, ZHANGWEI, time.time(), 600)},
         "shopper_token", "invalid_token", "登录信息无效"),
        (lambda s: {"shopper_token": jwt.encode({"sub": ZHANGWEI, "exp": int(time.time()) + 600}, s.secret,
                                                algorithm="HS512")},
         "shopper_token", "invalid_token", "登录信息无效"),
        (lambda s: {"shopper_token": s.shopper_token(issued_at=time.time() - 7200, ttl_s=3600)},
         "shopper_token", "expired_token", "登录已过期，请刷新页面"),
        (lambda s: {"session_token": jwt.encode({"aud": SESSION_AUDIENCE, "cid": "web-" + "0" * 32,
                                                 "exp": int(time.time()) + 600}, s.secret, algorithm="HS256")},
         "session_token", "invalid_token", "登录信息无效"),
        (lambda s: {"session_token": s.shopper_token()}, "session_token", "invalid_token", "登录信息无效"),
        (lambda s: {"session_token": issue_session_token(session_key(s.secret), start_session(None),
                                                         time.time() - 3 * 86400)},
         "session_token", "expired_token", "对话已过期"),
        (lambda s: {"shopper_token": ["not", "a", "token"]}, "shopper_token", "invalid_token", "登录信息无效"),
    ],
    ids=["forged", "other-algorithm", "expired", "session-signed-with-shop-secret", "shopper-as-session",
         "expired-session", "not-a-string"],
)
async def test_a_forged_or_expired_token_is_refused(
    server: WidgetServer, widgets: list[Widget], make_auth: Any, token: str, code: str, text: str
) -> None:
    refusal = await new_widget(server, widgets).refused(make_auth(server))
    assert refusal["data"]["code"] == code and refusal["data"]["token"] == token
    assert text in refusal["message"] and refusal["data"]["message"] == refusal["message"]


async def test_pages_of_other_origins_are_refused(server: WidgetServer, widgets: list[Widget]) -> None:
    refusal = await new_widget(server, widgets).refused(origin="https://evil.example")
    assert refusal["data"] == {"code": "origin_not_allowed", "message": refusal["message"]}
    assert "在线客服" in refusal["message"]
    port = server.bot_url.rsplit(":", 1)[1]
    assert (await new_widget(server, widgets).connect(origin=f"http://localhost:{port}"))["conversation_id"]
    assert (await new_widget(server, widgets).connect(origin=None))["conversation_id"]  # not a browser


async def test_a_login_that_ends_during_the_connection_ends_the_turns(
    server: WidgetServer, widgets: list[Widget]
) -> None:
    widget = new_widget(server, widgets)
    await widget.connect({"shopper_token": server.shopper_token(ttl_s=2)})
    await asyncio.sleep(2.5)
    await widget.send("我要退货")
    event, error = await widget.next_event(10)
    assert (event, error["code"]) == ("widget_error", "expired_token")
    assert "登录已过期" in error["message"]
    assert server.user_events(widget.conversation_id) == []


# ---- the conversation is bound to the server's token, not to its id


async def test_a_known_conversation_id_cannot_be_taken_over(server: WidgetServer, widgets: list[Widget]) -> None:
    owner = new_widget(server, widgets)
    confirmed = await owner.connect()
    known = owner.conversation_id
    assert "订单号" in texts(await owner.say("我想查一下退款进度"))

    intruder = new_widget(server, widgets)
    own = await intruder.connect({"session_id": known, "conversation_id": known, "sender_id": known})
    assert own["conversation_id"] != known
    await intruder.client.emit("session_request", {"session_id": known})  # Rasa's socketio protocol
    await intruder.send("8800002001", session_id=known, sender_id=known, conversation_id=known)
    assert await intruder.turn()
    assert all(event != "session_confirm" for event, _ in await intruder.events_within(1.0))
    forged = new_widget(server, widgets)
    refusal = await forged.refused({"session_token": jwt.encode(
        {"aud": SESSION_AUDIENCE, "cid": known, "exp": int(time.time()) + 600}, "guessed-key-" * 4,
        algorithm="HS256")})
    assert refusal["data"]["code"] == "invalid_token"

    assert await owner.events_within(1.0) == []  # the owner saw nothing of the intruder's turn
    assert [event["text"] for event in server.user_events(known)] == ["我想查一下退款进度"]
    assert [event["text"] for event in server.user_events(intruder.conversation_id)] == ["8800002001"]

    # The owner's own session token resumes the conversation where it was.
    await owner.close()
    back = new_widget(server, widgets)
    assert (await back.connect({"session_token": confirmed["session_token"]}))["conversation_id"] == known
    assert "后四位" in texts(await back.say("8800002001"))
    assert [event["text"] for event in server.user_events(known)] == ["我想查一下退款进度", "8800002001"]
    assert await intruder.events_within(1.0) == []


# ---- duplicates, malformed and oversized events


async def test_a_duplicate_message_id_is_one_turn(server: WidgetServer, widgets: list[Widget]) -> None:
    widget = new_widget(server, widgets)
    await widget.connect()
    message_id = await widget.send("你好", "dup-1")
    await widget.send("你好", message_id)  # resent while the turn runs
    assert await widget.turn()
    await widget.send("你好", message_id)  # and after it
    assert await widget.events_within(2.0) == []
    [turn] = server.user_events(widget.conversation_id)
    assert turn["message_id"] == message_id_for(widget.conversation_id, message_id)
    await widget.send("你好", "dup-2")
    assert await widget.turn()
    assert len(server.user_events(widget.conversation_id)) == 2


@pytest.mark.parametrize(
    "data",
    ["我要退货", 42, None, ["我要退货"], {"message_id": "m-1"}, {"message": 5, "message_id": "m-1"},
     {"message": "我要退货"}, {"message": "我要退货", "message_id": {"id": 1}}, {"message": "   ", "message_id": "m-1"},
     ({"message": "我要退货", "message_id": "m-1"}, "a second argument")],
    ids=["text", "number", "nothing", "list", "no-message", "number-message", "no-id", "object-id", "blank",
         "two-arguments"],
)
async def test_a_malformed_event_gets_widget_error_and_no_turn(
    server: WidgetServer, widgets: list[Widget], data: Any
) -> None:
    widget = new_widget(server, widgets)
    await widget.connect()
    await widget.client.emit("user_uttered", data)
    event, error = await widget.next_event(10)
    assert (event, error["code"]) == ("widget_error", "malformed")
    assert "重新" in error["message"]
    assert server.user_events(widget.conversation_id) == []
    assert await widget.say("你好")  # the connection is still fine


async def test_a_message_over_1000_characters_gets_widget_error(server: WidgetServer, widgets: list[Widget]) -> None:
    widget = new_widget(server, widgets)
    await widget.connect()
    await widget.send("退" * 1001)
    event, error = await widget.next_event(10)
    assert (event, error["code"]) == ("widget_error", "message_too_long")
    assert "1000" in error["message"]
    assert server.user_events(widget.conversation_id) == []


async def test_a_1mb_message_is_refused_by_the_transport_and_the_server_stays_up(
    server: WidgetServer, widgets: list[Widget]
) -> None:
    widget = new_widget(server, widgets)
    confirmed = await widget.connect()
    await widget.send("a" * 1_000_000)
    # Rasa's body limit (rasa_server/body_limit.py) refuses it before Engine.IO reads it.
    refused = await asyncio.to_thread(
        requests.post, f"{server.bot_url}/{SOCKETIO_PATH}/?EIO=4&transport=polling",
        data=b"4" + b"a" * 1_000_000, headers={"Origin": server.bot_url}, timeout=30,
    )
    assert refused.status_code == 413
    assert server.is_up()
    back = new_widget(server, widgets)
    assert (await back.connect({"session_token": confirmed["session_token"]}))["conversation_id"] == (
        widget.conversation_id)
    assert await back.say("你好")
    assert [event["text"] for event in server.user_events(widget.conversation_id)] == ["你好"]


async def test_the_websocket_transport_answers_and_closes_on_a_1mb_frame(server: WidgetServer) -> None:
    url = server.bot_url.replace("http", "ws", 1) + f"/{SOCKETIO_PATH}/?EIO=4&transport=websocket"
    async with websocket_connect(url, extra_headers={"Origin": server.bot_url}, max_size=None) as socket:
        assert str(await socket.recv()).startswith("0{")  # Engine.IO open
        await socket.send("40" + json.dumps({}))  # Socket.IO connect, anonymous

        async def events_until(name: str) -> dict[str, Any]:
            while True:
                frame = str(await asyncio.wait_for(socket.recv(), TURN_TIMEOUT_S))
                if frame.startswith("42"):
                    event, payload = json.loads(frame[2:])
                    if event == name:
                        return dict(payload)
                elif frame == "2":  # ping
                    await socket.send("3")

        conversation = (await events_until("session_confirm"))["conversation_id"]
        await socket.send("42" + json.dumps(["user_uttered", {"message": "你好", "message_id": "ws-1"}]))
        assert (await events_until("bot_uttered"))["text"]
        await socket.send("42" + json.dumps(["user_uttered", {"message": "a" * 1_000_000, "message_id": "ws-2"}]))
        with pytest.raises(ConnectionClosed):
            await events_until("bot_uttered")
    assert server.is_up()
    assert [event["text"] for event in server.user_events(conversation)] == ["你好"]


# ---- HTTP: the bundle and the demo page


def test_the_widget_bundle_is_served_or_missing_with_a_clear_message(server: WidgetServer) -> None:
    answer = requests.get(f"{server.bot_url}/webhooks/widget/widget.js", timeout=10)
    if WIDGET_BUNDLE.is_file():
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/javascript")
        assert answer.content == WIDGET_BUNDLE.read_bytes()
    else:
        assert answer.status_code == 503
        assert "npm run build" in answer.text


def test_the_demo_page_embeds_the_widget_anonymously_or_for_a_demo_login(server: WidgetServer) -> None:
    anonymous = requests.get(f"{server.bot_url}/webhooks/widget/demo", timeout=10)
    assert anonymous.status_code == 200 and "优选生活馆" in anonymous.text
    assert f'<script src="/webhooks/widget/widget.js" data-server="{server.bot_url}" defer>' in anonymous.text
    policy = anonymous.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and f"connect-src 'self' {server.bot_url.replace('http', 'ws')}" in policy
    assert anonymous.headers["Cache-Control"] == "no-store"

    logged_in = requests.get(f"{server.bot_url}/webhooks/widget/demo", params={"as": ZHANGWEI}, timeout=10)
    [token] = re.findall(r'data-shopper-token="([^"]+)"', logged_in.text)
    claims = jwt.decode(token, server.secret, algorithms=["HS256"])
    assert claims["sub"] == ZHANGWEI and claims["exp"] - time.time() <= 1800

    bad = requests.get(f"{server.bot_url}/webhooks/widget/demo", params={"as": "<script>"}, timeout=10)
    assert bad.status_code == 400 and "演示账号" in bad.text and "<script>" not in bad.text


@pytest.fixture(scope="module")
def production_like(running_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second Rasa with the demo page off and only a shop origin allowed, as in production."""
    directory = tmp_path_factory.mktemp("widget_production_rasa")
    environ = {"WIDGET_DEMO_PAGE": "false", "WIDGET_ALLOWED_ORIGINS": "https://shop.example.com"}
    with rasa_beside(running_stack, directory, environ, REPO_ROOT / "credentials.yml") as second:
        yield second.url


async def test_without_demo_page_there_is_no_demo_page_and_only_the_shop_connects(
    production_like: str, server: WidgetServer, widgets: list[Widget]
) -> None:
    assert requests.get(f"{production_like}/webhooks/widget/demo", params={"as": ZHANGWEI}, timeout=10).status_code == (
        404)
    shop = WidgetServer(production_like, server.bot_token, server.secret, server.records_url, server.records_token)
    refusal = await new_widget(shop, widgets).refused()  # the Rasa's own origin is not the shop's
    assert refusal["data"]["code"] == "origin_not_allowed"
    confirmed = await new_widget(shop, widgets).connect({"shopper_token": server.shopper_token()},
                                                        origin="https://shop.example.com")
    assert confirmed["logged_in"] is True
