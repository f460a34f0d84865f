"""The phone line in the real Rasa server of a stack started like `make up`: the IVR JSON
exactly as the platform sends it, checked by the reply and the service records.

The acceptance orders (shared/acceptance/orders.yaml): 8800002001 is 张伟's (phone
13800138000, refund RF2001 completed), 8800002003 is 王芳's (phone ending 5555, refund
RF2003 processing).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import yaml
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import UserMessage
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk.executor import CollectingDispatcher

from channels.ivr.channel import (
    BOT_UNAVAILABLE_RESPONSE,
    GOODBYE_RESPONSE,
    IvrInput,
    IvrOutput,
    call_action,
)
from channels.ivr.inbound import CONFIRM_RESPONSES, SAY_AGAIN_RESPONSE
from channels.ivr.protocol import MAX_BODY_BYTES, Turn, conversation_id_for, message_id_for
from channels.ivr.render import BotMessage, read_digits, speakable
from channels.ivr.settings import IvrSettings
from service_common.channel_metadata import ChannelMetadata, HandoffNotice
from tests.fixtures.servers import REPO_ROOT
from tests.fixtures.stack import Stack

ZHANGWEI_PHONE = "+8613800138000"
STRANGER_PHONE = "+8613700009999"  # nobody's phone in the acceptance orders
RESPONSES = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def domain_text(name: str, **values: Any) -> str:
    """A response of domain.yml as the caller hears it."""
    return speakable(RESPONSES[name][0]["text"].format(**values))


# ---- which way a turn ends (pure, with messages shaped as Rasa hands them over)


def rasa_message(response: str, handoff: HandoffNotice | None = None, **values: Any) -> BotMessage:
    """A bot message as Rasa hands it over: with its handoff ticket's channel metadata, if any."""
    told = ChannelMetadata(handoff=handoff).message_values() if handoff else {}
    return BotMessage.from_rasa({"text": "…", "utter_action": response, "template": response, **values, **told})


def test_a_queued_handoff_transfers_a_callback_or_a_goodbye_hangs_up() -> None:
    def handoff(ticket_id: str, status: Any = "queued") -> HandoffNotice:
        return HandoffNotice(ticket_id, status, 6, "user_request")

    queued, urgent, callback = "utter_handoff_queued", "utter_handoff_queued_urgent", "utter_handoff_callback"
    assert call_action([rasa_message(queued, handoff("HO1"), ticket_id="HO1")]) == ("transfer", "HO1", False)
    assert call_action(
        [rasa_message("utter_service_unavailable"), rasa_message(urgent, handoff("HO2"), ticket_id="HO2")]
    ) == ("transfer", "HO2", False)
    assert call_action([rasa_message(callback, handoff("HO3", "callback_scheduled"), ticket_id="HO3")]) == (
        "hangup", "HO3", True,
    )
    assert call_action([rasa_message(GOODBYE_RESPONSE)]) == ("hangup", None, False)
    assert call_action([rasa_message("utter_anything_else"), BotMessage("好的")]) == ("continue", None, False)


def test_a_handoff_response_without_its_ticket_in_the_channel_metadata_is_no_transfer() -> None:
    # The response name alone tells nothing: only the ticket the action attached does.
    assert call_action([rasa_message("utter_handoff_queued", ticket_id="HO1")]) == ("continue", None, False)
    malformed = BotMessage.from_rasa({"text": "…", "channel_metadata": {"handoff": {"ticket_id": "HO1"}}})
    assert call_action([malformed]) == ("continue", None, False)


async def test_the_ticket_an_action_attaches_reaches_the_output_channel_through_rasa() -> None:
    # As bot/actions/handoff.py says it, through Rasa's own handling of an action's answer.
    notice = HandoffNotice("HO1", "queued", 6, "user_request", None, "诉求：顾客要求人工服务")
    dispatcher = CollectingDispatcher()
    dispatcher.utter_message(
        response="utter_handoff_queued", ticket_id="HO1", **ChannelMetadata(handoff=notice).message_values()
    )
    domain = Domain.load(str(REPO_ROOT / "domain.yml"))
    output = IvrOutput()

    uttered = await RemoteAction._utter_responses(
        dispatcher.messages, output, TemplatedNaturalLanguageGenerator(domain.responses),
        DialogueStateTracker("ivr-test", domain.slots),
    )
    for event in uttered:
        await output.send_response("ivr-test", event.message())

    [message] = output.messages
    assert (message.text, message.response) == (
        RESPONSES["utter_handoff_queued"][0]["text"].format(ticket_id="HO1"), "utter_handoff_queued",
    )
    assert message.channel_metadata == ChannelMetadata(handoff=notice)
    assert call_action(output.messages) == ("transfer", "HO1", False)


class HandingOverBot:
    """Stands in for Rasa's agent: answers each turn with one message carrying `told`."""

    def __init__(self, response: str, told: ChannelMetadata) -> None:
        self.message = {"text": "已为您转接人工客服", "utter_action": response, **told.message_values()}

    async def __call__(self, message: UserMessage) -> None:
        assert message.output_channel is not None
        await message.output_channel.send_response(message.sender_id, dict(self.message))


async def test_a_transfer_takes_its_context_from_the_bot_s_message() -> None:
    channel = IvrInput(IvrSettings(token="t" * 32))
    notice = HandoffNotice("HO26112012345678", "queued", 2, "beyond_authority", "8800002002", "诉求：顾客要求赔偿")
    bot = HandingOverBot("utter_handoff_queued_urgent", ChannelMetadata(handoff=notice))

    status, reply = await channel.reply_to(Turn("CA-2", 1, 0, transcript="我要赔偿", confidence=0.9), bot)

    assert (status, reply["action"]) == (200, "transfer")
    assert reply["transfer"] == {"queue": "aftersales", "ticket_id": "HO26112012345678", "priority": 2,
                                 "reason": "beyond_authority", "order_id": "8800002002",
                                 "summary": "诉求：顾客要求赔偿"}
    assert "callback" not in reply


async def test_a_scheduled_callback_hangs_up_with_its_time_from_the_bot_s_message() -> None:
    channel = IvrInput(IvrSettings(token="t" * 32))
    notice = HandoffNotice("HO26112023000001", "callback_scheduled", 6, "user_request",
                           callback_at="2026-11-21T01:00:00+00:00")
    bot = HandingOverBot("utter_handoff_callback", ChannelMetadata(handoff=notice))

    status, reply = await channel.reply_to(Turn("CA-3", 1, 0, transcript="转人工", confidence=0.9), bot)

    assert (status, reply["action"]) == (200, "hangup")
    assert reply["callback"] == {"ticket_id": "HO26112023000001", "callback_at": "2026-11-21T01:00:00+00:00",
                                 "priority": 6, "reason": "user_request"}
    assert "transfer" not in reply
    call = await channel.calls.get("CA-3")
    assert call is not None and call.ended


async def test_a_message_without_channel_metadata_goes_on_with_the_call() -> None:
    channel = IvrInput(IvrSettings(token="t" * 32))
    bot = HandingOverBot("utter_handoff_queued", ChannelMetadata())

    status, reply = await channel.reply_to(Turn("CA-4", 1, 0, transcript="转人工", confidence=0.9), bot)

    assert (status, reply["action"]) == (200, "continue")
    assert "transfer" not in reply and "callback" not in reply


async def test_a_bot_that_fails_on_a_turn_puts_the_caller_through_to_a_person() -> None:
    channel = IvrInput(IvrSettings(token="t" * 32))
    received: list[UserMessage] = []

    async def failing_bot(message: UserMessage) -> None:
        received.append(message)
        raise ConnectionError("the agent is not loaded")

    status, reply = await channel.reply_to(Turn("CA-1", 1, 0, transcript="查退款", confidence=0.9), failing_bot)
    assert (status, reply["action"], reply["speech"]) == (200, "transfer", domain_text(BOT_UNAVAILABLE_RESPONSE))
    assert reply["transfer"] == {"queue": "aftersales", "ticket_id": None, "priority": None,
                                 "reason": "system_error", "order_id": None, "summary": None}
    assert [message.text for message in received] == ["查退款"]
    # The call is not over: the platform may come back if the transfer fails.
    status, again = await channel.reply_to(Turn("CA-1", 2, 0, dtmf="*"), failing_bot)
    assert (status, again["speech"], len(received)) == (200, reply["speech"], 1)


# ---- against the running stack


@dataclass
class Platform:
    """Sends turns to the stack's IVR endpoint the way the IVR platform does."""

    url: str
    token: str
    bot_url: str
    bot_token: str
    records_url: str
    records_token: str

    def post(self, body: Any, *, token: str | None = None, headers: dict[str, str] | None = None,
             data: bytes | None = None) -> requests.Response:
        auth = {"Authorization": f"Bearer {token or self.token}"} if headers is None else headers
        if data is not None:
            return requests.post(self.url, data=data, headers={**auth, "Content-Type": "application/json"},
                                 timeout=30)
        return requests.post(self.url, json=body, headers=auth, timeout=30)

    def conversation(self, call_id: str) -> str:
        return conversation_id_for(call_id, self.token)

    def user_events(self, call_id: str) -> list[dict[str, Any]]:
        tracker = requests.get(f"{self.bot_url}/conversations/{self.conversation(call_id)}/tracker",
                               params={"token": self.bot_token}, timeout=15)
        assert tracker.status_code == 200, tracker.text
        return [event for event in tracker.json()["events"] if event["event"] == "user"]

    def records(self, call_id: str) -> list[dict[str, Any]]:
        answer = requests.get(self.records_url, params={"conversation_id": self.conversation(call_id)},
                              headers={"Authorization": f"Bearer {self.records_token}"}, timeout=15)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return list(body["records"] if isinstance(body, dict) else body)


class Call:
    """One phone call: numbered turns from one caller."""

    def __init__(self, platform: Platform, caller: str | None) -> None:
        self.platform = platform
        self.caller = caller
        self.call_id = f"CA-{secrets.token_hex(8)}"
        self.turn_id = 0

    def body(self, turn_id: int | None = None, **fields: Any) -> dict[str, Any]:
        if turn_id is None:
            self.turn_id += 1
            turn_id = self.turn_id
        return {"call_id": self.call_id, "turn_id": turn_id, "timestamp": int(time.time()),
                "caller": self.caller, **fields}

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.platform.post(body)
        assert answer.status_code == 200, answer.text
        reply: dict[str, Any] = answer.json()
        assert (reply["call_id"], reply["turn_id"]) == (body["call_id"], body["turn_id"])
        return reply

    def say(self, transcript: str, confidence: float = 0.93) -> dict[str, Any]:
        return self.send(self.body(transcript=transcript, confidence=confidence))

    def key(self, dtmf: str) -> dict[str, Any]:
        return self.send(self.body(dtmf=dtmf))

    def records(self) -> list[dict[str, Any]]:
        return self.platform.records(self.call_id)

    def user_events(self) -> list[dict[str, Any]]:
        return self.platform.user_events(self.call_id)


@pytest.fixture(scope="module")
def platform(running_stack: Stack) -> Platform:
    env = running_stack.env
    assert env["IVR_URL"] == f"{env['BOT_URL']}/webhooks/ivr/turn"
    return Platform(env["IVR_URL"], env["IVR_TOKEN"], env["BOT_URL"], env["BOT_TOKEN"], env["RECORDS_URL"],
                    env["RECORDS_TOKEN"])


@pytest.fixture
def new_call(platform: Platform) -> Callable[[str | None], Call]:
    return lambda caller: Call(platform, caller)


def kinds(records: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(r["kind"], r["outcome"], r["order_id"]) for r in records]


@pytest.mark.stack
def test_health(platform: Platform) -> None:
    answer = requests.get(platform.url.removesuffix("turn"), timeout=10)
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


@pytest.mark.stack
def test_the_orders_phone_calling_is_verified_by_caller_id(new_call: Callable[[str | None], Call]) -> None:
    call = new_call(ZHANGWEI_PHONE)
    greeting = call.send(call.body(event="start"))
    assert greeting == {"call_id": call.call_id, "turn_id": 1, "speech": domain_text("utter_greet"),
                        "action": "continue"}
    reply = call.say("我那件夹克的退款到账了没有，订单号八八零零零零二零零一。")
    assert reply["action"] == "continue"
    assert f"订单 {read_digits('8800002001')} 的退款 239.00 元" in reply["speech"], reply["speech"]
    assert "后四位" not in reply["speech"]
    assert kinds(call.records()) == [
        ("identity_check", "verified", "8800002001"), ("refund_status", "completed", "8800002001"),
    ]
    assert call.records()[0]["details"] == {"method": "caller_id", "channel": "ivr"}
    turn = call.user_events()[-1]
    assert (turn["input_channel"], turn["text"]) == ("ivr", "我那件夹克的退款到账了没有，订单号八八零零零零二零零一")
    assert turn["message_id"] == message_id_for(call.call_id, 2)
    assert turn["metadata"]["account"] == {"channel": "phone", "account_id": "13800138000"}
    assert turn["metadata"]["ivr"] == {"call_id": call.call_id, "turn_id": 2, "input": "speech", "confidence": 0.93}


@pytest.mark.stack
def test_another_number_is_asked_the_phone_digits_and_may_key_them(new_call: Callable[[str | None], Call]) -> None:
    call = new_call(STRANGER_PHONE)
    asked = call.say("查一下退款，订单号8800002001")
    assert asked["speech"] == domain_text("utter_ask_phone_last4")
    assert call.records() == []
    reply = call.key("8000#")
    assert f"订单 {read_digits('8800002001')} 的退款" in reply["speech"], reply["speech"]
    assert kinds(call.records()) == [
        ("identity_check", "verified", "8800002001"), ("refund_status", "completed", "8800002001"),
    ]
    assert call.records()[0]["details"] == {"method": "phone_last4", "channel": "ivr"}
    keyed = call.user_events()[-1]
    assert (keyed["text"], keyed["metadata"]["ivr"]["input"]) == ("8000", "keys")
    assert keyed["metadata"]["account"] == {"channel": "phone", "account_id": "13700009999"}


@pytest.mark.stack
def test_a_withheld_number_is_no_account(new_call: Callable[[str | None], Call]) -> None:
    call = new_call("anonymous")
    assert call.say("查一下退款，订单号8800002001")["speech"] == domain_text("utter_ask_phone_last4")
    assert "account" not in call.user_events()[-1]["metadata"]


@pytest.mark.stack
def test_an_order_number_heard_badly_is_confirmed_before_the_bot_hears_it(
    new_call: Callable[[str | None], Call],
) -> None:
    call = new_call(None)
    heard = "查一下订单号八八零零零零二零零三的退款"
    asked = call.say(heard, confidence=0.42)
    assert asked == {"call_id": call.call_id, "turn_id": 1, "action": "continue",
                     "speech": domain_text(CONFIRM_RESPONSES["order_id"], digits=read_digits("8800002003"))}
    assert call.user_events() == []
    assert call.say("对对对")["speech"] == domain_text("utter_ask_phone_last4")
    [confirmed] = call.user_events()
    assert confirmed["text"] == heard
    assert confirmed["metadata"]["ivr"] == {"call_id": call.call_id, "turn_id": 2, "input": "confirmed",
                                            "confidence": 0.42}
    # Digits keyed are exact: no confirmation.
    reply = call.key("5555#")
    assert f"订单 {read_digits('8800002003')} 的退款 18.00 元正在处理中" in reply["speech"], reply["speech"]
    assert kinds(call.records()) == [
        ("identity_check", "verified", "8800002003"), ("refund_status", "on_time", "8800002003"),
    ]


@pytest.mark.stack
def test_no_to_a_confirmation_asks_again_and_key_one_confirms(new_call: Callable[[str | None], Call]) -> None:
    call = new_call(None)
    call.say("查退款，订单号八八零零零零二零零二", confidence=0.3)
    assert call.say("不对")["speech"] == domain_text(SAY_AGAIN_RESPONSE)
    assert call.user_events() == []
    asked = call.say("查退款，订单号八八零零零零二零零三", confidence=0.3)
    assert read_digits("8800002003") in asked["speech"]
    assert call.key("1")["speech"] == domain_text("utter_ask_phone_last4")
    assert [event["text"] for event in call.user_events()] == ["查退款，订单号八八零零零零二零零三"]


@pytest.mark.stack
def test_options_read_out_are_picked_by_key_and_star_repeats(new_call: Callable[[str | None], Call]) -> None:
    call = new_call(ZHANGWEI_PHONE)
    offered = call.say("我想查一下退款")
    first = re.search(r"请说“([0-9 ]+)，[^”]*”或按1", offered["speech"])
    assert first, offered["speech"]
    order_id = first.group(1).replace(" ", "")
    reply = call.key("1#")
    assert f"订单 {read_digits(order_id)}" in reply["speech"], reply["speech"]
    assert call.user_events()[-1]["text"] == order_id
    identity, refund = call.records()
    assert (identity["kind"], identity["order_id"], identity["details"]) == (
        "identity_check", order_id, {"method": "caller_id", "channel": "ivr"},
    )
    assert (refund["kind"], refund["order_id"]) == ("refund_status", order_id)
    turns_before = len(call.user_events())
    assert call.key("*")["speech"] == reply["speech"]
    assert len(call.user_events()) == turns_before


@pytest.mark.stack
@pytest.mark.parametrize("ask", [{"transcript": "我要转人工", "confidence": 0.9}, {"dtmf": "0"}])
def test_asking_for_a_person_hands_the_call_over_with_its_context(
    ask: dict[str, Any], new_call: Callable[[str | None], Call]
) -> None:
    call = new_call(STRANGER_PHONE)
    reply = call.send(call.body(**ask))
    [handoff] = [record for record in call.records() if record["kind"] == "handoff"]
    details = handoff["details"]
    assert details["reason"] == "user_request"
    ticket = {"ticket_id": details["ticket_id"], "priority": details["priority"], "reason": "user_request"}
    # Human service hours (policy SERVICE-HOURS) decide: a queue now, or a callback later.
    if handoff["outcome"] == "queued":
        assert reply["action"] == "transfer"
        assert reply["transfer"] == {**ticket, "queue": "aftersales", "order_id": None,
                                     "summary": details["context"]["summary"]}
        assert "callback" not in reply
    else:
        assert handoff["outcome"] == "callback_scheduled"
        assert reply["action"] == "hangup"
        assert reply["callback"] == {**ticket, "callback_at": details["callback_at"]}
        assert "transfer" not in reply
    assert read_digits(details["ticket_id"][2:]) in reply["speech"], reply["speech"]


@pytest.mark.stack
def test_goodbye_hangs_up_and_the_call_takes_no_more_turns(
    platform: Platform, new_call: Callable[[str | None], Call]
) -> None:
    call = new_call(ZHANGWEI_PHONE)
    goodbye_turn = call.body(transcript="好的，再见", confidence=0.95)
    reply = call.send(goodbye_turn)
    assert (reply["speech"], reply["action"]) == (domain_text("utter_goodbye"), "hangup")
    assert call.send(goodbye_turn) == reply  # a retry of the last turn still gets its answer
    late = platform.post(call.body(transcript="喂？", confidence=0.9))
    assert (late.status_code, late.json()["error"]) == (409, "call_ended")


@pytest.mark.stack
def test_the_caller_hanging_up_ends_the_call_without_a_bot_turn(
    platform: Platform, new_call: Callable[[str | None], Call]
) -> None:
    call = new_call(ZHANGWEI_PHONE)
    assert call.send(call.body(event="end")) == {"call_id": call.call_id, "turn_id": 1, "speech": "",
                                                "action": "hangup"}
    assert call.user_events() == []
    assert platform.post(call.body(transcript="喂", confidence=0.9)).status_code == 409


# ---- retries and conflicts


@pytest.mark.stack
def test_a_repeated_turn_gets_the_same_answer_from_one_bot_turn(new_call: Callable[[str | None], Call]) -> None:
    call = new_call(STRANGER_PHONE)
    first_turn = call.body(transcript="查一下退款，订单号8800002001", confidence=0.9)
    first = call.send(first_turn)
    retry = call.send({**first_turn, "timestamp": first_turn["timestamp"] + 2})
    assert retry == first
    second_turn = call.body(dtmf="8000#")
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(call.send, [second_turn] * 4))
    assert all(reply == replies[0] for reply in replies)
    assert [event["message_id"] for event in call.user_events()] == [
        message_id_for(call.call_id, 1), message_id_for(call.call_id, 2),
    ]
    assert kinds(call.records()) == [
        ("identity_check", "verified", "8800002001"), ("refund_status", "completed", "8800002001"),
    ]


@pytest.mark.stack
def test_conflicting_late_or_foreign_turns_are_refused(
    platform: Platform, new_call: Callable[[str | None], Call]
) -> None:
    call = new_call(STRANGER_PHONE)
    first_turn = call.body(transcript="你好", confidence=0.9)
    call.send(first_turn)
    call.send(call.body(transcript="查退款", confidence=0.9))

    def refused(body: dict[str, Any]) -> tuple[int, str]:
        answer = platform.post(body)
        return answer.status_code, answer.json()["error"]

    assert refused({**first_turn, "transcript": "转人工"}) == (409, "turn_conflict")
    assert refused(call.body(turn_id=1, transcript="别的", confidence=0.9)) == (409, "turn_conflict")
    assert refused({**call.body(turn_id=2), "caller": "+8613912345678"}) == (409, "caller_changed")
    assert len(call.user_events()) == 2


# ---- hostile and malformed requests


@pytest.mark.stack
def test_a_missing_or_wrong_token_is_refused(platform: Platform, new_call: Callable[[str | None], Call]) -> None:
    call = new_call(ZHANGWEI_PHONE)
    body = call.body(transcript="转人工", confidence=0.9)
    missing = platform.post(body, headers={})
    assert (missing.status_code, missing.json()["error"]) == (401, "unauthorized")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert platform.post(body, headers={"Authorization": f"Basic {platform.token}"}).status_code == 401
    wrong = platform.post(body, token=platform.token[:-1] + ("x" if platform.token[-1] != "x" else "y"))
    assert (wrong.status_code, wrong.json()["error"]) == (403, "forbidden")
    assert call.user_events() == []


@pytest.mark.stack
@pytest.mark.parametrize("offset_s", [-3600, 3600])
def test_an_expired_or_future_turn_is_refused(
    offset_s: int, platform: Platform, new_call: Callable[[str | None], Call]
) -> None:
    call = new_call(ZHANGWEI_PHONE)
    answer = platform.post({**call.body(transcript="转人工", confidence=0.9), "timestamp": int(time.time()) + offset_s})
    assert (answer.status_code, answer.json()["error"], answer.json()["field"]) == (403, "expired", "timestamp")
    assert call.user_events() == []


@pytest.mark.stack
def test_a_body_of_one_megabyte_is_refused(platform: Platform, new_call: Callable[[str | None], Call]) -> None:
    call = new_call(ZHANGWEI_PHONE)
    padding = "长" * (1024 * 1024 // 3)
    huge = (f'{{"call_id": "{call.call_id}", "turn_id": 1, "timestamp": {int(time.time())}, '
            f'"transcript": "{padding}", "confidence": 0.9}}').encode()
    assert len(huge) > 1024 * 1024 > MAX_BODY_BYTES
    answer = platform.post(None, data=huge)
    assert (answer.status_code, answer.json()["error"]) == (413, "too_large")
    assert platform.post(None, data=huge, headers={}).status_code == 401
    assert call.user_events() == []


@pytest.mark.stack
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "body"),
        (b"{not json", "body"),
        (b"[]", "body"),
        (b"\xff\xfe", "body"),
        (b'{"call_id": "CA-x", "turn_id": 1, "timestamp": 1, "confidence": NaN}', "body"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes, field: str, platform: Platform) -> None:
    answer = platform.post(None, data=body)
    assert (answer.status_code, answer.json()["error"], answer.json()["field"]) == (400, "malformed", field)


@pytest.mark.stack
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"confidence": 1.5}, "confidence"),
        ({"confidence": None}, "confidence"),
        ({"dtmf": "12a#"}, "dtmf"),
        ({"caller": "138-0013-8000"}, "caller"),
        ({"turn_id": "2"}, "turn_id"),
        ({"call_id": "x" * 65}, "call_id"),
        ({"transcript": "长" * 501}, "transcript"),
        ({"event": "ring"}, "event"),
        ({"recording_url": "https://example.com/a.wav"}, "recording_url"),
    ],
)
def test_a_malformed_field_is_refused_by_name_and_the_call_goes_on(
    change: dict[str, Any], field: str, platform: Platform, new_call: Callable[[str | None], Call]
) -> None:
    call = new_call(ZHANGWEI_PHONE)
    body = {**call.body(transcript="查退款", confidence=0.9), **change}
    answer = platform.post(body)
    assert (answer.status_code, answer.json()["error"], answer.json()["field"]) == (400, "malformed", field)
    assert call.user_events() == []
    assert call.send(call.body(turn_id=1, transcript="查退款", confidence=0.9))["action"] == "continue"
