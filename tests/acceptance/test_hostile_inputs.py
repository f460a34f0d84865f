"""Over 10,000 malformed and hostile requests against every public endpoint of the running
stack (issue 11): none crashes a service, none gets a 5xx, and the stack still answers.

The requests come from `tests/fixtures/hostile.py` with a fixed seed (HOSTILE_SEED to try
another). The figures are written to results/hostile_inputs.json.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.fixtures.hostile import Probe, Targets, probes
from tests.fixtures.servers import REPO_ROOT
from tests.fixtures.stack import Stack

SEED = int(os.environ.get("HOSTILE_SEED", "20261203"))
MIN_REQUESTS = 10_000
RESULTS = REPO_ROOT / "results" / "hostile_inputs.json"


def targets_of(stack: Stack) -> Targets:
    env = stack.env
    return Targets(
        bot_url=env["BOT_URL"],
        records_url=env["RECORDS_URL"],
        records_token=env["RECORDS_TOKEN"],
        wechat_token=env["WECHAT_TOKEN"],
        wecom_url=env["WECOM_URL"],
        ivr_url=env["IVR_URL"],
        ivr_token=env["IVR_TOKEN"],
        agent_url=env["AGENT_URL"],
        agent_token=env["AGENT_TOKEN"],
    )


_sessions = threading.local()


def send(probe: Probe) -> str:
    """The outcome: the HTTP status, or `closed` when a server cut an oversized body short."""
    session = getattr(_sessions, "session", None) or requests.Session()
    _sessions.session = session
    try:
        # One connection per request: a kept-alive connection the server has timed out
        # would fail the next request on the client's side, which says nothing of the server.
        response = session.request(
            probe.method, probe.url, params=probe.params, headers={**probe.headers, "Connection": "close"},
            data=probe.body, timeout=60,
        )
    except requests.ConnectionError as error:
        return "closed" if probe.oversized else f"connection_error ({type(error.__context__ or error).__name__})"
    return str(response.status_code)


def alive(stack: Stack) -> dict[str, bool]:
    env = stack.env
    checks = {
        "rasa": f"{env['BOT_URL']}/status?token={env['BOT_TOKEN']}",
        "action_server": f"{env['ACTIONS_URL']}/health",
        "order_system": f"{env['ORDERS_URL']}/health",
        "record_service": env["RECORDS_URL"].replace("/api/records", "/health"),
    }
    return {name: requests.get(url, timeout=10).status_code == 200 for name, url in checks.items()}


def test_ten_thousand_hostile_requests_crash_nothing_and_get_no_5xx(running_stack: Stack) -> None:
    pids_before = json.loads((running_stack.directory / "pids.json").read_text())
    plan = list(probes(targets_of(running_stack), SEED))
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(zip(plan, pool.map(send, plan), strict=True))

    by_endpoint: dict[str, Counter[str]] = {}
    for probe, outcome in outcomes:
        by_endpoint.setdefault(probe.endpoint, Counter())[outcome] += 1
    failures = [
        (probe.endpoint, probe.method, probe.url[:80], outcome, (probe.body or b"")[:80])
        for probe, outcome in outcomes
        if outcome.startswith("connection_error") or (outcome.isdigit() and int(outcome) >= 500)
    ]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "seed": SEED,
        "requests": len(plan),
        "errors": len(failures),
        "by_endpoint": {name: dict(counts) for name, counts in sorted(by_endpoint.items())},
    }, indent=2, ensure_ascii=False))

    assert len(plan) >= MIN_REQUESTS
    assert failures == []
    assert alive(running_stack) == dict.fromkeys(["rasa", "action_server", "order_system", "record_service"], True)
    assert json.loads((running_stack.directory / "pids.json").read_text()) == pids_before  # nothing restarted
