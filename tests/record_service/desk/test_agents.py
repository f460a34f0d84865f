"""The desk's agents file, token checks and presence."""

from __future__ import annotations

from pathlib import Path

import pytest

from record_service.desk.agents import AgentDirectory, Presence, load_agents, token_sha256
from service_common.env import MissingSettingError

SERVICE_TOKEN = "the-record-service-token"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agents.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def agents_yaml(*entries: tuple[str, str, str]) -> str:
    lines = ["agents:"]
    for agent_id, name, digest in entries:
        lines.append(f"  - {{id: {agent_id}, name: {name}, token_sha256: {digest}}}")
    return "\n".join(lines) + "\n"


def test_agents_are_read_with_only_their_tokens_hashes(tmp_path: Path) -> None:
    path = write(tmp_path, agents_yaml(("xiaowang", "客服小王", token_sha256("t1")),
                                       ("xiaoli", "客服小李", token_sha256("t2"))))

    agents = load_agents(path, service_token=SERVICE_TOKEN)

    assert [(a.id, a.name) for a in agents] == [("xiaowang", "客服小王"), ("xiaoli", "客服小李")]
    assert "t1" not in repr(agents) and token_sha256("t1") not in repr(agents)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("agents: [", "is not a YAML file"),
        ("agents: []\n", "must hold `agents:`"),
        ("- a\n", "must hold `agents:`"),
        (agents_yaml(("Wang", "客服小王", token_sha256("t1"))), "id must be"),
        (agents_yaml(("xiaowang", "''", token_sha256("t1"))), "name must be"),
        (agents_yaml(("xiaowang", "客服小王", "t1")), "token_sha256 must be 64 lowercase hex digits"),
        (agents_yaml(("xiaowang", "客服小王", token_sha256("t1").upper())), "64 lowercase hex"),
        ("agents:\n  - {id: a, name: b, token: t1}\n", "exactly id, name and token_sha256"),
        (agents_yaml(("a", "甲", token_sha256("t1")), ("a", "乙", token_sha256("t2"))), "ids must be unique"),
        (agents_yaml(("a", "甲", token_sha256("t1")), ("b", "乙", token_sha256("t1"))), "share a token"),
        (agents_yaml(("a", "甲", token_sha256(SERVICE_TOKEN))), "is RECORDS_TOKEN"),
    ],
)
def test_a_malformed_agents_file_is_refused_loudly(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(MissingSettingError, match="RECORDS_AGENTS_FILE") as raised:
        load_agents(write(tmp_path, text), service_token=SERVICE_TOKEN)

    assert message in str(raised.value)
    assert "t1" not in str(raised.value).replace("token_sha256", "")


def test_a_missing_agents_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MissingSettingError, match="cannot be read"):
        load_agents(tmp_path / "nowhere.yaml", service_token=SERVICE_TOKEN)


def test_a_token_is_found_only_as_a_bearer_token_of_an_agent(tmp_path: Path) -> None:
    path = write(tmp_path, agents_yaml(("xiaowang", "客服小王", token_sha256("t1")),
                                       ("xiaoli", "客服小李", token_sha256("t2"))))
    directory = AgentDirectory(load_agents(path, service_token=SERVICE_TOKEN))

    assert directory.authenticate("Bearer t2").id == "xiaoli"  # type: ignore[union-attr]
    for header in (None, "", "t1", "Bearer", "Bearer ", "bearer t1", "Basic t1", "Bearer t3", "Bearer t1 ",
                   f"Bearer {SERVICE_TOKEN}", f"Bearer {token_sha256('t1')}"):
        assert directory.authenticate(header) is None, header


def test_presence_counts_agents_seen_within_the_window() -> None:
    now = [100.0]
    presence = Presence(window_s=60, clock=lambda: now[0])

    presence.seen("xiaowang")
    now[0] = 130.0
    presence.seen("xiaoli")
    presence.seen("xiaoli")
    counts = [presence.online()]
    now[0] = 160.5
    counts.append(presence.online())
    now[0] = 191.0
    counts.append(presence.online())

    assert counts == [2, 1, 0]
