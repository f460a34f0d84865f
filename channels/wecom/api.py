"""The client of WeCom's access token and customer-service message API (微信客服).

Endpoints (relative to the configurable API base, https://qyapi.weixin.qq.com by default):
`GET /cgi-bin/gettoken?corpid=...&corpsecret=...`,
`POST /cgi-bin/kf/sync_msg?access_token=...` ({cursor, token, limit, open_kfid}),
`POST /cgi-bin/kf/send_msg?access_token=...` ({touser, open_kfid, msgid, msgtype, text}) and
`POST /cgi-bin/kf/send_msg_on_event?access_token=...` ({code, msgid, msgtype, text}).
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

from channels.wecom.protocol import MalformedMessage, SyncPage, parse_sync_page

logger = logging.getLogger(__name__)

TOKEN_PATH = "/cgi-bin/gettoken"  # noqa: S105 - a URL path, not a secret
SYNC_PATH = "/cgi-bin/kf/sync_msg"
SEND_PATH = "/cgi-bin/kf/send_msg"
SEND_ON_EVENT_PATH = "/cgi-bin/kf/send_msg_on_event"
# 40001 invalid credential, 40014 invalid access_token, 42001 access_token expired.
TOKEN_INVALID_ERRCODES = frozenset({40001, 40014, 42001})
# -1 is "system busy, retry later" in WeCom's global return codes.
BUSY_ERRCODE = -1
# A token is refreshed this long before WeCom says it expires (at most half its life).
TOKEN_EARLY_REFRESH_S = 300
# kf/sync_msg returns at most 1000 items per call.
SYNC_LIMIT = 1000


class WeComApiError(Exception):
    """WeCom's API answered with a non-zero errcode.

    Attributes:
        errcode: WeCom's error code (42001 expired token, 95007 invalid sync token,
            95018 the session does not allow sending, -1 busy, ...).
        errmsg: WeCom's message for it.
    """

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeCom API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeComApiUnavailable(WeComApiError):
    """WeCom's API could not be reached, or answered with an HTTP error or not its JSON.

    Attributes:
        sent: Whether the request may have reached WeCom (a read timeout), so that
            repeating a send could deliver a message twice.
    """

    def __init__(self, detail: str, sent: bool = False) -> None:
        super().__init__(BUSY_ERRCODE, detail)
        self.sent = sent


class KfApi:
    """Pulls customer messages and sends answers, with a cached access token.

    One `requests.Session` with timeouts; its blocking calls run in worker threads. The
    access token is cached until shortly before it expires and refreshed by one caller at
    a time (the others wait and use the new one), and refreshed once more when a call says
    it is invalid or expired (40001, 40014, 42001). Unreachable API, HTTP errors and
    "system busy" (-1) are retried with exponential backoff, except a send that may have
    reached WeCom (read timeout): repeating it could show the shopper the message twice.
    """

    def __init__(
        self,
        api_base: str,
        corp_id: str,
        secret: str,
        *,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Creates the client; nothing is fetched until the first call.

        Args:
            api_base: Base URL of WeCom's API (a local fake in tests).
            corp_id: The company's CorpID.
            secret: The Secret of the 微信客服 app.
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
        self._corp_id = corp_id
        self._secret = secret
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
            WeComApiError: The token endpoint refused (e.g. 40013 invalid CorpID).
            WeComApiUnavailable: The token endpoint could not be reached, after retries.
        """
        token = self._token
        if token and self._clock() < self._expires_at:
            return token
        return await self._refresh(stale=token)

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

    def close(self) -> None:
        """Closes the HTTP session."""
        self._session.close()

    async def _authorized(
        self, method: str, path: str, payload: dict[str, Any], repeatable: bool
    ) -> dict[str, Any]:
        token = await self.access_token()
        try:
            return await self._call(method, path, {"access_token": token}, payload, repeatable)
        except WeComApiError as error:
            if error.errcode not in TOKEN_INVALID_ERRCODES:
                raise
            logger.info("wecom: access token refused (%d); refreshing it once", error.errcode)
            token = await self._refresh(stale=token)
            return await self._call(method, path, {"access_token": token}, payload, repeatable)

    async def _refresh(self, stale: str | None) -> str:
        async with self._refresh_lock:
            if self._token and self._token != stale and self._clock() < self._expires_at:
                return self._token  # another caller refreshed it while this one waited
            self._token = None
            data = await self._call(
                "GET", TOKEN_PATH, {"corpid": self._corp_id, "corpsecret": self._secret}, None, True
            )
            token, expires_in = data.get("access_token"), data.get("expires_in")
            if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
                raise WeComApiUnavailable("the token endpoint answered without access_token/expires_in")
            # Refresh early, so that the token does not expire between the check and its use.
            margin = min(TOKEN_EARLY_REFRESH_S, expires_in // 2)
            self._token, self._expires_at = token, self._clock() + expires_in - margin
            logger.info("wecom: access token fetched, valid for %d s", expires_in)
            return token

    async def _call(
        self, method: str, path: str, params: dict[str, str], payload: dict[str, Any] | None, repeatable: bool
    ) -> dict[str, Any]:
        delay = self._backoff_s
        for attempt in range(1, self._attempts + 1):
            try:
                return await asyncio.to_thread(self._call_once, method, path, params, payload)
            except WeComApiUnavailable as error:
                if (error.sent and not repeatable) or attempt == self._attempts:
                    raise
                logger.warning("wecom: %s failed (%s), attempt %d of %d", path, error.errmsg, attempt,
                               self._attempts)
            except WeComApiError as error:
                if error.errcode != BUSY_ERRCODE or attempt == self._attempts:
                    raise
                logger.warning("wecom: %s busy, attempt %d of %d", path, attempt, self._attempts)
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _call_once(
        self, method: str, path: str, params: dict[str, str], payload: dict[str, Any] | None
    ) -> dict[str, Any]:
        # WeCom wants UTF-8 text, not \u escapes, in message bodies.
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
            # Never the URL in a message: it holds the access token or the Secret.
            detail = f"{path}: {type(error).__name__}"
            raise WeComApiUnavailable(detail, sent=_may_have_arrived(error)) from None
        if reply.status_code >= 400:
            raise WeComApiUnavailable(f"{path}: HTTP {reply.status_code}")
        try:
            data = reply.json()
        except ValueError:
            raise WeComApiUnavailable(f"{path}: not JSON") from None
        if not isinstance(data, dict):
            raise WeComApiUnavailable(f"{path}: not a JSON object")
        errcode = data.get("errcode") or 0
        if not isinstance(errcode, int):
            raise WeComApiUnavailable(f"{path}: errcode is not a number")
        if errcode:
            raise WeComApiError(errcode, str(data.get("errmsg", "")))
        return data


def _may_have_arrived(error: requests.RequestException) -> bool:
    """Whether a failed request may have reached the server (not so if no connection was made)."""
    if isinstance(error, requests.ConnectTimeout):
        return False
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return not (isinstance(error, requests.ConnectionError) and isinstance(reason, NewConnectionError))
