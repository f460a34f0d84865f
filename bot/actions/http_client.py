"""Shared plumbing of the action server's HTTP clients: session, timeouts, retries, breaker.

The clients are synchronous (one ``requests.Session`` each). rasa-sdk runs every action
on one asyncio event loop, so actions must never call them directly: they call them with
``await asyncio.to_thread(client.method, ...)``, so that a slow or down service delays
only the conversation that needs it, never the others.

What a caller can rely on:

* Every call has an explicit (connect, read) timeout.
* Only calls that are safe to repeat are retried, with exponential backoff: GETs, and
  POSTs that carry an ``Idempotency-Key`` (the service replays what the first one did).
  A 4xx answer is never retried: asking again would get the same answer.
* A :class:`CircuitBreaker` per service: after N consecutive failed calls it opens and
  calls fail at once, without touching the network, until a cool-down has passed; then
  one trial call decides whether it closes again.
* Every failure is a :class:`ServiceError`: :class:`ServiceUnavailableError` (the
  service cannot answer now: refused, timed out, 5xx, circuit open, an answer that is
  not the JSON expected), :class:`NotFoundError` (404) or :class:`RequestRejectedError`
  (any other 4xx). Messages name the service and the operation, never a URL, a query or
  a body, so no personal data ends up in a log line or a traceback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import requests
from requests.adapters import HTTPAdapter

from service_common.breaker import CircuitBreaker
from service_common.fields import FieldReader, FieldWording
from service_common.pii import mask_personal_data
from service_common.retry import FailedAttempt, RetrySchedule, call_with_retries

logger = logging.getLogger(__name__)

T = TypeVar("T")
ClientT = TypeVar("ClientT", bound="JsonApiClient")

# How much of a service's error answer is kept for logs and exceptions.
_MAX_ERROR_CODE_CHARS = 64
_MAX_ERROR_MESSAGE_CHARS = 300
# Connection pools (one per host) and connections kept in each: actions call a client from
# several threads at once (asyncio.to_thread).
_POOLED_HOSTS = 4
_POOLED_CONNECTIONS_PER_HOST = 16


class ServiceError(Exception):
    """A call to an external service failed.

    Attributes:
        service: Which service, e.g. ``order system``.
        operation: Which call, e.g. ``get_order``.
    """

    def __init__(self, service: str, operation: str, detail: str) -> None:
        super().__init__(f"{service} {operation}: {detail}")
        self.service = service
        self.operation = operation


class ServiceUnavailableError(ServiceError):
    """The service cannot answer now (down, slow, 5xx, circuit open, malformed answer).

    The dialogue should apologise and offer a person or a later try; the request may
    succeed later.
    """


class CircuitOpenError(ServiceUnavailableError):
    """The service failed repeatedly and is not being called until its cool-down ends."""


class NotFoundError(ServiceError):
    """The service answered 404: what was asked for does not exist.

    Attributes:
        code: The service's error code, e.g. ``order_not_found``.
    """

    def __init__(self, service: str, operation: str, code: str) -> None:
        super().__init__(service, operation, f"not found ({code})")
        self.code = code


class RequestRejectedError(ServiceError):
    """The service refused the request (a 4xx other than 404); repeating it will not help.

    Attributes:
        status: The HTTP status, e.g. 401, 409, 422.
        code: The service's error code, e.g. ``unauthorized`` or ``return_exists``.
        message: The service's explanation, with any personal data masked.
    """

    def __init__(self, service: str, operation: str, status: int, code: str, message: str) -> None:
        super().__init__(service, operation, f"rejected with HTTP {status} ({code}): {message}")
        self.status = status
        self.code = code
        self.message = message


class MalformedAnswerError(ValueError):
    """An answer did not have the shape the client expects (turned into ServiceUnavailableError)."""


class JsonFields(FieldReader):
    """Typed, checked access to the fields of one JSON object of an answer.

    Every accessor raises :class:`MalformedAnswerError` when the field is missing or has
    the wrong type, so a broken answer never surfaces as a ``KeyError`` in an action.
    Messages name the field (``order.items[].price is not an amount``), never its value,
    which may be personal.

    Args:
        raw: The decoded JSON value, which must be an object.
        path: What the object is, for the error (e.g. ``order``).
    """

    wording = FieldWording(
        error=MalformedAnswerError,
        problem="{path} {problem}",
        element_path="{path}.{key}[]",
        null_is_missing=False,
        strip_text=False,
        not_mapping="is not a JSON object",
        missing="is missing",
        not_text="is not a string",
        not_integer="is not an integer",
        not_object="is not an object",
    )


# --------------------------------------------------------------------------------------
# The client base
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How calls that are safe to repeat are retried.

    Attributes:
        max_retries: Extra attempts after the first one.
        backoff_s: Wait before the first retry; doubled for each further retry.
        max_backoff_s: Longest single wait.
    """

    max_retries: int = 2
    backoff_s: float = 0.2
    max_backoff_s: float = 2.0

    def schedule(self, retryable: bool) -> RetrySchedule:
        """The attempts and waits of a call; one attempt when it is not safe to repeat."""
        attempts = 1 + (self.max_retries if retryable else 0)
        return RetrySchedule(attempts=attempts, first_delay_s=self.backoff_s, max_delay_s=self.max_backoff_s)

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry number ``retry_number`` (0 for the first)."""
        return self.schedule(retryable=True).delay(retry_number)


class _TransientFailure(Exception):
    """One attempt failed in a way another attempt might not (internal)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class JsonApiClient:
    """Base of the clients of the project's JSON services (bearer token, JSON errors).

    Subclasses set :attr:`service_name` and add one typed method per API call, built on
    :meth:`_get` and :meth:`_post`.

    Args:
        base_url: The service's URL, e.g. ``http://127.0.0.1:5070``.
        token: The bearer token the service requires.
        connect_timeout_s: Seconds to wait for a connection.
        read_timeout_s: Seconds to wait for each read of the answer.
        retry: Retries of calls that are safe to repeat.
        breaker: The service's circuit breaker; a new one when None.
        session: The HTTP session to use; a new one when None (closed by :meth:`close`).
        sleep: How to wait between retries (replaceable in tests).
    """

    service_name: ClassVar[str] = "service"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 5.0,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._sleep = sleep
        self._owns_session = session is None
        self._session = session or self._new_session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._session.headers["Accept"] = "application/json"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        # Retries are ours (only for calls safe to repeat); urllib3 must not add its own.
        adapter = HTTPAdapter(
            max_retries=0, pool_connections=_POOLED_HOSTS, pool_maxsize=_POOLED_CONNECTIONS_PER_HOST
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        """Closes the HTTP session's connections (if this client created it)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self: ClientT) -> ClientT:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------- calls

    def _get(self, path: str, *, operation: str, params: Mapping[str, str] | None = None) -> Any:
        """GETs ``path`` and returns the decoded JSON answer (retried when it fails)."""
        return self._call("GET", path, operation=operation, params=params, retryable=True)

    def _post(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        operation: str,
        idempotency_key: str | None = None,
    ) -> Any:
        """POSTs ``body`` as JSON; retried only when it carries an ``idempotency_key``."""
        headers = {}
        if idempotency_key is not None:
            if not idempotency_key:
                raise ValueError("idempotency_key must not be empty")
            headers["Idempotency-Key"] = idempotency_key
        return self._call(
            "POST",
            path,
            operation=operation,
            body=body,
            headers=headers,
            retryable=idempotency_key is not None,
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        retryable: bool,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        if not self.breaker.allow():
            raise CircuitOpenError(self.service_name, operation, "circuit open after repeated failures")
        schedule = self.retry.schedule(retryable)

        def log_retry(failed: FailedAttempt) -> None:
            detail = failed.error.detail if isinstance(failed.error, _TransientFailure) else ""
            logger.warning(
                "%s %s: attempt %d of %d failed (%s); retrying in %.2f s",
                self.service_name, operation, failed.number, failed.attempts, detail, failed.delay_s,
            )

        try:
            answer = call_with_retries(
                lambda: self._attempt(method, path, operation, params, body, headers),
                schedule,
                retry_on=lambda error: isinstance(error, _TransientFailure),
                sleep=self._sleep,
                on_retry=log_retry,
            )
        except _TransientFailure as failure:
            self.breaker.record_failure()
            logger.warning(
                "%s %s: failed after %d attempt(s) (%s)",
                self.service_name, operation, schedule.attempts, failure.detail,
            )
            raise ServiceUnavailableError(self.service_name, operation, failure.detail) from None
        except ServiceError:
            # A refusal (4xx) means the service is up and answering.
            self.breaker.record_success()
            raise
        except BaseException:
            # Our own bug, not the service's: neither a success nor a failure.
            self.breaker.release()
            raise
        self.breaker.record_success()
        return answer

    def _attempt(
        self,
        method: str,
        path: str,
        operation: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> Any:
        """One HTTP exchange: the decoded JSON answer, or a typed error."""
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                params=params,
                json=body,
                headers=headers,
                timeout=self.timeout,
                # An API answers, it does not redirect (a redirected POST would become a GET).
                allow_redirects=False,
            )
        except requests.exceptions.InvalidJSONError:
            raise TypeError(f"{operation}: the request body is not JSON-serialisable") from None
        except requests.Timeout:
            raise _TransientFailure("timed out") from None
        except requests.ConnectionError:
            raise _TransientFailure("could not connect") from None
        except requests.RequestException as error:
            raise _TransientFailure(f"request failed ({type(error).__name__})") from None
        status = response.status_code
        if status >= 500:
            raise _TransientFailure(f"HTTP {status} ({_error_of(response)[0]})")
        if 400 <= status < 500:
            code, message = _error_of(response)
            if status == 404:
                raise NotFoundError(self.service_name, operation, code)
            raise RequestRejectedError(self.service_name, operation, status, code, message)
        if not 200 <= status < 300:
            raise _TransientFailure(f"unexpected HTTP {status}")
        try:
            return response.json()
        except ValueError:
            raise _TransientFailure("answer is not JSON") from None


    def _parse(self, operation: str, parse: Callable[[Any], T], answer: Any) -> T:
        """``parse(answer)``; an answer of the wrong shape is a ServiceUnavailableError.

        Such an answer means the service (or something in front of it) is broken, so it
        also counts as a failure for the circuit breaker.
        """
        try:
            return parse(answer)
        except (MalformedAnswerError, LookupError, TypeError, ValueError, ArithmeticError, AttributeError):
            self.breaker.record_failure()
            logger.warning("%s %s: the answer does not have the expected shape", self.service_name, operation)
            raise ServiceUnavailableError(self.service_name, operation, "malformed answer") from None


def _error_of(response: requests.Response) -> tuple[str, str]:
    """The (code, message) of a JSON error answer; made-up ones when it is not one."""
    try:
        error = response.json().get("error")
        code, message = error.get("code"), error.get("message", "")
        if isinstance(code, str) and code and isinstance(message, str):
            return code[:_MAX_ERROR_CODE_CHARS], mask_personal_data(message[:_MAX_ERROR_MESSAGE_CHARS])
    except (ValueError, AttributeError):
        pass
    return f"http_{response.status_code}", ""
