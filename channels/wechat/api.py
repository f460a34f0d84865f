"""The client of WeChat's access token and customer-service message API (客服消息).

Endpoints (relative to the configurable API base, https://api.weixin.qq.com by default):
`GET /cgi-bin/token?grant_type=client_credential&appid=...&secret=...` and
`POST /cgi-bin/message/custom/send?access_token=...` with a JSON text message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

logger = logging.getLogger(__name__)

TOKEN_PATH = "/cgi-bin/token"  # noqa: S105 - a URL path, not a secret
SEND_PATH = "/cgi-bin/message/custom/send"
# 40001 invalid credential / not the latest token, 40014 invalid token, 42001 expired.
TOKEN_INVALID_ERRCODES = frozenset({40001, 40014, 42001})
# -1 is "system busy, retry later" in WeChat's global return codes.
BUSY_ERRCODE = -1
# A token is refreshed this long before WeChat says it expires (at most half its life).
TOKEN_EARLY_REFRESH_S = 300


class WeChatApiError(Exception):
    """WeChat's API answered with a non-zero errcode.

    Attributes:
        errcode: WeChat's error code (40001 invalid token, 42001 expired, 45015 the
            shopper wrote more than 48 hours ago, -1 busy, ...).
        errmsg: WeChat's message for it.
    """

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatApiUnavailable(WeChatApiError):
    """WeChat's API could not be reached, or answered with an HTTP error or not JSON.

    Attributes:
        sent: Whether the request may have reached WeChat (a read timeout), so that
            repeating a send could deliver a message twice.
    """

    def __init__(self, detail: str, sent: bool = False) -> None:
        super().__init__(BUSY_ERRCODE, detail)
        self.sent = sent


class CustomerServiceApi:
    """Sends text messages to shoppers, with a cached access token.

    One `requests.Session` with timeouts; its blocking calls run in worker threads. The
    access token is cached until shortly before it expires and refreshed by one caller at
    a time (the others wait and use the new one), and refreshed once more when a call says
    it is invalid or expired (40001, 40014, 42001). Unreachable API, HTTP errors and
    "system busy" (-1) are retried with exponential backoff, except a send that may have
    reached WeChat (read timeout): WeChat has no idempotency key for this API, and a
    repeated send would show the shopper the message twice.
    """

    def __init__(
        self,
        api_base: str,
        app_id: str,
        app_secret: str,
        *,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 5.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Creates the client; nothing is fetched until the first send.

        Args:
            api_base: Base URL of WeChat's API (a local fake in tests).
            app_id: The account's AppID.
            app_secret: The account's AppSecret.
            connect_timeout_s: Seconds to wait for a connection.
            read_timeout_s: Seconds to wait for an answer.
            attempts: Tries per call, the first included.
            backoff_s: Wait before the first retry; doubled for each further one.
            clock: Monotonic seconds, for the token's expiry.

        Raises:
            ValueError: A value is out of range.
        """
        if not api_base.startswith(("http://", "https://")):
            raise ValueError(f"api_base must be an http(s) URL, got {api_base!r}")
        if attempts < 1 or backoff_s < 0 or connect_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError("attempts must be at least 1, timeouts positive, backoff not negative")
        self._api_base = api_base.rstrip("/")
        self._app_id = app_id
        self._app_secret = app_secret
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._clock = clock
        self._session = requests.Session()
        self._token: str | None = None
        self._expires_at = 0.0
        self._refresh_lock = asyncio.Lock()

    async def access_token(self) -> str:
        """A valid access token, from the cache or freshly fetched.

        Raises:
            WeChatApiError: The token endpoint refused (e.g. 40013 invalid AppID).
            WeChatApiUnavailable: The token endpoint could not be reached, after retries.
        """
        token = self._token
        if token and self._clock() < self._expires_at:
            return token
        return await self._refresh(stale=token)

    async def send_text(self, openid: str, content: str) -> None:
        """Sends a text message to a shopper.

        Raises:
            WeChatApiError: WeChat refused it (e.g. 45015: the shopper's last message is
                more than 48 hours old), or refused the token twice.
            WeChatApiUnavailable: WeChat could not be reached, after retries.
        """
        payload = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        token = await self.access_token()
        try:
            await self._call("POST", SEND_PATH, {"access_token": token}, payload)
        except WeChatApiError as error:
            if error.errcode not in TOKEN_INVALID_ERRCODES:
                raise
            logger.info("wechat: access token refused (%d); refreshing it once", error.errcode)
            token = await self._refresh(stale=token)
            await self._call("POST", SEND_PATH, {"access_token": token}, payload)

    def close(self) -> None:
        """Closes the HTTP session."""
        self._session.close()

    async def _refresh(self, stale: str | None) -> str:
        async with self._refresh_lock:
            if self._token and self._token != stale and self._clock() < self._expires_at:
                return self._token  # another caller refreshed it while this one waited
            self._token = None
            data = await self._call(
                "GET",
                TOKEN_PATH,
                {"grant_type": "client_credential", "appid": self._app_id, "secret": self._app_secret},
            )
            token, expires_in = data.get("access_token"), data.get("expires_in")
            if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
                raise WeChatApiUnavailable("the token endpoint answered without access_token/expires_in")
            # Refresh early, so that the token does not expire between the check and its use.
            margin = min(TOKEN_EARLY_REFRESH_S, expires_in // 2)
            self._token, self._expires_at = token, self._clock() + expires_in - margin
            logger.info("wechat: access token fetched, valid for %d s", expires_in)
            return token

    async def _call(
        self, method: str, path: str, params: dict[str, str], payload: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        delay = self._backoff_s
        for attempt in range(1, self._attempts + 1):
            try:
                return await asyncio.to_thread(self._call_once, method, path, params, payload)
            except WeChatApiUnavailable as error:
                retryable = not (error.sent and method == "POST")
                if not retryable or attempt == self._attempts:
                    raise
                logger.warning("wechat: %s failed (%s), attempt %d of %d", path, error.errmsg, attempt,
                               self._attempts)
            except WeChatApiError as error:
                if error.errcode != BUSY_ERRCODE or attempt == self._attempts:
                    raise
                logger.warning("wechat: %s busy, attempt %d of %d", path, attempt, self._attempts)
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _call_once(
        self, method: str, path: str, params: dict[str, str], payload: dict[str, Any] | None
    ) -> dict[str, Any]:
        # WeChat wants UTF-8 text, not \u escapes, in message bodies.
        body = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else None
        try:
            reply = self._session.request(
                method,
                f"{self._api_base}{path}",
                params=params,
                data=body,
                headers={"Content-Type": "application/json; charset=utf-8"} if body else None,
                timeout=self._timeout,
            )
        except requests.RequestException as error:
            # Never the URL in a message: it holds the access token or the AppSecret.
            detail = f"{path}: {type(error).__name__}"
            raise WeChatApiUnavailable(detail, sent=_may_have_arrived(error)) from None
        if reply.status_code >= 400:
            raise WeChatApiUnavailable(f"{path}: HTTP {reply.status_code}")
        try:
            data = reply.json()
        except ValueError:
            raise WeChatApiUnavailable(f"{path}: not JSON") from None
        if not isinstance(data, dict):
            raise WeChatApiUnavailable(f"{path}: not a JSON object")
        errcode = data.get("errcode") or 0
        if errcode:
            raise WeChatApiError(int(errcode), str(data.get("errmsg", "")))
        return data


def _may_have_arrived(error: requests.RequestException) -> bool:
    """Whether a failed request may have reached the server (not so if no connection was made)."""
    if isinstance(error, requests.ConnectTimeout):
        return False
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return not (isinstance(error, requests.ConnectionError) and isinstance(reason, NewConnectionError))
