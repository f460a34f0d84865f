"""Replays recorded phone calls through the IVR channel of a running stack, for quality checks.

    python scripts/replay_calls.py [FILE ...]     # default: channels/ivr/sample_calls.jsonl

Each FILE holds recorded turns as JSON lines, one turn a line, in the IVR request format
(channels/ivr/README.md); the lines of one call share its `call_id` and are sent in file
order. Each replay is a new call: the call id gets a fresh suffix, and each turn the
current time as its timestamp, so a replay is never taken for a retry of an earlier one.

For each call it prints the conversation (what the caller said or keyed, what the bot
said, what it did with the call) and then the call's service records. The stack is found
like scripts/stack.py finds it: its `env` file in STACK_DIR (default `.stack/`), with
IVR_URL, IVR_TOKEN, RECORDS_URL and RECORDS_TOKEN.

Exit status: 0 when every turn and every record read was answered with 200; 1 when one
was not (that call stops there, the others are still played); 2 when the stack's
settings or a FILE cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: make `channels` and `scripts` importable
    sys.path.insert(0, str(REPO_ROOT))

from channels.ivr.protocol import conversation_id_for  # noqa: E402
from scripts.stack import StackLayout, read_env_file  # noqa: E402

DEFAULT_FILE = REPO_ROOT / "channels" / "ivr" / "sample_calls.jsonl"
REQUIRED_SETTINGS = ("IVR_URL", "IVR_TOKEN", "RECORDS_URL", "RECORDS_TOKEN")
TIMEOUT_S = 30.0


class ReplayError(Exception):
    """The stack's settings or a recording cannot be read; the message says which and why."""


@dataclass(frozen=True)
class RecordedCall:
    """The recorded turns of one call, in order."""

    call_id: str
    turns: list[dict[str, Any]]


def read_calls(paths: Iterable[Path]) -> list[RecordedCall]:
    """The calls in JSON-lines recordings, each with its turns in file order.

    Raises:
        ReplayError: A file cannot be read, or a line is not a JSON object with a call_id.
    """
    calls: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ReplayError(f"cannot read {path}: {error}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                turn = json.loads(line)
            except json.JSONDecodeError as error:
                raise ReplayError(f"{path}:{number}: not JSON ({error.msg})") from None
            if not isinstance(turn, dict) or not isinstance(turn.get("call_id"), str):
                raise ReplayError(f"{path}:{number}: not a turn (a JSON object with a call_id)")
            calls.setdefault(turn["call_id"], []).append(turn)
    return [RecordedCall(call_id, turns) for call_id, turns in calls.items()]


def stack_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """IVR_URL, IVR_TOKEN, RECORDS_URL and RECORDS_TOKEN of the running stack.

    Raises:
        ReplayError: The stack's env file is missing or lacks a setting.
    """
    env_file = StackLayout.from_environment(environ).env_file
    settings = read_env_file(env_file)
    missing = [name for name in REQUIRED_SETTINGS if not settings.get(name)]
    if missing:
        raise ReplayError(f"{env_file} lacks {', '.join(missing)}: is the stack up (`make up`)?")
    return {name: settings[name] for name in REQUIRED_SETTINGS}


def describe_turn(turn: Mapping[str, Any]) -> str:
    """What the caller did in a recorded turn, as one line."""
    event = turn.get("event", "turn")
    if event == "start":
        return f"(call starts from {turn.get('caller') or 'a withheld number'})"
    if event == "end":
        return "(caller hangs up)"
    parts = []
    if turn.get("transcript"):
        parts.append(f"“{turn['transcript']}” (confidence {turn.get('confidence')})")
    if turn.get("dtmf"):
        parts.append(f"keys {turn['dtmf']}")
    return " + ".join(parts) or "(silence)"


def describe_record(record: Mapping[str, Any]) -> str:
    """A service record as one line: kind, outcome, order and details."""
    details = json.dumps(record.get("details"), ensure_ascii=False, sort_keys=True)
    return f"{record.get('kind')} {record.get('outcome')} order={record.get('order_id')} {details}"


class Replayer:
    """Plays recorded calls against a stack and prints them."""

    def __init__(self, settings: Mapping[str, str], out: TextIO) -> None:
        self.settings = settings
        self.out = out
        self.session = requests.Session()

    def play(self, call: RecordedCall) -> bool:
        """Plays one call and prints it with its records; False on an HTTP error."""
        call_id = f"{call.call_id}-replay-{secrets.token_hex(4)}"
        self._print(f"=== call {call.call_id} (replayed as {call_id})")
        played = all(self._turn(call_id, turn) for turn in call.turns)
        return self._records(call_id) and played

    def _turn(self, call_id: str, recorded: Mapping[str, Any]) -> bool:
        body = {**recorded, "call_id": call_id, "timestamp": int(time.time())}
        self._print(f"  caller:  {describe_turn(recorded)}")
        try:
            answer = self.session.post(
                self.settings["IVR_URL"], json=body, timeout=TIMEOUT_S,
                headers={"Authorization": f"Bearer {self.settings['IVR_TOKEN']}"},
            )
        except requests.RequestException as error:
            self._print(f"  ERROR: the IVR endpoint is unreachable ({type(error).__name__})")
            return False
        if answer.status_code != 200:
            self._print(f"  ERROR: HTTP {answer.status_code} {answer.text[:300]}")
            return False
        reply = answer.json()
        if reply.get("speech"):
            self._print(f"  bot:     {reply['speech']}")
        self._print(f"  action:  {reply.get('action')}")
        for extra in ("transfer", "callback"):
            if extra in reply:
                self._print(f"  {extra}: {json.dumps(reply[extra], ensure_ascii=False, sort_keys=True)}")
        return True

    def _records(self, call_id: str) -> bool:
        conversation = conversation_id_for(call_id, self.settings["IVR_TOKEN"])
        try:
            answer = self.session.get(
                self.settings["RECORDS_URL"], params={"conversation_id": conversation}, timeout=TIMEOUT_S,
                headers={"Authorization": f"Bearer {self.settings['RECORDS_TOKEN']}"},
            )
        except requests.RequestException as error:
            self._print(f"  ERROR: the record service is unreachable ({type(error).__name__})")
            return False
        if answer.status_code != 200:
            self._print(f"  ERROR: records: HTTP {answer.status_code} {answer.text[:300]}")
            return False
        body = answer.json()
        records = body.get("records", []) if isinstance(body, dict) else body
        self._print(f"  service records of {conversation}: {len(records)}")
        for record in records:
            self._print(f"    - {describe_record(record)}")
        return True

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="*", type=Path, default=[DEFAULT_FILE],
                        help="recorded calls, JSON lines (default: the sample calls)")
    args = parser.parse_args(argv)
    try:
        settings = stack_settings(os.environ)
        calls = read_calls(args.files)
    except ReplayError as error:
        print(f"replay: {error}", file=sys.stderr)
        return 2
    replayer = Replayer(settings, sys.stdout)
    results = [replayer.play(call) for call in calls]
    failed = results.count(False)
    print(f"replay: {len(calls)} call(s), {failed} with errors")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
