"""Per-turn latency through the REST webhook, actions included, and each Rasa process's memory.

Measures, in one run, three configurations, each on its own stack (demo orders, ports from
PORT_BASE or 7700, folder `.stack-bench/`, started with `scripts/stack.py up`):

- `embedded`: the default stack (`make up`): one Rasa process run by the project's
  launcher (`python -m rasa_server run`), SQLite, in-process lock store.
- `production`: `scripts/stack.py up --production`: PostgreSQL database `aftersales_bench`,
  Redis, two Rasa (Sanic) workers and two action-server workers.
- `stock`: stock Rasa 3.6: the model of `scripts/bench_configs/stock.yml` (Rasa's default
  pipeline and policies, what `rasa init` gives) trained on the same domain and data
  (`scripts/train.py --stock`, here when missing or its inputs changed), served by Rasa's
  own CLI (`python -m rasa run`, without the project's fixes), one process, with the same
  action server, order system, record service and fixtures as `embedded`.

Each plays refund-status conversations (opening line, order number, phone digits: three
turns that reach the order system and the record service) at 1, 20 and 50 concurrent
conversations, and samples the resident memory (VmRSS) of every Rasa process while it
does. It ends with one line per configuration and level:

    bench <config> c=<N> turns=<T> p50_ms=<X> p95_ms=<Y> turns_per_s=<R> rss_mib=<M>

where rss_mib is the largest single Rasa process's peak during that level (in production,
the largest Sanic worker); every process's RSS, and the CPU time each service spent per
turn (its workers included; PostgreSQL and Redis not counted), are printed above.

Usage: python scripts/benchmark.py [--configs embedded,production,stock] [--levels 1,20,50]
                                   [--conversations N] [--use-running] [--production]
                                   [--no-stock-training]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: make `scripts` importable
    sys.path.insert(0, str(REPO_ROOT))

from scripts.stack import MODEL_PATH  # noqa: E402
from scripts.train import (  # noqa: E402
    STOCK_FINGERPRINT_PATH,
    STOCK_INPUTS,
    STOCK_MODEL_PATH,
    fingerprint,
    is_up_to_date,
    train_stock,
)

DEMO_CONVERSATION = ["我想查一下退款进度", "6600002003", "1111"]
CONFIGS = ("embedded", "production", "stock")
DEFAULT_LEVELS = (1, 20, 50)
DEFAULT_CONVERSATIONS = 80
TURN_TIMEOUT_S = 120
RSS_SAMPLE_INTERVAL_S = 0.5


@dataclass(frozen=True)
class BenchConfig:
    """How `scripts/stack.py up` starts one configuration's stack."""

    name: str
    description: str
    production: bool
    env: dict[str, str]


def bench_configs(environ: dict[str, str]) -> dict[str, BenchConfig]:
    """The three configurations; the launcher and model are always set explicitly, so a
    RASA_LAUNCHER or RASA_MODEL in the caller's environment changes none of them."""
    project = {"RASA_LAUNCHER": "rasa_server", "RASA_MODEL": str(MODEL_PATH)}
    return {
        "embedded": BenchConfig(
            "embedded", "embedded (SQLite, 1 Rasa process via rasa_server, 1 action worker)", False, project
        ),
        "production": BenchConfig(
            "production",
            "production (PostgreSQL, Redis, 2 Rasa + 2 action workers via rasa_server)",
            True,
            {
                **project,
                "PRODUCTION_DATABASE_URL": environ.get("PRODUCTION_DATABASE_URL")
                or "postgresql+psycopg2://postgres@127.0.0.1:5432/aftersales_bench",
                "REDIS_KEY_PREFIX": environ.get("REDIS_KEY_PREFIX") or "aftersales_bench",
                # The benchmark's shoppers talk REST, which production mode guards with a token.
                "REST_WEBHOOK": "open",
            },
        ),
        "stock": BenchConfig(
            "stock",
            "stock Rasa 3.6 (default pipeline and policies, `python -m rasa run`, 1 process; "
            "embedded services)",
            False,
            {"RASA_LAUNCHER": "rasa", "RASA_MODEL": str(STOCK_MODEL_PATH)},
        ),
    }


@dataclass
class LevelResult:
    """One configuration at one level of concurrency."""

    config: str
    concurrency: int
    latencies_s: list[float]
    elapsed_s: float
    rss_mib: float
    errors: int = 0

    @property
    def turns_per_s(self) -> float:
        return len(self.latencies_s) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        """The summary line, exactly `bench <config> c=<N> turns=<T> p50_ms=<X> p95_ms=<Y>
        turns_per_s=<R> rss_mib=<M>` (ms and MiB whole, turns/s one decimal)."""
        p50 = percentile(self.latencies_s, 0.5) * 1000 if self.latencies_s else 0.0
        p95 = percentile(self.latencies_s, 0.95) * 1000 if self.latencies_s else 0.0
        return (
            f"bench {self.config} c={self.concurrency} turns={len(self.latencies_s)} "
            f"p50_ms={round(p50)} p95_ms={round(p95)} turns_per_s={self.turns_per_s:.1f} "
            f"rss_mib={round(self.rss_mib)}"
        )


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@dataclass
class Conversation:
    """What one shopper's conversation measured: each answered turn's latency, the bot's
    replies, and the error that ended it early, if any."""

    latencies_s: list[float] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    error: str | None = None


def play_conversation(bot_url: str) -> Conversation:
    """One shopper's conversation; a failed turn ends it (and is counted, not raised)."""
    sender = f"bench-{uuid.uuid4().hex[:10]}"
    result = Conversation()
    with requests.Session() as session:
        for text in DEMO_CONVERSATION:
            started = time.perf_counter()
            try:
                reply = session.post(
                    f"{bot_url}/webhooks/rest/webhook",
                    json={"sender": sender, "message": text},
                    timeout=TURN_TIMEOUT_S,
                )
                reply.raise_for_status()
            except requests.RequestException as error:
                result.error = f"{type(error).__name__}: {error}"
                return result
            result.latencies_s.append(time.perf_counter() - started)
            result.replies.append(" / ".join(str(m.get("text", m)) for m in reply.json()))
    return result


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value at `fraction` of the sorted values (the upper one of two, nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def conversations_at(concurrency: int, conversations: int) -> int:
    """Conversations played at one level: a quarter of them (at least 10) one at a time,
    otherwise all of them, and at least one for each concurrent slot."""
    if concurrency == 1:
        return max(10, conversations // 4)
    return max(conversations, concurrency)


def run_level(bot_url: str, concurrency: int, conversations: int) -> tuple[list[Conversation], float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda _: play_conversation(bot_url), range(conversations)))
    return results, time.perf_counter() - started


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def rss_mib(pid: int) -> float | None:
    """VmRSS of one process in MiB, or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def rss_by_process(root: int) -> dict[int, float]:
    """The resident memory of the Rasa process `root` and of each process under it."""
    sizes = {pid: rss_mib(pid) for pid in process_tree(root)}
    return {pid: size for pid, size in sizes.items() if size is not None}


class PeakRss:
    """Samples every Rasa process's RSS in the background; keeps each process's peak."""

    def __init__(self, root: int, sample: Callable[[int], dict[int, float]] = rss_by_process) -> None:
        self.root = root
        self.peaks: dict[int, float] = {}
        self._sample = sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _record(self) -> None:
        for pid, size in self._sample(self.root).items():
            self.peaks[pid] = max(size, self.peaks.get(pid, 0.0))

    def _run(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_INTERVAL_S):
            self._record()

    def __enter__(self) -> PeakRss:
        self._record()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._record()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process so far, or 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # Fields 14 and 15 of proc(5) (utime, stime), counted from the state field here.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_service(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each service's process tree (its workers included)."""
    return {name: sum(cpu_seconds(pid) for pid in process_tree(root)) for name, root in pids.items()}


def describe_cpu_per_turn(before: dict[str, float], after: dict[str, float], turns: int) -> str:
    """`rasa 31.2, action_server 9.8, …` milliseconds of CPU per turn, in `after`'s order."""
    if not turns:
        return "no turns"
    return ", ".join(
        f"{name} {(after[name] - before.get(name, 0.0)) * 1000 / turns:.1f}" for name in after
    )


def describe_rss(root: int, sizes: dict[int, float]) -> str:
    """`pid 12 (main) 410 MiB, pid 13 (worker) 1390 MiB`: the root first, then its children."""
    labels = {pid: "main" if pid == root else "worker" for pid in sizes}
    if len(sizes) == 1:
        labels[root] = "single process"
    ordered = sorted(sizes, key=lambda pid: (pid != root, pid))
    return ", ".join(f"pid {pid} ({labels[pid]}) {sizes[pid]:.0f} MiB" for pid in ordered)


def largest_process(sizes: Iterable[float]) -> float:
    return max(sizes, default=0.0)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} CPUs)"


def benchmark_config(
    config: BenchConfig, stack_dir: Path, levels: Sequence[int], conversations: int, use_running: bool
) -> list[LevelResult]:
    """Starts the configuration's stack (unless `use_running`), plays every level, stops it."""
    env = {**os.environ, "STACK_DIR": str(stack_dir), "PORT_BASE": os.environ.get("PORT_BASE", "7700")}
    env.update(config.env)
    print(f"\n== {config.name}: {config.description}")
    print(f"load average before {config.name}: {load_average()}", flush=True)
    if not use_running:
        up = [sys.executable, "scripts/stack.py", "up", *(["--production"] if config.production else [])]
        subprocess.run(up, cwd=REPO_ROOT, env=env, check=True)
    results: list[LevelResult] = []
    try:
        bot_url = read_env(stack_dir / "env")["BOT_URL"]
        pids = json.loads((stack_dir / "pids.json").read_text())
        service_pids = {name: int(pid) for name, pid in pids.items()}
        rasa_pid = service_pids["rasa"]
        # Warm-up: first-turn model and connection set-up, in every worker.
        warm_up = play_conversation(bot_url)
        if warm_up.error:
            raise RuntimeError(f"{config.name}: the warm-up conversation failed: {warm_up.error}")
        for text, reply in zip(DEMO_CONVERSATION, warm_up.replies, strict=False):
            print(f"  warm-up  {text} -> {reply[:90]}")
        run_level(bot_url, 2, 4)
        print(f"Rasa processes at rest: {describe_rss(rasa_pid, rss_by_process(rasa_pid))}", flush=True)
        for concurrency in levels:
            count = conversations_at(concurrency, conversations)
            cpu_before = cpu_by_service(service_pids)
            with PeakRss(rasa_pid) as memory:
                played, elapsed = run_level(bot_url, concurrency, count)
            cpu_after = cpu_by_service(service_pids)
            latencies = [latency for conversation in played for latency in conversation.latencies_s]
            errors = [conversation.error for conversation in played if conversation.error]
            peak = largest_process(memory.peaks.values())
            result = LevelResult(config.name, concurrency, latencies, elapsed, peak, len(errors))
            results.append(result)
            mean = f"{statistics.mean(latencies) * 1000:.0f} ms" if latencies else "-"
            print(
                f"{config.name} {concurrency:>2} concurrent: {count} conversations, {len(latencies)} turns "
                f"in {elapsed:.1f} s, mean {mean}, {len(errors)} failed conversations"
                + (f" (first: {errors[0]})" if errors else "")
            )
            print(f"  Rasa processes' peak RSS at c={concurrency}: {describe_rss(rasa_pid, memory.peaks)}")
            print(f"  CPU ms per turn: {describe_cpu_per_turn(cpu_before, cpu_after, len(latencies))}")
            print(f"  {result.line()}", flush=True)
    finally:
        if not use_running:
            subprocess.run([sys.executable, "scripts/stack.py", "down"], cwd=REPO_ROOT, env=env, check=False)
    return results


def parse_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--configs", type=parse_list, default=None,
                        help=f"comma-separated, of {','.join(CONFIGS)} (default: all three)")
    parser.add_argument("--levels", type=lambda text: [int(n) for n in parse_list(text)],
                        default=list(DEFAULT_LEVELS), help="concurrent conversations (default 1,20,50)")
    parser.add_argument("--conversations", type=int, default=DEFAULT_CONVERSATIONS,
                        help=f"conversations per level (default {DEFAULT_CONVERSATIONS}; at least the "
                        "level's concurrency; at 1, a quarter of them and at least 10)")
    parser.add_argument("--use-running", action="store_true",
                        help="measure the stack already running from .stack/ (one --configs name)")
    parser.add_argument("--production", action="store_true", help="the same as --configs production")
    parser.add_argument("--no-stock-training", action="store_true",
                        help="serve the stock model as it is, even if its inputs changed since training")
    args = parser.parse_args(argv)

    names: list[str] = args.configs or (["production"] if args.production else list(CONFIGS))
    if args.use_running and not args.configs and not args.production:
        names = ["embedded"]
    unknown = [name for name in names if name not in CONFIGS]
    if unknown or (args.use_running and len(names) != 1):
        parser.error(f"--configs takes {', '.join(CONFIGS)} (one with --use-running), not {','.join(names)}")
    configs = bench_configs(dict(os.environ))
    stack_dir = REPO_ROOT / (".stack" if args.use_running else ".stack-bench")

    if "stock" in names and not args.use_running:
        if not args.no_stock_training:
            seconds = train_stock(if_needed=True)
            if seconds is not None:
                print(f"stock model trained in {seconds:.0f} s ({seconds / 60:.1f} min)")
        elif not STOCK_MODEL_PATH.exists():
            parser.error(f"--no-stock-training: there is no stock model at {STOCK_MODEL_PATH}")
        elif not is_up_to_date(fingerprint(STOCK_INPUTS), STOCK_MODEL_PATH, STOCK_FINGERPRINT_PATH):
            print(f"warning: {STOCK_MODEL_PATH.relative_to(REPO_ROOT)} was trained on earlier inputs "
                  "(scripts/train.py --stock updates it); served as it is")

    results: list[LevelResult] = []
    for name in names:
        results.extend(benchmark_config(configs[name], stack_dir, args.levels, args.conversations,
                                        args.use_running))
    print("\n== results")
    for result in results:
        print(result.line())
    return 1 if any(result.errors for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
