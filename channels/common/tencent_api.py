"""The HTTP transport shared by the clients of Tencent's WeChat and WeCom APIs.

Both platforms speak the same conventions: JSON bodies, an `access_token` query
parameter fetched from a token endpoint and valid for `expires_in` seconds, and answers
carrying `errcode`/`errmsg` (0 success, -1 "system busy, retry later", 40001/40014/42001
an invalid or expired token). A platform's client subclasses `TencentApiClient` with its
token endpoint, its exception classes and its own calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypedDict

import requests
from urllib3.exceptions import NewConnectionError

from service_common.retry import FailedAttempt, RetrySchedule, call_with_retries_async

# 40001 invalid credential / not the latest token, 40014 invalid token, 42001 expired.
TOKEN_INVALID_ERRCODES = frozenset({40001, 40014, 42001})
# -1 is "system busy, retry later" in both platforms' global return codes.
BUSY_ERRCODE = -1
# A token is refreshed this long before the platform says it expires (at most half its life).
TOKEN_EARLY_REFRESH_S = 300


class TencentApiError(Exception):
    """A Tencent API answered with a non-zero errcode.

    Attributes:
        errcode: The platform's error code.
        errmsg: The platform's message for it.
    """

    platform: ClassVar[str] = "Tencent"

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{self.platform} API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class TencentApiUnavailable(TencentApiError):
    """A Tencent API could not be reached, or answered with an HTTP error or not its JSON.

    Attributes:
        sent: Whether the request may have reached the platform (a read timeout), so
            that repeating a send could deliver a message twice.
    """

    def __init__(self, detail: str, sent: bool = False) -> None:
        super().__init__(BUSY_ERRCODE, detail)
        self.sent = sent


class TransportOptions(TypedDict, total=False):
    """How a client calls the API; every key is optional (see `TencentApiClient`)."""

    connect_timeout_s: float
    read_timeout_s: float
    attempts: int
    backoff_s: float
    clock: Callable[[], float]


class TencentApiClient:
    """Calls a Tencent API with a cached access token.

    One `requests.Session` with timeouts; its blocking calls run in worker threads. The
    access token is cached until shortly before it expires and refreshed by one caller at
    a time (the others wait and use the new one), and refreshed once more when a call says
    it is invalid or expired (40001, 40014, 42001). Unreachable API, HTTP errors and
    "system busy" (-1) are retried with exponential backoff, except a call that is not
    repeatable and may have reached the platform (read timeout): neither platform has an
    idempotency key for sends, and a repeated send would show the shopper the message twice.

    Subclasses set the class attributes below.

    Attributes:
        token_path: Path of the token endpoint.
        api_error: What a non-zero errcode raises.
        unavailable_error: What an unreachable API or a malformed answer raises.
        log_prefix: Starts every log message, naming the platform.
    """

    token_path: ClassVar[str]
    api_error: ClassVar[type[TencentApiError]]
    unavailable_error: ClassVar[type[TencentApiUnavailable]]
    log_prefix: ClassVar[str]

    def __init__(
        self,
        api_base: str,
        token_params: dict[str, str],
        *,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 5.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Creates the client; nothing is fetched until the first call.

        Args:
            api_base: Base URL of the API (a local fake in tests).
            token_params: Query parameters of the token endpoint (the credentials).
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
        self._token_params = token_params
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._retries = RetrySchedule(attempts=attempts, first_delay_s=backoff_s)
        self._clock = clock
        self._session = requests.Session()
        self._token: str | None = None
        self._expires_at = 0.0
        self._refresh_lock = asyncio.Lock()
        self._logger = logging.getLogger(type(self).__module__)

    async def access_token(self) -> str:
        """A valid access token, from the cache or freshly fetched.

        Raises:
            TencentApiError: The token endpoint refused (e.g. 40013 invalid AppID/CorpID);
                the platform's subclass.
            TencentApiUnavailable: The token endpoint could not be reached, after retries;
                the platform's subclass.
        """
        token = self._token
        if token and self._clock() < self._expires_at:
            return token
        return await self._refresh(stale=token)

    def close(self) -> None:
        """Closes the HTTP session."""
        self._session.close()

    async def _authorized(
        self, method: str, path: str, payload: dict[str, Any], repeatable: bool
    ) -> dict[str, Any]:
        """Calls `path` with the access token, refreshing a refused token once.

        Args:
            method: The HTTP method.
            path: The endpoint's path.
            payload: The JSON body.
            repeatable: Whether the call may be repeated after it may have arrived
                (reads: yes; sends: no).

        Returns:
            The platform's JSON answer.
        """
        token = await self.access_token()
        try:
            return await self._call(method, path, {"access_token": token}, payload, repeatable)
        except TencentApiError as error:
            if error.errcode not in TOKEN_INVALID_ERRCODES:
                raise
            self._logger.info("%s: access token refused (%d); refreshing it once", self.log_prefix,
                              error.errcode)
            token = await self._refresh(stale=token)
            return await self._call(method, path, {"access_token": token}, payload, repeatable)

    async def _refresh(self, stale: str | None) -> str:
        async with self._refresh_lock:
            if self._token and self._token != stale and self._clock() < self._expires_at:
                return self._token  # another caller refreshed it while this one waited
            self._token = None
            data = await self._call("GET", self.token_path, self._token_params, None, True)
            token, expires_in = data.get("access_token"), data.get("expires_in")
            if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
                raise self.unavailable_error("the token endpoint answered without access_token/expires_in")
            # Refresh early, so that the token does not expire between the check and its use.
            margin = min(TOKEN_EARLY_REFRESH_S, expires_in // 2)
            self._token, self._expires_at = token, self._clock() + expires_in - margin
            self._logger.info("%s: access token fetched, valid for %d s", self.log_prefix, expires_in)
            return token

    async def _call(
        self, method: str, path: str, params: dict[str, str], payload: dict[str, Any] | None, repeatable: bool
    ) -> dict[str, Any]:
        def retryable(error: BaseException) -> bool:
            if isinstance(error, TencentApiUnavailable):
                return repeatable or not error.sent
            return isinstance(error, TencentApiError) and error.errcode == BUSY_ERRCODE

        def log_retry(failed: FailedAttempt) -> None:
            if isinstance(failed.error, TencentApiUnavailable):
                self._logger.warning("%s: %s failed (%s), attempt %d of %d", self.log_prefix, path,
                                     failed.error.errmsg, failed.number, failed.attempts)
            else:
                self._logger.warning("%s: %s busy, attempt %d of %d", self.log_prefix, path, failed.number,
                                     failed.attempts)

        return await call_with_retries_async(
            lambda: asyncio.to_thread(self._call_once, method, path, params, payload),
            self._retries,
            retry_on=retryable,
            on_retry=log_retry,
        )

    def _call_once(
        self, method: str, path: str, params: dict[str, str], payload: dict[str, Any] | None
    ) -> dict[str, Any]:
        # Both platforms want UTF-8 text, not \u escapes, in message bodies.
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
            # Never the URL in a message: it holds the access token or the secret.
            detail = f"{path}: {type(error).__name__}"
            raise self.unavailable_error(detail, sent=_may_have_arrived(error)) from None
        if reply.status_code >= 400:
            raise self.unavailable_error(f"{path}: HTTP {reply.status_code}")
        try:
            data = reply.json()
        except ValueError:
            raise self.unavailable_error(f"{path}: not JSON") from None
        if not isinstance(data, dict):
            raise self.unavailable_error(f"{path}: not a JSON object")
        errcode = data.get("errcode") or 0
        if not isinstance(errcode, int):
            raise self.unavailable_error(f"{path}: errcode is not a number")
        if errcode:
            raise self.api_error(errcode, str(data.get("errmsg", "")))
        return data


def _may_have_arrived(error: requests.RequestException) -> bool:
    """Whether a failed request may have reached the server (not so if no connection was made)."""
    if isinstance(error, requests.ConnectTimeout):
        return False
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return not (isinstance(error, requests.ConnectionError) and isinstance(reason, NewConnectionError))
