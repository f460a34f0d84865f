"""The KPI report of a period, from the running record service:

    python -m reporting --from 2026-12-01 --to 2026-12-31 [--out reports/]

Writes `OUT/report-FROM-TO.html` (one self-contained page) and `OUT/charts/<name>.png`,
then prints the page's path and the headline figures. The record service is found by
RECORDS_URL and RECORDS_TOKEN, from the environment or else from the stack's env file
(`.stack/env`, written by `make up`).

Exit status: 0 when the report is written; 2 (with one line on stderr) when the dates are
bad, the settings are missing, the record service cannot be read or the files cannot be
written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn, TextIO

from reporting.figures import Period, Report, compute_report
from reporting.records_api import RecordsApi, RecordsApiError
from reporting.settings import RecordsSettings, SettingsError, records_settings
from reporting.summary import headline_lines

DEFAULT_OUT = Path("reports")
EXIT_FAILED = 2


class UsageError(Exception):
    """The command line, the settings or the record service stop the report; the message says why."""


class _Arguments(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # one line instead of argparse's usage block: the caller sees what is wrong at once
        raise UsageError(f"{message} (see python -m reporting --help)")


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Runs the command; returns its exit status.

    Args:
        argv: The arguments (default: the command line's).
        environ: The environment (default: the process's).
        stdout: Where the page's path and the headline figures go (default: sys.stdout).
        stderr: Where a failure's one line goes (default: sys.stderr).
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        page_path, report = _run(argv, os.environ if environ is None else environ)
    except UsageError as error:
        print(f"reporting: {error}", file=stderr)
        return EXIT_FAILED
    print(page_path, file=stdout)
    for line in headline_lines(report.to_json()):
        print(line, file=stdout)
    return 0


def _run(argv: Sequence[str] | None, environ: Mapping[str, str]) -> tuple[Path, Report]:
    parser = _Arguments(prog="python -m reporting", description="The KPI report of a period (Beijing days).")
    parser.add_argument(
        "--from", dest="first_day", required=True, metavar="YYYY-MM-DD", help="the first day (Beijing)"
    )
    parser.add_argument(
        "--to", dest="last_day", required=True, metavar="YYYY-MM-DD", help="the last day (included)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help="where to write (default: reports/)"
    )
    arguments = parser.parse_args(argv)
    try:
        period = Period.parse(arguments.first_day, arguments.last_day)
    except ValueError as error:
        raise UsageError(f"bad period: {error}") from None
    try:
        settings = records_settings(environ)
    except SettingsError as error:
        raise UsageError(str(error)) from None
    report = _fetch_and_compute(period, settings)
    return _write(report, arguments.out), report


def _fetch_and_compute(period: Period, settings: RecordsSettings) -> Report:
    try:
        with RecordsApi(settings.base_url, settings.token) as api:
            records, complaints = api.records(period), api.complaints(period)
            handoffs, unanswered = api.handoffs(period), api.unanswered(period)
    except RecordsApiError as error:
        raise UsageError(str(error)) from None
    return compute_report(period, records, complaints, handoffs, unanswered, now=datetime.now(timezone.utc))


def _write(report: Report, out: Path) -> Path:
    # imported here: matplotlib takes a while to load, and a bad date should answer at once
    from reporting.charts import render_charts
    from reporting.page import render_page

    charts = render_charts(report)
    first, last = report.period.first_day.isoformat(), report.period.last_day.isoformat()
    page_path = out / f"report-{first}-{last}.html"
    try:
        (out / "charts").mkdir(parents=True, exist_ok=True)
        for name, png in charts.items():
            (out / "charts" / f"{name}.png").write_bytes(png)
        page_path.write_text(render_page(report, charts), encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write the report to {out}: {error.strerror or error}") from None
    return page_path


if __name__ == "__main__":
    sys.exit(main())
