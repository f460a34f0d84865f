"""A part of the stack dies in the middle of a conversation (issue 11), on the running stack.

Each service is killed with SIGKILL between two of a shopper's messages; the stack's
supervisor (`scripts/stack.py supervise`) starts it again, and the conversation goes on
with nothing lost or written twice. Rasa is killed once for every channel (its restart is
the slowest): WeChat's retry of a push and the widget's resend of a message, both answered
before the kill, run no second turn after it. A complaint filed while the record service is down
is told its ticket number at once and becomes that ticket once the service is back.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from channels.widget.protocol import message_id_for as widget_message_id
from tests.fixtures.conversation import Conversation
from tests.fixtures.stack import (
    RESTART_TIMEOUT_S,
    Stack,
    answers,
    current_pids,
    health_url,
    kill_and_wait_for_restart,
    wait_for,
)
from tests.fixtures.wechat_client import new_msg_id, new_openid, text_xml, wechat_of
from tests.fixtures.widget_client import Widget, widget_server_of

CANCELLED_ORDER = "8800009003"  # tests/fixtures/orders/project_orders.yaml, phone digits 9034
TICKET_ID = re.compile(r"TS[0-9]{14}")


@contextmanager
def supervisor_paused(stack: Stack) -> Iterator[None]:
    """The supervisor stopped (SIGSTOP) for the block: what dies meanwhile stays down."""
    supervisor = current_pids(stack)["supervisor"]
    os.kill(supervisor, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(supervisor, signal.SIGCONT)


def outbox_backlog(stack: Stack) -> dict[str, object]:
    backlog: dict[str, object] = requests.get(f"{stack.env['ACTIONS_URL']}/health/outbox", timeout=5).json()
    return backlog


def test_a_complaint_filed_while_the_record_service_is_down_becomes_the_ticket_it_was_told(
    running_stack: Stack,
) -> None:
    chat = Conversation(running_stack)
    records = health_url(running_stack, "record_service")
    with supervisor_paused(running_stack):
        os.kill(current_pids(running_stack)["record_service"], signal.SIGKILL)
        wait_for(lambda: not answers(records), 10, "the record service to be gone")

        asked = chat.say("我要投诉，快递员态度太差了，东西直接扔在门口就走了")
        done = chat.say("13912345678")

        told = TICKET_ID.search(done)
        assert "电话" in asked and told is not None, done  # the same dialogue as with the service up
        assert outbox_backlog(running_stack)["pending"] == 1
    wait_for(lambda: answers(records), RESTART_TIMEOUT_S["record_service"], "the record service to be back")
    back_at = time.monotonic()

    wait_for(lambda: outbox_backlog(running_stack)["pending"] == 0, 60, "the outbox to deliver the complaint")

    assert time.monotonic() - back_at < 60
    [complaint] = chat.records("complaint")
    assert complaint["details"]["ticket_id"] == told.group()
    ticket = chat.complaint_ticket(told.group())
    assert ticket["category"] == complaint["details"]["category"]
    assert "快递员态度太差了" in ticket["description"]
    assert outbox_backlog(running_stack) == {"status": "ok", "pending": 0, "rejected": 0, "oldest_pending_s": None}


def _refund_of_a_cancelled_order_is_told(chat: Conversation) -> None:
    """The first half of a refund-status conversation: order given, phone digits asked."""
    asked = chat.say(f"下单后就取消了，钱什么时候退回来啊 订单{CANCELLED_ORDER}")
    assert "9034" not in asked and "后四位" in asked  # the phone digits are asked


def _recorded_once(chat: Conversation) -> list[tuple[str, str]]:
    return [(record["kind"], record["outcome"]) for record in chat.records()]


@pytest.mark.parametrize("service", ["order_system", "record_service", "action_server"])
def test_a_conversation_goes_on_after_a_service_is_killed_in_its_middle(
    running_stack: Stack, service: str
) -> None:
    chat = Conversation(running_stack)
    _refund_of_a_cancelled_order_is_told(chat)

    kill_and_wait_for_restart(running_stack, service)
    chat.say("9034")

    # Each decision recorded once, in order, as in a conversation nothing interrupted.
    assert _recorded_once(chat) == [("identity_check", "verified"), ("refund_status", "on_time")]


async def test_after_rasa_is_killed_conversations_go_on_and_redeliveries_run_no_second_turn(
    running_stack: Stack,
) -> None:
    chat = Conversation(running_stack)
    await asyncio.to_thread(_refund_of_a_cancelled_order_is_told, chat)
    wechat = wechat_of(running_stack)
    push = text_xml(new_openid(), "我要退货", new_msg_id())
    assert wechat.reply(await asyncio.to_thread(wechat.push, push))["Content"]
    widget_server = widget_server_of(running_stack)
    before = Widget(widget_server)
    confirmed = await before.connect()
    await before.send("我要投诉", "asked-before-the-kill")
    assert await before.turn()
    await before.close()

    await asyncio.to_thread(kill_and_wait_for_restart, running_stack, "rasa")

    await asyncio.to_thread(chat.say, "9034")
    assert _recorded_once(chat) == [("identity_check", "verified"), ("refund_status", "on_time")]

    # WeChat did not get its answer in time and tries again: `success`, no second turn.
    retried = await asyncio.to_thread(wechat.push, push)
    assert (retried.status_code, retried.text) == (200, "success")
    assert len(wechat.turns_of(push)) == 1

    # The widget reconnects with its session token and resends the message it saw no answer
    # to, then the shopper's next one: the next turn is the new message's, the resend none.
    after = Widget(widget_server)
    try:
        resumed = await after.connect({"session_token": confirmed["session_token"]})
        assert resumed["conversation_id"] == before.conversation_id
        await after.send("我要投诉", "asked-before-the-kill")
        await after.send("快递员态度太差了，东西直接扔在门口", "said-after-the-restart")
        assert await after.turn()
    finally:
        await after.close()
    conversation = before.conversation_id
    assert [event["message_id"] for event in widget_server.user_events(conversation)] == [
        widget_message_id(conversation, "asked-before-the-kill"),
        widget_message_id(conversation, "said-after-the-restart"),
    ]
