"""Calling a running order system from tests (shared by the order system's test modules)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import requests

from tests.fixtures.servers import RunningService

TIMEOUT_S = 10
VALID_RETURN = {"type": "return", "skus": ["AP-TS-01"], "reason": "不合适", "quality_issue": False}


class OrderApi:
    """Calls one running order system with its token."""

    def __init__(self, service: RunningService) -> None:
        self.service = service
        self.url = service.url
        self.auth = {"Authorization": f"Bearer {service.token}"}

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(self.url + path, params=params, headers=self.auth, timeout=TIMEOUT_S)

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        data: bytes | None = None,
    ) -> requests.Response:
        headers = dict(self.auth)
        if key is not None:
            headers["Idempotency-Key"] = key
        if data is not None:
            return requests.post(self.url + path, data=data, headers=headers, timeout=TIMEOUT_S)
        return requests.post(self.url + path, json=body, headers=headers, timeout=TIMEOUT_S)


def error_of(response: requests.Response) -> tuple[int, str]:
    """The status and error code of an error response, after checking its shape."""
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return response.status_code, body["error"]["code"]


def fire_together(count: int, call: Callable[[], requests.Response]) -> list[requests.Response]:
    """Runs `call()` in `count` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results: list[requests.Response | BaseException] = [RuntimeError("not run")] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except BaseException as error:  # reported below, not lost in the thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]
