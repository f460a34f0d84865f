"""A part of the stack dies in the middle of a conversation (issue 11), on the running stack.

Each service is killed with SIGKILL between two of a shopper's messages; the stack's
supervisor (`scripts/stack.py supervise`) starts it again, and the conversation goes on
with nothing lost or written twice. A complaint filed while the record service is down
is told its ticket number at once and becomes that ticket once the service is back.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

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


@pytest.mark.parametrize("service", ["order_system", "record_service", "action_server", "rasa"])
def test_a_conversation_goes_on_after_a_service_is_killed_in_its_middle(
    running_stack: Stack, service: str
) -> None:
    chat = Conversation(running_stack)
    asked = chat.say(f"下单后就取消了，钱什么时候退回来啊 订单{CANCELLED_ORDER}")
    assert "9034" not in asked and "后四位" in asked  # the phone digits are asked

    kill_and_wait_for_restart(running_stack, service)
    chat.say("9034")

    # Each decision recorded once, in order, as in a conversation nothing interrupted.
    assert [(r["kind"], r["outcome"]) for r in chat.records()] == [
        ("identity_check", "verified"),
        ("refund_status", "on_time"),
    ]
