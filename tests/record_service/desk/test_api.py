"""The desk's HTTP API, against the real `python -m record_service` process and a fake Rasa.

The fake (tests/fixtures/fake_rasa.py) speaks Rasa 3.6's HTTP API and records what the
desk asked of it; it can fail, answer 409 (no model yet), or be down.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sanic import Sanic

from record_service.app import create_app
from record_service.settings import Settings
from tests.fixtures.desk import (
    LI_TOKEN,
    SERVICE_TOKEN,
    TIMEOUT_S,
    WANG_TOKEN,
    agent_headers,
    create_handoff,
    handoff_body,
    in_hours,
    new_id,
    start_desk_service,
)
from tests.fixtures.fake_rasa import FakeRasa
from tests.fixtures.servers import RunningService

PHONE = "13800138000"


@pytest.fixture(scope="module")
def desk_service(fake_rasa: FakeRasa, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """The record service with the two test agents, talking to the fake Rasa."""
    directory = tmp_path_factory.mktemp("desk_api")
    service = start_desk_service(
        directory, "records.log", {"RECORDS_BOT_URL": fake_rasa.url, "RECORDS_BOT_TOKEN": fake_rasa.token}
    )
    yield service
    service.stop()


def desk_get(service: RunningService, path: str, token: str = WANG_TOKEN, **params: str) -> requests.Response:
    return requests.get(f"{service.url}{path}", params=params, headers=agent_headers(token), timeout=TIMEOUT_S)


def desk_post(
    service: RunningService, path: str, token: str = WANG_TOKEN, body: Any = None
) -> requests.Response:
    return requests.post(f"{service.url}{path}", json=body, headers=agent_headers(token), timeout=TIMEOUT_S)


def action(service: RunningService, ticket_id: str, name: str, token: str = WANG_TOKEN, body: Any = None) -> requests.Response:
    return desk_post(service, f"/desk/api/tickets/{ticket_id}/{name}", token, body)


def error_code(response: requests.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def audit_of(service: RunningService, ticket_id: str) -> list[dict[str, Any]]:
    response = desk_get(service, f"/desk/api/tickets/{ticket_id}/audit")
    assert response.status_code == 200
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def new_ticket(service: RunningService, fake_rasa: FakeRasa, **changes: Any) -> tuple[str, str]:
    """A queued handoff whose conversation the fake Rasa knows; returns (ticket id, conversation id)."""
    conversation_id = new_id("wx")
    fake_rasa.seed(conversation_id, "wechat", [("user", "我的退款怎么还没到"), ("bot", "正在为您转人工")])
    ticket = create_handoff(service, handoff_body(conversation_id, **changes))
    return ticket["ticket_id"], conversation_id


def events_posted(fake_rasa: FakeRasa, conversation_id: str) -> list[str]:
    """The events the desk appended to a conversation, in order (failed requests included)."""
    return [
        call.body["event"] for call in fake_rasa.calls_for(conversation_id)
        if call.route == "tracker/events" and isinstance(call.body, dict)
    ]


# ---------------------------------------------------------------- authentication


DESK_ROUTES = [
    ("GET", "/desk/api/me"),
    ("GET", "/desk/api/tickets"),
    ("GET", "/desk/api/tickets/HO24050112345678"),
    ("GET", "/desk/api/tickets/HO24050112345678/audit"),
    ("POST", "/desk/api/tickets/HO24050112345678/claim"),
    ("POST", "/desk/api/tickets/HO24050112345678/reply"),
    ("POST", "/desk/api/tickets/HO24050112345678/resolve"),
    ("POST", "/desk/api/tickets/HO24050112345678/hand-back"),
    ("POST", "/desk/api/tickets/HO24050112345678/reveal-contact"),
    ("GET", "/desk/api/unanswered"),
    ("POST", "/desk/api/unanswered/HO24050112345678/review"),
    ("GET", "/desk/api/report"),
]


@pytest.mark.parametrize(("method", "path"), DESK_ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Bearer {SERVICE_TOKEN}", WANG_TOKEN, f"Basic {WANG_TOKEN}", "Bearer "],
)
def test_every_desk_route_needs_an_agent_token(
    desk_service: RunningService, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = requests.request(
        method, f"{desk_service.url}{path}", json={"text": "你好"}, headers=headers, timeout=TIMEOUT_S
    )

    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthorized", "message": "a valid agent token is required"}}


def test_no_desk_api_route_is_left_open(desk_service: RunningService, monkeypatch: pytest.MonkeyPatch) -> None:
    # `/desk/` is exempt from the service token: each of its API routes checks the agent's.
    monkeypatch.setattr(Sanic, "test_mode", True)
    app = create_app(Settings(token="unused"))
    served = {
        (method, "/" + re.sub(r"<\w+:\w+>", "HO24050112345678", route.path))
        for route in app.router.routes
        for method in route.methods
        if route.path.startswith("desk/api/")
    }

    assert served == set(DESK_ROUTES)
    for method, path in served:
        response = requests.request(method, f"{desk_service.url}{path}", timeout=TIMEOUT_S)
        assert response.status_code == 401, path


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/handoffs"), ("GET", "/api/desk/presence"), ("GET", "/api/desk/deliveries"),
     ("POST", "/api/handoffs")],
)
def test_an_agent_token_is_not_the_service_token(desk_service: RunningService, method: str, path: str) -> None:
    response = requests.request(method, f"{desk_service.url}{path}", json={}, headers=agent_headers(WANG_TOKEN),
                                timeout=TIMEOUT_S)

    assert response.status_code == 401


def test_me_is_the_tokens_agent(desk_service: RunningService) -> None:
    assert desk_get(desk_service, "/desk/api/me").json() == {"id": "xiaowang", "name": "客服小王"}
    assert desk_get(desk_service, "/desk/api/me", LI_TOKEN).json() == {"id": "xiaoli", "name": "客服小李"}


# ---------------------------------------------------------------- the queue


def test_the_queue_is_ordered_by_priority_then_due_time(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    created = {}
    for name, priority, hours in [("low", 5, 1), ("urgent_late", 1, 3), ("urgent_soon", 1, 2), ("mid", 3, 1)]:
        created[name], _ = new_ticket(desk_service, fake_rasa, priority=priority, due_at=in_hours(hours).isoformat())
    callback, _ = new_ticket(
        desk_service, fake_rasa, priority=2, status="callback_scheduled", callback_at=in_hours(1).isoformat(),
        due_at=in_hours(1.5).isoformat(),
    )

    response = desk_get(desk_service, "/desk/api/tickets", limit="500")
    queued_only = desk_get(desk_service, "/desk/api/tickets", status="queued", limit="500")

    assert response.status_code == 200
    mine = [t["ticket_id"] for t in response.json()["tickets"] if t["ticket_id"] in {*created.values(), callback}]
    assert mine == [created["urgent_soon"], created["urgent_late"], callback, created["mid"], created["low"]]
    assert callback not in {t["ticket_id"] for t in queued_only.json()["tickets"]}
    first = next(t for t in response.json()["tickets"] if t["ticket_id"] == created["urgent_soon"])
    assert first["summary"].startswith("诉求：查询退款进度")
    assert (first["reason"], first["priority"], first["channel"], first["status"]) == (
        "overdue_refund", 1, "wechat", "queued")
    assert (first["contact_masked"], first["has_contact_phone"], first["assigned_agent"]) == (
        "138****8000", True, None)
    assert PHONE not in response.text
    assert "conversation_id" not in first  # the shopper's channel id is not the agent's business


@pytest.mark.parametrize(
    ("params", "expected_code"),
    [({"status": "lost"}, "invalid_status"), ({"status": "queued,open"}, "invalid_status"),
     ({"limit": "0"}, "invalid_limit"), ({"limit": "x"}, "invalid_limit")],
)
def test_a_bad_queue_query_is_422(desk_service: RunningService, params: dict[str, str], expected_code: str) -> None:
    response = desk_get(desk_service, "/desk/api/tickets", **params)

    assert response.status_code == 422
    assert error_code(response) == expected_code


# ---------------------------------------------------------------- the whole cycle


def test_claim_reply_resolve_pauses_relays_and_resumes_the_bot(
    desk_service: RunningService, fake_rasa: FakeRasa
) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)

    viewed = desk_get(desk_service, f"/desk/api/tickets/{ticket_id}")
    claimed = action(desk_service, ticket_id, "claim")
    replied = action(desk_service, ticket_id, "reply", body={"text": "您好，我是客服小王，正在为您核实退款。"})
    live = desk_get(desk_service, f"/desk/api/tickets/{ticket_id}").json()["conversation"]
    resolved = action(desk_service, ticket_id, "resolve")

    assert viewed.status_code == 200
    detail = viewed.json()
    assert detail["context"]["order_snapshot"] == {"id": "A1003", "status": "delivered", "amount": "199.00"}
    assert detail["context"]["transcript"][0]["text"] == "我的退款怎么还没到"
    assert detail["conversation_error"] is None
    assert detail["conversation"]["paused"] is False
    assert detail["conversation"]["channel"] == "wechat"
    assert [(m["role"], m["text"]) for m in detail["conversation"]["messages"]] == [
        ("shopper", "我的退款怎么还没到"), ("bot", "正在为您转人工")]
    assert PHONE not in viewed.text

    assert claimed.status_code == 200
    assert claimed.json()["ticket"]["status"] == "assigned"
    assert claimed.json()["ticket"]["assigned_agent"] == {"id": "xiaowang", "name": "客服小王"}

    assert (replied.status_code, replied.json()) == (200, {"sent": True})
    [sent] = fake_rasa.sent_to(conversation_id)
    assert (sent.channel, sent.text) == ("wechat", "您好，我是客服小王，正在为您核实退款。")
    assert sent.metadata == {"agent_id": "xiaowang", "agent_name": "客服小王"}
    assert live["paused"] is True
    assert live["messages"][-1] == {
        "role": "agent", "text": "您好，我是客服小王，正在为您核实退款。", "at": live["messages"][-1]["at"],
        "agent_name": "客服小王",
    }

    assert resolved.status_code == 200
    assert resolved.json()["satisfaction_requested"] is True
    assert resolved.json()["ticket"]["status"] == "resolved"
    assert resolved.json()["ticket"]["resolution"] == "resolved"
    assert events_posted(fake_rasa, conversation_id) == ["pause", "bot", "resume"]
    assert fake_rasa.is_paused(conversation_id) is False
    assert [(name, channel) for cid, name, channel in fake_rasa.executed if cid == conversation_id] == [
        ("action_ask_satisfaction", "latest")]
    bot_call = next(c for c in fake_rasa.calls_for(conversation_id) if isinstance(c.body, dict)
                    and c.body.get("event") == "bot")
    assert bot_call.query == {"output_channel": "latest", "execute_side_effects": "true"}

    assert [(e["agent_id"], e["action"]) for e in audit_of(desk_service, ticket_id)] == [
        ("xiaowang", "view"), ("xiaowang", "claim"), ("xiaowang", "reply"), ("xiaowang", "resolve")]


def test_hand_back_resumes_without_asking_for_a_rating(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)
    action(desk_service, ticket_id, "claim")

    response = action(desk_service, ticket_id, "hand-back")

    assert response.status_code == 200
    assert (response.json()["ticket"]["status"], response.json()["ticket"]["resolution"]) == (
        "resolved", "handed_back")
    assert events_posted(fake_rasa, conversation_id) == ["pause", "resume"]
    assert not [call for call in fake_rasa.calls_for(conversation_id) if call.route == "execute"]
    assert audit_of(desk_service, ticket_id)[-1]["action"] == "hand_back"


def test_a_scheduled_callback_can_be_claimed(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, _ = new_ticket(desk_service, fake_rasa, status="callback_scheduled",
                              callback_at=in_hours(1).isoformat())

    response = action(desk_service, ticket_id, "claim", LI_TOKEN)

    assert response.status_code == 200
    assert response.json()["ticket"]["status"] == "assigned"


def test_claiming_again_is_harmless_and_recorded_once(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)

    first, second = action(desk_service, ticket_id, "claim"), action(desk_service, ticket_id, "claim")

    assert (first.status_code, second.status_code) == (200, 200)
    assert events_posted(fake_rasa, conversation_id) == ["pause", "pause"]
    assert [e["action"] for e in audit_of(desk_service, ticket_id)] == ["claim"]


# ---------------------------------------------------------------- refusals


def claim_at_once(service: RunningService, ticket_id: str) -> dict[str, requests.Response]:
    """Both agents claim the ticket at the same moment, from two threads."""
    barrier = threading.Barrier(2)
    answers: dict[str, requests.Response] = {}

    def claim(name: str, token: str) -> None:
        barrier.wait()
        answers[name] = action(service, ticket_id, "claim", token)

    threads = [threading.Thread(target=claim, args=args) for args in (("wang", WANG_TOKEN), ("li", LI_TOKEN))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_two_agents_claiming_at_once_one_wins(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    for _ in range(5):
        ticket_id, _ = new_ticket(desk_service, fake_rasa)

        answers = claim_at_once(desk_service, ticket_id)

        statuses = sorted(response.status_code for response in answers.values())
        assert statuses == [200, 409]
        loser = next(response for response in answers.values() if response.status_code == 409)
        assert error_code(loser) == "ticket_taken"
        winner = "xiaowang" if answers["wang"].status_code == 200 else "xiaoli"
        ticket = desk_get(desk_service, f"/desk/api/tickets/{ticket_id}").json()
        assert ticket["assigned_agent"]["id"] == winner
        assert [(e["agent_id"], e["action"]) for e in audit_of(desk_service, ticket_id)
                if e["action"] == "claim"] == [(winner, "claim")]


def test_a_reply_to_a_resolved_ticket_is_refused(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)
    action(desk_service, ticket_id, "claim")
    action(desk_service, ticket_id, "resolve")

    response = action(desk_service, ticket_id, "reply", body={"text": "还有什么可以帮您？"})
    again = action(desk_service, ticket_id, "resolve")

    assert (response.status_code, error_code(response)) == (409, "ticket_closed")
    assert (again.status_code, error_code(again)) == (409, "ticket_closed")
    assert fake_rasa.sent_to(conversation_id) == []
    assert "reply" not in [e["action"] for e in audit_of(desk_service, ticket_id)]


@pytest.mark.parametrize("channel", ["ivr", "rest", "wecom"])
def test_a_reply_on_a_channel_that_cannot_carry_it_is_refused(
    channel: str, desk_service: RunningService, fake_rasa: FakeRasa
) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa, channel=channel)
    action(desk_service, ticket_id, "claim")

    response = action(desk_service, ticket_id, "reply", body={"text": "您好"})

    assert (response.status_code, error_code(response)) == (409, "channel_not_relayed")
    assert fake_rasa.sent_to(conversation_id) == []


def test_only_the_assigned_agent_may_act_on_a_ticket(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)
    unclaimed_reply = action(desk_service, ticket_id, "reply", LI_TOKEN, {"text": "您好"})
    action(desk_service, ticket_id, "claim", WANG_TOKEN)

    answers = {
        name: action(desk_service, ticket_id, name, LI_TOKEN, {"text": "您好"} if name == "reply" else None)
        for name in ("reply", "resolve", "hand-back", "reveal-contact", "claim")
    }

    assert (unclaimed_reply.status_code, error_code(unclaimed_reply)) == (409, "ticket_not_assigned")
    assert {name: (r.status_code, error_code(r)) for name, r in answers.items()} == {
        "reply": (403, "not_your_ticket"),
        "resolve": (403, "not_your_ticket"),
        "hand-back": (403, "not_your_ticket"),
        "reveal-contact": (403, "not_your_ticket"),
        "claim": (409, "ticket_taken"),
    }
    assert fake_rasa.sent_to(conversation_id) == []
    assert fake_rasa.is_paused(conversation_id) is True


@pytest.mark.parametrize(
    ("body", "status", "expected_code"),
    [
        ({"text": ""}, 422, "invalid_text"),
        ({"text": "   "}, 422, "invalid_text"),
        ({"text": "字" * 2001}, 422, "invalid_text"),
        ({"text": "bell\x07"}, 422, "invalid_text"),
        ({"text": 12}, 422, "invalid_text"),
        ({"text": "你好", "to": "someone"}, 422, "unknown_field"),
        ([1], 422, "invalid_body"),
    ],
)
def test_a_malformed_reply_is_refused(
    desk_service: RunningService, fake_rasa: FakeRasa, body: Any, status: int, expected_code: str
) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)
    action(desk_service, ticket_id, "claim")

    response = action(desk_service, ticket_id, "reply", body=body)

    assert (response.status_code, error_code(response)) == (status, expected_code)
    assert fake_rasa.sent_to(conversation_id) == []


def test_a_reply_of_2000_characters_and_malformed_json(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)
    action(desk_service, ticket_id, "claim")

    longest = action(desk_service, ticket_id, "reply", body={"text": "字" * 2000})
    broken = requests.post(f"{desk_service.url}/desk/api/tickets/{ticket_id}/reply", data=b'{"text": ',
                           headers={**agent_headers(WANG_TOKEN), "Content-Type": "application/json"},
                           timeout=TIMEOUT_S)

    assert longest.status_code == 200
    assert (broken.status_code, error_code(broken)) == (400, "malformed_json")
    assert [m.text for m in fake_rasa.sent_to(conversation_id)] == ["字" * 2000]


@pytest.mark.parametrize("ticket_id", ["HO99010100000000", "nonsense", "TS24050112345678", "%E5%B7%A5"])
def test_an_unknown_ticket_is_404(desk_service: RunningService, ticket_id: str) -> None:
    for response in (desk_get(desk_service, f"/desk/api/tickets/{ticket_id}"),
                     action(desk_service, ticket_id, "claim")):
        assert (response.status_code, error_code(response)) == (404, "handoff_not_found")


# ---------------------------------------------------------------- privacy


def test_revealing_the_phone_is_recorded_without_the_number(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, _ = new_ticket(desk_service, fake_rasa)
    before_claim = action(desk_service, ticket_id, "reveal-contact")
    action(desk_service, ticket_id, "claim")

    revealed = action(desk_service, ticket_id, "reveal-contact")
    audit = desk_get(desk_service, f"/desk/api/tickets/{ticket_id}/audit")

    assert (before_claim.status_code, error_code(before_claim)) == (409, "ticket_not_assigned")
    assert (revealed.status_code, revealed.json()) == (200, {"contact_phone": PHONE})
    assert audit.json()["entries"][-1]["action"] == "reveal_contact"
    assert audit.json()["entries"][-1]["details"] == {"revealed": True}
    assert PHONE not in audit.text
    handoff = requests.get(f"{desk_service.url}/api/handoffs/{ticket_id}",
                           headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=TIMEOUT_S)
    assert PHONE not in handoff.text


def test_a_ticket_without_a_phone_has_nothing_to_reveal(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, _ = new_ticket(desk_service, fake_rasa, contact_phone=None)
    action(desk_service, ticket_id, "claim")

    response = action(desk_service, ticket_id, "reveal-contact")

    assert (response.status_code, error_code(response)) == (404, "contact_not_available")
    assert audit_of(desk_service, ticket_id)[-1]["details"] == {"revealed": False}
    assert desk_get(desk_service, f"/desk/api/tickets/{ticket_id}").json()["has_contact_phone"] is False


def test_a_phone_in_a_reply_is_masked_in_the_audit(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)
    action(desk_service, ticket_id, "claim")

    text = "我们会致电 13912345678 与您联系"
    action(desk_service, ticket_id, "reply", body={"text": text})

    assert [m.text for m in fake_rasa.sent_to(conversation_id)] == [text]
    assert audit_of(desk_service, ticket_id)[-1]["details"] == {
        "chars": len(text), "text": "我们会致电 139****5678 与您联系"}


def test_repeated_views_are_recorded_once(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, _ = new_ticket(desk_service, fake_rasa)

    for _ in range(3):
        assert desk_get(desk_service, f"/desk/api/tickets/{ticket_id}").status_code == 200
    desk_get(desk_service, f"/desk/api/tickets/{ticket_id}", LI_TOKEN)

    assert [(e["agent_id"], e["action"]) for e in audit_of(desk_service, ticket_id)] == [
        ("xiaowang", "view"), ("xiaoli", "view")]


# ---------------------------------------------------------------- the bot down or failing


def test_rasa_down_changes_nothing_and_says_so(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)
    assigned_id, assigned_conversation = new_ticket(desk_service, fake_rasa)
    action(desk_service, assigned_id, "claim")
    fake_rasa.go_down()
    try:
        claim = action(desk_service, ticket_id, "claim")
        detail = desk_get(desk_service, f"/desk/api/tickets/{ticket_id}")
        reply = action(desk_service, assigned_id, "reply", body={"text": "您好"})
        resolve = action(desk_service, assigned_id, "resolve")
    finally:
        fake_rasa.come_back()

    for response in (claim, reply, resolve):
        assert (response.status_code, error_code(response)) == (503, "bot_unreachable")
    assert detail.status_code == 200
    assert (detail.json()["status"], detail.json()["assigned_agent"]) == ("queued", None)
    assert (detail.json()["conversation"], detail.json()["conversation_error"]) == (None, "bot_unreachable")
    assert [e["action"] for e in audit_of(desk_service, ticket_id)] == ["claim", "claim_undone", "view"]
    assert audit_of(desk_service, ticket_id)[1]["details"] == {"reason": "bot_unreachable"}
    assigned = desk_get(desk_service, f"/desk/api/tickets/{assigned_id}").json()
    assert assigned["status"] == "assigned"
    assert [e["action"] for e in audit_of(desk_service, assigned_id)] == ["claim", "view"]

    # Once Rasa is back, the same actions go through.
    assert action(desk_service, ticket_id, "claim").status_code == 200
    assert action(desk_service, assigned_id, "reply", body={"text": "您好"}).status_code == 200
    assert action(desk_service, assigned_id, "resolve").status_code == 200
    assert fake_rasa.is_paused(conversation_id) is True
    assert fake_rasa.is_paused(assigned_conversation) is False


def test_rasa_without_a_model_is_unreachable_too(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, _ = new_ticket(desk_service, fake_rasa)
    fake_rasa.no_model = True
    try:
        response = action(desk_service, ticket_id, "claim")
    finally:
        fake_rasa.no_model = False

    assert (response.status_code, error_code(response)) == (503, "bot_unreachable")
    assert desk_get(desk_service, f"/desk/api/tickets/{ticket_id}").json()["status"] == "queued"


def test_a_passing_rasa_failure_is_retried_for_pause_and_resume(
    desk_service: RunningService, fake_rasa: FakeRasa
) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)

    fake_rasa.fail_next(1, route="tracker/events")
    claimed = action(desk_service, ticket_id, "claim")
    fake_rasa.fail_next(1, route="tracker/events")
    resolved = action(desk_service, ticket_id, "hand-back")

    assert (claimed.status_code, resolved.status_code) == (200, 200)
    assert events_posted(fake_rasa, conversation_id) == ["pause", "pause", "resume", "resume"]


def test_a_failed_reply_is_not_retried(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)
    action(desk_service, ticket_id, "claim")

    fake_rasa.fail_next(1, route="tracker/events")
    response = action(desk_service, ticket_id, "reply", body={"text": "您好"})

    assert (response.status_code, error_code(response)) == (503, "bot_unreachable")
    assert events_posted(fake_rasa, conversation_id) == ["pause", "bot"]  # the one failed attempt
    assert "reply" not in [e["action"] for e in audit_of(desk_service, ticket_id)]


def test_resolved_even_if_the_rating_cannot_be_asked_for(desk_service: RunningService, fake_rasa: FakeRasa) -> None:
    ticket_id, conversation_id = new_ticket(desk_service, fake_rasa)
    action(desk_service, ticket_id, "claim")

    fake_rasa.fail_next(1, route="execute")
    response = action(desk_service, ticket_id, "resolve")

    assert response.status_code == 200
    assert response.json()["satisfaction_requested"] is False
    assert response.json()["ticket"]["status"] == "resolved"
    assert fake_rasa.is_paused(conversation_id) is False
    assert audit_of(desk_service, ticket_id)[-1]["details"] == {"satisfaction_requested": False}


# ---------------------------------------------------------------- presence


def test_presence_counts_agents_who_called_the_desk(fake_rasa: FakeRasa, tmp_path: Path) -> None:
    service = start_desk_service(
        tmp_path, "presence.log", {"RECORDS_BOT_URL": fake_rasa.url, "RECORDS_BOT_TOKEN": fake_rasa.token}
    )
    try:
        def online() -> Any:
            response = requests.get(f"{service.url}/api/desk/presence",
                                    headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=TIMEOUT_S)
            assert response.status_code == 200
            return response.json()

        nobody = online()
        desk_get(service, "/desk/api/me", WANG_TOKEN)
        desk_get(service, "/desk/api/tickets", WANG_TOKEN)
        one = online()
        desk_get(service, "/desk/api/me", "not-an-agent")
        desk_get(service, "/desk/api/me", LI_TOKEN)
        two = online()
    finally:
        service.stop()

    assert (nobody, one, two) == ({"agents_online": 0}, {"agents_online": 1}, {"agents_online": 2})
