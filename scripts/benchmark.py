"""Per-turn latency through the REST webhook, actions included, and the Rasa server's memory.

Starts its own stack (demo orders, ports from PORT_BASE or 7700) unless --use-running is
given, plays refund-status conversations (opening line, order number, phone digits: three
turns that reach the order system and the record service) at 1 and at 20 concurrent
conversations, and prints p50/p95 per level and the Rasa server's resident memory.

With --production the stack runs in production mode (`scripts/stack.py up --production`:
PostgreSQL database `aftersales_bench`, Redis, two Rasa and two action-server workers).

Usage: python scripts/benchmark.py [--conversations N] [--use-running] [--production]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_CONVERSATION = ["我想查一下退款进度", "6600002003", "1111"]


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def play_conversation(bot_url: str) -> list[float]:
    """One shopper's conversation; returns each turn's latency in seconds."""
    sender = f"bench-{uuid.uuid4().hex[:10]}"
    latencies = []
    with requests.Session() as session:
        for text in DEMO_CONVERSATION:
            started = time.perf_counter()
            reply = session.post(
                f"{bot_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
            )
            reply.raise_for_status()
            latencies.append(time.perf_counter() - started)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def run_level(bot_url: str, concurrency: int, conversations: int) -> list[float]:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda _: play_conversation(bot_url), range(conversations)))
    return [latency for conversation in results for latency in conversation]


def resident_memory_mb(pid: int) -> float:
    """VmRSS of a process and its children, in MiB (Linux /proc)."""
    total_kb = 0
    pids = [pid]
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    pids.extend(int(c) for c in children)
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total_kb / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=40, help="conversations per level")
    parser.add_argument("--use-running", action="store_true", help="use the stack in .stack/")
    parser.add_argument("--production", action="store_true", help="PostgreSQL, Redis, workers")
    args = parser.parse_args()

    stack_dir = REPO_ROOT / (".stack" if args.use_running else ".stack-bench")
    env = {**os.environ, "STACK_DIR": str(stack_dir), "PORT_BASE": os.environ.get("PORT_BASE", "7700")}
    if args.production:
        env.setdefault("PRODUCTION_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/aftersales_bench")
        env.setdefault("REDIS_KEY_PREFIX", "aftersales_bench")
    if not args.use_running:
        up = [sys.executable, "scripts/stack.py", "up", *(["--production"] if args.production else [])]
        subprocess.run(up, cwd=REPO_ROOT, env=env, check=True)
    mode = "production (PostgreSQL, Redis, 2 Rasa + 2 action workers)" if args.production else "embedded"
    print(f"mode: {mode}; load average before: {os.getloadavg()[0]:.2f}")
    try:
        settings = read_env(stack_dir / "env")
        bot_url = settings["BOT_URL"]
        rasa_pid = json.loads((stack_dir / "pids.json").read_text())["rasa"]
        idle_mb = resident_memory_mb(rasa_pid)
        play_conversation(bot_url)  # warm-up: first-turn model and connection set-up
        print(f"Rasa server memory at rest: {idle_mb:.0f} MiB")
        for concurrency in (1, 20):
            conversations = args.conversations if concurrency > 1 else max(10, args.conversations // 4)
            started = time.perf_counter()
            latencies = run_level(bot_url, concurrency, conversations)
            elapsed = time.perf_counter() - started
            print(
                f"{concurrency:>2} concurrent: {len(latencies)} turns, "
                f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
                f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
                f"mean {statistics.mean(latencies) * 1000:.0f} ms, "
                f"{len(latencies) / elapsed:.1f} turns/s"
            )
        print(f"Rasa server memory after load: {resident_memory_mb(rasa_pid):.0f} MiB")
    finally:
        if not args.use_running:
            subprocess.run([sys.executable, "scripts/stack.py", "down"], cwd=REPO_ROOT, env=env, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
