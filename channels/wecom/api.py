"""The client of WeCom's access token and customer-service message API (微信客服).

Endpoints (relative to the configurable API base, https://qyapi.weixin.qq.com by default):
`GET /cgi-bin/gettoken?corpid=...&corpsecret=...`,
`POST /cgi-bin/kf/sync_msg?access_token=...` ({cursor, token, limit, open_kfid}),
`POST /cgi-bin/kf/send_msg?access_token=...` ({touser, open_kfid, msgid, msgtype, text}) and
`POST /cgi-bin/kf/send_msg_on_event?access_token=...` ({code, msgid, msgtype, text}).
"""

from __future__ import annotations

from typing import Any

from typing_extensions import Unpack

from channels.common.tencent_api import (
    TencentApiClient,
    TencentApiError,
    TencentApiUnavailable,
    TransportOptions,
)
from channels.wecom.protocol import MalformedMessage, SyncPage, parse_sync_page

TOKEN_PATH = "/cgi-bin/gettoken"  # noqa: S105 - a URL path, not a secret
SYNC_PATH = "/cgi-bin/kf/sync_msg"
SEND_PATH = "/cgi-bin/kf/send_msg"
SEND_ON_EVENT_PATH = "/cgi-bin/kf/send_msg_on_event"
# kf/sync_msg returns at most 1000 items per call.
SYNC_LIMIT = 1000


class WeComApiError(TencentApiError):
    """WeCom's API answered with a non-zero errcode.

    Attributes:
        errcode: WeCom's error code (42001 expired token, 95007 invalid sync token,
            95018 the session does not allow sending, -1 busy, ...).
        errmsg: WeCom's message for it.
    """

    platform = "WeCom"


class WeComApiUnavailable(TencentApiUnavailable, WeComApiError):
    """WeCom's API could not be reached, or answered with an HTTP error or not its JSON."""


class KfApi(TencentApiClient):
    """Pulls customer messages and sends answers, with a cached access token.

    The token cache, retries and errors are `TencentApiClient`'s; reading a page is
    repeated after a timeout, a send that may have reached WeCom is not (repeating it
    could show the shopper the message twice).
    """

    token_path = TOKEN_PATH
    api_error = WeComApiError
    unavailable_error = WeComApiUnavailable
    log_prefix = "wecom"

    def __init__(self, api_base: str, corp_id: str, secret: str, **options: Unpack[TransportOptions]) -> None:
        """Creates the client; nothing is fetched until the first call.

        Args:
            api_base: Base URL of WeCom's API (a local fake in tests).
            corp_id: The company's CorpID.
            secret: The Secret of the 微信客服 app.
            **options: Timeouts, attempts, backoff and clock (`TransportOptions`).

        Raises:
            ValueError: A value is out of range.
        """
        # A full kf/sync_msg page (up to 1000 items) is a large answer.
        options.setdefault("read_timeout_s", 10.0)
        super().__init__(api_base, {"corpid": corp_id, "corpsecret": secret}, **options)

    async def sync_msg(self, open_kfid: str, cursor: str, token: str) -> SyncPage:
        """One page of an account's messages and events after `cursor`.

        Args:
            open_kfid: The customer-service account.
            cursor: The `next_cursor` of the last page ('' for the first pull).
            token: The callback's token ('' without one: WeCom then limits the rate).

        Raises:
            WeComApiError: WeCom refused (e.g. 95007: the callback's token expired).
            WeComApiUnavailable: WeCom could not be reached, or answered a malformed page.
        """
        payload: dict[str, Any] = {"cursor": cursor, "limit": SYNC_LIMIT, "open_kfid": open_kfid}
        if token:
            payload["token"] = token
        # Reading a page changes nothing at WeCom: safe to repeat after a timeout.
        data = await self._authorized("POST", SYNC_PATH, payload, repeatable=True)
        try:
            return parse_sync_page(data)
        except MalformedMessage as error:
            raise WeComApiUnavailable(f"{SYNC_PATH}: {error}") from None

    async def send_text(self, external_userid: str, open_kfid: str, content: str, msgid: str) -> None:
        """Sends a text message to a customer of the account.

        Raises:
            WeComApiError: WeCom refused it (e.g. the customer's last message is more
                than 48 hours old, or the 5 answers to it are used up).
            WeComApiUnavailable: WeCom could not be reached, after retries.
        """
        payload = {
            "touser": external_userid,
            "open_kfid": open_kfid,
            "msgid": msgid,
            "msgtype": "text",
            "text": {"content": content},
        }
        await self._authorized("POST", SEND_PATH, payload, repeatable=False)

    async def send_welcome(self, welcome_code: str, content: str, msgid: str) -> None:
        """Sends the welcome text of an `enter_session` event (its code works once, 20 s).

        Raises:
            WeComApiError: WeCom refused it (e.g. the code expired or was used).
            WeComApiUnavailable: WeCom could not be reached, after retries.
        """
        payload = {"code": welcome_code, "msgid": msgid, "msgtype": "text", "text": {"content": content}}
        await self._authorized("POST", SEND_ON_EVENT_PATH, payload, repeatable=False)
