"""The Chatwoot adapter, against the real process, a fake Chatwoot and a fake Rasa.

The fake Chatwoot (tests/fixtures/fake_chatwoot.py) speaks Chatwoot's Application API and
posts its webhooks to the record service, as an account webhook does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from record_service.desk.chatwoot import contact_identifier
from tests.fixtures.desk import (
    SERVICE_TOKEN,
    TIMEOUT_S,
    WANG_TOKEN,
    agent_headers,
    create_handoff,
    handoff_body,
    new_id,
    start_desk_service,
    wait_until,
)
from tests.fixtures.fake_chatwoot import AGENT, FakeChatwoot
from tests.fixtures.fake_rasa import FakeRasa
from tests.fixtures.servers import RunningService

WEBHOOK_TOKEN = "chatwoot-webhook-token-42"


@pytest.fixture(scope="module")
def chatwoot_service(
    fake_rasa: FakeRasa, fake_chatwoot: FakeChatwoot, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    directory = tmp_path_factory.mktemp("chatwoot")
    service = start_desk_service(
        directory,
        "records.log",
        {
            "RECORDS_BOT_URL": fake_rasa.url,
            "RECORDS_BOT_TOKEN": fake_rasa.token,
            "RECORDS_CHATWOOT_URL": fake_chatwoot.url,
            "RECORDS_CHATWOOT_API_TOKEN": fake_chatwoot.api_token,
            "RECORDS_CHATWOOT_ACCOUNT_ID": str(fake_chatwoot.account_id),
            "RECORDS_CHATWOOT_INBOX_ID": str(fake_chatwoot.inbox_id),
            "RECORDS_CHATWOOT_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "RECORDS_DELIVERY_BACKOFF_S": "0.2",
        },
    )
    fake_chatwoot.webhook_url = f"{service.url}/desk/chatwoot/webhook?token={WEBHOOK_TOKEN}"
    yield service
    service.stop()


def handed_off(service: RunningService, fake_rasa: FakeRasa, fake_chatwoot: FakeChatwoot,
               conversation_id: str | None = None) -> tuple[str, str, dict[str, Any]]:
    """A handoff opened in Chatwoot: (ticket id, Rasa conversation id, Chatwoot conversation)."""
    conversation_id = conversation_id or new_id("wx")
    fake_rasa.seed(conversation_id, "wechat", [("user", "我要找人工")])
    ticket_id = create_handoff(service, handoff_body(conversation_id))["ticket_id"]
    conversation = wait_until(
        lambda: (c := fake_chatwoot.conversation_for(ticket_id)) and fake_chatwoot.messages_in(c["id"]) and c
    )
    assert conversation, "the handoff did not reach Chatwoot"
    return ticket_id, conversation_id, conversation


def desk_ticket(service: RunningService, ticket_id: str) -> dict[str, Any]:
    response = requests.get(f"{service.url}/desk/api/tickets/{ticket_id}", headers=agent_headers(WANG_TOKEN),
                            timeout=TIMEOUT_S)
    assert response.status_code == 200
    ticket: dict[str, Any] = response.json()
    return ticket


def audit_of(service: RunningService, ticket_id: str) -> list[dict[str, Any]]:
    response = requests.get(f"{service.url}/desk/api/tickets/{ticket_id}/audit",
                            headers=agent_headers(WANG_TOKEN), timeout=TIMEOUT_S)
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_a_handoff_opens_a_contact_a_conversation_and_a_private_note(
    chatwoot_service: RunningService, fake_rasa: FakeRasa, fake_chatwoot: FakeChatwoot
) -> None:
    ticket_id, conversation_id, conversation = handed_off(chatwoot_service, fake_rasa, fake_chatwoot)

    contact = fake_chatwoot.contacts[conversation["contact_inbox"]["contact_id"]]
    [note] = fake_chatwoot.messages_in(conversation["id"])
    assert contact["identifier"] == contact_identifier(conversation_id)
    assert conversation_id not in str(contact)
    assert contact["name"] == "顾客 138****8000"
    assert (conversation["inbox_id"], conversation["status"]) == (fake_chatwoot.inbox_id, "open")
    assert (note["private"], note["message_type"]) == (True, "outgoing")
    assert f"【转人工工单】{ticket_id}" in note["content"]
    assert "摘要：诉求：查询退款进度" in note["content"]
    assert "联系方式：138****8000" in note["content"]
    assert "顾客：我的退款怎么还没到" in note["content"]
    assert "13800138000" not in note["content"]
    assert wait_until(lambda: _delivery(chatwoot_service, ticket_id)["status"] == "delivered")
    # Chatwoot's own webhook for the private note changes nothing.
    answered = wait_until(lambda: fake_chatwoot.answer_to_webhook_of(note["id"]))
    assert answered is not None
    assert (answered[0], answered[1]["result"]) == (200, "ignored")
    assert fake_rasa.calls_for(conversation_id) == []


def test_a_second_handoff_of_the_same_shopper_reuses_the_contact(
    chatwoot_service: RunningService, fake_rasa: FakeRasa, fake_chatwoot: FakeChatwoot
) -> None:
    conversation_id = new_id("wx")
    _, _, first = handed_off(chatwoot_service, fake_rasa, fake_chatwoot, conversation_id)
    _, _, second = handed_off(chatwoot_service, fake_rasa, fake_chatwoot, conversation_id)

    assert first["contact_inbox"]["contact_id"] == second["contact_inbox"]["contact_id"]
    assert first["id"] != second["id"]
    identifier = contact_identifier(conversation_id)
    assert [c["id"] for c in fake_chatwoot.contacts.values() if c["identifier"] == identifier] == [
        first["contact_inbox"]["contact_id"]]


@pytest.mark.parametrize(
    ("method", "path_end"),
    [(None, None), ("POST", "/contacts"), ("POST", "/conversations"), ("POST", "/messages")],
)
def test_chatwoot_failing_is_retried_without_duplicates(
    chatwoot_service: RunningService,
    fake_rasa: FakeRasa,
    fake_chatwoot: FakeChatwoot,
    method: str | None,
    path_end: str | None,
) -> None:
    conversation_id = new_id("wx")
    fake_chatwoot.fail_next(2, method, path_end)

    ticket_id, _, conversation = handed_off(chatwoot_service, fake_rasa, fake_chatwoot, conversation_id)

    identifier = contact_identifier(conversation_id)
    assert len([c for c in fake_chatwoot.contacts.values() if c["identifier"] == identifier]) == 1
    assert len([c for c in fake_chatwoot.conversations.values()
                if c["additional_attributes"].get("aftersales_ticket_id") == ticket_id]) == 1
    assert len(fake_chatwoot.messages_in(conversation["id"])) == 1
    assert _delivery(chatwoot_service, ticket_id)["attempts"] >= 2


def test_an_agents_reply_in_chatwoot_reaches_the_shopper_once(
    chatwoot_service: RunningService, fake_rasa: FakeRasa, fake_chatwoot: FakeChatwoot
) -> None:
    ticket_id, conversation_id, conversation = handed_off(chatwoot_service, fake_rasa, fake_chatwoot)

    answer = fake_chatwoot.agent_replies(conversation["id"], "您好，我是小张，退款我来跟进。")
    [message] = [m for m in fake_chatwoot.messages_in(conversation["id"]) if not m["private"]]
    duplicate = fake_chatwoot.post_raw_webhook(
        {"event": "message_created", "id": message["id"], "content": message["content"], "message_type": "outgoing",
         "private": False, "sender": AGENT, "conversation": {"id": conversation["id"]},
         "account": {"id": fake_chatwoot.account_id}}
    )

    assert (answer.status_code, answer.json()) == (200, {"result": "relayed", "ticket_id": ticket_id})
    assert (duplicate.status_code, duplicate.json()) == (200, {"result": "duplicate"})
    [sent] = fake_rasa.sent_to(conversation_id)
    assert (sent.channel, sent.text) == ("wechat", "您好，我是小张，退款我来跟进。")
    assert sent.metadata == {"agent_id": "chatwoot:21", "agent_name": "Chatwoot 小张"}
    bot_call = next(c for c in fake_rasa.calls_for(conversation_id)
                    if isinstance(c.body, dict) and c.body.get("event") == "bot")
    assert bot_call.query == {"output_channel": "latest", "execute_side_effects": "true"}
    assert fake_rasa.is_paused(conversation_id)
    ticket = desk_ticket(chatwoot_service, ticket_id)
    assert (ticket["status"], ticket["assigned_agent"]) == ("assigned", {"id": "chatwoot", "name": "Chatwoot"})
    audit = audit_of(chatwoot_service, ticket_id)
    assert [(e["agent_id"], e["action"]) for e in audit][:2] == [("chatwoot:21", "claim"), ("chatwoot:21", "reply")]
    assert audit[1]["details"]["chatwoot_message_id"] == message["id"]
    # A desk agent cannot answer a conversation Chatwoot has.
    refused = requests.post(f"{chatwoot_service.url}/desk/api/tickets/{ticket_id}/reply", json={"text": "您好"},
                            headers=agent_headers(WANG_TOKEN), timeout=TIMEOUT_S)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_your_ticket")


def test_resolving_in_chatwoot_resumes_the_bot_and_asks_for_a_rating(
    chatwoot_service: RunningService, fake_rasa: FakeRasa, fake_chatwoot: FakeChatwoot
) -> None:
    ticket_id, conversation_id, conversation = handed_off(chatwoot_service, fake_rasa, fake_chatwoot)
    fake_chatwoot.agent_replies(conversation["id"], "已为您处理完毕。")

    resolved = fake_chatwoot.resolve(conversation["id"])
    again = fake_chatwoot.resolve(conversation["id"])
    late = fake_chatwoot.agent_replies(conversation["id"], "还有别的问题吗？")

    assert (resolved.status_code, resolved.json()) == (
        200, {"result": "resolved", "ticket_id": ticket_id, "satisfaction_requested": True})
    assert again.json() == {"result": "already_resolved", "ticket_id": ticket_id}
    assert (late.status_code, late.json()["error"]["code"]) == (409, "ticket_closed")
    assert not fake_rasa.is_paused(conversation_id)
    assert [(name, channel) for cid, name, channel in fake_rasa.executed if cid == conversation_id] == [
        ("action_ask_satisfaction", "latest")]
    assert [m.text for m in fake_rasa.sent_to(conversation_id)] == ["已为您处理完毕。"]
    ticket = desk_ticket(chatwoot_service, ticket_id)
    assert (ticket["status"], ticket["resolution"]) == ("resolved", "resolved")


def test_resolving_an_unanswered_conversation_gives_it_back_to_the_bot(
    chatwoot_service: RunningService, fake_rasa: FakeRasa, fake_chatwoot: FakeChatwoot
) -> None:
    ticket_id, conversation_id, conversation = handed_off(chatwoot_service, fake_rasa, fake_chatwoot)

    resolved = fake_chatwoot.resolve(conversation["id"])

    assert resolved.json()["result"] == "resolved"
    assert not fake_rasa.is_paused(conversation_id)
    assert desk_ticket(chatwoot_service, ticket_id)["status"] == "resolved"


def test_ids_sent_as_strings_are_understood(
    chatwoot_service: RunningService, fake_rasa: FakeRasa, fake_chatwoot: FakeChatwoot
) -> None:
    _, conversation_id, conversation = handed_off(chatwoot_service, fake_rasa, fake_chatwoot)

    response = fake_chatwoot.post_raw_webhook(
        {"event": "message_created", "id": "777001", "content": "字符串编号", "message_type": "outgoing",
         "private": False, "sender": AGENT, "conversation": {"id": str(conversation["id"])},
         "account": {"id": str(fake_chatwoot.account_id)}}
    )

    assert response.json()["result"] == "relayed"
    assert [m.text for m in fake_rasa.sent_to(conversation_id)] == ["字符串编号"]


@pytest.mark.parametrize("token", [None, "", "wrong-token", WEBHOOK_TOKEN + "x"])
def test_a_webhook_without_the_token_is_refused(
    chatwoot_service: RunningService, fake_rasa: FakeRasa, fake_chatwoot: FakeChatwoot, token: str | None
) -> None:
    _, conversation_id, conversation = handed_off(chatwoot_service, fake_rasa, fake_chatwoot)
    url = f"{chatwoot_service.url}/desk/chatwoot/webhook" + ("" if token is None else f"?token={token}")
    event = {"event": "message_created", "id": 999_999, "content": "假冒的消息", "message_type": "outgoing",
             "private": False, "sender": AGENT, "conversation": {"id": conversation["id"]}}

    for headers in ({}, {"Authorization": f"Bearer {SERVICE_TOKEN}"}):
        response = requests.post(url, json=event, headers=headers, timeout=TIMEOUT_S)
        assert (response.status_code, response.json()["error"]["code"]) == (401, "unauthorized")
    assert fake_rasa.sent_to(conversation_id) == []


@pytest.mark.parametrize(
    "change",
    [
        {"private": True},
        {"message_type": "incoming"},
        {"message_type": "activity"},
        {"content": "   "},
        {"content": None},
        {"sender": {"id": 5, "name": "bot", "type": "agent_bot"}},
        {"conversation": {"id": 123_456_789}},
        {"account": {"id": 99}},
        {"event": "conversation_updated"},
        {"id": "not-a-number"},
    ],
)
def test_other_messages_and_events_are_ignored(
    chatwoot_service: RunningService, fake_rasa: FakeRasa, fake_chatwoot: FakeChatwoot, change: dict[str, Any]
) -> None:
    ticket_id, conversation_id, conversation = handed_off(chatwoot_service, fake_rasa, fake_chatwoot)
    event = {"event": "message_created", "id": 555_000 + len(str(change)), "content": "内部备注",
             "message_type": "outgoing", "private": False, "sender": AGENT,
             "conversation": {"id": conversation["id"]}, "account": {"id": fake_chatwoot.account_id}, **change}

    response = fake_chatwoot.post_raw_webhook(event)

    assert (response.status_code, response.json()["result"]) == (200, "ignored")
    assert fake_rasa.sent_to(conversation_id) == []
    assert desk_ticket(chatwoot_service, ticket_id)["status"] == "queued"


@pytest.mark.parametrize("raw", [b"", b"[1]", b'{"event": ', b"\xff"])
def test_a_malformed_webhook_body_is_a_client_error(chatwoot_service: RunningService, raw: bytes) -> None:
    response = requests.post(f"{chatwoot_service.url}/desk/chatwoot/webhook?token={WEBHOOK_TOKEN}", data=raw,
                             headers={"Content-Type": "application/json"}, timeout=TIMEOUT_S)

    assert response.status_code in (400, 422)


def test_a_reply_while_rasa_is_down_can_be_sent_again(
    chatwoot_service: RunningService, fake_rasa: FakeRasa, fake_chatwoot: FakeChatwoot
) -> None:
    ticket_id, conversation_id, conversation = handed_off(chatwoot_service, fake_rasa, fake_chatwoot)
    fake_chatwoot.agent_replies(conversation["id"], "第一条")
    fake_rasa.go_down()
    try:
        down = fake_chatwoot.agent_replies(conversation["id"], "第二条")
    finally:
        fake_rasa.come_back()
    [second] = [m for m in fake_chatwoot.messages_in(conversation["id"]) if m["content"] == "第二条"]

    again = fake_chatwoot.post_raw_webhook(
        {"event": "message_created", "id": second["id"], "content": "第二条", "message_type": "outgoing",
         "private": False, "sender": AGENT, "conversation": {"id": conversation["id"]},
         "account": {"id": fake_chatwoot.account_id}}
    )

    assert (down.status_code, down.json()["error"]["code"]) == (503, "bot_unreachable")
    assert again.json()["result"] == "relayed"
    assert [m.text for m in fake_rasa.sent_to(conversation_id)] == ["第一条", "第二条"]
    assert [e["action"] for e in audit_of(chatwoot_service, ticket_id)].count("reply") == 2


def _delivery(service: RunningService, ticket_id: str) -> dict[str, Any]:
    response = requests.get(f"{service.url}/api/desk/deliveries", params={"limit": "500"},
                            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=TIMEOUT_S)
    found: dict[str, Any] = next(d for d in response.json()["deliveries"] if d["ticket_id"] == ticket_id)
    assert found["target"] == "chatwoot"
    return found
