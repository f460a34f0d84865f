"""The WeCom channel in the real Rasa server of a stack started like `make up`: callbacks
signed and encrypted as WeCom sends them, hostile requests, and (in a second Rasa whose
API base is a local fake of WeCom) the pull, the answers, the service records, duplicates,
an expired token and a restart mid-way."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from channels.wecom.protocol import conversation_id_for, message_id_for
from tests.fixtures.desk import wait_until
from tests.fixtures.fake_wecom import FAKE_OPEN_KFID, FakeWeCom, serve_fake_wecom
from tests.fixtures.servers import REPO_ROOT
from tests.fixtures.stack import Stack, rasa_beside

pytestmark = pytest.mark.stack

ONE_MB = 1024 * 1024


def _new_customer() -> str:
    return "wmTest" + secrets.token_hex(8)


def _stack_secret(stack: Stack, name: str) -> str:
    return dict(line.split("=", 1) for line in (stack.directory / "secrets.env").read_text().splitlines()
                if "=" in line and not line.startswith("#"))[name]


def _fake_for(stack: Stack) -> FakeWeCom:
    """WeCom with the stack's CorpID, Secret, Token and EncodingAESKey."""
    env = stack.env
    return FakeWeCom(corp_id=env["WECOM_CORP_ID"], secret=_stack_secret(stack, "WECOM_SECRET"),
                     token=env["WECOM_TOKEN"], aes_key=env["WECOM_AES_KEY"])


@dataclass
class Bot:
    """A Rasa server with the WeCom channel, and the WeCom that calls it."""

    url: str
    token: str
    wecom: FakeWeCom

    @property
    def callback_url(self) -> str:
        return f"{self.url}/webhooks/wecom/callback"

    def notify(self, **options: Any) -> requests.Response:
        """WeCom's `kf_msg_or_event` callback for the account."""
        query, body = self.wecom.callback(**options)
        return requests.post(self.callback_url, params=query, data=body, timeout=15)

    def user_events(self, customer: str) -> list[dict[str, Any]]:
        conversation = conversation_id_for(FAKE_OPEN_KFID, customer, self.wecom.token)
        tracker = requests.get(f"{self.url}/conversations/{conversation}/tracker",
                               params={"token": self.token}, timeout=15)
        assert tracker.status_code == 200, tracker.text
        return [event for event in tracker.json()["events"] if event["event"] == "user"]

    def say(self, customer: str, text: str) -> str:
        """The customer writes, WeCom calls back; returns the answer the bot sent."""
        already = len(self.wecom.sent_to(customer))
        self.wecom.customer_sends(customer, text)
        response = self.notify()
        assert (response.status_code, response.text) == (200, "success")
        return wait_for_answers(self.wecom, customer, already + 1)[-1].content


def wait_for_answers(wecom: FakeWeCom, customer: str, count: int, timeout_s: float = 60.0) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(wecom.sent_to(customer)) < count:
        time.sleep(0.05)
    answers = wecom.sent_to(customer)
    assert len(answers) >= count, f"{len(answers)} answers of {count}"
    return answers


# ---- the stack's own Rasa: WECOM_API_BASE=disabled (callbacks verified, nothing pulled)


@pytest.fixture(scope="module")
def stack_bot(running_stack: Stack) -> Bot:
    env = running_stack.env
    assert env["WECOM_URL"] == f"{env['BOT_URL']}/webhooks/wecom/callback"
    return Bot(env["BOT_URL"], env["BOT_TOKEN"], _fake_for(running_stack))


def test_the_url_is_verified_with_the_decrypted_echostr_only_when_signed(stack_bot: Bot) -> None:
    wecom = stack_bot.wecom
    verified = requests.get(stack_bot.callback_url, params=wecom.verification("5927782489442352469"), timeout=10)
    assert (verified.status_code, verified.text) == (200, "5927782489442352469")
    forged = {**wecom.verification("1"), "msg_signature": "0" * 40}
    assert requests.get(stack_bot.callback_url, params=forged, timeout=10).status_code == 403
    stale = wecom.verification("1", timestamp=int(time.time()) - 3600)
    assert requests.get(stack_bot.callback_url, params=stale, timeout=10).status_code == 403
    stranger = FakeWeCom(corp_id=wecom.corp_id, token=wecom.token, aes_key="Z" * 43)
    assert requests.get(stack_bot.callback_url, params=stranger.verification("1"), timeout=10).status_code == 400


def test_without_an_api_a_callback_is_answered_and_the_health_says_so(stack_bot: Bot) -> None:
    response = stack_bot.notify()
    assert (response.status_code, response.text) == (200, "success")
    health = requests.get(f"{stack_bot.url}/webhooks/wecom/", timeout=10)
    assert health.json() == {"status": "ok", "pull": False}


def test_wrong_signatures_and_stale_or_future_timestamps_are_403(stack_bot: Bot) -> None:
    query, body = stack_bot.wecom.callback()
    for forged in ({"msg_signature": "f" * 40}, {"msg_signature": ""}, {"nonce": "another"}):
        assert requests.post(stack_bot.callback_url, params={**query, **forged}, data=body,
                             timeout=10).status_code == 403
    impostor = FakeWeCom(corp_id=stack_bot.wecom.corp_id, token="anotherToken99", aes_key=stack_bot.wecom.aes_key)
    forged_query, forged_body = impostor.callback()  # signed with a Token that is not ours
    assert requests.post(stack_bot.callback_url, params=forged_query, data=forged_body,
                         timeout=10).status_code == 403
    for timestamp in (int(time.time()) - 3600, int(time.time()) + 3600):
        stale_query, stale_body = stack_bot.wecom.callback(timestamp=timestamp)
        assert requests.post(stack_bot.callback_url, params=stale_query, data=stale_body,
                             timeout=10).status_code == 403


def test_malformed_and_oversized_bodies(stack_bot: Bot) -> None:
    wecom = stack_bot.wecom

    def post(body: bytes) -> int:
        query = wecom.seal("<xml/>")[0]  # a fresh, signed query (the signature will not match a forged body)
        return requests.post(stack_bot.callback_url, params=query, data=body, timeout=15).status_code

    assert post(b"") == 400
    assert post(b"<xml><Encrypt>") == 400
    assert post(b"<xml><ToUserName>ww</ToUserName></xml>") == 400  # no <Encrypt>
    laughs = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
              + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
              + "]><xml><Encrypt>&j;</Encrypt></xml>")
    started = time.monotonic()
    assert post(laughs.encode()) == 400
    assert time.monotonic() - started < 1.0
    assert post(b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b"<xml><Encrypt>&x;</Encrypt></xml>") == 400
    # Signed correctly, but not something our key opens: malformed, not forged.
    stranger = FakeWeCom(corp_id=wecom.corp_id, token=wecom.token, aes_key="Z" * 43)
    query, body = stranger.callback()
    assert requests.post(stack_bot.callback_url, params=query, data=body, timeout=15).status_code == 400
    # Encrypted for another company.
    query, body = FakeWeCom(corp_id="wwAnotherCorp", token=wecom.token, aes_key=wecom.aes_key).callback()
    assert requests.post(stack_bot.callback_url, params=query, data=body, timeout=15).status_code == 400
    # A kf event without its Token.
    query, body = wecom.seal("<xml><MsgType>event</MsgType><Event>kf_msg_or_event</Event></xml>")
    assert requests.post(stack_bot.callback_url, params=query, data=body, timeout=15).status_code == 400
    assert post(b"<xml><Encrypt>" + b"a" * ONE_MB + b"</Encrypt></xml>") == 413


# ---- a second Rasa that pulls from a fake of WeCom


class PullingBot(Bot):
    """A second Rasa whose WeCom is the fake; it can be restarted over the same databases."""

    def __init__(self, stack: Stack, directory: Path, wecom: FakeWeCom) -> None:
        super().__init__("", stack.env["BOT_TOKEN"], wecom)
        self._start = lambda: rasa_beside(stack, directory, {
            "WECOM_API_BASE": wecom.url, "WECOM_STATE_DATABASE_URL": f"sqlite:///{directory / 'state.db'}",
        }, REPO_ROOT / "credentials.yml")
        self._running = ExitStack()
        self.log = directory / "rasa.log"

    def start(self) -> None:
        self._process = self._running.enter_context(self._start())
        self.url = self._process.url

    def stop(self) -> None:
        self._running.close()

    def crash(self) -> None:
        """SIGKILL: nothing is flushed, no send or pull is finished."""
        self._process.kill()
        self._running.close()


@pytest.fixture(scope="module")
def pulling(running_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullingBot]:
    wecom = _fake_for(running_stack)
    server, _ = serve_fake_wecom(wecom)
    bot = PullingBot(running_stack, tmp_path_factory.mktemp("wecom_rasa"), wecom)
    try:
        bot.start()
        yield bot
    finally:
        wecom.release_sends(drop=True)
        bot.stop()
        server.shutdown()
        server.server_close()


def test_a_text_is_one_turn_answered_by_send_msg(pulling: Bot) -> None:
    customer = _new_customer()
    item = pulling.wecom.customer_sends(customer, "我想查一下退款进度")
    started = time.monotonic()
    response = pulling.notify()
    assert (response.status_code, response.text) == (200, "success")
    assert time.monotonic() - started < 1.0  # answered at once; the pull runs behind it
    [answer] = wait_for_answers(pulling.wecom, customer, 1)
    assert answer.open_kfid == FAKE_OPEN_KFID and "订单号" in answer.content, answer.content
    [turn] = pulling.user_events(customer)
    assert (turn["text"], turn["input_channel"], turn["message_id"]) == (
        "我想查一下退款进度", "wecom", message_id_for(item["msgid"]))
    assert turn["metadata"]["account"] == {"channel": "wecom", "account_id": customer}


def test_a_refund_status_conversation_ends_with_its_service_record(pulling: Bot, running_stack: Stack) -> None:
    customer = _new_customer()
    asked = pulling.say(customer, "我那件夹克的退款到账了没有")
    assert "订单号" in asked, asked
    asked = pulling.say(customer, "8800002001")
    assert "后四位" in asked, asked  # a WeCom account is unknown to the order system: phone digits
    told = pulling.say(customer, "8000")
    assert "退款" in told, told
    conversation = conversation_id_for(FAKE_OPEN_KFID, customer, pulling.wecom.token)
    records = requests.get(running_stack.env["RECORDS_URL"], params={"conversation_id": conversation},
                           headers={"Authorization": f"Bearer {running_stack.env['RECORDS_TOKEN']}"}, timeout=15)
    assert records.status_code == 200, records.text
    body = records.json()
    kinds = {(record["kind"], record["order_id"], record["outcome"])
             for record in (body["records"] if isinstance(body, dict) else body)}
    assert ("refund_status", "8800002001", "completed") in kinds, kinds
    assert ("identity_check", "8800002001", "verified") in kinds, kinds


def test_the_same_callback_twice_and_a_callback_per_message_run_one_turn_each(pulling: Bot) -> None:
    customer = _new_customer()
    item = pulling.wecom.customer_sends(customer, "我要退货")
    query, body = pulling.wecom.callback()
    for _ in range(3):  # WeCom retries a callback it thinks was lost
        assert requests.post(pulling.callback_url, params=query, data=body, timeout=15).text == "success"
    assert pulling.notify().text == "success"
    wait_for_answers(pulling.wecom, customer, 1)
    # Over at once if a second answer comes; otherwise after the timeout.
    wait_until(lambda: len(pulling.wecom.sent_to(customer)) > 1, timeout_s=1.5)
    assert len(pulling.wecom.sent_to(customer)) == 1
    assert [event["message_id"] for event in pulling.user_events(customer)] == [message_id_for(item["msgid"])]


def test_a_wrong_signature_is_403_and_pulls_nothing(pulling: Bot) -> None:
    customer = _new_customer()
    pulling.wecom.customer_sends(customer, "我要投诉")
    pulls_before = len(pulling.wecom.sync_requests)
    query, body = pulling.wecom.callback()
    refused = requests.post(pulling.callback_url, params={**query, "msg_signature": "0" * 40}, data=body, timeout=15)
    assert refused.status_code == 403
    # Over at once if it pulls; otherwise after the timeout.
    wait_until(lambda: len(pulling.wecom.sync_requests) > pulls_before, timeout_s=1.0)
    assert len(pulling.wecom.sync_requests) == pulls_before
    assert pulling.user_events(customer) == [] and pulling.wecom.sent_to(customer) == []


def test_an_expired_access_token_is_refreshed_once(pulling: Bot) -> None:
    pulling.say(_new_customer(), "你好")
    tokens = pulling.wecom.token_requests
    pulling.wecom.expire_tokens()
    answer = pulling.say(_new_customer(), "我想查物流")
    assert answer
    assert pulling.wecom.token_requests == tokens + 1


def test_a_new_session_is_welcomed_with_the_events_code(pulling: Bot) -> None:
    customer = _new_customer()
    entered = pulling.wecom.customer_enters(customer)
    assert pulling.notify().text == "success"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not [m for m in pulling.wecom.sent if m.code]:
        time.sleep(0.05)
    [welcome] = [message for message in pulling.wecom.sent if message.code == entered["event"]["welcome_code"]]
    assert "小安" in welcome.content, welcome.content
    assert [event["text"] for event in pulling.user_events(customer)] == ["/greet"]


def test_a_crash_mid_way_neither_loses_nor_repeats_and_a_redelivery_runs_no_turn(pulling: PullingBot) -> None:
    wecom = pulling.wecom
    first, second = _new_customer(), _new_customer()
    items = [wecom.customer_sends(first, "我要退货"), wecom.customer_sends(second, "我要投诉")]
    wecom.hold_sends()  # the first answer will be on its way when Rasa dies
    assert pulling.notify().text == "success"
    deadline = time.monotonic() + 60
    while wecom.held_sends < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wecom.held_sends == 1
    pulling.crash()
    wecom.release_sends(drop=True)  # Rasa died; that send never reached WeCom
    pulling.start()  # the same tracker and state databases
    # No new callback: at start the channel catches up on what the last run left.
    [first_answer] = wait_for_answers(wecom, first, 1)
    [second_answer] = wait_for_answers(wecom, second, 1)
    assert "描述" in second_answer.content and first_answer.content
    assert f"message {message_id_for(items[0]['msgid'])} was cut off by a restart; its turn ran" in pulling.log.read_text()

    # WeCom hands the first message out again, then the shopper writes on: only the new
    # message is a turn, the second answer the first shopper gets is its answer.
    wecom.redeliver(items[0])
    later = wecom.customer_sends(first, "算了，转人工吧")
    assert pulling.notify().text == "success"
    wait_for_answers(wecom, first, 2)
    assert [event["message_id"] for event in pulling.user_events(first)] == [
        message_id_for(items[0]["msgid"]), message_id_for(later["msgid"])]
    assert [event["message_id"] for event in pulling.user_events(second)] == [message_id_for(items[1]["msgid"])]
    assert len(wecom.sent_to(second)) == 1
