"""The report's HTML page: self-contained, escaped, and carrying the report's numbers."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser

import pytest

from reporting.charts import render_charts
from reporting.figures import FIGURE_NAMES, Report, compute_report
from reporting.page import render_page
from tests.reporting.samples import HOSTILE_TEXT, NOW, PERIOD, URL_TEXT, busy_inputs


class PageReader(HTMLParser):
    """The page's number cells (figure, key, value, text), its texts and its images."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str, str, object, str]] = []
        self.images: list[dict[str, str | None]] = []
        self.texts: list[str] = []
        self._cell: dict[str, str | None] | None = None
        self._cell_text = ""
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "td" and "data-figure" in attributes:
            self._cell, self._cell_text = attributes, ""
        if tag == "img":
            self.images.append(attributes)
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            cell = self._cell
            value = json.loads(cell["data-value"] or "")
            self.cells.append((cell["data-figure"] or "", cell["data-key"] or "", value, self._cell_text))
            self._cell = None
        self._in_title = False

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._cell is not None:
            self._cell_text += data
        if self._in_title:
            self.title += data


def resolve(document: object, pointer: str) -> object:
    """The value a JSON Pointer (RFC 6901) points to."""
    for token in pointer.split("/")[1:]:
        step = token.replace("~1", "/").replace("~0", "~")
        document = document[int(step)] if isinstance(document, list) else document[step]  # type: ignore[index]
    return document


@pytest.fixture(scope="module")
def report() -> Report:
    inputs = busy_inputs()
    return compute_report(
        PERIOD, inputs["records"], inputs["complaints"], inputs["handoffs"], inputs["unanswered"], NOW
    )


@pytest.fixture(scope="module")
def charts(report: Report) -> dict[str, bytes]:
    return render_charts(report)


@pytest.fixture(scope="module")
def page(report: Report, charts: dict[str, bytes]) -> str:
    return render_page(report, charts)


@pytest.fixture(scope="module")
def reader(page: str) -> PageReader:
    parsed = PageReader()
    parsed.feed(page)
    parsed.close()
    return parsed


def test_the_page_is_one_self_contained_chinese_document(page: str, reader: PageReader) -> None:
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"zh-CN\">")
    assert '<meta charset="utf-8">' in page
    assert reader.title == "售后服务报表 2026-12-01 至 2026-12-07"
    assert "生成时间：2026-12-08 10:00（北京时间）" in "".join(reader.texts)
    assert "http://" not in page
    assert "https://" not in page
    assert "url(" not in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()


def test_shopper_text_is_escaped_and_still_reads_the_same(page: str, reader: PageReader) -> None:
    assert HOSTILE_TEXT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert HOSTILE_TEXT in reader.texts
    assert URL_TEXT in reader.texts  # a typed URL is shown, never a reference


def test_number_cells_carry_the_reports_figures(report: Report, reader: PageReader) -> None:
    data = report.to_json()
    cells = {(figure, key): (value, text) for figure, key, value, text in reader.cells}

    for figure, key, value, text in reader.cells:
        assert resolve(data[figure], key) == value, (figure, key)
        if isinstance(value, int):
            assert text == str(value), (figure, key)
    assert {figure for figure, _, _, _ in reader.cells} == set(FIGURE_NAMES)
    assert cells["conversations", "/total"] == (7, "7")
    assert cells["conversations", "/per_day/2026-12-04/by_channel/widget"] == (1, "1")
    assert cells["self_service", "/rate"] == (data["self_service"]["rate"], "85.7%")
    assert cells["handoffs", "/by_reason/overdue_refund"] == (1, "1")
    assert cells["complaints", "/by_category/logistics"] == (1, "1")
    assert cells["first_response", "/median_minutes"] == (5.0, "5.0")
    assert cells["refunds", "/overdue_rate"] == (0.5, "50.0%")
    assert cells["return_decisions", "/decisions/0/count"] == (1, "1")
    assert cells["satisfaction", "/average"] == (3.5, "3.50")
    assert cells["unanswered", "/top/0/count"] == (1, "1")


def test_a_rate_without_denominator_reads_as_a_dash() -> None:
    empty = compute_report(PERIOD, [], [], [], [], NOW)
    parsed = PageReader()

    parsed.feed(render_page(empty, {}))

    cells = {(figure, key): (value, text) for figure, key, value, text in parsed.cells}
    assert cells["self_service", "/rate"] == (None, "—")
    assert cells["satisfaction", "/average"] == (None, "—")
    assert parsed.images == []


def test_every_chart_is_embedded_with_the_figures_how(
    report: Report, charts: dict[str, bytes], page: str, reader: PageReader
) -> None:
    embedded = {image["data-chart"]: image["src"] for image in reader.images}

    assert set(embedded) == set(charts)
    for name, png in charts.items():
        assert embedded[name] == "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    texts = "".join(reader.texts)
    for name in FIGURE_NAMES:
        assert report.to_json()[name]["how"] in texts
