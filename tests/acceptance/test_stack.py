"""The whole stack as `make up` starts it: services, locked doors, and `make down`."""

from __future__ import annotations

import os
import signal
import time

import requests

from tests.fixtures.servers import ACCEPTANCE_ORDERS
from tests.fixtures.stack import AcceptanceRun, Stack, _free_port_base, _read_env, stack_command


def test_env_file_names_every_service(running_stack: Stack) -> None:
    assert set(running_stack.env) >= {
        "BOT_URL", "BOT_TOKEN", "RECORDS_URL", "RECORDS_TOKEN", "ORDERS_URL", "ORDERS_TOKEN",
    }


def test_order_system_serves_the_fixture_orders(running_stack: Stack) -> None:
    env = running_stack.env
    response = requests.get(
        f"{env['ORDERS_URL']}/api/orders/8800001001",
        headers={"Authorization": f"Bearer {env['ORDERS_TOKEN']}"},
        timeout=10,
    )
    assert response.status_code == 200
    order = response.json()
    assert order["order_id"] == "8800001001"
    assert [item["sku"] for item in order["items"]] == ["AP-TS-01"]


def test_every_api_is_locked(running_stack: Stack) -> None:
    env = running_stack.env
    assert requests.get(f"{env['BOT_URL']}/status", timeout=10).status_code == 401
    assert requests.get(f"{env['BOT_URL']}/status", params={"token": env["BOT_TOKEN"]}, timeout=10).status_code == 200
    assert requests.get(f"{env['ORDERS_URL']}/api/orders/8800001001", timeout=10).status_code == 401
    assert requests.get(env["RECORDS_URL"], params={"conversation_id": "x"}, timeout=10).status_code == 401
    assert requests.post(f"{env['ACTIONS_URL']}/webhook", json={}, timeout=10).status_code == 401


def test_a_second_stack_runs_beside_the_first_and_down_stops_everything(running_stack: Stack, tmp_path) -> None:
    port_base = _free_port_base()
    started = stack_command(tmp_path, port_base, "up", "--fixtures", str(ACCEPTANCE_ORDERS))
    assert started.returncode == 0, started.stdout + started.stderr
    import json

    pids = json.loads((tmp_path / "pids.json").read_text())
    env = _read_env(tmp_path / "env")
    assert env["BOT_URL"] == f"http://127.0.0.1:{port_base}"
    assert env["BOT_URL"] != running_stack.env["BOT_URL"]
    assert requests.get(f"{env['BOT_URL']}/status", params={"token": env["BOT_TOKEN"]}, timeout=10).ok

    # Partly running (no supervisor, no action server): `up` starts only what is missing.
    for name in ("supervisor", "action_server"):
        os.kill(pids[name], signal.SIGKILL)
    for name in ("supervisor", "action_server"):
        while os.path.exists(f"/proc/{pids[name]}") and not _is_zombie(pids[name]):
            time.sleep(0.1)
    again = stack_command(tmp_path, port_base, "up", "--fixtures", str(ACCEPTANCE_ORDERS))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "stack: rasa is already running" in again.stdout and "stack: action_server is up" in again.stdout
    restarted = json.loads((tmp_path / "pids.json").read_text())
    assert restarted["rasa"] == pids["rasa"] and restarted["action_server"] != pids["action_server"]
    assert restarted["supervisor"] != pids["supervisor"]
    pids = {**pids, **restarted}

    stopped = stack_command(tmp_path, port_base, "down")
    assert stopped.returncode == 0
    time.sleep(0.5)
    for name, pid in pids.items():
        assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid), f"{name} still runs"
    assert not (tmp_path / "env").exists()
    for port in range(port_base, port_base + 4):
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            raise AssertionError(f"something still answers on port {port}")
        except requests.ConnectionError:
            pass
    # The first stack is untouched.
    assert requests.get(f"{running_stack.env['BOT_URL']}/", timeout=10).ok


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_acceptance_scenarios_all_pass(acceptance_run: AcceptanceRun) -> None:
    """The shared customer scenarios, run from ../shared against this stack."""
    print(acceptance_run.stdout)
    last_line = acceptance_run.stdout.strip().splitlines()[-1]
    assert acceptance_run.returncode == 0, acceptance_run.stdout[-6000:] + acceptance_run.stderr[-2000:]
    assert last_line.endswith(" 0 failed")
