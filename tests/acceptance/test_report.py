"""The merchant's side on the running stack, after the shared acceptance scenarios ran:
`make report`'s page (every figure against the records API, opened in Chromium), and the
unanswered-question log reviewed in the agent workspace and exported as training data.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import expect

from tests.fixtures.browser import SCREENSHOTS, Browser
from tests.fixtures.conversation import Conversation
from tests.fixtures.servers import REPO_ROOT
from tests.fixtures.stack import AcceptanceRun, Stack

BEIJING = timezone(timedelta(hours=8))
TIMEOUT_S = 30
FULL_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
GIBBERISH = "qwpeoiru 嗯啊哦呃 zxmcnv"
PRE_SALE = "这个保温杯有没有粉色的呀 想买一个送人"


def beijing_today() -> date:
    return datetime.now(BEIJING).date()


def api(stack: Stack, path: str, **params: Any) -> dict[str, Any]:
    base = stack.env["RECORDS_URL"].removesuffix("/api/records")
    response = requests.get(f"{base}{path}", params=params,
                            headers={"Authorization": f"Bearer {stack.env['RECORDS_TOKEN']}"}, timeout=TIMEOUT_S)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


class _Cells(HTMLParser):
    """The report page's number cells: (figure, JSON pointer) -> value."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], Any] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "data-figure" in found and "data-key" in found:
            self.values[(str(found["data-figure"]), str(found["data-key"]))] = json.loads(str(found["data-value"]))


def page_values(html: str) -> dict[tuple[str, str], Any]:
    parser = _Cells()
    parser.feed(html)
    return parser.values


def write_report(stack: Stack, first: date, last: date, out: Path) -> Path:
    """`python -m reporting` as `make report` runs it, against the stack's record service."""
    run = subprocess.run(
        [sys.executable, "-m", "reporting", "--from", first.isoformat(), "--to", last.isoformat(), "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "RECORDS_URL": stack.env["RECORDS_URL"],
             "RECORDS_TOKEN": stack.env["RECORDS_TOKEN"]},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return out / f"report-{first.isoformat()}-{last.isoformat()}.html"


def test_every_figure_of_the_report_is_what_the_records_api_gives(
    acceptance_run: AcceptanceRun, running_stack: Stack, tmp_path: Path, browser: Browser
) -> None:
    assert acceptance_run.returncode == 0, acceptance_run.stdout[-3000:]
    # Yesterday too: the scenarios may have run across midnight in Beijing.
    last = beijing_today()
    first = last - timedelta(days=1)
    page = write_report(running_stack, first, last, tmp_path)
    html = page.read_text(encoding="utf-8")
    shown = page_values(html)

    start = datetime.combine(first, datetime.min.time(), BEIJING).isoformat()
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), BEIJING).isoformat()
    records: list[dict[str, Any]] = []
    after = 0
    while True:
        body = api(running_stack, "/api/records", **{"from": start, "to": end, "after_id": after})
        records += body["records"]
        if body["next_after_id"] is None:
            break
        after = body["next_after_id"]
    complaints = api(running_stack, "/api/complaints", **{"from": start, "to": end})["tickets"]
    handoffs = api(running_stack, "/api/handoffs", **{"from": start, "to": end})["tickets"]
    unanswered = api(running_stack, "/api/unanswered", **{"from": start, "to": end})["messages"]
    kinds = {"identity_check", "return_eligibility", "refund_status", "complaint", "handoff", "satisfaction",
             "unanswered"}

    conversations = ({r["conversation_id"] for r in records if r["kind"] in kinds}
                     | {t["conversation_id"] for t in complaints + handoffs})
    handed_over = {r["conversation_id"] for r in records if r["kind"] == "handoff"} | {
        t["conversation_id"] for t in handoffs}
    scenario_conversations = {s["conversation_id"] for s in acceptance_run.results if s["records"]}
    assert scenario_conversations <= conversations
    assert shown[("conversations", "/total")] == len(conversations)
    assert shown[("self_service", "/numerator")] == len(conversations - handed_over)
    assert shown[("handoffs", "/numerator")] == len(handed_over)

    reasons = Counter(r["details"]["reason"] for r in records if r["kind"] == "handoff")
    assert {reason: shown[("handoffs", f"/by_reason/{reason}")] for reason in reasons} == dict(reasons)
    assert shown[("handoffs", "/handoffs")] == sum(reasons.values())

    categories = Counter(t["category"] for t in complaints)
    assert {c: shown[("complaints", f"/by_category/{c}")] for c in categories} == dict(categories)
    assert shown[("complaints", "/total")] == len(complaints)
    assert categories == Counter(r["details"]["category"] for r in records if r["kind"] == "complaint")
    within_a_day = [t for t in complaints if datetime.fromisoformat(t["due_at"]) - datetime.fromisoformat(
        t["created_at"]) <= timedelta(hours=24)]
    # Not all: the hostile-input run files complaints due in 2099.
    assert shown[("complaints", "/accepted_within_24h")] == len(within_a_day)
    assert shown[("first_response", "/tickets")] == len(handoffs)
    assert shown[("first_response", "/claimed")] == sum(t["claimed_at"] is not None for t in handoffs)

    latest: dict[str, dict[str, Any]] = {}
    for record in sorted((r for r in records if r["kind"] == "refund_status"), key=lambda r: (r["created_at"], r["id"])):
        if record["details"].get("refund_id"):
            latest[record["details"]["refund_id"]] = record
    refunds = Counter(r["outcome"] for r in latest.values())
    assert {o: shown[("refunds", f"/by_outcome/{o}")] for o in ("completed", "on_time", "overdue")} == {
        o: refunds.get(o, 0) for o in ("completed", "on_time", "overdue")}

    decisions = Counter((r["rule"], r["outcome"]) for r in records if r["kind"] == "return_eligibility")
    shown_counts = sorted(shown[("return_decisions", f"/decisions/{i}/count")] for i in range(len(decisions)))
    assert shown_counts == sorted(decisions.values())
    assert ("return_decisions", f"/decisions/{len(decisions)}/count") not in shown
    assert shown.get(("return_decisions", "/total"), 0) == sum(decisions.values())
    assert all(f">{rule}<" in html for rule, _ in decisions)

    ratings = Counter(r["details"]["rating"] for r in records if r["kind"] == "satisfaction" and r["outcome"] == "rated")
    assert {n: shown[("satisfaction", f"/distribution/{n}")] for n in range(1, 6)} == {
        n: ratings.get(n, 0) for n in range(1, 6)}
    assert shown[("unanswered", "/total")] == len(unanswered)

    # Personal data never appears unmasked: the scenarios gave full phone numbers.
    assert FULL_MOBILE.findall(html) == []
    assert FULL_MOBILE.findall(json.dumps(unanswered, ensure_ascii=False)) == []

    browser.page.goto(page.as_uri())
    expect(browser.page.locator("h1")).to_contain_text("售后服务报表")
    images = browser.page.locator("img")
    assert images.count() >= 7
    for index in range(images.count()):
        assert images.nth(index).evaluate("image => image.complete && image.naturalWidth > 0")
    browser.page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)
    assert browser.unexpected_errors() == []


def test_an_unanswered_question_is_reviewed_in_the_workspace_and_exported_as_training_data(
    running_stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    chat = Conversation(running_stack)
    chat.say(GIBBERISH)
    chat.say(PRE_SALE)
    logged = chat.records("unanswered")
    # Whether the NLU calls them not understood or out of scope, both are logged, masked.
    assert [(r["details"]["text"], r["details"]["channel"]) for r in logged] == [
        (GIBBERISH, "rest"), (PRE_SALE, "rest")]

    page = browser.page
    page.goto(running_stack.env["AGENT_URL"])
    page.get_by_test_id("login-token").fill(running_stack.env["AGENT_TOKEN"])
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("tab-unanswered").click()
    row = page.locator(f'tr[data-record-id="{logged[0]["id"]}"]')
    expect(row).to_contain_text(GIBBERISH)
    expect(page.locator(f'tr[data-record-id="{logged[1]["id"]}"]')).to_contain_text(PRE_SALE)
    row.get_by_test_id("review-input").fill("chitchat")
    row.get_by_test_id("review-intent").click()
    expect(row.get_by_test_id("review-done")).to_contain_text("闲聊")
    page.get_by_test_id("tab-report").click()
    page.get_by_test_id("report-submit").click()
    expect(page.locator('[data-figure="unanswered"]')).to_contain_text(PRE_SALE)
    page.screenshot(path=str(SCREENSHOTS / "desk-unanswered-report.png"), full_page=True)
    assert browser.unexpected_errors() == []

    out = tmp_path / "reviewed.yml"
    export = subprocess.run(
        [sys.executable, "scripts/export_review.py", "--out", str(out)], cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "RECORDS_URL": running_stack.env["RECORDS_URL"],
             "RECORDS_TOKEN": running_stack.env["RECORDS_TOKEN"]},
    )
    assert export.returncode == 0, export.stdout + export.stderr
    from scripts.evaluate_nlu import load_examples

    assert ("chitchat", GIBBERISH) in [(e["intent"], e["text"]) for e in load_examples(out)]
