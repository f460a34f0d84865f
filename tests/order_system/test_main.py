"""`python -m order_system` fails at start with a clear message and a non-zero status."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from order_system.settings import Settings
from tests.fixtures.servers import REPO_ROOT


def run_order_system(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "order_system", *args],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_token_stops_the_start(tmp_path: Path) -> None:
    result = run_order_system({"ORDERS_DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}"})
    assert result.returncode == 2
    assert "ORDERS_TOKEN is not set: it is the bearer token callers of the order system use." in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_unknown_database_scheme_stops_the_start() -> None:
    result = run_order_system({"ORDERS_TOKEN": "t", "ORDERS_DATABASE_URL": "mysqlx://u:secret@h/db"})
    assert result.returncode == 1
    assert "cannot prepare the order database" in result.stderr
    assert "Can't load plugin: sqlalchemy.dialects:mysqlx" in result.stderr
    assert "secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_taken_port_stops_the_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_order_system(
            {
                "ORDERS_TOKEN": "t",
                "ORDERS_PORT": str(port),
                "ORDERS_DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}",
            }
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: [Errno 98] Address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_repr_hides_secrets() -> None:
    settings = Settings(token="s3cret", database_url="postgresql://app:pw@db:5432/orders")
    assert repr(settings) == (
        "Settings(token='***', database_url='postgresql://app:***@db:5432/orders', "
        "host='127.0.0.1', port=5070)"
    )
