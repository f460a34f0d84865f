"""Rasa's REST webhook, open, guarded by a token, or off.

Rasa's own REST channel (`/webhooks/rest/webhook`) answers anyone and lets the caller
choose the conversation id, which is fine for a local stack and its tests but not for
a deployment, where only the shop's own backend may call it. This is that channel, with
its URL and JSON unchanged, and one setting (credentials.yml, `mode` from REST_WEBHOOK):

* ``open``: as Rasa's (the embedded default: `make up`, the acceptance runner);
* ``token``: every request must carry ``Authorization: Bearer <token>`` (REST_WEBHOOK_TOKEN,
  at least 32 characters), else 401 (production mode's default);
* ``off``: every request gets 404, as if the channel were not there.

In every mode a body Rasa's channel would crash on (not an object, no string `message`,
a `sender` with control characters) gets 400 instead.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from service_common.channels import REST_CHANNEL

RestMode = Literal["open", "token", "off"]
REST_MODES: tuple[RestMode, ...] = ("open", "token", "off")
MIN_TOKEN_CHARS = 32


class RestConfigError(RasaException):
    """The REST channel's settings are missing or malformed; the message names them."""


def check_settings(mode: str, token: str) -> RestMode:
    """The mode, checked with its token.

    Raises:
        RestConfigError: An unknown mode, or ``token`` mode without a token long enough.
    """
    if mode not in REST_MODES:
        raise RestConfigError(f"REST_WEBHOOK must be one of {', '.join(REST_MODES)}, not {mode!r}")
    if mode == "token" and len(token) < MIN_TOKEN_CHARS:
        raise RestConfigError(
            f"REST_WEBHOOK=token needs REST_WEBHOOK_TOKEN of at least {MIN_TOKEN_CHARS} characters"
        )
    return mode


MAX_SENDER_CHARS = 128
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def malformed(body: Any) -> str | None:
    """What is wrong with a webhook body (Rasa's REST channel would crash on it), or None.

    The body must be an object with a `sender` of 1 to 128 characters without control
    characters, a `message` that is a string, and `metadata`, if any, an object.
    """
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    sender = body.get("sender")
    if (
        not isinstance(sender, str)
        or not 1 <= len(sender) <= MAX_SENDER_CHARS
        or _CONTROL_CHARACTERS.search(sender)
        or not _is_utf8(sender)
    ):
        return f"sender must be 1 to {MAX_SENDER_CHARS} characters without control characters"
    if not isinstance(body.get("message"), str):
        return "message must be a string"
    if not isinstance(body.get("metadata", {}), dict):
        return "metadata must be an object"
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON can carry
        return False
    return True


def refusal(mode: RestMode, token: str, authorization: str | None) -> tuple[int, str] | None:
    """Why a request is refused (HTTP status, error code), or None when it may pass."""
    if mode == "off":
        return 404, "rest_webhook_off"
    if mode == "open":
        return None
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return 401, "unauthorized"
    return None


class GuardedRestInput(RestInput):
    """Rasa's REST channel (same name, URL and JSON) behind the mode's guard.

    Args:
        mode: ``open``, ``token`` or ``off``.
        token: The bearer token of ``token`` mode (never shown by ``repr``).
    """

    @classmethod
    def name(cls) -> str:
        return REST_CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """The channel from its credentials.yml section: ``mode`` and ``token``.

        Raises:
            RestConfigError: The mode is unknown, or token mode has no usable token.
        """
        credentials = credentials or {}
        return cls(str(credentials.get("mode") or "open"), str(credentials.get("token") or ""))

    def __init__(self, mode: str, token: str) -> None:
        self.mode = check_settings(mode, token)
        self._token = token

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode!r})"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's REST routes, each behind the guard."""
        blueprint = super().blueprint(on_new_message)

        async def _guard(request: Request) -> HTTPResponse | None:
            refused = refusal(self.mode, self._token, request.headers.get("Authorization"))
            if refused is not None:
                status, code = refused
                return response.json({"error": code}, status=status)
            if request.method == "POST":
                try:
                    problem = malformed(request.json)
                except InvalidUsage:
                    problem = "the body must be JSON"
                if problem is not None:
                    return response.json({"error": "invalid_message", "message": problem}, status=400)
            return None

        blueprint.middleware(_guard, "request")
        return blueprint
