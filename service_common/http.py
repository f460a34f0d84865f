"""Sanic plumbing shared by the order system and the record service.

JSON errors with a code and a message (never the request, never a traceback), bearer
token auth compared in constant time, and a way to run blocking database work off the
event loop.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, json

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BODY_BYTES = 64 * 1024


class ApiError(Exception):
    """An error the API reports to its caller as JSON.

    Args:
        status: HTTP status code.
        code: Stable machine-readable code, e.g. `order_not_found`.
        message: Human-readable explanation (no personal data).
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_error(status: int, code: str, message: str) -> HTTPResponse:
    """The one shape of every error response: `{"error": {"code", "message"}}`."""
    return json({"error": {"code": code, "message": message}}, status=status)


_SANIC_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def install_json_errors(app: Sanic) -> None:
    """Makes every error of `app` a JSON error without request data or traceback."""

    @app.exception(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> HTTPResponse:
        return json_error(exc.status, exc.code, exc.message)

    @app.exception(SanicException)
    async def _sanic_error(request: Request, exc: SanicException) -> HTTPResponse:
        status = int(getattr(exc, "status_code", 500) or 500)
        code = _SANIC_CODES.get(status, "error")
        message = {
            404: "no such resource",
            405: "method not allowed",
            413: "request body too large",
        }.get(status, code.replace("_", " "))
        return json_error(status, code, message)

    @app.exception(Exception)
    async def _unexpected(request: Request, exc: Exception) -> HTTPResponse:
        logger.exception("unexpected error on %s %s", request.method, request.path)
        return json_error(500, "internal_error", "internal error; it has been logged")


def require_bearer_token(
    app: Sanic,
    token: str,
    *,
    open_paths: Iterable[str] = ("/health",),
    open_prefixes: Iterable[str] = (),
) -> None:
    """Rejects requests without `Authorization: Bearer <token>` (401), except `open_paths`
    and paths under `open_prefixes` (whose routes check a credential of their own)."""
    expected = f"Bearer {token}".encode()
    exempt = frozenset(open_paths)
    exempt_prefixes = tuple(open_prefixes)

    @app.middleware("request")
    async def _check_token(request: Request) -> HTTPResponse | None:
        if request.path in exempt or request.path.startswith(exempt_prefixes):
            return None
        given = (request.headers.get("authorization") or "").encode()
        if not hmac.compare_digest(given, expected):
            return json_error(401, "unauthorized", "a valid bearer token is required")
        return None


def json_body(request: Request) -> dict[str, Any]:
    """Returns the request's JSON object body.

    Raises:
        ApiError: 400 when the body is not JSON, 422 when it is not an object.
    """
    try:
        body = request.json
    except Exception:  # Sanic raises InvalidUsage; any decoding problem is the client's
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_body", "the body must be a JSON object")
    return body


async def run_blocking(function: Callable[..., T], *args: Any) -> T:
    """Runs blocking work (database access) in a worker thread, off the event loop."""
    return await asyncio.to_thread(function, *args)
