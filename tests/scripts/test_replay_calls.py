"""scripts/replay_calls.py: reading recordings, and replaying them against the running stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.replay_calls import DEFAULT_FILE, ReplayError, describe_turn, read_calls, stack_settings
from tests.fixtures.servers import REPO_ROOT
from tests.fixtures.stack import Stack


def test_recordings_are_grouped_by_call_in_file_order(tmp_path: Path) -> None:
    recording = tmp_path / "calls.jsonl"
    lines = [{"call_id": "A", "turn_id": 1}, {"call_id": "B", "turn_id": 1}, {"call_id": "A", "turn_id": 2}]
    recording.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    calls = read_calls([recording])
    assert [(call.call_id, [turn["turn_id"] for turn in call.turns]) for call in calls] == [("A", [1, 2]), ("B", [1])]


@pytest.mark.parametrize(("content", "problem"), [("{not json\n", "not JSON"), ('["A"]\n', "not a turn"),
                                                  ('{"turn_id": 1}\n', "not a turn")])
def test_a_bad_line_is_named_by_file_and_number(content: str, problem: str, tmp_path: Path) -> None:
    recording = tmp_path / "calls.jsonl"
    recording.write_text('{"call_id": "A", "turn_id": 1}\n' + content, encoding="utf-8")
    with pytest.raises(ReplayError, match=f"calls.jsonl:2: {problem}"):
        read_calls([recording])
    with pytest.raises(ReplayError, match="cannot read"):
        read_calls([tmp_path / "missing.jsonl"])


def test_the_sample_calls_are_valid_recordings() -> None:
    calls = read_calls([DEFAULT_FILE])
    assert len(calls) == 3
    assert all(call.turns[0].get("event") == "start" for call in calls)


def test_turns_are_described_as_the_caller_made_them() -> None:
    assert describe_turn({"event": "start", "caller": None}) == "(call starts from a withheld number)"
    assert describe_turn({"transcript": "查退款", "confidence": 0.9, "dtmf": "1"}) == "“查退款” (confidence 0.9) + keys 1"
    assert describe_turn({"event": "end"}) == "(caller hangs up)"


def test_a_stack_without_settings_is_named(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="lacks IVR_URL, IVR_TOKEN, RECORDS_URL, RECORDS_TOKEN"):
        stack_settings({"STACK_DIR": str(tmp_path)})


def replay(stack_dir: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/replay_calls.py", *map(str, files)],
        cwd=REPO_ROOT, env={**os.environ, "STACK_DIR": str(stack_dir)},
        capture_output=True, text=True, timeout=300,
    )


@pytest.mark.stack
def test_the_sample_calls_replay_with_their_conversations_and_records(running_stack: Stack) -> None:
    played = replay(running_stack.directory)
    assert played.returncode == 0, played.stdout + played.stderr
    out = played.stdout
    assert out.count("=== call ") == 3
    assert "keys 5555#" in out and "您说的是订单号8 8 0 0 0 0 2 0 0 3，对吗？" in out
    assert 'identity_check verified order=8800002001 {"channel": "ivr", "method": "caller_id"}' in out
    assert 'identity_check verified order=8800002003 {"channel": "ivr", "method": "phone_last4"}' in out
    assert "refund_status completed order=8800002001" in out and "refund_status on_time order=8800002003" in out
    assert "handoff " in out
    assert out.rstrip().endswith("replay: 3 call(s), 0 with errors")


@pytest.mark.stack
def test_a_refused_turn_makes_the_replay_fail(running_stack: Stack, tmp_path: Path) -> None:
    recording = tmp_path / "bad.jsonl"
    recording.write_text(
        '{"call_id": "CA-bad", "turn_id": 1, "transcript": "查退款", "confidence": 2}\n'
        '{"call_id": "CA-bad", "turn_id": 2, "transcript": "查退款", "confidence": 0.9}\n',
        encoding="utf-8",
    )
    played = replay(running_stack.directory, recording)
    assert played.returncode == 1
    assert "ERROR: HTTP 400" in played.stdout and '"field":"confidence"' in played.stdout.replace(" ", "")
    assert played.stdout.count("caller:") == 1  # the call stops at its first error
    assert "replay: 1 call(s), 1 with errors" in played.stdout


def test_unreadable_settings_or_files_exit_with_two(tmp_path: Path) -> None:
    played = replay(tmp_path)
    assert played.returncode == 2 and "is the stack up" in played.stderr
