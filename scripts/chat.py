"""Chat with the running bot in the terminal, through Rasa's REST channel.

Usage: python scripts/chat.py [--sender ID]   (reads BOT_URL from .stack/env)
Buttons are shown numbered; type the number to choose one. Ctrl-D or /quit ends.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]


def bot_url() -> str:
    """BOT_URL from the environment, else from the running stack's env file."""
    if os.environ.get("BOT_URL"):
        return os.environ["BOT_URL"].rstrip("/")
    env_file = Path(os.environ.get("STACK_DIR") or REPO_ROOT / ".stack") / "env"
    for line in env_file.read_text().splitlines() if env_file.exists() else []:
        if line.startswith("BOT_URL="):
            return line.split("=", 1)[1].strip().rstrip("/")
    raise SystemExit("chat: no running stack found; start it with `make up` or `make run`")


def render(messages: list[dict[str, Any]]) -> list[str]:
    """Prints the bot's messages; returns the payloads of its buttons, in order."""
    payloads: list[str] = []
    for message in messages:
        if message.get("text"):
            print(f"客服: {message['text']}")
        for button in message.get("buttons") or []:
            payloads.append(str(button.get("payload", "")))
            print(f"   [{len(payloads)}] {button.get('title', '')}")
    return payloads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sender", default=f"terminal-{uuid.uuid4().hex[:8]}")
    args = parser.parse_args()
    url = f"{bot_url()}/webhooks/rest/webhook"
    print(f"已连接 {url}（会话 {args.sender}）。输入 /quit 或按 Ctrl-D 结束。")
    payloads: list[str] = []
    while True:
        try:
            text = input("您: ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if text == "/quit":
            return 0
        if not text:
            continue
        if text.isdigit() and 0 < int(text) <= len(payloads):
            text = payloads[int(text) - 1]
        try:
            reply = requests.post(url, json={"sender": args.sender, "message": text}, timeout=30)
            reply.raise_for_status()
        except requests.RequestException as error:
            print(f"（机器人暂时无法回复：{error}）")
            continue
        payloads = render(reply.json() or [])


if __name__ == "__main__":
    sys.exit(main())
