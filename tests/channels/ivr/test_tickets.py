"""Reading handoff tickets from the stack's real record service; any failure is None, never a raise."""

from __future__ import annotations

import secrets
import time

import pytest
import requests

from channels.ivr.tickets import HandoffTickets
from tests.fixtures.actions import stopped_service_url
from tests.fixtures.stack import Stack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def ticket_id(running_stack: Stack) -> str:
    """A handoff ticket opened by a caller asking for a person on the phone line."""
    env = running_stack.env
    turn = {"call_id": f"CA-{secrets.token_hex(6)}", "turn_id": 1, "timestamp": int(time.time()),
            "caller": None, "dtmf": "0"}
    reply = requests.post(env["IVR_URL"], json=turn, headers={"Authorization": f"Bearer {env['IVR_TOKEN']}"},
                          timeout=30).json()
    ticket = (reply.get("transfer") or reply.get("callback") or {}).get("ticket_id")
    assert ticket, reply
    return str(ticket)


def records_base(stack: Stack) -> str:
    return stack.env["RECORDS_URL"].removesuffix("/api/records")


async def test_a_ticket_is_read_with_its_context(running_stack: Stack, ticket_id: str) -> None:
    tickets = HandoffTickets(records_base(running_stack), running_stack.env["RECORDS_TOKEN"])
    ticket = await tickets.get(ticket_id)
    tickets.close()
    assert ticket is not None
    assert (ticket["ticket_id"], ticket["channel"], ticket["reason"]) == (ticket_id, "ivr", "user_request")
    assert ticket["context"]["summary"].startswith("诉求：顾客要求人工服务")


async def test_an_unknown_or_malformed_ticket_or_a_wrong_token_is_none(running_stack: Stack, ticket_id: str) -> None:
    tickets = HandoffTickets(records_base(running_stack), running_stack.env["RECORDS_TOKEN"])
    assert await tickets.get("HO00000000000000") is None
    assert await tickets.get("../records") is None
    tickets.close()
    refused = HandoffTickets(records_base(running_stack), "not-the-token")
    assert await refused.get(ticket_id) is None
    refused.close()


async def test_a_stopped_record_service_is_none() -> None:
    tickets = HandoffTickets(stopped_service_url(), "token")
    assert await tickets.get("HO26112312345678") is None
    tickets.close()
