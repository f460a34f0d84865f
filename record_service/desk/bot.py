"""The desk's client of the Rasa server's HTTP API (Rasa 3.6, `rasa run --enable-api`).

Every call carries the server's `--auth-token` as `?token=`:

- `GET  /conversations/{id}/tracker`: the conversation, to show the agent;
- `POST /conversations/{id}/tracker/events` with `{"event": "pause"}` or `{"event": "resume"}`;
- `POST /conversations/{id}/tracker/events?output_channel=latest&execute_side_effects=true`
  with `{"event": "bot", "text": ..., "metadata": {"agent_id", "agent_name"}}`: Rasa logs the
  agent's reply and sends it through the shopper's channel's output channel;
- `POST /conversations/{id}/execute?output_channel=latest` with `{"name": <action>}`.

Reading, pausing and resuming are safe to repeat and are retried with backoff; a reply
or an action is sent once (a repeat would show the shopper the message twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import requests

from record_service.desk.agents import Actor
from service_common.retry import FailedAttempt, RetrySchedule, call_with_retries

logger = logging.getLogger(__name__)

# The most recent messages the agent is shown; older ones are in the ticket's transcript.
MAX_CONVERSATION_MESSAGES = 200


class BotError(Exception):
    """The Rasa server did not do what the desk asked (the message has no URL or token)."""


class BotUnavailableError(BotError):
    """The Rasa server could not be reached, timed out, failed (5xx) or has no model loaded."""


class BotRejectedError(BotError):
    """The Rasa server refused the request (4xx: wrong token, malformed, unknown conversation).

    Attributes:
        status: The HTTP status Rasa answered.
    """

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.status = status


class BotClient:
    """Pauses, reads, relays to and resumes conversations on the Rasa server.

    One `requests.Session` with timeouts; the calls block (run them in a worker thread).

    Args:
        base_url: The Rasa server's URL (RECORDS_BOT_URL).
        token: Its `--auth-token` (RECORDS_BOT_TOKEN).
        connect_timeout_s: Seconds to wait for a connection.
        read_timeout_s: Seconds to wait for an answer (an action may call the action server).
        attempts: Tries of a repeatable call, the first included.
        backoff_s: Wait before the first retry; doubled for each further one.
        sleep: How to wait between retries.

    Raises:
        ValueError: A value is out of range.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        attempts: int = 3,
        backoff_s: float = 0.3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        if attempts < 1 or backoff_s < 0 or connect_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError("attempts must be at least 1, timeouts positive, backoff not negative")
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._retries = RetrySchedule(attempts=attempts, first_delay_s=backoff_s)
        self._sleep = sleep
        self._session = requests.Session()

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        """The conversation's tracker (events since the latest restart).

        Raises:
            BotUnavailableError: Rasa cannot answer now, after retries.
            BotRejectedError: Rasa refused (e.g. 401: RECORDS_BOT_TOKEN is not its token).
        """
        answer = self._repeatable("GET", _path(conversation_id, "tracker"))
        if not isinstance(answer, dict):
            raise BotUnavailableError("the tracker is not a JSON object")
        return answer

    def pause(self, conversation_id: str) -> None:
        """Pauses the bot in a conversation: Rasa logs the shopper's messages without answering.

        Raises:
            BotUnavailableError: Rasa cannot answer now, after retries.
            BotRejectedError: Rasa refused.
        """
        self._repeatable("POST", _path(conversation_id, "tracker/events"), body={"event": "pause"})

    def resume(self, conversation_id: str) -> None:
        """Resumes the bot in a conversation.

        Raises:
            BotUnavailableError: Rasa cannot answer now, after retries.
            BotRejectedError: Rasa refused.
        """
        self._repeatable("POST", _path(conversation_id, "tracker/events"), body={"event": "resume"})

    def say(self, conversation_id: str, text: str, agent: Actor) -> None:
        """Sends an agent's message to the shopper through the shopper's latest channel.

        Sent once: if the answer is lost, the message may or may not have gone out.

        Raises:
            BotUnavailableError: Rasa cannot answer now.
            BotRejectedError: Rasa refused.
        """
        self._call(
            "POST",
            _path(conversation_id, "tracker/events"),
            {"output_channel": "latest", "execute_side_effects": "true"},
            {"event": "bot", "text": text, "metadata": {"agent_id": agent.id, "agent_name": agent.name}},
        )

    def run_action(self, conversation_id: str, action_name: str) -> None:
        """Runs an action in a conversation; its messages go through the shopper's latest channel.

        Raises:
            BotUnavailableError: Rasa cannot answer now.
            BotRejectedError: Rasa refused (404: Rasa does not know the conversation).
        """
        path = _path(conversation_id, "execute")
        self._call("POST", path, {"output_channel": "latest"}, {"name": action_name})

    def close(self) -> None:
        """Closes the HTTP session."""
        self._session.close()

    def _repeatable(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        def log_retry(failed: FailedAttempt) -> None:
            logger.warning("desk: Rasa %s failed (%s), attempt %d of %d", path.split("/")[-1], failed.error,
                           failed.number, failed.attempts)

        return call_with_retries(
            lambda: self._call(method, path, {}, body),
            self._retries,
            retry_on=lambda error: isinstance(error, BotUnavailableError),
            sleep=self._sleep,
            on_retry=log_retry,
        )

    def _call(self, method: str, path: str, params: dict[str, str], body: Mapping[str, Any] | None) -> Any:
        try:
            reply = self._session.request(
                method,
                f"{self._base_url}{path}",
                params={**params, "token": self._token},
                json=body,
                timeout=self._timeout,
            )
        except requests.RequestException as error:
            # Never the URL in a message: it holds the token.
            raise BotUnavailableError(type(error).__name__) from None
        # 409: Rasa runs but has no model loaded yet (it is still starting).
        if reply.status_code >= 500 or reply.status_code == 409:
            raise BotUnavailableError(f"HTTP {reply.status_code}")
        if reply.status_code >= 400:
            raise BotRejectedError(f"HTTP {reply.status_code}", reply.status_code)
        try:
            return reply.json()
        except ValueError:
            raise BotUnavailableError("the answer is not JSON") from None


def _path(conversation_id: str, route: str) -> str:
    return f"/conversations/{quote(conversation_id, safe='')}/{route}"


def conversation_view(tracker: Mapping[str, Any]) -> dict[str, Any]:
    """What the agent sees of a live conversation: its messages, and whether the bot is paused.

    Messages are `{"role": "shopper"|"bot"|"agent", "text", "at", "agent_name"}`, oldest
    first (the latest 200); a bot message with an `agent_id` in its metadata is an agent's.
    Events' other metadata (channel accounts) is not shown.
    """
    messages: list[dict[str, Any]] = []
    events = tracker.get("events")
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict) or event.get("event") not in ("user", "bot"):
            continue
        text = event.get("text")
        if not isinstance(text, str) or not text:
            continue
        raw_metadata = event.get("metadata")
        metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
        by_agent = event["event"] == "bot" and bool(metadata.get("agent_id"))
        agent_name = metadata.get("agent_name") if by_agent else None
        messages.append(
            {
                "role": "shopper" if event["event"] == "user" else "agent" if by_agent else "bot",
                "text": text,
                "at": _time_of(event.get("timestamp")),
                "agent_name": agent_name if isinstance(agent_name, str) else None,
            }
        )
    channel = tracker.get("latest_input_channel")
    return {
        "paused": bool(tracker.get("paused")),
        "channel": channel if isinstance(channel, str) else None,
        "messages": messages[-MAX_CONVERSATION_MESSAGES:],
    }


def _time_of(timestamp: object) -> str | None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        return None
