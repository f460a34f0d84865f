"""The KPI report's inputs, read from the record database exactly as the API serves them.

The figures themselves are computed by `reporting.figures` (the same code `make report`
runs over the API), so the workspace and the report page always agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from record_service.repository import RecordRepository
from record_service.serializers import complaint_summary_json, handoff_summary_json, record_json
from record_service.unanswered import UnansweredRepository, message_json
from reporting.figures import compute_report
from reporting.period import Period

# Records are read in pages of this size, as `GET /api/records?from=&to=` serves them.
PAGE_SIZE = 1000


def report_json(session: Session, period: Period, now: datetime) -> dict[str, Any]:
    """Every figure of the KPI report for `period`, as `Report.to_json()` gives it."""
    start, end = period.start_utc(), period.end_utc()
    repo = RecordRepository(session)
    records: list[dict[str, Any]] = []
    after_id = 0
    while True:
        page = repo.records_between(start, end, after_id, PAGE_SIZE)
        records.extend(record_json(record) for record in page)
        if len(page) < PAGE_SIZE:
            break
        after_id = page[-1].id
    report = compute_report(
        period,
        records=records,
        complaints=[complaint_summary_json(t) for t in repo.complaints_between(start, end)],
        handoffs=[handoff_summary_json(t, c) for t, c in repo.handoffs_between(start, end)],
        unanswered=[message_json(m) for m in UnansweredRepository(session).messages(start, end)],
        now=now,
    )
    return report.to_json()
