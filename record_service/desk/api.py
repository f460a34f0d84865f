"""The desk's HTTP routes (described route by route in record_service/openapi.yaml).

- `/desk/api/...`: the agent workspace's JSON API, `Authorization: Bearer <agent token>`
  (the service token is not an agent token). Every call marks its agent as online.
- `/api/desk/...`: for the bot and operators, with the service token like the rest of
  `/api/`: presence, and the outbox's deliveries.
- `/desk/chatwoot/webhook?token=...`: Chatwoot's webhook back to the desk.

Errors are `{"error": {"code", "message"}}` like the rest of the service.
"""

from __future__ import annotations

from typing import Any

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json

from record_service import validation
from record_service.desk.agents import Agent
from record_service.desk.outbox import OutboxRepository, delivery_json
from record_service.desk.repository import DeskTicket
from record_service.kpi import report_json
from record_service.repository import iso, utc_now
from record_service.transactions import in_transaction
from record_service.unanswered import UnansweredRepository, message_json
from service_common.http import ApiError, json_body


def add_desk_routes(app: Sanic) -> None:
    """Mounts the desk's routes on the record service's app."""
    app.add_route(desk_presence, "/api/desk/presence", methods=["GET"])
    app.add_route(list_deliveries, "/api/desk/deliveries", methods=["GET"])
    app.add_route(replay_delivery, "/api/desk/deliveries/<delivery_id:str>/replay", methods=["POST"])
    app.add_route(me, "/desk/api/me", methods=["GET"])
    app.add_route(desk_queue, "/desk/api/tickets", methods=["GET"])
    app.add_route(desk_ticket, "/desk/api/tickets/<ticket_id:str>", methods=["GET"])
    app.add_route(desk_audit, "/desk/api/tickets/<ticket_id:str>/audit", methods=["GET"])
    app.add_route(claim, "/desk/api/tickets/<ticket_id:str>/claim", methods=["POST"])
    app.add_route(reply, "/desk/api/tickets/<ticket_id:str>/reply", methods=["POST"])
    app.add_route(resolve, "/desk/api/tickets/<ticket_id:str>/resolve", methods=["POST"])
    app.add_route(hand_back, "/desk/api/tickets/<ticket_id:str>/hand-back", methods=["POST"])
    app.add_route(reveal_contact, "/desk/api/tickets/<ticket_id:str>/reveal-contact", methods=["POST"])
    app.add_route(desk_unanswered, "/desk/api/unanswered", methods=["GET"])
    app.add_route(review_unanswered, "/desk/api/unanswered/<record_id:str>/review", methods=["POST"])
    app.add_route(desk_report, "/desk/api/report", methods=["GET"])
    app.add_route(chatwoot_webhook, "/desk/chatwoot/webhook", methods=["POST"])


def _agent(request: Request) -> Agent:
    """The agent whose token the request carries (401 otherwise); marks it online."""
    agent = request.app.ctx.agents.authenticate(request.headers.get("authorization"))
    if agent is None:
        raise ApiError(401, "unauthorized", "a valid agent token is required")
    request.app.ctx.presence.seen(agent.id)
    return agent


def _ticket_id(value: str) -> str:
    return validation.ticket_id(value, "handoff_not_found")


def desk_ticket_json(desk_ticket: DeskTicket) -> dict[str, Any]:
    """A ticket in the queue: what an agent needs to pick one (never the full phone)."""
    ticket, claim = desk_ticket.ticket, desk_ticket.claim
    context = ticket.context or {}
    return {
        "ticket_id": ticket.ticket_id,
        "channel": ticket.channel,
        "order_id": ticket.order_id,
        "reason": ticket.reason,
        "priority": ticket.priority,
        "status": ticket.status,
        "created_at": iso(ticket.created_at),
        "due_at": iso(ticket.due_at),
        "callback_at": iso(ticket.callback_at),
        "summary": context.get("summary"),
        "contact_masked": context.get("contact_masked"),
        "has_contact_phone": desk_ticket.has_contact_phone,
        "assigned_agent": None if claim is None else {"id": claim.agent_id, "name": claim.agent_name},
        "claimed_at": None if claim is None else iso(claim.claimed_at),
        "resolved_at": None if claim is None else iso(claim.resolved_at),
        "resolution": None if claim is None else claim.resolution,
    }


# ---------------------------------------------------------------- service token


async def desk_presence(request: Request) -> HTTPResponse:
    """GET /api/desk/presence: {"agents_online": n} (agents who called the desk API in the last 60 s)."""
    return json({"agents_online": request.app.ctx.presence.online()})


async def list_deliveries(request: Request) -> HTTPResponse:
    """GET /api/desk/deliveries?status=&limit=: the outbox's deliveries, newest first."""
    status = validation.delivery_status_query(request.args.get("status"))
    limit = validation.ticket_limit(request.args.get("limit"))
    rows = await in_transaction(
        request.app.ctx.sessions,
        lambda session: [delivery_json(row) for row in OutboxRepository(session).deliveries(status, limit)],
    )
    return json({"deliveries": rows})


async def replay_delivery(request: Request, delivery_id: str) -> HTTPResponse:
    """POST /api/desk/deliveries/{id}/replay: a failed delivery is attempted again."""
    delivery_id = validation.delivery_id(delivery_id)
    row = await in_transaction(
        request.app.ctx.sessions, lambda session: delivery_json(OutboxRepository(session).replay(delivery_id))
    )
    return json(row)


# ---------------------------------------------------------------- agent token


async def me(request: Request) -> HTTPResponse:
    """GET /desk/api/me: the agent the token belongs to."""
    agent = _agent(request)
    return json({"id": agent.id, "name": agent.name})


async def desk_queue(request: Request) -> HTTPResponse:
    """GET /desk/api/tickets?status=a,b&limit=: most urgent priority first, then soonest due."""
    _agent(request)
    statuses = validation.desk_statuses_query(request.args.get("status"))
    limit = validation.ticket_limit(request.args.get("limit"))
    tickets = await request.app.ctx.desk.queue(statuses, limit)
    return json({"tickets": [desk_ticket_json(ticket) for ticket in tickets]})


async def desk_ticket(request: Request, ticket_id: str) -> HTTPResponse:
    """GET /desk/api/tickets/{id}: the ticket, its context and the live conversation."""
    agent = _agent(request)
    desk_ticket, conversation, error = await request.app.ctx.desk.view(_ticket_id(ticket_id), agent)
    return json(
        {
            **desk_ticket_json(desk_ticket),
            "context": desk_ticket.ticket.context,
            "conversation": conversation,
            "conversation_error": error,
        }
    )


async def desk_audit(request: Request, ticket_id: str) -> HTTPResponse:
    """GET /desk/api/tickets/{id}/audit: who did what on the ticket, oldest first."""
    _agent(request)
    return json({"entries": await request.app.ctx.desk.audit(_ticket_id(ticket_id))})


async def claim(request: Request, ticket_id: str) -> HTTPResponse:
    """POST /desk/api/tickets/{id}/claim: the agent takes the ticket; the bot is paused."""
    agent = _agent(request)
    desk_ticket = await request.app.ctx.desk.claim(_ticket_id(ticket_id), agent)
    return json({"ticket": desk_ticket_json(desk_ticket)})


async def reply(request: Request, ticket_id: str) -> HTTPResponse:
    """POST /desk/api/tickets/{id}/reply {"text"}: sent to the shopper on the shopper's channel."""
    agent = _agent(request)
    ticket_id = _ticket_id(ticket_id)
    text = validation.agent_reply(json_body(request))
    await request.app.ctx.desk.reply(ticket_id, agent, text)
    return json({"sent": True})


async def resolve(request: Request, ticket_id: str) -> HTTPResponse:
    """POST /desk/api/tickets/{id}/resolve: the bot resumes and asks for a rating."""
    agent = _agent(request)
    desk_ticket, asked = await request.app.ctx.desk.resolve(_ticket_id(ticket_id), agent)
    return json({"ticket": desk_ticket_json(desk_ticket), "satisfaction_requested": asked})


async def hand_back(request: Request, ticket_id: str) -> HTTPResponse:
    """POST /desk/api/tickets/{id}/hand-back: the bot resumes, without asking for a rating."""
    agent = _agent(request)
    desk_ticket = await request.app.ctx.desk.hand_back(_ticket_id(ticket_id), agent)
    return json({"ticket": desk_ticket_json(desk_ticket)})


async def reveal_contact(request: Request, ticket_id: str) -> HTTPResponse:
    """POST /desk/api/tickets/{id}/reveal-contact: the full phone number (recorded)."""
    agent = _agent(request)
    phone = await request.app.ctx.desk.reveal_contact(_ticket_id(ticket_id), agent)
    if phone is None:
        raise ApiError(404, "contact_not_available", "the shopper left no phone number on this ticket")
    return json({"contact_phone": phone})


async def desk_unanswered(request: Request) -> HTTPResponse:
    """GET /desk/api/unanswered?reviewed=&limit=: the unanswered-question log, newest first."""
    _agent(request)
    reviewed = validation.reviewed_query(request.args.get("reviewed"))
    limit = validation.ticket_limit(request.args.get("limit"))
    messages = await in_transaction(
        request.app.ctx.sessions,
        lambda session: [
            message_json(m) for m in UnansweredRepository(session).messages(reviewed=reviewed, limit=limit)
        ],
    )
    return json({"messages": messages})


async def review_unanswered(request: Request, record_id: str) -> HTTPResponse:
    """POST /desk/api/unanswered/{id}/review {"intent"} or {"new_topic"}: the message's verdict."""
    agent = _agent(request)
    number = validation.record_id(record_id, "message_not_found")
    intent, topic = validation.unanswered_review(json_body(request))
    message = await in_transaction(
        request.app.ctx.sessions,
        lambda session: message_json(UnansweredRepository(session).review(number, intent, topic, agent.id)),
    )
    return json(message)


async def desk_report(request: Request) -> HTTPResponse:
    """GET /desk/api/report?from=YYYY-MM-DD&to=YYYY-MM-DD: the KPI report's figures."""
    _agent(request)
    period = validation.report_period_query(request.args.get("from"), request.args.get("to"))
    now = utc_now()
    figures = await in_transaction(
        request.app.ctx.sessions, lambda session: report_json(session, period, now)
    )
    return json(figures)


# ---------------------------------------------------------------- Chatwoot


async def chatwoot_webhook(request: Request) -> HTTPResponse:
    """POST /desk/chatwoot/webhook?token=: Chatwoot's events for handoff conversations."""
    webhook = request.app.ctx.chatwoot_webhook
    if webhook is None:
        raise ApiError(404, "not_found", "no such resource")
    if not webhook.authentic(request.args.get("token")):
        raise ApiError(401, "unauthorized", "a valid webhook token is required")
    return json(await webhook.handle(json_body(request)))
