"""The report's charts as PNG images, drawn with matplotlib's object API (no pyplot, no global figure).

Titles and labels are Chinese: the fonts are a list tried in order (Noto CJK first), set
for the drawing only (`matplotlib.rc_context`), so a machine without them still draws,
with boxes for the glyphs it lacks.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from reporting import labels
from reporting.figures import Report
from reporting.labels import label

FONT_FAMILIES = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "DejaVu Sans"]
CHART_STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": FONT_FAMILIES,
    "axes.unicode_minus": False,  # an ASCII minus: not every CJK font has U+2212
    "axes.spines.top": False,
    "axes.spines.right": False,
}
SIZE_INCHES = (8.0, 4.0)
DPI = 100  # 800 × 400 pixels
PALETTE = ("#2f6fdf", "#f2a33a", "#2bb37b", "#e0533d", "#8d6cd9", "#7a8594", "#d65fa6", "#1fa5b5")
GOOD, BAD, NEUTRAL = "#2bb37b", "#e0533d", "#7a8594"
NO_DATA = "本期无数据"
MAX_DATE_TICKS = 16  # beyond that, every n-th day is labelled so the labels stay readable
MAX_RETURN_DECISIONS = 12


def render_charts(report: Report) -> dict[str, bytes]:
    """Every chart of the report as PNG bytes, by chart name (the keys of CHART_DRAWERS)."""
    with matplotlib.rc_context(CHART_STYLE):
        return {name: _png(draw(report)) for name, draw in CHART_DRAWERS.items()}


def _conversations_per_day(report: Report) -> Figure:
    figure_data = report.conversations
    figure, axes = _figure(
        f"每日会话数（按渠道，{report.period.first_day} 至 {report.period.last_day}）"
    )
    if figure_data.total == 0:
        return _no_data(figure, axes)
    days = list(figure_data.per_day)
    positions = list(range(len(days)))
    bottoms = [0] * len(days)
    for index, channel in enumerate(figure_data.channels):
        counts = [figure_data.per_day[day][channel] for day in days]
        axes.bar(
            positions, counts, bottom=bottoms, color=PALETTE[index % len(PALETTE)],
            label=label(labels.CHANNELS, channel),
        )
        bottoms = [bottom + count for bottom, count in zip(bottoms, counts, strict=True)]
    step = -(-len(days) // MAX_DATE_TICKS)
    axes.set_xticks(positions[::step])
    axes.set_xticklabels([day.strftime("%m-%d") for day in days[::step]])
    axes.set_xlabel("日期（北京时间）")
    axes.set_ylabel("会话数")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(title="渠道", fontsize="small", ncol=min(len(figure_data.channels), 3), frameon=False)
    return figure


def _self_service(report: Report) -> Figure:
    data = report.self_service
    figure, axes = _figure("自助解决与转人工的会话")
    if data.conversations == 0:
        return _no_data(figure, axes)
    handed_over = data.conversations - data.self_served
    _bars(axes, ["自助解决", "转人工"], [data.self_served, handed_over], [GOOD, BAD], value_label="会话数")
    return figure


def _handoff_reasons(report: Report) -> Figure:
    data = report.handoffs
    figure, axes = _figure("转人工原因")
    if data.handoff_count == 0:
        return _no_data(figure, axes)
    reasons = list(data.by_reason)
    _bars(
        axes, [label(labels.HANDOFF_REASONS, reason) for reason in reasons],
        [data.by_reason[reason] for reason in reasons], PALETTE[0], value_label="次数", horizontal=True,
    )
    return figure


def _complaint_categories(report: Report) -> Figure:
    data = report.complaints
    figure, axes = _figure("投诉工单分类")
    if data.total == 0:
        return _no_data(figure, axes)
    categories = list(data.by_category)
    _bars(
        axes, [label(labels.COMPLAINT_CATEGORIES, category) for category in categories],
        [data.by_category[category] for category in categories], PALETTE[1], value_label="工单数",
    )
    return figure


def _first_response(report: Report) -> Figure:
    data = report.first_response
    figure, axes = _figure("转人工工单接单情况")
    if data.tickets == 0:
        return _no_data(figure, axes)
    waiting_in_time = data.tickets - data.claimed - data.overdue_waiting
    _bars(
        axes, ["按时接单", "超时接单", "超时等待", "未接单（未超时或已解决）"],
        [data.claimed_before_due, data.claimed_after_due, data.overdue_waiting, waiting_in_time],
        [GOOD, BAD, BAD, NEUTRAL], value_label="工单数",
    )
    return figure


def _refunds(report: Report) -> Figure:
    data = report.refunds
    figure, axes = _figure("退款是否按时")
    if data.refunds == 0 and data.no_refund_found == 0:
        return _no_data(figure, axes)
    counts = {**data.by_outcome, "no_refund_found": data.no_refund_found}
    colors = {"completed": GOOD, "on_time": PALETTE[0], "overdue": BAD}
    _bars(
        axes,
        [label(labels.REFUND_OUTCOMES, outcome) for outcome in counts],
        list(counts.values()),
        [colors.get(outcome, NEUTRAL) for outcome in counts],
        value_label="笔数（未查到退款为条数）",
    )
    return figure


def _return_decisions(report: Report) -> Figure:
    decisions = report.return_decisions.decisions
    shown = decisions[:MAX_RETURN_DECISIONS]
    cut = len(shown) < len(decisions)
    figure, axes = _figure(f"退货判定（按规则，前 {len(shown)} 项）" if cut else "退货判定（按规则）")
    if not decisions:
        return _no_data(figure, axes)
    colors = {"eligible": GOOD, "not_eligible": BAD}
    _bars(
        axes,
        [f"{item.rule} · {label(labels.RETURN_OUTCOMES, item.outcome)}" for item in shown],
        [item.count for item in shown],
        [colors.get(item.outcome, NEUTRAL) for item in shown],
        value_label="次数", horizontal=True,
    )
    return figure


def _satisfaction(report: Report) -> Figure:
    data = report.satisfaction
    figure, axes = _figure("满意度评分分布")
    if data.rated == 0:
        return _no_data(figure, axes)
    ratings = list(data.distribution)
    _bars(
        axes, [f"{rating} 分" for rating in ratings], [data.distribution[rating] for rating in ratings],
        [GOOD if rating >= 4 else BAD if rating <= 2 else NEUTRAL for rating in ratings], value_label="条数",
    )
    axes.set_xlabel("评分")
    return figure


def _unanswered_reasons(report: Report) -> Figure:
    data = report.unanswered
    figure = _new_figure()
    figure.suptitle("未答问题：原因与后续处理")
    if data.total == 0:
        return _no_data(figure, figure.add_subplot())
    by_reason, by_next = figure.subplots(1, 2)
    for axes, counts, names, title in (
        (by_reason, data.by_reason, labels.UNANSWERED_REASONS, "原因"),
        (by_next, data.by_next, labels.UNANSWERED_NEXT, "后续处理"),
    ):
        axes.set_title(title)
        _bars(
            axes, [label(names, key) for key in counts], list(counts.values()), PALETTE[4],
            value_label="条数", horizontal=True,
        )
    return figure


# The chart names and how each is drawn, in the page's order.
CHART_DRAWERS: Mapping[str, Callable[[Report], Figure]] = {
    "conversations_per_day": _conversations_per_day,
    "self_service": _self_service,
    "handoff_reasons": _handoff_reasons,
    "complaint_categories": _complaint_categories,
    "first_response": _first_response,
    "refunds": _refunds,
    "return_decisions": _return_decisions,
    "satisfaction": _satisfaction,
    "unanswered_reasons": _unanswered_reasons,
}


def _new_figure() -> Figure:
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, constrained_layout=True)
    FigureCanvasAgg(figure)  # attaches itself to the figure: savefig draws with Agg
    return figure


def _figure(title: str) -> tuple[Figure, Axes]:
    figure = _new_figure()
    axes = figure.add_subplot()
    axes.set_title(title)
    return figure, axes


def _no_data(figure: Figure, axes: Axes) -> Figure:
    axes.set_axis_off()
    axes.text(0.5, 0.5, NO_DATA, ha="center", va="center", fontsize="x-large", color=NEUTRAL,
              transform=axes.transAxes)
    return figure


def _bars(
    axes: Axes,
    names: Sequence[str],
    values: Sequence[int],
    colors: str | Sequence[str],
    *,
    value_label: str,
    horizontal: bool = False,
) -> None:
    """Bars with their counts written on them; horizontal ones read from the top."""
    positions = list(range(len(names)))
    if horizontal:
        bars = axes.barh(positions, values, color=colors)
        axes.set_yticks(positions)
        axes.set_yticklabels(names)
        axes.invert_yaxis()
        axes.set_xlabel(value_label)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        bars = axes.bar(positions, values, color=colors)
        axes.set_xticks(positions)
        axes.set_xticklabels(names)
        axes.set_ylabel(value_label)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.bar_label(bars, padding=2)
    # room for the count written past the longest bar
    if horizontal:
        axes.margins(x=0.1)
    else:
        axes.margins(y=0.1)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # no "Software" text: the same report gives the same image whatever matplotlib's version
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
