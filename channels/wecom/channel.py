"""The Rasa input channel of WeCom customer service (微信客服).

Routes, under `/webhooks/wecom/`: `GET /` (health), `GET /callback` (URL verification)
and `POST /callback` (the signed, encrypted `kf_msg_or_event` callback). A callback only
says that an account has news: it is answered `success` at once, and the news is pulled
in the background (`puller.py`). The protocol details are in `protocol.py`, the API
client in `api.py`. The options shown are kept in the channels' shared state
(`CHANNEL_STATE_REDIS_URL`: Redis for several Rasa processes, else memory).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy.enterprise.crypto import WeChatCrypto

from channels.common.channel_texts import ChannelTexts
from channels.common.request_body import read_limited_body
from channels.common.shared_state import SharedState
from channels.common.tencent_push import is_fresh, parse_xml_fields, signature_matches, signature_of
from channels.wecom.api import KfApi
from channels.wecom.durable_state import ChannelState
from channels.wecom.protocol import (
    KfCallback,
    MalformedMessage,
    decrypt_callback,
    decrypt_echostr,
    kf_callback,
)
from channels.wecom.puller import CHANNEL_NAME, KfPuller, OnNewMessage
from channels.wecom.settings import WeComConfigError, WeComSettings

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_ECHOSTR_CHARS = 1024
CHANNEL_TEXTS = (
    "utter_channel_wecom_image",
    "utter_channel_wecom_voice",
    "utter_channel_wecom_unsupported",
    "utter_channel_empty_text",
    "utter_channel_bot_unavailable",
    "utter_channel_pick_by_number",
)


class CallbackRefused(Exception):
    """A callback is not authentic (stale timestamp or wrong signature)."""


class WeComInput(InputChannel):
    """WeCom customer service: `channels.wecom.WeComInput` in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """The channel from its section of credentials.yml, and the shared state from the
        environment (`CHANNEL_STATE_REDIS_URL`, `CHANNEL_STATE_KEY_PREFIX`).

        Raises:
            RasaException: The section is missing.
            WeComConfigError: A setting is missing or malformed; the message names it.
            ChannelTextsError: A channel text is missing from domain.yml.
        """
        if not credentials:
            return cls.raise_missing_credentials_exception()
        settings = WeComSettings.from_credentials(credentials)
        try:
            shared_state = SharedState.from_env()
        except ValueError as error:
            raise WeComConfigError(f"WeCom channel: {error}") from None
        return cls(settings, shared_state=shared_state)

    def __init__(
        self,
        settings: WeComSettings,
        texts: ChannelTexts | None = None,
        clock: Callable[[], float] = time.time,
        shared_state: SharedState | None = None,
    ) -> None:
        """Creates the channel; the state database is opened when pulling is enabled.

        Args:
            settings: The validated settings.
            texts: The channel's own texts (default: read from domain.yml).
            clock: Unix seconds, for the freshness of callbacks.
            shared_state: Where the options shown are kept for every Rasa process
                (default: this process's memory).
        """
        self.settings = settings
        self.shared_state = shared_state if shared_state is not None else SharedState()
        self.texts = texts or ChannelTexts.load(required=CHANNEL_TEXTS)
        self._clock = clock
        self._crypto = WeChatCrypto(settings.token, settings.aes_key, settings.corp_id)
        self._app: Any = None
        self.puller: KfPuller | None = None
        if not settings.pull_enabled:
            logger.warning(
                "wecom: WECOM_API_BASE is `disabled`: callbacks are verified and answered, but NO "
                "message is pulled or answered. Set it to WeCom's API to serve customers."
            )

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The routes: `GET /` (health), `GET /callback` (URL verification), `POST /callback`."""
        bp = Blueprint(f"wecom_webhook_{id(self)}", __name__)
        if self.settings.pull_enabled:
            self.puller = self._make_puller(on_new_message)

        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "pull": self.puller is not None})

        async def verify(request: Request) -> HTTPResponse:
            echostr = _arg(request.args, "echostr")
            try:
                self._check_signature(request.args, echostr)
            except CallbackRefused as error:
                logger.info("wecom: URL verification refused (%s)", error)
                return response.text("invalid signature", status=403)
            if not echostr or len(echostr) > MAX_ECHOSTR_CHARS:
                return response.text("missing or malformed echostr", status=400)
            try:
                return response.text(decrypt_echostr(self._crypto, echostr))
            except MalformedMessage as error:
                logger.info("wecom: URL verification refused (%s)", error)
                return response.text("malformed echostr", status=400)

        async def receive(request: Request) -> HTTPResponse:
            body = await read_limited_body(request, MAX_BODY_BYTES)
            if body is None:
                return response.text("message too large", status=413)
            try:
                callback = self._open(request.args, body)
            except CallbackRefused as error:
                logger.info("wecom: callback refused (%s)", error)
                return response.text("invalid signature", status=403)
            except MalformedMessage as error:
                logger.info("wecom: malformed callback refused (%s)", error)
                return response.text("malformed message", status=400)
            if callback is None:
                return response.text("success")
            if self.puller is None:
                logger.warning("wecom: a kf_msg_or_event callback was not pulled: WECOM_API_BASE is disabled")
            else:
                self.puller.request(callback.open_kfid, callback.token)
            return response.text("success")

        bp.add_route(health, "/", methods=["GET"])
        bp.add_route(verify, "/callback", methods=["GET"])
        bp.add_route(receive, "/callback", methods=["POST"], stream=True)

        @bp.listener("after_server_start")
        async def catch_up(app: Any, _: Any) -> None:
            self._app = app
            if self.puller is not None:
                await self.puller.catch_up()

        @bp.listener("before_server_stop")
        async def stop_pulls(*_: Any) -> None:
            if self.puller is not None:
                await self.puller.close()
                if self.shared_state.shared:
                    await self.shared_state.client().close()

        return bp

    def _make_puller(self, on_new_message: OnNewMessage) -> KfPuller:
        settings = self.settings
        return KfPuller(
            KfApi(settings.api_base, settings.corp_id, settings.secret),
            ChannelState(settings.state_database_url, CHANNEL_NAME),
            self.texts,
            settings.token,
            on_new_message,
            self._tracker_store,
            shared_state=self.shared_state,
        )

    def _tracker_store(self) -> Any:
        """Rasa's tracker store, once the server started and loaded the agent; else None."""
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        return getattr(agent, "tracker_store", None)

    def _check_signature(self, args: Mapping[str, Any], signed: str) -> None:
        timestamp, nonce = _arg(args, "timestamp"), _arg(args, "nonce")
        if not is_fresh(timestamp, self._clock()):
            raise CallbackRefused("missing or stale timestamp")
        expected = signature_of(self.settings.token, timestamp, nonce, signed)
        if not signature_matches(expected, _arg(args, "msg_signature")):
            raise CallbackRefused("wrong msg_signature")

    def _open(self, args: Mapping[str, Any], body: bytes) -> KfCallback | None:
        """The pull a callback asks for (None: another event), once it is verified.

        Raises:
            CallbackRefused: Stale or wrongly signed.
            MalformedMessage: Not the encrypted XML WeCom sends, or not for this CorpID.
        """
        timestamp = _arg(args, "timestamp")
        if not is_fresh(timestamp, self._clock()):
            raise CallbackRefused("missing or stale timestamp")  # before parsing anything
        encrypted = parse_xml_fields(body).get("Encrypt", "")
        if not encrypted:
            raise MalformedMessage("no <Encrypt>")
        self._check_signature(args, encrypted)
        xml = decrypt_callback(self._crypto, encrypted, _arg(args, "msg_signature"), timestamp,
                               _arg(args, "nonce"))
        return kf_callback(parse_xml_fields(xml))


def _arg(args: Mapping[str, Any], name: str) -> str:
    """A query parameter's first value, or ''."""
    value = args.get(name)
    return str(value) if value else ""
