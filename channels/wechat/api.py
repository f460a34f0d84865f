"""The client of WeChat's access token and customer-service message API (客服消息).

Endpoints (relative to the configurable API base, https://api.weixin.qq.com by default):
`GET /cgi-bin/token?grant_type=client_credential&appid=...&secret=...` and
`POST /cgi-bin/message/custom/send?access_token=...` with a JSON text message.
"""

from __future__ import annotations

from typing_extensions import Unpack

from channels.common.tencent_api import (
    TencentApiClient,
    TencentApiError,
    TencentApiUnavailable,
    TransportOptions,
)

TOKEN_PATH = "/cgi-bin/token"  # noqa: S105 - a URL path, not a secret
SEND_PATH = "/cgi-bin/message/custom/send"


class WeChatApiError(TencentApiError):
    """WeChat's API answered with a non-zero errcode.

    Attributes:
        errcode: WeChat's error code (40001 invalid token, 42001 expired, 45015 the
            shopper wrote more than 48 hours ago, -1 busy, ...).
        errmsg: WeChat's message for it.
    """

    platform = "WeChat"


class WeChatApiUnavailable(TencentApiUnavailable, WeChatApiError):
    """WeChat's API could not be reached, or answered with an HTTP error or not JSON."""


class CustomerServiceApi(TencentApiClient):
    """Sends text messages to shoppers, with a cached access token.

    The token cache, retries and errors are `TencentApiClient`'s; a send that may have
    reached WeChat (read timeout) is not repeated, since WeChat has no idempotency key
    for this API.
    """

    token_path = TOKEN_PATH
    api_error = WeChatApiError
    unavailable_error = WeChatApiUnavailable
    log_prefix = "wechat"

    def __init__(
        self, api_base: str, app_id: str, app_secret: str, **options: Unpack[TransportOptions]
    ) -> None:
        """Creates the client; nothing is fetched until the first send.

        Args:
            api_base: Base URL of WeChat's API (a local fake in tests).
            app_id: The account's AppID.
            app_secret: The account's AppSecret.
            **options: Timeouts, attempts, backoff and clock (`TransportOptions`).

        Raises:
            ValueError: A value is out of range.
        """
        token_params = {"grant_type": "client_credential", "appid": app_id, "secret": app_secret}
        super().__init__(api_base, token_params, **options)

    async def send_text(self, openid: str, content: str) -> None:
        """Sends a text message to a shopper.

        Raises:
            WeChatApiError: WeChat refused it (e.g. 45015: the shopper's last message is
                more than 48 hours old), or refused the token twice.
            WeChatApiUnavailable: WeChat could not be reached, after retries.
        """
        payload = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        await self._authorized("POST", SEND_PATH, payload, repeatable=False)
