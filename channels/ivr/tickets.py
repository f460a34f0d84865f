"""Reads a handoff ticket from the record service, for the context of a transfer.

`GET <records_url>/api/handoffs/{ticket_id}` with the record service's bearer token
(record_service/openapi.yaml). One `requests.Session` with timeouts; the blocking call
runs in a worker thread. A ticket that cannot be read is not an error for the call: the
transfer goes ahead with the ticket number only.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import requests

logger = logging.getLogger(__name__)

HANDOFF_PATH = "/api/handoffs/"
_TICKET_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class HandoffTickets:
    """The record service's handoff tickets, read-only."""

    def __init__(
        self, records_url: str, token: str, *, connect_timeout_s: float = 1.0, read_timeout_s: float = 2.0
    ) -> None:
        """Creates the client.

        Args:
            records_url: Base URL of the record service (no trailing slash).
            token: Its bearer token.
            connect_timeout_s: Seconds to wait for a connection.
            read_timeout_s: Seconds to wait for the answer (the caller is waiting too).
        """
        self._url = records_url.rstrip("/")
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    async def get(self, ticket_id: str) -> dict[str, Any] | None:
        """The ticket (`reason`, `priority`, `status`, `context`...), or None if unreadable."""
        if not _TICKET_ID.fullmatch(ticket_id):
            logger.warning("ivr: a handoff ticket id of unexpected form was not looked up")
            return None
        return await asyncio.to_thread(self._get, ticket_id)

    def _get(self, ticket_id: str) -> dict[str, Any] | None:
        try:
            answer = self._session.get(f"{self._url}{HANDOFF_PATH}{ticket_id}", timeout=self._timeout)
        except requests.RequestException as error:
            logger.warning("ivr: handoff ticket %s not readable (%s)", ticket_id, type(error).__name__)
            return None
        if answer.status_code != 200:
            logger.warning("ivr: handoff ticket %s not readable (HTTP %d)", ticket_id, answer.status_code)
            return None
        try:
            ticket = answer.json()
        except ValueError:
            logger.warning("ivr: handoff ticket %s is not JSON", ticket_id)
            return None
        return ticket if isinstance(ticket, dict) else None

    def close(self) -> None:
        """Closes the connection pool."""
        self._session.close()
