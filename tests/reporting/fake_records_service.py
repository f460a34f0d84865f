"""A local stand-in for the record service's read API, as the report's client uses it.

Routes (each needs `Authorization: Bearer <token>`, else 401 with the service's error body):
`GET /api/records?from&to&after_id&limit` answers `{"records", "next_after_id"}`, the
records with an id above after_id, `page_size` at a time; `GET /api/complaints` and
`GET /api/handoffs` answer `{"tickets"}`, `GET /api/unanswered` `{"messages"}`. It serves
every item whatever the period (the report must filter by itself) and keeps each request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.fixtures.fake_http import JsonApiHandler, serve_in_thread


@dataclass
class SeenRequest:
    """A request the fake received: its path, query and Authorization header."""

    path: str
    query: dict[str, str]
    authorization: str | None


@dataclass
class FakeRecordsService:
    """What the fake serves, and what it was asked."""

    token: str = "report-token"
    records: list[dict[str, Any]] = field(default_factory=list)
    complaints: list[dict[str, Any]] = field(default_factory=list)
    handoffs: list[dict[str, Any]] = field(default_factory=list)
    unanswered: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 1000
    fail_with: int | None = None  # answer every request with this status
    stuck_cursor: bool = False  # answer next_after_id = after_id (a broken cursor)
    requests: list[SeenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def answer(self, path: str, query: dict[str, str], authorization: str | None) -> tuple[int, Any]:
        """The status and JSON body for one GET."""
        with self.lock:
            self.requests.append(SeenRequest(path, query, authorization))
        if authorization != f"Bearer {self.token}":
            return 401, {"error": {"code": "unauthorized", "message": "missing or wrong bearer token"}}
        if self.fail_with is not None:
            return self.fail_with, {"error": {"code": "database_unavailable", "message": "try again later"}}
        if path == "/api/records":
            after_id = int(query.get("after_id", "0"))
            limit = min(int(query.get("limit", "1000")), self.page_size)
            later = sorted((item for item in self.records if item["id"] > after_id), key=lambda item: item["id"])
            page = later[:limit]
            more = len(later) > limit
            next_after_id = after_id if self.stuck_cursor else (page[-1]["id"] if more else None)
            return 200, {"records": page, "next_after_id": next_after_id}
        lists = {
            "/api/complaints": ("tickets", self.complaints),
            "/api/handoffs": ("tickets", self.handoffs),
            "/api/unanswered": ("messages", self.unanswered),
        }
        if path in lists:
            key, items = lists[path]
            return 200, {key: items}
        return 404, {"error": {"code": "not_found", "message": "no such route"}}


@contextmanager
def serving(fake: FakeRecordsService) -> Iterator[FakeRecordsService]:
    """Serves the fake on a free local port (its `url`) while the block runs."""

    class Handler(JsonApiHandler):
        def answer(self, method: str) -> None:
            parts, query, _ = self.read_request()
            self._reply(*fake.answer(parts.path, query, self.headers.get("Authorization")))

    server, thread, fake.url = serve_in_thread(Handler)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
