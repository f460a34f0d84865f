"""The report's charts: a valid 800 × 400 PNG each, with data and without, and no missing glyph."""

from __future__ import annotations

import logging
import struct
import warnings

import pytest
from matplotlib import font_manager

from reporting.charts import CHART_DRAWERS, render_charts
from reporting.figures import Report, compute_report
from tests.reporting.samples import NOW, PERIOD, busy_inputs

CHART_NAMES = [
    "conversations_per_day", "self_service", "handoff_reasons", "complaint_categories", "first_response",
    "refunds", "return_decisions", "satisfaction", "unanswered_reasons",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def busy_report() -> Report:
    inputs = busy_inputs()
    return compute_report(
        PERIOD, inputs["records"], inputs["complaints"], inputs["handoffs"], inputs["unanswered"], NOW
    )


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (right after the signature)."""
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def has_noto_cjk() -> bool:
    return any("Noto Sans CJK" in font.name for font in font_manager.fontManager.ttflist)


class _Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def charts_with_warnings() -> tuple[dict[str, bytes], list[str]]:
    """The busy report's charts, and every warning drawing them gave (warnings and matplotlib's log)."""
    logged = _Messages()
    logger = logging.getLogger("matplotlib")
    logger.addHandler(logged)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            charts = render_charts(busy_report())
    finally:
        logger.removeHandler(logged)
    return charts, [str(warning.message) for warning in caught] + logged.messages


def test_every_chart_is_an_800_by_400_png(charts_with_warnings: tuple[dict[str, bytes], list[str]]) -> None:
    charts, _ = charts_with_warnings

    assert list(charts) == CHART_NAMES == list(CHART_DRAWERS)
    for name, png in charts.items():
        assert png.startswith(PNG_SIGNATURE), name
        assert png_size(png) == (800, 400), name


@pytest.mark.skipif(not has_noto_cjk(), reason="Noto Sans CJK is not installed")
def test_no_glyph_is_missing_with_noto_cjk(charts_with_warnings: tuple[dict[str, bytes], list[str]]) -> None:
    _, messages = charts_with_warnings

    assert [message for message in messages if "Glyph" in message or "findfont" in message] == []


def test_an_empty_report_draws_every_chart() -> None:
    empty = compute_report(PERIOD, [], [], [], [], NOW)

    charts = render_charts(empty)

    assert list(charts) == CHART_NAMES
    for name, png in charts.items():
        assert png.startswith(PNG_SIGNATURE), name
        assert png_size(png) == (800, 400), name


def test_the_same_report_draws_the_same_images() -> None:
    empty = compute_report(PERIOD, [], [], [], [], NOW)

    assert render_charts(empty)["satisfaction"] == render_charts(empty)["satisfaction"]
