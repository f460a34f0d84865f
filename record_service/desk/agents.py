"""The desk's agents: who they are, how their tokens are checked, who is online.

Agents are configured by a YAML file (RECORDS_AGENTS_FILE)::

    agents:
      - {id: xiaowang, name: 客服小王, token_sha256: <64 hex digits>}

Only the SHA-256 of each token is stored; a presented token is hashed and compared with
every agent's hash in constant time. The record service's own token is never an agent's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from service_common.env import MissingSettingError

_AGENT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MAX_AGENT_NAME_CHARS = 32
# An agent is online when it called the desk API this recently (the workspace polls).
PRESENCE_WINDOW_S = 60.0


class Actor(Protocol):
    """Whoever acts on a ticket: a desk agent, or an external help desk's agent."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class Agent:
    """A person who may use the desk.

    Attributes:
        id: A short stable id (a-z, 0-9, '_', '-'), recorded in the audit.
        name: The name shoppers' conversations and the audit show, e.g. 客服小王.
        token_sha256: The hex SHA-256 of the agent's token.
    """

    id: str
    name: str
    token_sha256: str = field(repr=False)


@dataclass(frozen=True)
class ExternalAgent:
    """An agent of an external help desk (e.g. `chatwoot:12`), known only by its messages."""

    id: str
    name: str


def token_sha256(token: str) -> str:
    """The hex SHA-256 of a token, as the agents file stores it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load_agents(path: Path, *, service_token: str) -> tuple[Agent, ...]:
    """The agents of an agents file.

    Args:
        path: The YAML file (RECORDS_AGENTS_FILE).
        service_token: The record service's token, which no agent may share.

    Raises:
        MissingSettingError: The file is missing, not YAML, or an entry is malformed;
            the message says which (never a token or hash).
    """
    where = f"RECORDS_AGENTS_FILE ({path})"
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise MissingSettingError(f"{where} cannot be read: {error.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise MissingSettingError(f"{where} is not a YAML file") from None
    entries = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise MissingSettingError(f"{where} must hold `agents:`, a list of {{id, name, token_sha256}}")
    agents = tuple(_agent(entry, number, where) for number, entry in enumerate(entries, start=1))
    if len({agent.id for agent in agents}) != len(agents):
        raise MissingSettingError(f"{where}: agent ids must be unique")
    if len({agent.token_sha256 for agent in agents}) != len(agents):
        raise MissingSettingError(f"{where}: two agents share a token")
    if token_sha256(service_token) in {agent.token_sha256 for agent in agents}:
        raise MissingSettingError(f"{where}: an agent's token is RECORDS_TOKEN; give agents their own")
    return agents


def _agent(entry: object, number: int, where: str) -> Agent:
    if not isinstance(entry, dict) or set(entry) != {"id", "name", "token_sha256"}:
        raise MissingSettingError(f"{where}: agent {number} must have exactly id, name and token_sha256")
    agent_id, name, digest = entry["id"], entry["name"], entry["token_sha256"]
    if not isinstance(agent_id, str) or not _AGENT_ID.fullmatch(agent_id):
        raise MissingSettingError(f"{where}: agent {number}'s id must be 1-32 of a-z, 0-9, _ and -")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_AGENT_NAME_CHARS:
        raise MissingSettingError(f"{where}: agent {agent_id}'s name must be 1-{MAX_AGENT_NAME_CHARS} chars")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
        raise MissingSettingError(
            f"{where}: agent {agent_id}'s token_sha256 must be 64 lowercase hex digits (never the token)"
        )
    return Agent(id=agent_id, name=name.strip(), token_sha256=digest)


class AgentDirectory:
    """Finds the agent a bearer token belongs to.

    Args:
        agents: The configured agents.
    """

    def __init__(self, agents: Iterable[Agent]) -> None:
        self._agents = tuple(agents)

    def __len__(self) -> int:
        return len(self._agents)

    def authenticate(self, authorization: str | None) -> Agent | None:
        """The agent whose token an `Authorization: Bearer <token>` header carries, or None.

        Every agent's hash is compared, in constant time, whichever matches.
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or not token:
            return None
        digest = token_sha256(token).encode()
        found = None
        for agent in self._agents:
            if hmac.compare_digest(digest, agent.token_sha256.encode()):
                found = agent
        return found


class Presence:
    """Which agents called the desk API recently (in this process).

    Args:
        window_s: How recent a call must be for its agent to count as online.
        clock: Monotonic seconds.
    """

    def __init__(
        self, window_s: float = PRESENCE_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window_s = window_s
        self._clock = clock
        self._last_seen: dict[str, float] = {}

    def seen(self, agent_id: str) -> None:
        """Notes that an agent called the desk API just now."""
        self._last_seen[agent_id] = self._clock()

    def online(self) -> int:
        """How many agents called the desk API within the window."""
        since = self._clock() - self._window_s
        return sum(1 for moment in self._last_seen.values() if moment >= since)
