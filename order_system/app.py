"""The order system's HTTP API (described route by route in openapi.yaml).

Handlers check their input on the event loop, then run the database work in a worker
thread (`run_blocking`), inside one transaction per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from order_system import validation
from order_system.db import make_engine, session_factory, transaction
from order_system.repository import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    OrderRepository,
    RepositoryError,
)
from order_system.serializers import (
    customer_json,
    order_json,
    order_summary_json,
    refund_json,
    return_json,
    shipment_json,
)
from order_system.settings import Settings
from service_common.http import (
    ApiError,
    install_json_errors,
    json_body,
    require_bearer_token,
    run_blocking,
)

T = TypeVar("T")

APP_NAME = "order_system"
_STATUS_OF = {NotFoundError: 404, ConflictError: 409, InvalidRequestError: 422}


def create_app(settings: Settings, engine: Engine | None = None) -> Sanic:
    """The order system's Sanic application.

    Args:
        settings: How to run; its token guards every route but GET /health.
        engine: The database engine; when None, one is created from
            `settings.database_url` as the server starts.
    """
    # Logging is configured by the process (`__main__`), with personal data masked.
    app = Sanic(APP_NAME, configure_logging=False)
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes
    app.ctx.engine = engine
    # Read once now, so that a broken openapi.yaml stops the start, not a request.
    validation.openapi_schemas()
    install_json_errors(app)
    require_bearer_token(app, settings.token, open_paths=("/health",))

    async def _open_database(app: Sanic, _: Any) -> None:
        if app.ctx.engine is None:
            app.ctx.engine = make_engine(settings.database_url)
        app.ctx.sessions = session_factory(app.ctx.engine)

    async def _close_database(app: Sanic, _: Any) -> None:
        app.ctx.engine.dispose()

    # register_listener rather than the decorator, whose overloads mypy cannot resolve.
    app.register_listener(_open_database, "before_server_start")
    app.register_listener(_close_database, "after_server_stop")

    _add_routes(app)
    return app


def _add_routes(app: Sanic) -> None:
    app.add_route(health, "/health", methods=["GET"])
    app.add_route(customer_by_account, "/api/customers/by-account", methods=["GET"])
    app.add_route(customer_orders, "/api/customers/<customer_id:str>/orders", methods=["GET"])
    app.add_route(get_order, "/api/orders/<order_id:str>", methods=["GET"])
    app.add_route(verify_phone, "/api/orders/<order_id:str>/verify-phone", methods=["POST"])
    app.add_route(get_shipment, "/api/orders/<order_id:str>/shipment", methods=["GET"])
    app.add_route(list_returns, "/api/orders/<order_id:str>/returns", methods=["GET"])
    app.add_route(create_return, "/api/orders/<order_id:str>/returns", methods=["POST"])
    app.add_route(list_refunds, "/api/orders/<order_id:str>/refunds", methods=["GET"])
    app.add_route(create_refund, "/api/orders/<order_id:str>/refunds", methods=["POST"])


async def _with_repository(request: Request, work: Callable[[OrderRepository], T]) -> T:
    """Runs `work` in a worker thread, in one transaction, mapping refusals to API errors."""
    sessions = request.app.ctx.sessions

    def run() -> T:
        with transaction(sessions) as session:
            return work(OrderRepository(session))

    try:
        return await run_blocking(run)
    except RepositoryError as error:
        raise ApiError(_STATUS_OF[type(error)], error.code, error.message) from None
    except DBAPIError:
        raise ApiError(503, "database_unavailable", "the order database is unavailable") from None


async def health(request: Request) -> HTTPResponse:
    """GET /health: 200 when the database answers."""

    def ping() -> None:
        with request.app.ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        await run_blocking(ping)
    except DBAPIError:
        raise ApiError(503, "database_unavailable", "the order database is unavailable") from None
    return json({"status": "ok"})


async def customer_by_account(request: Request) -> HTTPResponse:
    """GET /api/customers/by-account?channel=&account_id=: who owns a channel account."""
    channel = validation.channel(request.args.get("channel"))
    account_id = validation.account_id(channel, request.args.get("account_id"))
    customer = await _with_repository(
        request, lambda repo: customer_json(repo.customer_by_account(channel, account_id))
    )
    return json(customer)


async def customer_orders(request: Request, customer_id: str) -> HTTPResponse:
    """GET /api/customers/{customer_id}/orders?limit=5: latest orders, newest first."""
    customer_id = validation.customer_id(customer_id)
    limit = validation.order_limit(request.args.get("limit"))
    orders = await _with_repository(
        request,
        lambda repo: [order_summary_json(o) for o in repo.recent_orders(customer_id, limit)],
    )
    return json({"orders": orders})


async def get_order(request: Request, order_id: str) -> HTTPResponse:
    """GET /api/orders/{order_id}: the full order, without the customer's phone."""
    order_id = validation.order_id(order_id)
    return json(await _with_repository(request, lambda repo: order_json(repo.order(order_id))))


async def verify_phone(request: Request, order_id: str) -> HTTPResponse:
    """POST /api/orders/{order_id}/verify-phone {"last4"}: {"match": bool}."""
    order_id = validation.order_id(order_id)
    last4 = validation.last4(json_body(request))
    match = await _with_repository(request, lambda repo: repo.phone_last4_matches(order_id, last4))
    return json({"match": match})


async def get_shipment(request: Request, order_id: str) -> HTTPResponse:
    """GET /api/orders/{order_id}/shipment: {"shipment": {...} | null}."""
    order_id = validation.order_id(order_id)
    shipment = await _with_repository(
        request, lambda repo: shipment_json(repo.order(order_id).shipment)
    )
    return json({"shipment": shipment})


async def list_returns(request: Request, order_id: str) -> HTTPResponse:
    """GET /api/orders/{order_id}/returns: {"returns": [...]}, oldest first."""
    order_id = validation.order_id(order_id)
    returns = await _with_repository(
        request, lambda repo: [return_json(r) for r in repo.order(order_id).returns]
    )
    return json({"returns": returns})


async def list_refunds(request: Request, order_id: str) -> HTTPResponse:
    """GET /api/orders/{order_id}/refunds: {"refunds": [...]}, oldest first."""
    order_id = validation.order_id(order_id)
    refunds = await _with_repository(
        request, lambda repo: [refund_json(r) for r in repo.order(order_id).refunds]
    )
    return json({"refunds": refunds})


async def create_return(request: Request, order_id: str) -> HTTPResponse:
    """POST /api/orders/{order_id}/returns: 201 with a new return, 200 with a replayed one."""
    order_id = validation.order_id(order_id)
    key = validation.idempotency_key(request.headers.get("idempotency-key"))
    new_return = validation.new_return(json_body(request))

    def create(repo: OrderRepository) -> tuple[dict[str, Any], bool]:
        created, is_new = repo.create_return(order_id, new_return, key)
        return return_json(created), is_new

    body, is_new = await _with_repository(request, create)
    return json(body, status=201 if is_new else 200)


async def create_refund(request: Request, order_id: str) -> HTTPResponse:
    """POST /api/orders/{order_id}/refunds: 201 with a new refund, 200 with a replayed one."""
    order_id = validation.order_id(order_id)
    key = validation.idempotency_key(request.headers.get("idempotency-key"))
    new_refund = validation.new_refund(json_body(request))

    def create(repo: OrderRepository) -> tuple[dict[str, Any], bool]:
        created, is_new = repo.create_refund(order_id, new_refund, key)
        return refund_json(created), is_new

    body, is_new = await _with_repository(request, create)
    return json(body, status=201 if is_new else 200)
