"""The Rasa input and output channel of the WeChat Official Account.

Routes, under `/webhooks/wechat/`: `GET /` (health), `GET /webhook` (URL verification)
and `POST /webhook` (message push). The protocol details are in `protocol.py`, the
one-turn-per-push bookkeeping in `delivery.py`, the customer-service API in `api.py`.

What the channel remembers between two pushes (the signed queries seen in plain mode,
pictures waiting for their text, the numbered options shown, whether the bot's last turn
asked for a complaint's details, which process took a push) is in the channels' shared
state (`channels.common.shared_state`): this process's memory by default, Redis with
`CHANNEL_STATE_REDIS_URL`, so that any Rasa process can serve any push of any shopper.
What the bot decided comes with its messages (`service_common.channel_metadata`): the
channel reads no tracker for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy.crypto import WeChatCrypto

from channels.common.channel_texts import ChannelTexts
from channels.common.numbered_text_output import NumberedTextOutput, choose_button, render_buttons
from channels.common.request_body import read_limited_body
from channels.common.shared_state import SharedState
from channels.common.tencent_push import (
    MAX_CLOCK_SKEW_S,
    MalformedMessage,
    is_fresh,
    parse_xml_fields,
    signature_matches,
    signature_of,
)
from channels.wechat.api import CustomerServiceApi, WeChatApiError
from channels.wechat.delivery import DEDUPE_TTL_S, DeliveryBook
from channels.wechat.protocol import (
    BOT_UNAVAILABLE_ANSWER,
    BUTTONS_PROMPT,
    IMAGE_ANSWER,
    IMAGE_EVIDENCE_ANSWER,
    TEXT_NAMES,
    Inbound,
    conversation_id_for,
    decrypt_push,
    dedupe_key,
    encrypt_reply,
    interpret,
    message_id_for,
    parse_wechat_message,
    render_text_reply,
    split_into_messages,
)
from channels.wechat.settings import WeChatConfigError, WeChatSettings
from service_common.channel_metadata import ChannelMetadata, EvidenceFor
from service_common.channels import WECHAT_CHANNEL

logger = logging.getLogger(__name__)

CHANNEL_NAME = WECHAT_CHANNEL
MAX_BODY_BYTES = 64 * 1024
MAX_ECHOSTR_CHARS = 128
# Images wait this long for the shopper's next message, at most this many per shopper.
ATTACHMENT_TTL_S = 3600.0
MAX_ATTACHMENTS = 9
# Options shown in a turn can be picked by number until this long after.
BUTTONS_TTL_S = 3600.0
# The channel's maps in the shared state.
SIGNED_BODIES_NAMESPACE = "wechat:signed_bodies"
ATTACHMENTS_NAMESPACE = "wechat:attachments"
BUTTONS_NAMESPACE = "wechat:buttons"
EVIDENCE_NAMESPACE = "wechat:evidence_for"
PUSHES_NAMESPACE = "wechat:pushes"

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class PushRefused(Exception):
    """A push is not authentic (signature, freshness, or a signed query replayed)."""


class WeChatOutput(NumberedTextOutput):
    """Collects one WeChat turn's answers as texts; options become numbered lines.

    Attributes:
        evidence_for: What pictures sent after the turn are evidence for, when one of its
            messages says so in its channel metadata (a complaint question); else None.
    """

    def __init__(self, buttons_prompt: str) -> None:
        super().__init__(buttons_prompt)
        self.evidence_for: EvidenceFor | None = None

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.evidence_for = ChannelMetadata.of(message).evidence_for or self.evidence_for
        await super().send_response(recipient_id, message)


class WeChatRelayError(Exception):
    """A message written outside a bot turn (an agent's reply) cannot be delivered."""


class WeChatRelayOutput(OutputChannel):
    """Delivers messages written outside a bot turn through the customer-service API.

    Rasa uses it for events appended with `output_channel=latest` and
    `execute_side_effects=true`: the agent workspace's replies. The recipient is a
    conversation id, a digest of the openid; the openid is read back from the
    conversation's tracker (the metadata of the shopper's latest WeChat message).
    Errors propagate, so the caller learns the shopper did not get the message.
    """

    def __init__(
        self,
        api: CustomerServiceApi | None,
        find_openid: Callable[[str], Awaitable[str | None]],
        buttons_prompt: str,
        remember_buttons: Callable[[str, list[str]], Awaitable[None]],
    ) -> None:
        self._api = api
        self._find_openid = find_openid
        self._buttons_prompt = buttons_prompt
        self._remember_buttons = remember_buttons

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        if self._api is None:
            raise WeChatRelayError("customer-service delivery is disabled (api_base: disabled)")
        openid = await self._find_openid(recipient_id)
        if openid is None:
            raise WeChatRelayError("no WeChat shopper is known for this conversation")
        for message in split_into_messages([text]):
            await self._api.send_text(openid, message)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Numbered options, as in a bot turn; the shopper's digit picks one."""
        rendered, payloads = render_buttons(text, buttons, self._buttons_prompt)
        await self.send_text_message(recipient_id, rendered)
        if payloads:
            await self._remember_buttons(recipient_id, payloads)


@dataclass(frozen=True)
class _Push:
    """A verified, decrypted push: its fields, its XML, and the crypto that opened it."""

    fields: dict[str, str]
    xml: str
    crypto: WeChatCrypto | None


class WeChatInput(InputChannel):
    """The Official Account channel: `channels.wechat.WeChatInput` in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """The channel from its section of credentials.yml, and the shared state from the
        environment (`CHANNEL_STATE_REDIS_URL`, `CHANNEL_STATE_KEY_PREFIX`).

        Raises:
            RasaException: The section is missing.
            WeChatConfigError: A setting is missing or malformed; the message names it.
        """
        if not credentials:
            return cls.raise_missing_credentials_exception()
        settings = WeChatSettings.from_credentials(credentials)
        try:
            shared_state = SharedState.from_env()
        except ValueError as error:
            raise WeChatConfigError(f"WeChat channel: {error}") from None
        return cls(settings, ChannelTexts.load(TEXT_NAMES), shared_state=shared_state)

    def __init__(
        self,
        settings: WeChatSettings,
        texts: ChannelTexts,
        clock: Callable[[], float] = time.time,
        shared_state: SharedState | None = None,
    ) -> None:
        """Creates the channel.

        Args:
            settings: The validated settings.
            texts: The channel's own texts (`protocol.TEXT_NAMES`).
            clock: Unix seconds, for the freshness of pushes and reply timestamps.
            shared_state: Where the channel keeps what every Rasa process must see
                (default: this process's memory, right for one process).
        """
        self.settings = settings
        self.texts = texts
        self._clock = clock
        self.shared_state = shared_state if shared_state is not None else SharedState()
        state = self.shared_state
        self._cryptos = [
            WeChatCrypto(settings.token, key, settings.app_id)
            for key in (settings.aes_key, settings.previous_aes_key)
            if key
        ]
        self.api = (
            CustomerServiceApi(settings.api_base, settings.app_id, settings.app_secret)
            if settings.delivery_enabled
            else None
        )
        # The first copy of a push claims it in the channel state (delivery.py): in Redis
        # any process sees the claim, in SQLite a restarted one does; in memory only the
        # book itself keeps a push to one turn.
        self.deliveries = DeliveryBook(
            claims=state.map(PUSHES_NAMESPACE, DEDUPE_TTL_S) if state.durable else None
        )
        # Plain mode signs the query, not the body: a signed query seen with one body is
        # refused with another, so a captured URL cannot carry a forged message.
        self._signed_bodies = state.map(SIGNED_BODIES_NAMESPACE, MAX_CLOCK_SKEW_S * 2)
        # Conversation id -> the pictures waiting for the shopper's next message.
        self._attachments = state.map(ATTACHMENTS_NAMESPACE, ATTACHMENT_TTL_S)
        # Conversation id -> the payloads of the numbered options shown last.
        self._buttons = state.map(BUTTONS_NAMESPACE, BUTTONS_TTL_S)
        # Conversation id -> what pictures are evidence for, while the bot's last turn
        # asked for it (a complaint's details); as long as pictures wait for their text.
        self._evidence_for = state.map(EVIDENCE_NAMESPACE, ATTACHMENT_TTL_S)
        self._background: set[asyncio.Task[None]] = set()
        self._app: Any = None
        if self.api is None:
            logger.warning(
                "wechat: customer-service delivery is disabled (api_base: disabled): an answer "
                "slower than the %.1f s reply window is dropped",
                settings.reply_window_s,
            )

    def get_output_channel(self) -> OutputChannel | None:
        """Where Rasa sends messages written outside a bot turn (an agent's reply)."""
        return WeChatRelayOutput(self.api, self._openid_of, self.texts(BUTTONS_PROMPT), self._buttons.put)

    async def _openid_of(self, conversation: str) -> str | None:
        """The openid of a conversation's shopper, from its tracker."""
        store = getattr(getattr(self._app, "ctx", None), "agent", None)
        store = getattr(store, "tracker_store", None)
        tracker = await store.retrieve(conversation) if store is not None else None
        if tracker is None:
            return None
        for event in reversed(tracker.events):
            if getattr(event, "input_channel", None) != CHANNEL_NAME:
                continue
            account = (getattr(event, "metadata", None) or {}).get("account") or {}
            if account.get("channel") == CHANNEL_NAME and account.get("account_id"):
                return str(account["account_id"])
        return None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The routes: `GET /` (health), `GET /webhook` (URL verification), `POST /webhook`."""
        bp = Blueprint(f"wechat_webhook_{id(self)}", __name__)

        @bp.listener("before_server_start")
        async def keep_app(app: Any, *_: Any) -> None:
            self._app = app  # its agent's tracker store finds a conversation's openid

        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def verify(request: Request) -> HTTPResponse:
            if not self._query_is_authentic(request.args):
                return response.text("invalid signature", status=403)
            echostr = request.args.get("echostr") or ""
            if not echostr or len(echostr) > MAX_ECHOSTR_CHARS:
                return response.text("missing or malformed echostr", status=400)
            return response.text(echostr)

        async def receive(request: Request) -> HTTPResponse:
            started = time.monotonic()
            if not self._query_is_authentic(request.args):
                return response.text("invalid signature", status=403)
            body = await read_limited_body(request, MAX_BODY_BYTES)
            if body is None:
                return response.text("message too large", status=413)
            try:
                push = await self._open(request.args, body)
                message = parse_wechat_message(push.xml)
            except PushRefused as error:
                logger.info("wechat: push refused (%s)", error)
                return response.text("invalid signature", status=403)
            except MalformedMessage as error:
                logger.info("wechat: malformed push refused (%s)", error)
                return response.text("malformed message", status=400)
            inbound = interpret(message, push.fields["MsgType"])
            if inbound.kind == "ignore":
                return response.text("success")
            key = dedupe_key(push.fields)
            delivery, first = self.deliveries.get_or_start(
                key,
                lambda: self._turn(inbound, key, on_new_message),
                lambda texts: self._push_later(inbound.openid, texts),
            )
            if not first:
                logger.info("wechat: a repeated push joined turn %s", message_id_for(key))
            texts = await delivery.passive_answer(self.settings.reply_window_s - (time.monotonic() - started))
            if delivery.mode == "elsewhere":
                logger.info("wechat: turn %s is another process's; answered success", message_id_for(key))
            if not texts:
                return response.text("success")
            return self._passive_reply(texts, push)

        bp.add_route(health, "/", methods=["GET"])
        bp.add_route(verify, "/webhook", methods=["GET"])
        bp.add_route(receive, "/webhook", methods=["POST"], stream=True)

        @bp.listener("after_server_stop")
        async def close_clients(*_: Any) -> None:
            if self.api is not None:
                self.api.close()
            if self.shared_state.shared:
                await self.shared_state.client().close()

        return bp

    # -- verification and decryption

    def _query_is_authentic(self, args: Mapping[str, Any]) -> bool:
        timestamp, nonce = _arg(args, "timestamp"), _arg(args, "nonce")
        if not is_fresh(timestamp, self._clock()):
            logger.info("wechat: request refused: missing or stale timestamp")
            return False
        expected = signature_of(self.settings.token, timestamp, nonce)
        if not signature_matches(expected, _arg(args, "signature")):
            logger.info("wechat: request refused: wrong signature")
            return False
        return True

    async def _open(self, args: Mapping[str, Any], body: bytes) -> _Push:
        """Checks and decrypts the body of a push whose query is authentic.

        Raises:
            PushRefused: The body does not belong to the signed query.
            MalformedMessage: The body is not a WeChat message for this account.
        """
        outer = parse_xml_fields(body)
        timestamp, nonce = _arg(args, "timestamp"), _arg(args, "nonce")
        crypto: WeChatCrypto | None = None
        if _arg(args, "encrypt_type").lower() == "aes":
            encrypted, msg_signature = outer.get("Encrypt", ""), _arg(args, "msg_signature")
            if not encrypted:
                raise MalformedMessage("secure mode without <Encrypt>")
            expected = signature_of(self.settings.token, timestamp, nonce, encrypted)
            if not signature_matches(expected, msg_signature):
                raise PushRefused("wrong msg_signature")
            xml, crypto = decrypt_push(self._cryptos, encrypted, msg_signature, timestamp, nonce)
            fields = parse_xml_fields(xml)
        else:
            signature, digest = _arg(args, "signature"), hashlib.sha256(body).hexdigest()
            if await self._signed_bodies.claim(signature):
                await self._signed_bodies.put(signature, digest)
            elif await self._signed_bodies.get(signature) != digest:
                # Seen before, by any process, with another body (or an instant ago and
                # its body not stored yet: WeChat will send it again).
                raise PushRefused("a signed query replayed with another body")
            fields = outer
            try:
                xml = body.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedMessage("not UTF-8") from None
        if not fields.get("FromUserName") or not fields.get("MsgType"):
            raise MalformedMessage("no FromUserName or MsgType")
        query_openid = _arg(args, "openid")
        if query_openid and query_openid != fields["FromUserName"]:
            raise PushRefused("the openid of the query is not the sender")
        return _Push(fields, xml, crypto)

    # -- the turn and its answer

    async def _turn(self, inbound: Inbound, key: str, on_new_message: OnNewMessage) -> list[str]:
        """Runs the push's one bot turn, or gives the channel's own answer; never raises."""
        conversation = conversation_id_for(inbound.openid, self.settings.token)
        if inbound.kind == "answer":
            return [self.texts(inbound.text)]
        if inbound.kind == "image":
            return [await self._keep_image(conversation, inbound.attachment)]
        text = inbound.text
        if inbound.details.get("msg_type") == "text":
            text = choose_button(text, await self._buttons.get(conversation) or []) or text
        attachments: list[dict[str, str | None]] = await self._attachments.pop(conversation) or []
        output = WeChatOutput(self.texts(BUTTONS_PROMPT))
        message = UserMessage(
            text=text,
            output_channel=output,
            sender_id=conversation,
            input_channel=CHANNEL_NAME,
            message_id=message_id_for(key),
            # What bot/actions/conversation.py's trusted_account() reads.
            metadata={
                "account": {"channel": CHANNEL_NAME, "account_id": inbound.openid},
                "wechat": dict(inbound.details),
                # Channel-neutral, for complaint evidence (bot/actions/complaints.py).
                "attachments": attachments,
            },
        )
        try:
            await on_new_message(message)
        except Exception as error:
            logger.error("wechat: the bot failed on message %s (%s)", message.message_id,
                         type(error).__name__)
            if attachments:  # kept for the next message, before any picture sent since
                kept = await self._attachments.get(conversation) or []
                await self._attachments.put(conversation, [*attachments, *kept][-MAX_ATTACHMENTS:])
            return [self.texts(BOT_UNAVAILABLE_ANSWER)]
        if output.button_payloads:
            await self._buttons.put(conversation, output.button_payloads)
        else:
            await self._buttons.pop(conversation)
        if output.evidence_for:
            await self._evidence_for.put(conversation, output.evidence_for)
        else:
            await self._evidence_for.pop(conversation)
        return self._fit_one_reply(inbound.openid, split_into_messages(output.texts))

    def _fit_one_reply(self, openid: str, messages: list[str]) -> list[str]:
        """The answer as one passive reply; a longer one goes out as several messages.

        A passive reply holds one message, so an answer of several goes through the
        customer-service API, in order, and the push is answered `success`.
        """
        if len(messages) <= 1:
            return messages
        if self.api is not None:
            self._push_later(openid, messages)
            return []
        logger.warning("wechat: an answer of %d messages was cut to the first (delivery disabled)",
                       len(messages))
        return messages[:1]

    async def _keep_image(self, conversation: str, attachment: dict[str, str | None]) -> str:
        """Keeps an image for the shopper's next message; evidence while the bot's last
        turn asked for a complaint's details."""
        evidence_for = await self._evidence_for.get(conversation)
        evidence = isinstance(evidence_for, str)
        if evidence:
            attachment = {**attachment, "evidence_for": evidence_for}
        # Read, then written: two pictures of one shopper at the same instant on two
        # processes may keep only one of them.
        kept = await self._attachments.get(conversation) or []
        await self._attachments.put(conversation, [*kept, attachment][-MAX_ATTACHMENTS:])
        return self.texts(IMAGE_EVIDENCE_ANSWER if evidence else IMAGE_ANSWER)

    def _passive_reply(self, texts: list[str], push: _Push) -> HTTPResponse:
        now = int(self._clock())
        fields = push.fields
        xml = render_text_reply("\n\n".join(texts), fields["FromUserName"], fields.get("ToUserName", ""), now)
        if push.crypto is not None:
            xml = encrypt_reply(push.crypto, xml, secrets.token_hex(8), now)
        return response.text(xml, content_type="application/xml; charset=utf-8")

    def _push_later(self, openid: str, texts: list[str]) -> None:
        """Sends a late answer through the customer-service API, in the background."""
        if not texts:
            return
        if self.api is None:
            logger.error(
                "wechat: the bot answered after the reply window and customer-service delivery is "
                "disabled: %d message(s) dropped",
                len(texts),
            )
            return
        task = asyncio.ensure_future(self._deliver(self.api, openid, texts))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    async def _deliver(api: CustomerServiceApi, openid: str, texts: list[str]) -> None:
        for number, text in enumerate(texts, 1):
            try:
                await api.send_text(openid, text)
            except WeChatApiError as error:
                logger.error("wechat: customer-service message %d of %d not delivered (%s)",
                             number, len(texts), error)
                return


def _arg(args: Mapping[str, Any], name: str) -> str:
    """A query parameter's first value, or ''."""
    value = args.get(name)
    return str(value) if value else ""
