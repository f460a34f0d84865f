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
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar

import requests
from requests.adapters import HTTPAdapter

from service_common.pii import mask_personal_data

logger = logging.getLogger(__name__)

T = TypeVar("T")
ClientT = TypeVar("ClientT", bound="JsonApiClient")

_MAX_ERROR_MESSAGE_CHARS = 300


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


class JsonFields:
    """Typed, checked access to the fields of one JSON object of an answer.

    Every accessor raises :class:`MalformedAnswerError` when the field is missing or has
    the wrong type, so a broken answer never surfaces as a ``KeyError`` in an action.

    Args:
        value: The decoded JSON value, which must be an object.
        what: What the object is, for the error (e.g. ``order``).
    """

    def __init__(self, value: Any, what: str) -> None:
        if not isinstance(value, dict):
            raise MalformedAnswerError(f"{what} is not a JSON object")
        self.raw: dict[str, Any] = value
        self.what = what

    def _value(self, key: str) -> Any:
        if key not in self.raw:
            raise MalformedAnswerError(f"{self.what}.{key} is missing")
        return self.raw[key]

    def _wrong(self, key: str, expected: str) -> MalformedAnswerError:
        return MalformedAnswerError(f"{self.what}.{key} is not {expected}")

    def text(self, key: str) -> str:
        """A string field."""
        value = self._value(key)
        if not isinstance(value, str):
            raise self._wrong(key, "a string")
        return value

    def opt_text(self, key: str) -> str | None:
        """A string field that may be null or absent."""
        return None if self.raw.get(key) is None else self.text(key)

    def flag(self, key: str) -> bool:
        """A boolean field."""
        value = self._value(key)
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false")
        return value

    def integer(self, key: str) -> int:
        """An integer field (not a boolean)."""
        value = self._value(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(key, "an integer")
        return value

    def amount(self, key: str) -> Decimal:
        """A money field: a decimal string such as ``"199.00"`` (a JSON number is accepted)."""
        value = self._value(key)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self._wrong(key, "an amount")
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise self._wrong(key, "an amount") from None
        if not amount.is_finite():
            raise self._wrong(key, "a finite amount")
        return amount

    def opt_amount(self, key: str) -> Decimal | None:
        """A money field that may be null or absent."""
        return None if self.raw.get(key) is None else self.amount(key)

    def time(self, key: str) -> datetime:
        """An ISO 8601 time with a UTC offset, as an aware datetime."""
        value = self.text(key)
        if value.endswith(("Z", "z")):
            value = value[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self._wrong(key, "an ISO 8601 time") from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise self._wrong(key, "a time with a UTC offset")
        return moment

    def opt_time(self, key: str) -> datetime | None:
        """A time field that may be null or absent."""
        return None if self.raw.get(key) is None else self.time(key)

    def array(self, key: str) -> list[Any]:
        """A list field."""
        value = self._value(key)
        if not isinstance(value, list):
            raise self._wrong(key, "a list")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A list-of-strings field."""
        values = self.array(key)
        if not all(isinstance(value, str) for value in values):
            raise self._wrong(key, "a list of strings")
        return tuple(values)

    def mapping(self, key: str) -> dict[str, Any]:
        """An object field, as a plain dict."""
        value = self._value(key)
        if not isinstance(value, dict):
            raise self._wrong(key, "an object")
        return value

    def child(self, key: str) -> JsonFields:
        """An object field, as JsonFields."""
        return JsonFields(self._value(key), f"{self.what}.{key}")

    def opt_child(self, key: str) -> JsonFields | None:
        """An object field that may be null or absent."""
        return None if self.raw.get(key) is None else self.child(key)

    def children(self, key: str) -> list[JsonFields]:
        """A list-of-objects field."""
        return [JsonFields(value, f"{self.what}.{key}[]") for value in self.array(key)]


# --------------------------------------------------------------------------------------
# Circuit breaker
# --------------------------------------------------------------------------------------


class CircuitBreaker:
    """Stops calling a service that keeps failing, so callers fail fast instead of waiting.

    ``closed``: calls go through; ``failure_threshold`` consecutive failures open it.
    ``open``: calls are refused at once until ``cooldown_s`` has passed.
    ``half_open``: one trial call goes through (others are refused); its success closes
    the circuit, its failure opens it for another cool-down.

    Thread-safe: actions run in worker threads and share one breaker per service.

    Args:
        failure_threshold: Consecutive failures that open the circuit.
        cooldown_s: Seconds the circuit stays open before a trial call.
        clock: Monotonic clock, replaceable in tests.
    """

    CLOSED: ClassVar[str] = "closed"
    OPEN: ClassVar[str] = "open"
    HALF_OPEN: ClassVar[str] = "half_open"

    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cooldown_s <= 0:
            raise ValueError("cooldown_s must be positive")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (open whose cool-down has passed)."""
        with self._lock:
            return self._state_locked()

    def _state_locked(self) -> str:
        if self._opened_at is None:
            return self.CLOSED
        if self._clock() - self._opened_at >= self.cooldown_s:
            return self.HALF_OPEN
        return self.OPEN

    def allow(self) -> bool:
        """Whether a call may go out now; a True in ``half_open`` claims the one trial.

        Every True must be followed by :meth:`record_success` or :meth:`record_failure`.
        """
        with self._lock:
            state = self._state_locked()
            if state == self.CLOSED:
                return True
            if state == self.HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        """The service answered: close the circuit and forget past failures."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def release(self) -> None:
        """A call that was allowed ended without telling anything about the service."""
        with self._lock:
            self._trial_in_flight = False

    def record_failure(self) -> None:
        """The service failed: count it, and open (or re-open) the circuit when due."""
        with self._lock:
            self._failures += 1
            if self._trial_in_flight or self._failures >= self.failure_threshold:
                if self._opened_at is None or self._trial_in_flight:
                    logger.warning(
                        "circuit opened after %d consecutive failures; calls fail fast for %.0f s",
                        self._failures,
                        self.cooldown_s,
                    )
                self._opened_at = self._clock()
            self._trial_in_flight = False


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

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry number ``retry_number`` (0 for the first)."""
        return float(min(self.max_backoff_s, self.backoff_s * (2**retry_number)))


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
        adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=16)
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
        attempts = 1 + (self.retry.max_retries if retryable else 0)
        for attempt in range(attempts):
            try:
                answer = self._attempt(method, path, operation, params, body, headers)
            except _TransientFailure as failure:
                if attempt + 1 < attempts:
                    delay = self.retry.delay(attempt)
                    logger.warning(
                        "%s %s: attempt %d of %d failed (%s); retrying in %.2f s",
                        self.service_name, operation, attempt + 1, attempts, failure.detail, delay,
                    )
                    self._sleep(delay)
                    continue
                self.breaker.record_failure()
                logger.warning(
                    "%s %s: failed after %d attempt(s) (%s)",
                    self.service_name, operation, attempts, failure.detail,
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
        raise AssertionError("unreachable")  # pragma: no cover

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
            return code[:64], mask_personal_data(message[:_MAX_ERROR_MESSAGE_CHARS])
    except (ValueError, AttributeError):
        pass
    return f"http_{response.status_code}", ""
