"""A client of the record service's read API, for the report (record_service/openapi.yaml).

Every call has a timeout and sends the service token; anything but a readable 200 answer
(a refused token, a server error, no connection, a timeout, a body of another shape)
raises `RecordsApiError` with a message that says which call failed and why.
"""

from __future__ import annotations

from typing import Any

import requests

from reporting.period import Period

PAGE_SIZE = 1000  # records per page: the most the record service serves at once


class RecordsApiError(Exception):
    """The record service could not be read; the message says which call failed and why."""


class RecordsApi:
    """The record service's records, tickets and unanswered messages of a period.

    Args:
        base_url: The service's base URL, e.g. "http://127.0.0.1:5056" (no "/api/...").
        token: Its bearer token (RECORDS_TOKEN).
        timeout_s: The connect and read timeout of each call, in seconds.
    """

    def __init__(self, base_url: str, token: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        """Closes the session's connections."""
        self.session.close()

    def __enter__(self) -> RecordsApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def records(self, period: Period) -> list[dict[str, Any]]:
        """Every service record created in the period, page after page (GET /api/records).

        Raises:
            RecordsApiError: A page cannot be read, or the paging does not move forward.
        """
        records: list[dict[str, Any]] = []
        after_id = 0
        while True:
            body = self._get(
                "/api/records", {**_period_query(period), "after_id": after_id, "limit": PAGE_SIZE}
            )
            records.extend(_items(body, "records", "/api/records"))
            next_after_id = body.get("next_after_id")
            if next_after_id is None:
                return records
            # a cursor that does not grow would page forever
            if type(next_after_id) is not int or next_after_id <= after_id:
                raise RecordsApiError(
                    f"GET {self.base_url}/api/records: next_after_id {next_after_id!r} "
                    f"does not follow {after_id}"
                )
            after_id = next_after_id

    def complaints(self, period: Period) -> list[dict[str, Any]]:
        """The complaint tickets created in the period (GET /api/complaints).

        Raises:
            RecordsApiError: They cannot be read.
        """
        return _items(self._get("/api/complaints", _period_query(period)), "tickets", "/api/complaints")

    def handoffs(self, period: Period) -> list[dict[str, Any]]:
        """The handoff tickets created in the period (GET /api/handoffs).

        Raises:
            RecordsApiError: They cannot be read.
        """
        return _items(self._get("/api/handoffs", _period_query(period)), "tickets", "/api/handoffs")

    def unanswered(self, period: Period) -> list[dict[str, Any]]:
        """The messages the bot could not answer in the period (GET /api/unanswered).

        Raises:
            RecordsApiError: They cannot be read.
        """
        return _items(self._get("/api/unanswered", _period_query(period)), "messages", "/api/unanswered")

    def reviewed_unanswered(self) -> list[dict[str, Any]]:
        """Every message of the unanswered-question log a person has reviewed, of any date
        (GET /api/unanswered?reviewed=true), for `make export-review`.

        Raises:
            RecordsApiError: They cannot be read.
        """
        return _items(self._get("/api/unanswered", {"reviewed": "true"}), "messages", "/api/unanswered")

    def _get(self, path: str, query: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        try:
            answer = self.session.get(url, params=query, timeout=self.timeout_s)
        except requests.Timeout:
            raise RecordsApiError(f"GET {url}: no answer within {self.timeout_s:g} s") from None
        except requests.RequestException as error:
            kind = type(error).__name__
            raise RecordsApiError(f"GET {url}: cannot reach the record service ({kind})") from None
        if answer.status_code == 401:
            raise RecordsApiError(f"GET {url}: the record service refused RECORDS_TOKEN (401)")
        if answer.status_code != 200:
            status = answer.status_code
            raise RecordsApiError(f"GET {url}: the record service answered {status}{_error_of(answer)}")
        try:
            body = answer.json()
        except ValueError:
            raise RecordsApiError(f"GET {url}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise RecordsApiError(f"GET {url}: the answer is not a JSON object")
        return body


def _period_query(period: Period) -> dict[str, str]:
    """The from/to query of a period: its first instant and the instant after it, ISO 8601 in UTC."""
    return {"from": period.start_utc().isoformat(), "to": period.end_utc().isoformat()}


def _items(body: dict[str, Any], key: str, path: str) -> list[dict[str, Any]]:
    items = body.get(key)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise RecordsApiError(f"GET {path}: the answer has no list of objects under {key!r}")
    return items


def _error_of(answer: requests.Response) -> str:
    """": code: message" from the service's error body ({"error": {"code", "message"}}), else ""."""
    try:
        error = answer.json().get("error")
        return f": {error['code']}: {error['message']}"
    except (ValueError, AttributeError, KeyError, TypeError):
        return ""
