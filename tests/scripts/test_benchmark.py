import os
import re

from scripts.benchmark import (
    CONFIGS,
    LevelResult,
    PeakRss,
    bench_configs,
    conversations_at,
    cpu_by_service,
    cpu_seconds,
    describe_cpu_per_turn,
    describe_rss,
    percentile,
)

LINE = re.compile(
    r"bench (embedded|production|stock) c=\d+ turns=\d+ p50_ms=\d+ p95_ms=\d+ turns_per_s=\d+\.\d rss_mib=\d+"
)


def test_percentile_is_the_nearest_rank_from_above() -> None:
    values = [0.4, 0.1, 0.3, 0.2]
    assert percentile(values, 0.5) == 0.3
    assert percentile(values, 0.95) == 0.4
    assert percentile(list(range(1, 101)), 0.95) == 96
    assert percentile([0.25], 0.95) == 0.25


def test_the_summary_line_has_exactly_the_issues_format() -> None:
    result = LevelResult("production", 20, [0.1974, 0.2, 0.31, 3.2656], elapsed_s=0.8, rss_mib=1364.6)
    assert result.line() == (
        "bench production c=20 turns=4 p50_ms=310 p95_ms=3266 turns_per_s=5.0 rss_mib=1365"
    )
    assert LINE.fullmatch(result.line())
    assert LINE.fullmatch(LevelResult("stock", 50, [1.0] * 300, 57.0, 1500.0).line())


def test_a_level_without_answered_turns_still_prints_a_line() -> None:
    assert LevelResult("embedded", 1, [], 0.0, 0.0, errors=10).line() == (
        "bench embedded c=1 turns=0 p50_ms=0 p95_ms=0 turns_per_s=0.0 rss_mib=0"
    )


def test_each_level_keeps_every_concurrent_slot_busy() -> None:
    assert [conversations_at(c, 80) for c in (1, 20, 50)] == [20, 80, 80]
    assert [conversations_at(c, 8) for c in (1, 20, 50)] == [10, 20, 50]


def test_stock_runs_rasas_own_cli_and_the_others_the_projects_launcher() -> None:
    configs = bench_configs({})
    assert tuple(configs) == CONFIGS
    assert configs["stock"].env["RASA_LAUNCHER"] == "rasa" and not configs["stock"].production
    assert configs["stock"].env["RASA_MODEL"].endswith("bot/models/stock/aftersales-stock.tar.gz")
    assert configs["embedded"].env["RASA_LAUNCHER"] == configs["production"].env["RASA_LAUNCHER"] == "rasa_server"
    assert configs["production"].production
    assert configs["production"].env["PRODUCTION_DATABASE_URL"].endswith("/aftersales_bench")


def test_peak_rss_keeps_each_processs_largest_sample_and_names_main_and_workers() -> None:
    samples = iter([{10: 300.0, 11: 900.0}, {10: 310.0, 11: 1400.0, 12: 1390.0}, {10: 305.0, 11: 1000.0}])
    with PeakRss(10, sample=lambda _: next(samples)) as memory:
        memory._record()
    assert memory.peaks == {10: 310.0, 11: 1400.0, 12: 1390.0}
    assert describe_rss(10, memory.peaks) == (
        "pid 10 (main) 310 MiB, pid 11 (worker) 1400 MiB, pid 12 (worker) 1390 MiB"
    )
    assert describe_rss(10, {10: 1359.4}) == "pid 10 (single process) 1359 MiB"


def test_cpu_per_turn_is_each_service_s_share_in_milliseconds() -> None:
    before = {"rasa": 1.0, "action_server": 0.5}
    after = {"rasa": 4.0, "action_server": 1.1}

    assert describe_cpu_per_turn(before, after, 100) == "rasa 30.0, action_server 6.0"
    assert describe_cpu_per_turn(before, after, 0) == "no turns"


def test_cpu_seconds_grow_with_work_and_a_gone_process_has_none() -> None:
    start = cpu_seconds(os.getpid())
    sum(i * i for i in range(3_000_000))

    assert cpu_seconds(os.getpid()) > start
    assert cpu_by_service({"this": os.getpid()})["this"] >= cpu_seconds(os.getpid()) - 0.02
    assert cpu_seconds(2**22 + 1) == 0.0  # above Linux's largest pid
