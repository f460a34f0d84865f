"""`python -m reporting` against a fake record service: the files it writes, and its one-line failures."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reporting.__main__ import main
from tests.fixtures.servers import REPO_ROOT, free_port
from tests.reporting.fake_records_service import FakeRecordsService
from tests.reporting.samples import busy_inputs

CHART_NAMES = [
    "conversations_per_day", "self_service", "handoff_reasons", "complaint_categories", "first_response",
    "refunds", "return_decisions", "satisfaction", "unanswered_reasons",
]


def run(argv: list[str], environ: dict[str, str]) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    status = main(argv, environ, stdout=stdout, stderr=stderr)
    return status, stdout.getvalue(), stderr.getvalue()


def serve_busy_period(fake: FakeRecordsService) -> dict[str, str]:
    """Fills the fake with the busy period; the environment that points the CLI at it."""
    inputs = busy_inputs()
    fake.records, fake.complaints = inputs["records"], inputs["complaints"]
    fake.handoffs, fake.unanswered = inputs["handoffs"], inputs["unanswered"]
    return {"RECORDS_URL": f"{fake.url}/api/records", "RECORDS_TOKEN": fake.token}


def test_the_report_is_written_as_a_page_and_charts(records_service: FakeRecordsService, tmp_path: Path) -> None:
    environ = serve_busy_period(records_service)
    out = tmp_path / "out"

    status, stdout, stderr = run(["--from", "2026-12-01", "--to", "2026-12-07", "--out", str(out)], environ)

    assert (status, stderr) == (0, "")
    page = out / "report-2026-12-01-2026-12-07.html"
    assert stdout.splitlines() == [
        str(page),
        "会话数：7",
        "自助解决率：85.7%",
        "转人工率：14.3%",
        "投诉工单：1",
        "投诉超时未处理：1",
        "人工首次响应中位数（分钟）：5.0",
        "超时等待接单的转人工工单：0",
        "退款超时占比：50.0%",
        "满意率：50.0%",
        "平均评分：3.50",
        "未答问题：3",
    ]
    html = page.read_text(encoding="utf-8")
    assert "<title>售后服务报表 2026-12-01 至 2026-12-07</title>" in html
    assert sorted(path.name for path in (out / "charts").iterdir()) == sorted(f"{name}.png" for name in CHART_NAMES)
    for name in CHART_NAMES:
        assert (out / "charts" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    assert {request.path for request in records_service.requests} == {
        "/api/records", "/api/complaints", "/api/handoffs", "/api/unanswered",
    }


def test_the_settings_come_from_the_stacks_env_file_when_unset(
    records_service: FakeRecordsService, tmp_path: Path
) -> None:
    settings = serve_busy_period(records_service)
    (tmp_path / "env").write_text(
        f"BOT_URL=http://127.0.0.1:1\nRECORDS_URL=\"{settings['RECORDS_URL']}\"\n"
        f"export RECORDS_TOKEN='{settings['RECORDS_TOKEN']}'\n"
    )

    status, stdout, stderr = run(
        ["--from", "2026-12-04", "--to", "2026-12-04", "--out", str(tmp_path / "out")], {"STACK_DIR": str(tmp_path)}
    )

    assert (status, stderr) == (0, "")
    assert stdout.splitlines()[:2] == [str(tmp_path / "out" / "report-2026-12-04-2026-12-04.html"), "会话数：2"]
    assert {request.authorization for request in records_service.requests} == {"Bearer report-token"}


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-12-32", "2026-12-31", "reporting: bad period: '2026-12-32' is not a date in the form YYYY-MM-DD"),
        ("2026-12-07", "2026-12-01", "reporting: bad period: the period starts after it ends: 2026-12-07 is after 2026-12-01"),
        ("2025-01-01", "2026-12-31", "reporting: bad period: the period spans 730 days; at most 366 are allowed"),
    ],
)
def test_bad_dates_exit_2_with_one_line(first: str, last: str, message: str, tmp_path: Path) -> None:
    environ = {"RECORDS_URL": "http://127.0.0.1:1/api/records", "RECORDS_TOKEN": "token"}

    status, stdout, stderr = run(["--from", first, "--to", last, "--out", str(tmp_path)], environ)

    assert (status, stdout, stderr) == (2, "", message + "\n")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_option_exits_2_with_one_line() -> None:
    status, stdout, stderr = run(["--from", "2026-12-01"], {})

    assert (status, stdout) == (2, "")
    assert stderr == "reporting: the following arguments are required: --to (see python -m reporting --help)\n"


def test_an_unreachable_record_service_exits_2_with_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    environ = {"RECORDS_URL": f"{url}/api/records", "RECORDS_TOKEN": "token"}

    status, stdout, stderr = run(["--from", "2026-12-01", "--to", "2026-12-07", "--out", str(tmp_path)], environ)

    assert (status, stdout) == (2, "")
    assert stderr == f"reporting: GET {url}/api/records: cannot reach the record service (ConnectionError)\n"
    assert list(tmp_path.iterdir()) == []


def test_a_refusing_record_service_exits_2_with_one_line(records_service: FakeRecordsService, tmp_path: Path) -> None:
    environ = {"RECORDS_URL": f"{records_service.url}/api/records", "RECORDS_TOKEN": "wrong"}

    status, stdout, stderr = run(["--from", "2026-12-01", "--to", "2026-12-07", "--out", str(tmp_path)], environ)

    assert (status, stdout) == (2, "")
    assert stderr == (
        f"reporting: GET {records_service.url}/api/records: the record service refused RECORDS_TOKEN (401)\n"
    )


def test_missing_settings_exit_2_with_one_line(tmp_path: Path) -> None:
    status, stdout, stderr = run(["--from", "2026-12-01", "--to", "2026-12-07"], {"STACK_DIR": str(tmp_path)})

    assert (status, stdout) == (2, "")
    assert stderr == (
        f"reporting: RECORDS_URL is not set and {tmp_path / 'env'} has none: start the stack (make up) "
        "or set RECORDS_URL and RECORDS_TOKEN\n"
    )


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["--from", "2026-13-01", "--to", "2026-12-31"], "reporting: bad period: '2026-13-01' is not a date"),
        (["--from", "2026-12-01", "--to", "2026-12-31"], "reporting: GET http://127.0.0.1:"),
    ],
)
def test_the_command_fails_without_a_traceback(dates: list[str], expected: str, tmp_path: Path) -> None:
    environ = {
        **os.environ,
        "RECORDS_URL": f"http://127.0.0.1:{free_port()}/api/records",
        "RECORDS_TOKEN": "token",
        "PYTHONPATH": str(REPO_ROOT),
    }

    result = subprocess.run(
        [sys.executable, "-m", "reporting", *dates, "--out", str(tmp_path)],
        cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(expected)
    assert "Traceback" not in result.stderr
