"""The report's figures, computed from what the record service serves (pure: no I/O, no clock).

`compute_report` takes the period, the service records, complaint tickets, handoff tickets
and unanswered messages exactly as the record service's JSON API serves them, and `now`
(for what is overdue); it counts only items created inside the period. Each figure says
in its `how` (in Chinese, for the merchant) exactly what it counts.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from reporting.inputs import (
    UNKNOWN,
    Dated,
    conversation_of,
    dated_in_period,
    details_of,
    key_or_unknown,
    record_channel,
    text_of,
    ticket_channel,
)
from reporting.period import Period, beijing_date, beijing_iso, parse_time

__all__ = [
    "COMPLAINT_CATEGORIES",
    "FIGURE_NAMES",
    "HANDOFF_REASONS",
    "ComplaintsFigure",
    "ConversationsFigure",
    "FirstResponseFigure",
    "HandoffsFigure",
    "Period",
    "RefundsFigure",
    "Report",
    "ReturnDecision",
    "ReturnDecisionsFigure",
    "SatisfactionFigure",
    "SelfServiceFigure",
    "UnansweredFigure",
    "UnansweredQuestion",
    "compute_report",
    "rate",
]

JsonObject = dict[str, Any]

KNOWN_KINDS = frozenset({
    "identity_check", "return_eligibility", "refund_status", "complaint", "handoff", "satisfaction",
    "unanswered",
})
KNOWN_CHANNELS = ("rest", "wechat", "wecom", "widget", "ivr")
HANDOFF_REASONS = (
    "user_request", "beyond_authority", "repeated_failure", "urgent", "overdue_refund", "system_error",
    "other",
)
COMPLAINT_CATEGORIES = (
    "product_quality", "service_attitude", "logistics", "system_failure", "merchant", "other",
)
REFUND_OUTCOMES = ("completed", "on_time", "overdue")
RATINGS = (1, 2, 3, 4, 5)
SATISFIED_FROM = 4  # ratings of 4 and 5 count as satisfied
UNANSWERED_REASONS = ("nlu_fallback", "out_of_scope")
UNANSWERED_NEXT = ("asked_to_rephrase", "offered_tasks", "handed_over", "answered_out_of_scope")
TOP_UNANSWERED = 20
# The figures in the report's (and the page's) order; each is a field of Report.
FIGURE_NAMES = (
    "conversations", "self_service", "handoffs", "complaints", "first_response",
    "refunds", "return_decisions", "satisfaction", "unanswered",
)
COMPLAINT_ACCEPTANCE = timedelta(hours=24)

CONVERSATIONS_HOW = (
    "会话数：本期（北京时间）服务记录、投诉工单、转人工工单和未答问题中出现的不同会话（conversation_id）个数，"
    "只统计创建时间在本期内的条目。每个会话只计一次，计入它本期第一条条目的北京时间日期；"
    "渠道取它按时间顺序第一条注明渠道的条目（服务记录的 details.channel 或工单的 channel），"
    "都没有注明的计为“未知”。没有任何判定、工单或未答问题的会话（例如只打了个招呼）不会写入记录服务，"
    "因此不在统计之内。"
)
SELF_SERVICE_HOW = (
    "自助解决率 = 本期没有转人工的会话数 ÷ 本期会话数（会话口径同“会话数”）。"
    "一个会话本期只要有一条 kind 为 handoff 的服务记录或一张转人工工单，就算转人工。"
    "分母为 0 时显示“—”。"
)
HANDOFFS_HOW = (
    "转人工率 = 本期有转人工（handoff 服务记录或转人工工单）的会话数 ÷ 本期会话数，分母为 0 时显示“—”。"
    "按原因、渠道、意图的次数统计本期每一条 kind 为 handoff 的服务记录（每次转人工一条）："
    "原因取 details.reason，缺失计为“未知”；渠道取 details.channel，缺失时取 details.ticket_id "
    "对应工单的 channel，仍没有则计为“未知”；意图取 details.context.intent（顾客转人工前最后一个意图），"
    "缺失计为“未知”。"
)
COMPLAINTS_HOW = (
    "统计创建时间在本期内的投诉工单，按 category 分类计数。机器人收到投诉当即登记工单，并承诺 24 小时内答复："
    "“24 小时内受理”为答复期限 due_at − 创建时间 created_at ≤ 24 小时的工单数，受理率 = 该数 ÷ 工单数。"
    "“超时未处理”为报表生成时状态仍为 open 且 due_at 已过的工单数。"
    "状态为 open 的计为“未结”，其他状态计为“已结”。"
)
FIRST_RESPONSE_HOW = (
    "统计创建时间在本期内的转人工工单。已接单：claimed_at 不为空的工单；"
    "首次响应时长 = claimed_at − created_at（分钟）；中位数为居中的值（偶数个时取中间两个的平均），"
    "P90 为升序排列后第 ⌈0.9 × 已接单数⌉ 个值。"
    "按时接单：claimed_at ≤ due_at；超时接单：claimed_at > due_at。"
    "超时等待：报表生成时仍未接单、未解决（resolved_at 为空且状态不是 resolved）且 due_at 已过的工单。"
)
REFUNDS_HOW = (
    "统计本期 kind 为 refund_status 的服务记录。同一笔退款（details.refund_id）有多条记录时只取最新"
    "（created_at 最晚）的一条，按它的 outcome 计数："
    "completed 已完成、on_time 处理中（未超时）、overdue 已超时。"
    "没有 refund_id 的记录（例如 outcome 为 none：没有查到退款）按条数另计为“未查到退款”。"
    "超时占比 = overdue 笔数 ÷ 有 refund_id 的退款笔数，分母为 0 时显示“—”。"
)
RETURN_DECISIONS_HOW = (
    "统计本期 kind 为 return_eligibility 的服务记录，按（规则编号 rule，结果 outcome）分组计数："
    "eligible 为可退，not_eligible 为不可退；rule 为空的计为“未知”。按次数从多到少排列。"
)
SATISFACTION_HOW = (
    "统计本期 kind 为 satisfaction 的服务记录：outcome 为 rated 的按 details.rating（1–5 分）计入分布，"
    "outcome 为 not_rated 的计为未评价。满意率 = 4 分及以上的条数 ÷ 已评价条数；平均分 = 已评价评分的平均值；"
    "分母为 0 时显示“—”。评分不是 1–5 整数的记录不计入。"
)
UNANSWERED_HOW = (
    "统计创建时间在本期内的未答问题（文本已脱敏）。按文本去掉首尾空白、连续空白合并为一个空格后分组，"
    "按出现次数从多到少排列，次数相同时最近出现的在前，列出前 20 个（文本为空的不列出）；"
    "“主要原因”为该问题出现最多的 reason（nlu_fallback 未能识别，out_of_scope 超出服务范围）。"
    "按原因和后续处理（next）的合计包括本期全部未答问题。"
)


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator rounded to 4 decimals; None when the denominator is 0."""
    return None if denominator == 0 else round(numerator / denominator, 4)


@dataclass(frozen=True)
class ConversationsFigure:
    """Conversations per Beijing day and channel.

    Attributes:
        channels: The channels seen, in display order ("unknown" last).
        per_day: For every day of the period, the count per channel (zeros included).
        how: How the figure is computed, for the merchant.
    """

    channels: tuple[str, ...]
    per_day: Mapping[date, Mapping[str, int]]
    how: str = CONVERSATIONS_HOW

    @property
    def total(self) -> int:
        """Conversations in the period."""
        return sum(sum(counts.values()) for counts in self.per_day.values())

    @property
    def by_channel(self) -> dict[str, int]:
        """Conversations in the period per channel."""
        days = self.per_day.values()
        return {channel: sum(counts[channel] for counts in days) for channel in self.channels}

    def to_json(self) -> JsonObject:
        """The figure as JSON."""
        return {
            "how": self.how,
            "total": self.total,
            "channels": list(self.channels),
            "by_channel": self.by_channel,
            "per_day": {
                day.isoformat(): {"total": sum(counts.values()), "by_channel": dict(counts)}
                for day, counts in self.per_day.items()
            },
        }


@dataclass(frozen=True)
class SelfServiceFigure:
    """Conversations resolved without a person.

    Attributes:
        self_served: Conversations without any handoff.
        conversations: All conversations of the period.
        how: How the figure is computed.
    """

    self_served: int
    conversations: int
    how: str = SELF_SERVICE_HOW

    def to_json(self) -> JsonObject:
        """The figure as JSON."""
        return {
            "how": self.how,
            "numerator": self.self_served,
            "denominator": self.conversations,
            "rate": rate(self.self_served, self.conversations),
        }


@dataclass(frozen=True)
class HandoffsFigure:
    """Handoffs to a person: how often, why, from which channel and after which intent.

    Attributes:
        conversations_with_handoff: Conversations with a handoff record or ticket.
        conversations: All conversations of the period.
        by_reason: Handoff records per reason (every known reason present).
        by_reason_channel: Handoff records per (reason, channel), most first.
        by_reason_intent: Handoff records per (reason, intent), most first.
        how: How the figure is computed.
    """

    conversations_with_handoff: int
    conversations: int
    by_reason: Mapping[str, int]
    by_reason_channel: Mapping[tuple[str, str], int]
    by_reason_intent: Mapping[tuple[str, str], int]
    how: str = HANDOFFS_HOW

    @property
    def handoff_count(self) -> int:
        """Handoff records in the period."""
        return sum(self.by_reason.values())

    def to_json(self) -> JsonObject:
        """The figure as JSON."""
        return {
            "how": self.how,
            "numerator": self.conversations_with_handoff,
            "denominator": self.conversations,
            "rate": rate(self.conversations_with_handoff, self.conversations),
            "handoffs": self.handoff_count,
            "by_reason": dict(self.by_reason),
            "by_reason_channel": _pair_rows(self.by_reason_channel, "reason", "channel"),
            "by_reason_intent": _pair_rows(self.by_reason_intent, "reason", "intent"),
        }


@dataclass(frozen=True)
class ComplaintsFigure:
    """Complaint tickets: categories, acceptance within 24 h, overdue and open ones.

    Attributes:
        by_category: Tickets per category (all six categories present).
        accepted_within_24h: Tickets whose due_at is at most 24 h after created_at.
        overdue: Open tickets whose due_at has passed at `now`.
        open: Tickets with status "open".
        how: How the figure is computed.
    """

    by_category: Mapping[str, int]
    accepted_within_24h: int
    overdue: int
    open: int
    how: str = COMPLAINTS_HOW

    @property
    def total(self) -> int:
        """Complaint tickets created in the period."""
        return sum(self.by_category.values())

    def to_json(self) -> JsonObject:
        """The figure as JSON."""
        return {
            "how": self.how,
            "total": self.total,
            "by_category": dict(self.by_category),
            "accepted_within_24h": self.accepted_within_24h,
            "accepted_within_24h_rate": rate(self.accepted_within_24h, self.total),
            "overdue": self.overdue,
            "open": self.open,
            "not_open": self.total - self.open,
        }


@dataclass(frozen=True)
class FirstResponseFigure:
    """How fast a person claims a handoff ticket.

    Attributes:
        tickets: Handoff tickets created in the period.
        claimed: Tickets with a claimed_at.
        median_minutes: Median minutes from created_at to claimed_at (None without claims).
        p90_minutes: 90th percentile (nearest rank) of those minutes (None without claims).
        claimed_before_due: Claimed at or before due_at.
        claimed_after_due: Claimed after due_at.
        overdue_waiting: Neither claimed nor resolved, and past due_at at `now`.
        how: How the figure is computed.
    """

    tickets: int
    claimed: int
    median_minutes: float | None
    p90_minutes: float | None
    claimed_before_due: int
    claimed_after_due: int
    overdue_waiting: int
    how: str = FIRST_RESPONSE_HOW

    def to_json(self) -> JsonObject:
        """The figure as JSON."""
        return {
            "how": self.how,
            "tickets": self.tickets,
            "claimed": self.claimed,
            "unclaimed": self.tickets - self.claimed,
            "median_minutes": self.median_minutes,
            "p90_minutes": self.p90_minutes,
            "claimed_before_due": self.claimed_before_due,
            "claimed_after_due": self.claimed_after_due,
            "overdue_waiting": self.overdue_waiting,
        }


@dataclass(frozen=True)
class RefundsFigure:
    """Refunds by their latest state: completed, on time, overdue.

    Attributes:
        by_outcome: Refunds (distinct refund_id) per outcome of their latest record.
        no_refund_found: refund_status records without a refund_id.
        how: How the figure is computed.
    """

    by_outcome: Mapping[str, int]
    no_refund_found: int
    how: str = REFUNDS_HOW

    @property
    def refunds(self) -> int:
        """Distinct refunds (refund_id) seen in the period."""
        return sum(self.by_outcome.values())

    def to_json(self) -> JsonObject:
        """The figure as JSON."""
        overdue = self.by_outcome.get("overdue", 0)
        return {
            "how": self.how,
            "refunds": self.refunds,
            "by_outcome": dict(self.by_outcome),
            "no_refund_found": self.no_refund_found,
            "overdue_rate": rate(overdue, self.refunds),
        }


@dataclass(frozen=True)
class ReturnDecision:
    """How often one rule gave one return decision."""

    rule: str
    outcome: str
    count: int


@dataclass(frozen=True)
class ReturnDecisionsFigure:
    """Return eligibility decisions per rule id and outcome, most frequent first."""

    decisions: tuple[ReturnDecision, ...]
    how: str = RETURN_DECISIONS_HOW

    @property
    def total(self) -> int:
        """Return eligibility decisions in the period."""
        return sum(decision.count for decision in self.decisions)

    def to_json(self) -> JsonObject:
        """The figure as JSON."""
        return {
            "how": self.how,
            "total": self.total,
            "decisions": [
                {"rule": item.rule, "outcome": item.outcome, "count": item.count} for item in self.decisions
            ],
        }


@dataclass(frozen=True)
class SatisfactionFigure:
    """Shoppers' ratings after a conversation.

    Attributes:
        distribution: Rated records per rating 1..5 (zeros included).
        not_rated: Satisfaction records without a rating.
        how: How the figure is computed.
    """

    distribution: Mapping[int, int]
    not_rated: int
    how: str = SATISFACTION_HOW

    @property
    def rated(self) -> int:
        """Records with a valid rating."""
        return sum(self.distribution.values())

    @property
    def satisfied(self) -> int:
        """Ratings of 4 or 5."""
        return sum(count for rating, count in self.distribution.items() if rating >= SATISFIED_FROM)

    @property
    def average(self) -> float | None:
        """The average rating, rounded to 2 decimals; None without ratings."""
        if self.rated == 0:
            return None
        return round(sum(rating * count for rating, count in self.distribution.items()) / self.rated, 2)

    def to_json(self) -> JsonObject:
        """The figure as JSON."""
        return {
            "how": self.how,
            "distribution": {str(rating): count for rating, count in self.distribution.items()},
            "rated": self.rated,
            "not_rated": self.not_rated,
            "satisfied": self.satisfied,
            "rate": rate(self.satisfied, self.rated),
            "average": self.average,
        }


@dataclass(frozen=True)
class UnansweredQuestion:
    """One question the bot could not answer, with how often it was asked."""

    text: str
    count: int
    last_seen: datetime
    reason: str

    def to_json(self) -> JsonObject:
        """The question as JSON (last_seen in Beijing time)."""
        return {
            "text": self.text,
            "count": self.count,
            "last_seen": beijing_iso(self.last_seen),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class UnansweredFigure:
    """The most frequent unanswered questions, and all unanswered messages by reason and by next step.

    Attributes:
        top: The 20 most frequent questions, most frequent (then most recent) first.
        distinct_questions: Distinct non-empty questions in the period.
        by_reason: Messages per reason (the known reasons present).
        by_next: Messages per next step (the known steps present).
        how: How the figure is computed.
    """

    top: tuple[UnansweredQuestion, ...]
    distinct_questions: int
    by_reason: Mapping[str, int]
    by_next: Mapping[str, int]
    how: str = UNANSWERED_HOW

    @property
    def total(self) -> int:
        """Unanswered messages in the period."""
        return sum(self.by_reason.values())

    def to_json(self) -> JsonObject:
        """The figure as JSON."""
        return {
            "how": self.how,
            "total": self.total,
            "distinct_questions": self.distinct_questions,
            "top": [question.to_json() for question in self.top],
            "by_reason": dict(self.by_reason),
            "by_next": dict(self.by_next),
        }


@dataclass(frozen=True)
class Report:
    """Every figure of a period, as of `generated_at`."""

    period: Period
    generated_at: datetime
    conversations: ConversationsFigure
    self_service: SelfServiceFigure
    handoffs: HandoffsFigure
    complaints: ComplaintsFigure
    first_response: FirstResponseFigure
    refunds: RefundsFigure
    return_decisions: ReturnDecisionsFigure
    satisfaction: SatisfactionFigure
    unanswered: UnansweredFigure

    def figure(self, name: str) -> Any:
        """One figure by its name (one of FIGURE_NAMES).

        Raises:
            KeyError: No figure has that name.
        """
        if name not in FIGURE_NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def to_json(self) -> JsonObject:
        """The report as a JSON-serialisable dict: its period, when, and every figure by name."""
        return {
            "period": {
                "first_day": self.period.first_day.isoformat(),
                "last_day": self.period.last_day.isoformat(),
                "start": self.period.start_utc().isoformat(),
                "end": self.period.end_utc().isoformat(),
                "time_zone": "Asia/Shanghai",
            },
            "generated_at": beijing_iso(self.generated_at),
            **{name: self.figure(name).to_json() for name in FIGURE_NAMES},
        }


def compute_report(
    period: Period,
    records: Sequence[Mapping[str, Any]],
    complaints: Sequence[Mapping[str, Any]],
    handoffs: Sequence[Mapping[str, Any]],
    unanswered: Sequence[Mapping[str, Any]],
    now: datetime,
) -> Report:
    """Every figure of the period from the record service's items.

    Args:
        period: The days to report on; only items created inside it count.
        records: Service records (GET /api/records); unknown kinds are ignored.
        complaints: Complaint tickets (GET /api/complaints).
        handoffs: Handoff tickets (GET /api/handoffs).
        unanswered: Unanswered messages (GET /api/unanswered).
        now: The report's time, for what is overdue (a naive time is taken as UTC).

    Returns:
        The report.
    """
    now = now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)
    dated_records = [
        dated for dated in dated_in_period(records, period) if dated.item.get("kind") in KNOWN_KINDS
    ]
    dated_complaints = dated_in_period(complaints, period)
    dated_handoffs = dated_in_period(handoffs, period)
    dated_unanswered = dated_in_period(unanswered, period)

    def of_kind(kind: str) -> list[Dated]:
        return [dated for dated in dated_records if dated.item.get("kind") == kind]

    conversations = _conversations_figure(
        period, dated_records, dated_complaints, dated_handoffs, dated_unanswered
    )
    handoff_conversations = {
        conversation
        for dated in [*of_kind("handoff"), *dated_handoffs]
        if (conversation := conversation_of(dated.item)) is not None
    }
    total = conversations.total
    # every ticket, whenever created: a handoff record is joined to its own ticket by id
    tickets_by_id = {
        ticket_id: ticket
        for ticket in handoffs
        if isinstance(ticket, Mapping) and (ticket_id := text_of(ticket.get("ticket_id"))) is not None
    }
    return Report(
        period=period,
        generated_at=now,
        conversations=conversations,
        self_service=SelfServiceFigure(self_served=total - len(handoff_conversations), conversations=total),
        handoffs=_handoffs_figure(of_kind("handoff"), tickets_by_id, len(handoff_conversations), total),
        complaints=_complaints_figure(dated_complaints, now),
        first_response=_first_response_figure(dated_handoffs, now),
        refunds=_refunds_figure(of_kind("refund_status")),
        return_decisions=_return_decisions_figure(of_kind("return_eligibility")),
        satisfaction=_satisfaction_figure(of_kind("satisfaction")),
        unanswered=_unanswered_figure(dated_unanswered),
    )


def _conversations_figure(
    period: Period,
    records: list[Dated],
    complaints: list[Dated],
    handoffs: list[Dated],
    unanswered: list[Dated],
) -> ConversationsFigure:
    # (created_at, source, position) orders a conversation's items; ties keep the input order
    sightings: list[tuple[datetime, int, int, str, str | None]] = []
    # records and unanswered messages name their channel in details, tickets at the top
    sources = [(records, True), (complaints, False), (handoffs, False), (unanswered, True)]
    for source, (items, channel_in_details) in enumerate(sources):
        for position, dated in enumerate(items):
            conversation = conversation_of(dated.item)
            if conversation is None:
                continue
            channel = record_channel(dated.item) if channel_in_details else ticket_channel(dated.item)
            sightings.append((dated.created_at, source, position, conversation, channel))
    first_day: dict[str, date] = {}
    first_channel: dict[str, str] = {}
    for created_at, _, _, conversation, channel in sorted(sightings, key=lambda sighting: sighting[:3]):
        first_day.setdefault(conversation, beijing_date(created_at))
        if channel is not None:
            first_channel.setdefault(conversation, channel)
    channel_of = {conversation: first_channel.get(conversation, UNKNOWN) for conversation in first_day}
    channels = _ordered(set(channel_of.values()), KNOWN_CHANNELS)
    per_day: dict[date, dict[str, int]] = {day: dict.fromkeys(channels, 0) for day in period.days()}
    for conversation, day in first_day.items():
        per_day[day][channel_of[conversation]] += 1
    return ConversationsFigure(channels=tuple(channels), per_day=per_day)


def _handoffs_figure(
    handoff_records: list[Dated],
    tickets_by_id: Mapping[str, Mapping[str, Any]],
    conversations_with_handoff: int,
    conversations: int,
) -> HandoffsFigure:
    reasons: Counter[str] = Counter()
    reason_channel: Counter[tuple[str, str]] = Counter()
    reason_intent: Counter[tuple[str, str]] = Counter()
    for dated in handoff_records:
        details = details_of(dated.item)
        reason = key_or_unknown(details.get("reason"))
        channel = record_channel(dated.item)
        if channel is None:  # older records name no channel: their ticket does
            ticket = tickets_by_id.get(text_of(details.get("ticket_id")) or "")
            channel = ticket_channel(ticket) if ticket is not None else None
        context = details.get("context")
        intent = context.get("intent") if isinstance(context, Mapping) else None
        reasons[reason] += 1
        reason_channel[reason, channel or UNKNOWN] += 1
        reason_intent[reason, key_or_unknown(intent)] += 1
    return HandoffsFigure(
        conversations_with_handoff=conversations_with_handoff,
        conversations=conversations,
        by_reason=_counts(reasons, HANDOFF_REASONS),
        by_reason_channel=_most_first(reason_channel),
        by_reason_intent=_most_first(reason_intent),
    )


def _complaints_figure(tickets: list[Dated], now: datetime) -> ComplaintsFigure:
    categories: Counter[str] = Counter()
    accepted = overdue = still_open = 0
    for dated in tickets:
        categories[key_or_unknown(dated.item.get("category"))] += 1
        due_at = parse_time(dated.item.get("due_at"))
        is_open = dated.item.get("status") == "open"
        still_open += is_open
        if due_at is not None:
            accepted += due_at - dated.created_at <= COMPLAINT_ACCEPTANCE
            overdue += is_open and due_at < now
    return ComplaintsFigure(
        by_category=_counts(categories, COMPLAINT_CATEGORIES),
        accepted_within_24h=accepted,
        overdue=overdue,
        open=still_open,
    )


def _first_response_figure(tickets: list[Dated], now: datetime) -> FirstResponseFigure:
    minutes: list[float] = []
    before_due = after_due = overdue_waiting = 0
    for dated in tickets:
        claimed_at = parse_time(dated.item.get("claimed_at"))
        due_at = parse_time(dated.item.get("due_at"))
        if claimed_at is not None:
            minutes.append((claimed_at - dated.created_at).total_seconds() / 60)
            if due_at is not None:
                before_due += claimed_at <= due_at
                after_due += claimed_at > due_at
            continue
        resolved = dated.item.get("resolved_at") is not None or dated.item.get("status") == "resolved"
        overdue_waiting += not resolved and due_at is not None and due_at < now
    return FirstResponseFigure(
        tickets=len(tickets),
        claimed=len(minutes),
        median_minutes=round(statistics.median(minutes), 1) if minutes else None,
        p90_minutes=round(_nearest_rank(minutes, 90), 1) if minutes else None,
        claimed_before_due=before_due,
        claimed_after_due=after_due,
        overdue_waiting=overdue_waiting,
    )


def _refunds_figure(refund_records: list[Dated]) -> RefundsFigure:
    latest: dict[str, tuple[datetime, int, str]] = {}
    no_refund_found = 0
    for dated in refund_records:
        refund_id = text_of(details_of(dated.item).get("refund_id"))
        if refund_id is None:
            no_refund_found += 1
            continue
        # the later record wins; at the same time, the higher id (written later) does
        record_id = dated.item.get("id")
        order = record_id if isinstance(record_id, int) else -1
        candidate = (dated.created_at, order, key_or_unknown(dated.item.get("outcome")))
        if refund_id not in latest or candidate[:2] >= latest[refund_id][:2]:
            latest[refund_id] = candidate
    outcomes = Counter(outcome for _, _, outcome in latest.values())
    return RefundsFigure(by_outcome=_counts(outcomes, REFUND_OUTCOMES), no_refund_found=no_refund_found)


def _return_decisions_figure(decision_records: list[Dated]) -> ReturnDecisionsFigure:
    decisions = Counter(
        (key_or_unknown(dated.item.get("rule")), key_or_unknown(dated.item.get("outcome")))
        for dated in decision_records
    )
    return ReturnDecisionsFigure(
        decisions=tuple(
            ReturnDecision(rule, outcome, count) for (rule, outcome), count in _most_first(decisions).items()
        )
    )


def _satisfaction_figure(satisfaction_records: list[Dated]) -> SatisfactionFigure:
    distribution = dict.fromkeys(RATINGS, 0)
    not_rated = 0
    for dated in satisfaction_records:
        outcome = dated.item.get("outcome")
        rating = details_of(dated.item).get("rating")
        if outcome == "not_rated":
            not_rated += 1
        elif outcome == "rated" and type(rating) is int and rating in distribution:  # bool is not a rating
            distribution[rating] += 1
    return SatisfactionFigure(distribution=distribution, not_rated=not_rated)


def _unanswered_figure(messages: list[Dated]) -> UnansweredFigure:
    reasons: Counter[str] = Counter()
    next_steps: Counter[str] = Counter()
    asked: dict[str, list[tuple[datetime, str]]] = {}
    for dated in messages:
        details = details_of(dated.item)
        reason = key_or_unknown(details.get("reason"))
        reasons[reason] += 1
        next_steps[key_or_unknown(details.get("next"))] += 1
        text = details.get("text")
        question = " ".join(text.split()) if isinstance(text, str) else ""
        if question:
            asked.setdefault(question, []).append((dated.created_at, reason))
    questions = [
        UnansweredQuestion(
            text=question,
            count=len(times),
            last_seen=max(created_at for created_at, _ in times),
            reason=_most_frequent(reason for _, reason in times),
        )
        for question, times in asked.items()
    ]
    questions.sort(key=lambda question: question.text)
    questions.sort(key=lambda question: (question.count, question.last_seen), reverse=True)
    return UnansweredFigure(
        top=tuple(questions[:TOP_UNANSWERED]),
        distinct_questions=len(questions),
        by_reason=_counts(reasons, UNANSWERED_REASONS),
        by_next=_counts(next_steps, UNANSWERED_NEXT),
    )


def _ordered(keys: Iterable[str], known: Sequence[str]) -> list[str]:
    """The keys in the known order, then the others alphabetically, "unknown" last."""
    keys = set(keys)
    others = sorted(key for key in keys if key not in known and key != UNKNOWN)
    return [key for key in known if key in keys] + others + ([UNKNOWN] if UNKNOWN in keys else [])


def _counts(counter: Counter[str], known: Sequence[str]) -> dict[str, int]:
    """Counts for every known key (zeros included), then any other key seen."""
    return {key: counter[key] for key in _ordered([*known, *counter], known)}


def _most_first(counter: Counter[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Counts by pair, most first, then by the pair alphabetically (a stable order)."""
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def _pair_rows(counts: Mapping[tuple[str, str], int], first: str, second: str) -> list[JsonObject]:
    return [{first: one, second: other, "count": count} for (one, other), count in counts.items()]


def _most_frequent(values: Iterable[str]) -> str:
    """The most frequent value; on a tie, the first alphabetically."""
    counts = Counter(values)
    return min(counts, key=lambda value: (-counts[value], value))


def _nearest_rank(values: list[float], percent: int) -> float:
    """The nearest-rank percentile: the ⌈percent / 100 × n⌉-th smallest value."""
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)  # integer ceiling: 0.9 * n in floats may round up
    return ordered[max(rank, 1) - 1]
