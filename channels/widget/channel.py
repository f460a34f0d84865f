"""The Rasa input and output channel of the web chat widget.

Routes, under `/webhooks/widget/`: `GET /` (health), `GET /widget.js` (the built widget),
`GET /demo` (the demo shop page, only with `demo_page: true`), and the socket.io server
at `/webhooks/widget/socket.io/`.

Unlike Rasa's `socketio` channel, the browser never names the conversation: the server
picks it at connect and binds it into a session token only the server can sign, so
knowing a conversation id gives no way into it. Every socket of a conversation is in a
socket.io room named by the conversation id; the bot's answers go to that room.

Several Rasa processes (Sanic workers, replicas) can serve the widget: the duplicate
filter is in the channels' shared state (`channels.common.shared_state`: this process's
memory by default, Redis with `CHANNEL_STATE_REDIS_URL`), and with Redis the socket.io
server shares its rooms through Redis pub/sub (`socketio.AsyncRedisManager`), so an answer
emitted by one process reaches the conversation's sockets connected to any other. A
socket itself lives on the process it connected to: its long-polling requests must reach
that process (sticky sessions) or it must use the websocket transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer
from socketio.exceptions import ConnectionRefusedError as SocketRefused

from channels.common.channel_texts import ChannelTexts
from channels.common.shared_state import REDIS_TIMEOUT_S, SharedState
from channels.widget.pages import (
    BUNDLE_MISSING,
    DEMO_TEMPLATE,
    WIDGET_BUNDLE,
    bundle_headers,
    demo_page_headers,
    demo_page_html,
    request_origin,
)
from channels.widget.protocol import (
    MAX_MESSAGE_CHARS,
    ErrorCode,
    MalformedEvent,
    ShopperMessage,
    dedupe_key,
    message_id_for,
    parse_user_uttered,
    render_bot_message,
)
from channels.widget.settings import WidgetConfigError, WidgetSettings
from channels.widget.tokens import (
    ACCOUNT_ID_PATTERN,
    ConnectRefused,
    WidgetSession,
    issue_session_token,
    resolve_session,
    session_key,
    sign_shopper_token,
)
from service_common.channels import WIDGET_CHANNEL

logger = logging.getLogger(__name__)

CHANNEL_NAME = WIDGET_CHANNEL
# The order system's account kind of the shop's web accounts (a shopper token's `sub`).
ACCOUNT_KIND = "web"
SOCKETIO_PATH = "/webhooks/widget/socket.io"
# The largest socket.io packet either transport accepts: a message of 1000 characters
# is a few KiB; anything far larger is refused by the transport and the socket closed.
MAX_PACKET_BYTES = 64 * 1024
# A widget resends an unacknowledged message after a reconnect, within seconds.
DEDUPE_TTL_S = 600.0
MAX_DEDUPE_ENTRIES = 10_000
# The channel's map in the shared state, and its socket.io pub/sub channel in Redis.
SEEN_NAMESPACE = "widget:seen"
SOCKETIO_NAMESPACE = "widget:socketio"
DEMO_TOKEN_TTL_S = 1800

TEXT_NAMES = {
    "invalid_token": "utter_channel_widget_invalid_token",
    "login_expired": "utter_channel_widget_login_expired",
    "session_expired": "utter_channel_widget_session_expired",
    "origin_not_allowed": "utter_channel_widget_origin_not_allowed",
    "malformed": "utter_channel_widget_malformed",
    "message_too_long": "utter_channel_widget_message_too_long",
    "bot_unavailable": "utter_channel_bot_unavailable",
    "demo_bad_account": "utter_channel_widget_demo_bad_account",
}

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class WidgetOutput(OutputChannel):
    """Emits each bot message as one `bot_uttered` event to the conversation's sockets.

    The recipient id is the conversation id, which is also the socket.io room of every
    socket connected to that conversation.
    """

    def __init__(self, sio: AsyncServer) -> None:
        self.sio = sio

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        payload = render_bot_message(message)
        if payload is not None:
            await self.sio.emit("bot_uttered", payload, to=recipient_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})


class WidgetInput(InputChannel):
    """The web chat widget: `channels.widget.WidgetInput` in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """The channel from its section of credentials.yml, and the shared state from the
        environment (`CHANNEL_STATE_REDIS_URL`, `CHANNEL_STATE_KEY_PREFIX`).

        Raises:
            RasaException: The section is missing.
            WidgetConfigError: A setting is missing or malformed; the message names it.
            ChannelTextsError: domain.yml lacks one of the channel's texts.
        """
        if not credentials:
            return cls.raise_missing_credentials_exception()
        settings = WidgetSettings.from_credentials(credentials)
        try:
            shared_state = SharedState.from_env()
        except ValueError as error:
            raise WidgetConfigError(f"Web widget: {error}") from None
        return cls(settings, shared_state=shared_state)

    def __init__(
        self,
        settings: WidgetSettings,
        clock: Callable[[], float] = time.time,
        shared_state: SharedState | None = None,
    ) -> None:
        """Creates the channel.

        Args:
            settings: The validated settings.
            clock: Unix seconds, for token expiry.
            shared_state: Where the channel keeps what every Rasa process must see
                (default: this process's memory, right for one process).

        Raises:
            ChannelTextsError: domain.yml lacks one of the channel's texts.
            OSError: `demo_page` is on and the page template cannot be read.
        """
        self.settings = settings
        self._clock = clock
        self._session_key = session_key(settings.secret)
        self.texts = ChannelTexts.load(required=TEXT_NAMES.values())
        self._demo_template = DEMO_TEMPLATE.read_text(encoding="utf-8") if settings.demo_page else None
        self.shared_state = shared_state if shared_state is not None else SharedState()
        self.sio: AsyncServer | None = None
        # The messages taken, by any process: a widget resends after a reconnect, which
        # may reach another process.
        self._seen = self.shared_state.map(SEEN_NAMESPACE, DEDUPE_TTL_S, MAX_DEDUPE_ENTRIES)
        # Per process: `bot_typing` follows this process's turns of a conversation.
        self._turns_in_flight: dict[str, int] = {}
        if not WIDGET_BUNDLE.is_file():
            logger.warning("widget: %s", BUNDLE_MISSING)

    def get_output_channel(self) -> OutputChannel | None:
        """The output channel for messages Rasa sends on its own (e.g. `trigger_intent`)."""
        return WidgetOutput(self.sio) if self.sio is not None else None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The HTTP routes, and the socket.io server attached to the app at SOCKETIO_PATH."""
        sio = AsyncServer(
            async_mode="sanic",
            client_manager=self._client_manager(),
            # The Origin is checked at connect (see `_connect`), so that a refused page gets
            # the reason; nothing is readable before that, and no cookies are used.
            cors_allowed_origins=lambda origin, environ: True,
            cors_credentials=False,
            max_http_buffer_size=MAX_PACKET_BYTES,
        )
        self.sio = sio
        bp = SocketBlueprint(sio, SOCKETIO_PATH, f"widget_webhook_{id(self)}", __name__)

        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def bundle(request: Request) -> HTTPResponse:
            if not WIDGET_BUNDLE.is_file():
                return response.text(BUNDLE_MISSING, status=503)
            return await response.file(
                WIDGET_BUNDLE, mime_type="application/javascript; charset=utf-8", headers=bundle_headers()
            )

        async def demo(request: Request) -> HTTPResponse:
            return self._demo_page(request)

        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            await self._connect(sid, environ, auth)

        async def user_uttered(sid: str, *args: Any) -> None:
            await self._user_uttered(sid, args, on_new_message)

        bp.add_route(health, "/", methods=["GET"])
        bp.add_route(bundle, "/widget.js", methods=["GET"])
        bp.add_route(demo, "/demo", methods=["GET"])
        sio.on("connect", connect)
        sio.on("user_uttered", user_uttered)
        # Rasa's `session_request` (a browser-chosen `session_id`) has no handler: ignored.

        @bp.listener("after_server_stop")
        async def close_clients(*_: Any) -> None:
            await _stop_pubsub(sio)
            if self.shared_state.shared:
                await self.shared_state.client().close()

        return bp

    def _client_manager(self) -> AsyncRedisManager | None:
        """With Redis, the socket.io rooms shared by every process; else this process's own."""
        state = self.shared_state
        if state.redis_url is None:
            return None
        # No read timeout: the subscriber's connection waits for messages indefinitely.
        return AsyncRedisManager(
            state.redis_url,
            channel=f"{state.key_prefix}:{SOCKETIO_NAMESPACE}",
            redis_options={"socket_connect_timeout": REDIS_TIMEOUT_S},
        )

    # -- connect

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        """Accepts a socket for the conversation its tokens allow, or refuses it.

        Raises:
            SocketRefused: The page's origin is not allowed, or a token is forged,
                malformed or expired; the client receives the code and a Chinese text.
        """
        assert self.sio is not None
        origin = environ.get("HTTP_ORIGIN")
        if isinstance(origin, str) and not self.settings.origin_allowed(origin):
            logger.info("widget: connection refused: origin %r is not allowed", origin[:100])
            raise self._refusal("origin_not_allowed", self.texts(TEXT_NAMES["origin_not_allowed"]))
        now = self._clock()
        try:
            session = resolve_session(auth, self.settings.secret, self._session_key, now)
        except ConnectRefused as refused:
            error = refused.error
            logger.info("widget: connection refused: %s (%s)", error.code, refused)
            if error.code == "invalid_token":
                text = "invalid_token"
            else:
                text = "login_expired" if error.login else "session_expired"
            raise self._refusal(error.code, self.texts(TEXT_NAMES[text]), token=refused.token) from None
        await self.sio.save_session(sid, {"session": session})
        await self.sio.enter_room(sid, session.conversation_id)
        logger.info(
            "widget: %s connected to %s (%s)",
            sid,
            session.conversation_id,
            f"account {_masked(session.account_id)}" if session.account_id else "anonymous",
        )
        await self.sio.emit(
            "session_confirm",
            {
                "session_token": issue_session_token(self._session_key, session, now),
                "conversation_id": session.conversation_id,
                "logged_in": session.logged_in,
                "display_name": session.display_name,
            },
            to=sid,
        )

    @staticmethod
    def _refusal(code: str, text: str, **extra: str) -> SocketRefused:
        """A refused connect: the client's `connect_error` gets `message` and `data`."""
        return SocketRefused(text, {"code": code, "message": text, **extra})

    # -- messages

    async def _user_uttered(self, sid: str, args: tuple[Any, ...], on_new_message: OnNewMessage) -> None:
        """Runs one bot turn per shopper message; answers a wrong event with `widget_error`."""
        assert self.sio is not None
        session = (await self.sio.get_session(sid)).get("session")
        if not isinstance(session, WidgetSession):
            return
        try:
            message = parse_user_uttered(args)
        except MalformedEvent as error:
            logger.info("widget: %s: event refused: %s (%s)", session.conversation_id, error.code, error)
            await self._error(sid, error.code)
            return
        if session.login_expired(self._clock()):
            await self._error(sid, "expired_token")
            await self.sio.disconnect(sid)
            return
        key = dedupe_key(session.conversation_id, message.client_message_id)
        message_id = message_id_for(session.conversation_id, message.client_message_id)
        if not await self._seen.claim(key):  # atomic across processes: one turn per message
            logger.info("widget: %s: duplicate of message %s ignored", session.conversation_id, message_id)
            return
        await self._turn(sid, session, message, message_id, on_new_message)

    async def _turn(
        self,
        sid: str,
        session: WidgetSession,
        message: ShopperMessage,
        message_id: str,
        on_new_message: OnNewMessage,
    ) -> None:
        assert self.sio is not None
        conversation = session.conversation_id
        metadata = (
            # What bot/actions/conversation.py's trusted_account() reads.
            {"account": {"channel": ACCOUNT_KIND, "account_id": session.account_id}}
            if session.account_id
            else None
        )
        user_message = UserMessage(
            text=message.text,
            output_channel=WidgetOutput(self.sio),
            sender_id=conversation,
            input_channel=CHANNEL_NAME,
            message_id=message_id,
            metadata=metadata,
        )
        await self._typing(conversation, started=True)
        try:
            await on_new_message(user_message)
        except Exception as error:
            logger.error("widget: %s: the bot failed on message %s (%s)", conversation, message_id,
                         type(error).__name__)
            # A resend may try again, on any process.
            await self._seen.pop(dedupe_key(conversation, message.client_message_id))
            await self._error(sid, "bot_unavailable")
        finally:
            await self._typing(conversation, started=False)

    async def _typing(self, conversation: str, *, started: bool) -> None:
        """`bot_typing` true when the conversation's first turn in flight starts, false
        when its last one ends."""
        assert self.sio is not None
        before = self._turns_in_flight.get(conversation, 0)
        after = before + (1 if started else -1)
        if after > 0:
            self._turns_in_flight[conversation] = after
        else:
            self._turns_in_flight.pop(conversation, None)
        if (before == 0) != (after == 0):
            await self.sio.emit("bot_typing", {"typing": after > 0}, to=conversation)

    async def _error(self, sid: str, code: ErrorCode) -> None:
        assert self.sio is not None
        text_name = "login_expired" if code == "expired_token" else code
        text = self.texts(TEXT_NAMES[text_name], max_chars=MAX_MESSAGE_CHARS)
        await self.sio.emit("widget_error", {"code": code, "message": text}, to=sid)

    # -- the demo page

    def _demo_page(self, request: Request) -> HTTPResponse:
        """The demo shop page; `?as=<web account>` logs in as that account (demo only)."""
        if self._demo_template is None:
            return response.text("not found", status=404)
        origin = request_origin(request.scheme, request.host)
        if origin is None:
            return response.text("bad Host header", status=400)
        account = request.args.get("as")
        token = None
        if account is not None:
            if not ACCOUNT_ID_PATTERN.fullmatch(account):
                return response.text(self.texts(TEXT_NAMES["demo_bad_account"]), status=400)
            token = sign_shopper_token(self.settings.secret, account, self._clock(), DEMO_TOKEN_TTL_S)
        return response.html(
            demo_page_html(self._demo_template, origin, account, token), headers=demo_page_headers(origin)
        )


async def _stop_pubsub(sio: AsyncServer) -> None:
    """Stops the Redis subscriber task of a shared socket.io server (python-socketio keeps
    it in its manager's `thread` and never stops it itself) and closes its connections."""
    manager = sio.manager
    if not isinstance(manager, AsyncRedisManager):
        return
    listener = getattr(manager, "thread", None)
    if isinstance(listener, asyncio.Task) and not listener.done():
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    if manager.pubsub is not None:
        await manager.pubsub.reset()
    if manager.redis is not None:
        await manager.redis.close()


def _masked(account_id: str) -> str:
    """A short hash of an account id, for logs."""
    return hashlib.sha256(account_id.encode()).hexdigest()[:10]
