"""The record service client against a local fake: paging, the token, and every failure as RecordsApiError."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from reporting.records_api import RecordsApi, RecordsApiError
from tests.fixtures.servers import free_port
from tests.reporting.fake_records_service import FakeRecordsService
from tests.reporting.samples import PERIOD, complaint, handoff_ticket, record, unanswered

PERIOD_QUERY = {"from": "2026-11-30T16:00:00+00:00", "to": "2026-12-07T16:00:00+00:00"}


def client(fake: FakeRecordsService, token: str | None = None, timeout_s: float = 5.0) -> RecordsApi:
    return RecordsApi(fake.url, fake.token if token is None else token, timeout_s=timeout_s)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def test_records_are_read_page_after_page(records_service: FakeRecordsService) -> None:
    records_service.records = [
        record(number, f"c{number}", "identity_check", "verified", "2026-12-02T01:00:00+00:00")
        for number in (5, 1, 3, 2, 4)
    ]
    records_service.page_size = 2

    with client(records_service) as api:
        records = api.records(PERIOD)

    assert [item["id"] for item in records] == [1, 2, 3, 4, 5]
    assert [request.query for request in records_service.requests] == [
        {**PERIOD_QUERY, "after_id": str(after_id), "limit": "1000"} for after_id in (0, 2, 4)
    ]
    assert {request.path for request in records_service.requests} == {"/api/records"}


def test_every_call_sends_the_token_and_the_period(records_service: FakeRecordsService) -> None:
    records_service.complaints = [complaint("K1", "c1", "2026-12-02T01:00:00+00:00", "2026-12-03T01:00:00+00:00")]
    records_service.handoffs = [handoff_ticket("H1", "c2", "2026-12-02T01:00:00+00:00", "2026-12-02T01:30:00+00:00")]
    records_service.unanswered = [unanswered(1, "c3", "2026-12-02T01:00:00+00:00", "在吗")]

    with client(records_service) as api:
        assert api.records(PERIOD) == []
        assert api.complaints(PERIOD) == records_service.complaints
        assert api.handoffs(PERIOD) == records_service.handoffs
        assert api.unanswered(PERIOD) == records_service.unanswered

    assert [(request.path, request.authorization) for request in records_service.requests] == [
        ("/api/records", "Bearer report-token"),
        ("/api/complaints", "Bearer report-token"),
        ("/api/handoffs", "Bearer report-token"),
        ("/api/unanswered", "Bearer report-token"),
    ]
    assert [request.query for request in records_service.requests[1:]] == [PERIOD_QUERY] * 3


def test_a_refused_token_is_a_records_api_error(records_service: FakeRecordsService) -> None:
    with client(records_service, token="wrong") as api, pytest.raises(RecordsApiError) as raised:
        api.complaints(PERIOD)

    assert str(raised.value) == (
        f"GET {records_service.url}/api/complaints: the record service refused RECORDS_TOKEN (401)"
    )


def test_a_server_error_is_a_records_api_error_with_its_code(records_service: FakeRecordsService) -> None:
    records_service.fail_with = 503

    with client(records_service) as api, pytest.raises(RecordsApiError) as raised:
        api.records(PERIOD)

    assert str(raised.value) == (
        f"GET {records_service.url}/api/records: the record service answered 503: "
        "database_unavailable: try again later"
    )


def test_a_cursor_that_does_not_move_is_a_records_api_error(records_service: FakeRecordsService) -> None:
    records_service.records = [record(1, "c", "identity_check", "verified", "2026-12-02T01:00:00+00:00")] * 2
    records_service.page_size = 1
    records_service.stuck_cursor = True

    with client(records_service) as api, pytest.raises(RecordsApiError, match="next_after_id 0 does not follow 0"):
        api.records(PERIOD)


def test_no_connection_is_a_records_api_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with RecordsApi(url, "token") as api, pytest.raises(RecordsApiError) as raised:
        api.handoffs(PERIOD)

    assert str(raised.value) == f"GET {url}/api/handoffs: cannot reach the record service (ConnectionError)"


def test_no_answer_in_time_is_a_records_api_error(silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}"

    with RecordsApi(url, "token", timeout_s=0.2) as api, pytest.raises(RecordsApiError) as raised:
        api.unanswered(PERIOD)

    assert str(raised.value) == f"GET {url}/api/unanswered: no answer within 0.2 s"
