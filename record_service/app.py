"""The record service's HTTP API (described route by route in openapi.yaml).

Handlers check their input on the event loop, then run the database work in a worker
thread (`run_blocking`), inside one transaction per request. A creating request is
answered only after its transaction has committed, so a record the bot was told about
survives the process being killed right after.

The human-handoff desk's routes come from `record_service.desk.api`; its outbox worker
runs as a background task while the server runs, when a help desk is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from record_service import validation
from record_service.desk.agents import AgentDirectory, Presence
from record_service.desk.api import add_desk_routes
from record_service.desk.bot import BotClient
from record_service.desk.chatwoot import ChatwootApi, ChatwootSender, ChatwootWebhook
from record_service.desk.outbox import DeliveryWorker, Sender, WebhookSender
from record_service.desk.workflow import Desk
from record_service.desk_page import DESK_PAGE_PATHS, add_desk_page_routes
from record_service.repository import Created, RecordRepository
from record_service.serializers import (
    complaint_json,
    complaint_summary_json,
    handoff_json,
    handoff_summary_json,
    record_json,
    ticket_json,
)
from record_service.settings import Settings
from record_service.transactions import in_transaction
from record_service.unanswered import UnansweredRepository, message_json
from service_common.db import make_engine, session_factory
from service_common.http import (
    ApiError,
    install_json_errors,
    json_body,
    require_bearer_token,
    run_blocking,
)

T = TypeVar("T")

APP_NAME = "record_service"


def create_app(settings: Settings, engine: Engine | None = None) -> Sanic:
    """The record service's Sanic application.

    Args:
        settings: How to run; its token guards every route but GET /health and the desk's
            own routes (`/desk/...`: agent tokens, Chatwoot's webhook token).
        engine: The database engine; when None, one is created from
            `settings.database_url` as the server starts.
    """
    # Logging is configured by the process (`__main__`), with personal data masked.
    app = Sanic(APP_NAME, configure_logging=False)
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    app.ctx.engine = engine
    # Read once now, so that a broken openapi.yaml stops the start, not a request.
    validation.openapi_schemas()
    app.ctx.handoff_targets = settings.handoff_targets
    app.ctx.agents = AgentDirectory(settings.agents)
    app.ctx.presence = Presence()
    # Rasa starts after the record service: the client connects on first use only.
    app.ctx.bot = BotClient(settings.bot.url, settings.bot.token) if settings.bot else None
    install_json_errors(app)
    require_bearer_token(
        app, settings.token, open_paths=("/health", *DESK_PAGE_PATHS), open_prefixes=("/desk/",)
    )

    async def _open_database(app: Sanic, _: Any) -> None:
        if app.ctx.engine is None:
            app.ctx.engine = make_engine(settings.database_url)
        app.ctx.sessions = session_factory(app.ctx.engine)
        app.ctx.desk = Desk(app.ctx.sessions, app.ctx.bot)
        app.ctx.chatwoot_webhook = (
            ChatwootWebhook(settings.chatwoot, app.ctx.sessions, app.ctx.desk) if settings.chatwoot else None
        )

    async def _start_outbox(app: Sanic, _: Any) -> None:
        senders = _senders(settings, app)
        app.ctx.outbox_senders, app.ctx.outbox_task = senders, None
        if senders:
            worker = DeliveryWorker(app.ctx.sessions, senders, settings.delivery)
            app.ctx.outbox_task = asyncio.get_running_loop().create_task(worker.run())

    async def _stop_outbox(app: Sanic, _: Any) -> None:
        task = app.ctx.outbox_task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sender in app.ctx.outbox_senders.values():
            sender.close()

    async def _close_database(app: Sanic, _: Any) -> None:
        if app.ctx.bot is not None:
            app.ctx.bot.close()
        app.ctx.engine.dispose()

    # register_listener rather than the decorator, whose overloads mypy cannot resolve.
    app.register_listener(_open_database, "before_server_start")
    app.register_listener(_start_outbox, "after_server_start")
    app.register_listener(_stop_outbox, "before_server_stop")
    app.register_listener(_close_database, "after_server_stop")
    _add_routes(app)
    add_desk_routes(app)
    add_desk_page_routes(app)
    return app


def _senders(settings: Settings, app: Sanic) -> dict[str, Sender]:
    """The outbox's sender of each configured help desk."""
    senders: dict[str, Sender] = {}
    if settings.webhook is not None:
        senders["webhook"] = WebhookSender(settings.webhook.url, settings.webhook.secret)
    if settings.chatwoot is not None:
        chatwoot = settings.chatwoot
        api = ChatwootApi(chatwoot.url, chatwoot.api_token, chatwoot.account_id)
        senders["chatwoot"] = ChatwootSender(api, chatwoot.inbox_id, app.ctx.sessions)
    return senders


def _add_routes(app: Sanic) -> None:
    app.add_route(health, "/health", methods=["GET"])
    app.add_route(create_record, "/api/records", methods=["POST"])
    app.add_route(list_records, "/api/records", methods=["GET"])
    app.add_route(create_complaint, "/api/complaints", methods=["POST"])
    app.add_route(list_complaints, "/api/complaints", methods=["GET"])
    app.add_route(list_unanswered, "/api/unanswered", methods=["GET"])
    app.add_route(get_complaint, "/api/complaints/<ticket_id:str>", methods=["GET"])
    app.add_route(create_handoff, "/api/handoffs", methods=["POST"])
    app.add_route(list_handoffs, "/api/handoffs", methods=["GET"])
    app.add_route(get_handoff, "/api/handoffs/<ticket_id:str>", methods=["GET"])


async def _with_repository(request: Request, work: Callable[[RecordRepository], T]) -> T:
    """Runs `work` in a worker thread, in one committed transaction, mapping refusals to API errors."""
    targets = request.app.ctx.handoff_targets
    return await in_transaction(
        request.app.ctx.sessions, lambda session: work(RecordRepository(session, handoff_targets=targets))
    )


def _ticket_and_record(created: Created) -> dict[str, Any]:
    assert created.ticket is not None  # only ticket operations call this
    return {"ticket": ticket_json(created.ticket), "record": record_json(created.record)}


async def health(request: Request) -> HTTPResponse:
    """GET /health: 200 when the database answers."""

    def ping() -> None:
        with request.app.ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        await run_blocking(ping)
    except DBAPIError:
        raise ApiError(503, "database_unavailable", "the record database is unavailable") from None
    return json({"status": "ok"})


async def create_record(request: Request) -> HTTPResponse:
    """POST /api/records: 201 with the new record, 200 with a replayed one."""
    key = validation.idempotency_key(request.headers.get("idempotency-key"))
    new_record = validation.new_record(json_body(request))

    def create(repo: RecordRepository) -> tuple[dict[str, Any], bool]:
        created = repo.create_record(new_record, key)
        return record_json(created.record), created.is_new

    body, is_new = await _with_repository(request, create)
    return json(body, status=201 if is_new else 200)


async def list_records(request: Request) -> HTTPResponse:
    """GET /api/records?conversation_id=: {"records": [...]}, oldest first; or
    GET /api/records?from=&to=&after_id=&limit=: a page of the records dated in [from, to),
    in id order, {"records": [...], "next_after_id": id or null}."""
    if "conversation_id" in request.args or "from" not in request.args:
        conversation_id = validation.conversation_query(request.args.get("conversation_id"))
        records = await _with_repository(
            request, lambda repo: [record_json(r) for r in repo.records(conversation_id)]
        )
        return json({"records": records})
    start, end = validation.time_range_query(request.args.get("from"), request.args.get("to"))
    after_id = validation.after_id_query(request.args.get("after_id"))
    limit = validation.page_limit(request.args.get("limit"))
    page = await _with_repository(
        request, lambda repo: [record_json(r) for r in repo.records_between(start, end, after_id, limit)]
    )
    return json({"records": page, "next_after_id": page[-1]["id"] if len(page) == limit else None})


async def list_complaints(request: Request) -> HTTPResponse:
    """GET /api/complaints?from=&to=: {"tickets": [...]}, the complaints created in [from, to)."""
    start, end = validation.time_range_query(request.args.get("from"), request.args.get("to"))
    tickets = await _with_repository(
        request, lambda repo: [complaint_summary_json(t) for t in repo.complaints_between(start, end)]
    )
    return json({"tickets": tickets})


async def list_unanswered(request: Request) -> HTTPResponse:
    """GET /api/unanswered?from=&to=&reviewed=: {"messages": [...]}, newest first (the whole
    log without from and to)."""
    start: datetime | None = None
    end: datetime | None = None
    if "from" in request.args or "to" in request.args:
        start, end = validation.time_range_query(request.args.get("from"), request.args.get("to"))
    reviewed = validation.reviewed_query(request.args.get("reviewed"))
    messages = await in_transaction(
        request.app.ctx.sessions,
        lambda session: [
            message_json(m) for m in UnansweredRepository(session).messages(start, end, reviewed)
        ],
    )
    return json({"messages": messages})


async def create_complaint(request: Request) -> HTTPResponse:
    """POST /api/complaints: 201 {"ticket", "record"}, 200 for a replayed request."""
    key = validation.idempotency_key(request.headers.get("idempotency-key"))
    new_complaint = validation.new_complaint(json_body(request))

    def create(repo: RecordRepository) -> tuple[dict[str, Any], bool]:
        created = repo.create_complaint(new_complaint, key)
        return _ticket_and_record(created), created.is_new

    body, is_new = await _with_repository(request, create)
    return json(body, status=201 if is_new else 200)


async def get_complaint(request: Request, ticket_id: str) -> HTTPResponse:
    """GET /api/complaints/{ticket_id}: the complaint ticket."""
    ticket_id = validation.ticket_id(ticket_id, "complaint_not_found")
    return json(await _with_repository(request, lambda repo: complaint_json(repo.complaint(ticket_id))))


async def create_handoff(request: Request) -> HTTPResponse:
    """POST /api/handoffs: 201 {"ticket", "record"}, 200 for a replayed request."""
    key = validation.idempotency_key(request.headers.get("idempotency-key"))
    new_handoff = validation.new_handoff(json_body(request))

    def create(repo: RecordRepository) -> tuple[dict[str, Any], bool]:
        created = repo.create_handoff(new_handoff, key)
        return _ticket_and_record(created), created.is_new

    body, is_new = await _with_repository(request, create)
    return json(body, status=201 if is_new else 200)


async def list_handoffs(request: Request) -> HTTPResponse:
    """GET /api/handoffs?status=&limit=: {"tickets": [...]}, highest priority, then soonest due;
    or GET /api/handoffs?from=&to=: the tickets created in [from, to), oldest first, each with
    when a person claimed and closed it (no context)."""
    if "from" in request.args or "to" in request.args:
        start, end = validation.time_range_query(request.args.get("from"), request.args.get("to"))
        rows = await _with_repository(
            request,
            lambda repo: [handoff_summary_json(t, c) for t, c in repo.handoffs_between(start, end)],
        )
        return json({"tickets": rows})
    status = validation.handoff_status_query(request.args.get("status"))
    limit = validation.ticket_limit(request.args.get("limit"))
    tickets = await _with_repository(
        request, lambda repo: [handoff_json(t) for t in repo.handoffs(status, limit)]
    )
    return json({"tickets": tickets})


async def get_handoff(request: Request, ticket_id: str) -> HTTPResponse:
    """GET /api/handoffs/{ticket_id}: the handoff ticket."""
    ticket_id = validation.ticket_id(ticket_id, "handoff_not_found")
    return json(await _with_repository(request, lambda repo: handoff_json(repo.handoff(ticket_id))))
