"""rasa-sdk plugin: the action server's locked doors.

rasa-sdk 3.6 imports this package by name at start (`rasa_sdk.plugin._discover_plugins`)
and calls `init_hooks`. Out of the box the action server accepts any caller, and its
catch-all error handler echoes the request body (the tracker, with the shopper's
personal data) back. This plugin adds:

* a shared secret: every request but `GET /health` must carry the `X-Action-Token`
  header equal to `ACTION_SERVER_TOKEN` (compared in constant time); Rasa sends it from
  `endpoints.yml`. A missing secret stops the server at start.
* error responses that carry no request data and no traceback.
* PII masking of every log line.
* one read of an order per action call (`bot.actions.ownership.start_action_call`).
* the action services (order and record clients, the policy, the outbox) built at start,
  so that a missing ORDERS_TOKEN / RECORDS_TOKEN, an invalid policy file or an outbox
  database that cannot be opened stops the server with a clear message instead of
  failing the first shopper.
* the outbox's delivery: a background task that hands queued writes to the record
  service (``bot.actions.outbox``), logs the backlog when it changes, and serves it at
  ``GET /health/outbox`` (open, like ``/health``: counts only).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import sys

import pluggy
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json
from sqlalchemy.exc import SQLAlchemyError

from bot.actions.outbox import Backlog, describe_backlog
from bot.actions.ownership import start_action_call
from bot.actions.services import call, services
from bot.policy import PolicyError
from service_common.env import MissingSettingError, require_env
from service_common.pii import install_pii_masking

hookimpl = pluggy.HookimplMarker("rasa_sdk")
logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Action-Token"  # noqa: S105 - a header name, not a secret
OUTBOX_HEALTH_PATH = "/health/outbox"
OPEN_PATHS = frozenset({"/health", OUTBOX_HEALTH_PATH})


def init_hooks(manager: pluggy.PluginManager) -> None:
    """Registers this module's hook implementations with rasa-sdk's plugin manager."""
    manager.register(sys.modules[__name__])


@hookimpl
def attach_sanic_app_extensions(app: Sanic) -> None:
    """Adds shared-secret auth, scrubbed errors and PII-masked logs to the action server."""
    install_pii_masking()
    try:
        token = require_env("ACTION_SERVER_TOKEN", "the shared secret Rasa sends to the action server")
        services()
    except (MissingSettingError, PolicyError, SQLAlchemyError) as error:
        logger.error("the action server cannot start: %s", error)
        print(f"action server: {error}", file=sys.stderr)
        sys.exit(2)
    protect_with_token(app, token)
    scrub_errors(app)
    app.register_middleware(_start_action_call, "request")
    deliver_queued_writes(app)


async def _start_action_call(request: Request) -> None:
    start_action_call()


def deliver_queued_writes(app: Sanic) -> None:
    """Runs the outbox's delivery in the background and serves its backlog."""

    async def _start_delivery(app: Sanic, loop: asyncio.AbstractEventLoop) -> None:
        app.add_task(_delivery_loop())

    app.register_listener(_start_delivery, "after_server_start")

    @app.get(OUTBOX_HEALTH_PATH)
    async def _outbox_health(request: Request) -> HTTPResponse:
        try:
            backlog = await call(services().outbox.backlog)
        except SQLAlchemyError as error:
            logger.error("the outbox cannot be read: %s", type(error).__name__)
            return json({"status": "unavailable"}, status=503)
        return json(backlog.to_json())


async def _delivery_loop() -> None:
    previous: Backlog | None = None
    while True:
        svc = services()
        await asyncio.sleep(svc.outbox.poll_interval_s)
        try:
            backlog = await call(svc.outbox.deliver_due, svc.records)
        except SQLAlchemyError as error:
            logger.error("the outbox cannot be read: %s; retrying", type(error).__name__)
            continue
        except Exception:  # the delivery must outlive any one bad round
            logger.exception("the outbox's delivery failed; retrying")
            continue
        line = describe_backlog(previous, backlog)
        if line is not None:
            (logger.warning if backlog.pending or backlog.rejected else logger.info)(line)
        previous = backlog


def protect_with_token(app: Sanic, token: str) -> None:
    """Rejects every request without the shared secret (401), except the health check."""
    expected = token.encode()

    @app.middleware("request")
    async def _require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS or request.method == "OPTIONS":
            return None
        given = (request.headers.get(TOKEN_HEADER) or "").encode()
        if not hmac.compare_digest(given, expected):
            return json({"error": "unauthorized"}, status=401)
        return None


def scrub_errors(app: Sanic) -> None:
    """Replaces rasa-sdk's catch-all handler, which echoes the request body, with one that does not."""

    @app.exception(Exception)
    async def _internal_error(request: Request, exception: Exception) -> HTTPResponse:
        status = int(getattr(exception, "status_code", 500) or 500)
        if status >= 500:
            logger.error(
                "action server error on %s %s", request.method, request.path, exc_info=exception
            )
            return json({"error": "internal error in the action server"}, status=500)
        return json({"error": "bad request"}, status=status)
