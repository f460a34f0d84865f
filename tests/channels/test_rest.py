"""The REST webhook's guard: open, token or off, on a real Sanic app with Rasa's REST routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from channels.rest import GuardedRestInput, RestConfigError, check_settings, malformed, refusal
from tests.fixtures.servers import free_port

TOKEN = "t" * 32


@pytest.mark.parametrize(
    ("mode", "authorization", "expected"),
    [
        ("open", None, None),
        ("off", f"Bearer {TOKEN}", (404, "rest_webhook_off")),
        ("token", None, (401, "unauthorized")),
        ("token", f"Bearer {TOKEN}x", (401, "unauthorized")),
        ("token", TOKEN, (401, "unauthorized")),
        ("token", f"bearer {TOKEN}", None),
    ],
)
def test_who_may_pass(mode: str, authorization: str | None, expected: tuple[int, str] | None) -> None:
    assert refusal(check_settings(mode, TOKEN), TOKEN, authorization) == expected


@pytest.mark.parametrize(("mode", "token"), [("closed", TOKEN), ("token", ""), ("token", "short")])
def test_settings_that_cannot_work_stop_the_start(mode: str, token: str) -> None:
    with pytest.raises(RestConfigError, match="REST_WEBHOOK"):
        GuardedRestInput.from_credentials({"mode": mode, "token": token})


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[GuardedRestInput], Awaitable[tuple[str, list[UserMessage]]]]]:
    """Serves a channel's blueprint on a real Sanic server; yields its URL and what reached Rasa."""
    servers: list[Any] = []

    async def start(channel: GuardedRestInput) -> tuple[str, list[UserMessage]]:
        received: list[UserMessage] = []

        async def on_new_message(message: UserMessage) -> Any:
            received.append(message)

        Sanic.test_mode = True
        app = Sanic(f"rest_test_{channel.mode}_{len(servers)}")
        app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/rest")
        port = free_port()
        server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
        assert server is not None
        await server.startup()
        servers.append(server)
        return f"http://127.0.0.1:{port}", received

    yield start
    for server in servers:
        await server.close()


@pytest.mark.parametrize(
    ("mode", "headers", "status"),
    [("open", {}, 200), ("token", {}, 401), ("token", {"Authorization": f"Bearer {TOKEN}"}, 200), ("off", {}, 404)],
)
async def test_the_webhook_answers_only_whom_the_mode_lets_in(
    serve: Callable[[GuardedRestInput], Awaitable[tuple[str, list[UserMessage]]]],
    mode: str,
    headers: dict[str, str],
    status: int,
) -> None:
    url, received = await serve(GuardedRestInput(mode, TOKEN))

    async with aiohttp.ClientSession() as session, session.post(
        f"{url}/webhooks/rest/webhook", json={"sender": "s1", "message": "你好"}, headers=headers
    ) as response:
        answered = response.status

    assert answered == status
    assert [(m.sender_id, m.text) for m in received] == ([("s1", "你好")] if status == 200 else [])


def test_the_channel_keeps_rasa_s_name_and_hides_its_token() -> None:
    channel = GuardedRestInput("token", TOKEN)

    assert channel.name() == "rest"
    assert TOKEN not in repr(channel)


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"message": "你好"},
        {"sender": "", "message": "你好"},
        {"sender": "a\x00b", "message": "你好"},
        {"sender": "s" * 129, "message": "你好"},
        {"sender": "\ud800", "message": "你好"},
        {"sender": 7, "message": "你好"},
        {"sender": "s1"},
        {"sender": "s1", "message": None},
        {"sender": "s1", "message": ["你好"]},
        {"sender": "s1", "message": "你好", "metadata": "x"},
    ],
)
def test_bodies_rasa_s_channel_would_crash_on_are_named(body: Any) -> None:
    assert malformed(body) is not None


def test_a_well_formed_body_passes() -> None:
    assert malformed({"sender": "s1", "message": "", "metadata": {"a": 1}}) is None


@pytest.mark.parametrize("raw", [b"{", b"[]", b'{"sender": "s1", "message": null}', b"\xff\xfe"])
async def test_a_malformed_body_is_400_and_reaches_no_turn(
    serve: Callable[[GuardedRestInput], Awaitable[tuple[str, list[UserMessage]]]], raw: bytes
) -> None:
    url, received = await serve(GuardedRestInput("open", TOKEN))

    async with aiohttp.ClientSession() as session, session.post(
        f"{url}/webhooks/rest/webhook", data=raw, headers={"Content-Type": "application/json"}
    ) as response:
        answered, body = response.status, await response.json()

    assert (answered, body["error"]) == (400, "invalid_message")
    assert received == []
