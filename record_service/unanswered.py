"""The unanswered-question log: messages the bot could not answer, and people's reviews.

The bot writes each one as a service record of kind `unanswered` (what was said, masked,
the NLU's intent ranking, the channel and what the bot did next). A person then gives a
message its right intent, or names it a new topic; the verdict is kept beside the record
(`UnansweredReview`), never in it, and reviewed messages are exported as training data
(`scripts/export_review.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from record_service.models import UNANSWERED_KIND, ServiceRecord, UnansweredReview
from record_service.repository import NotFoundError, iso, utc_now
from record_service.serializers import record_json
from service_common.pii import mask_personal_data


@dataclass(frozen=True)
class UnansweredMessage:
    """A logged message and its review, if it has one."""

    record: ServiceRecord
    review: UnansweredReview | None


class UnansweredRepository:
    """Reads the log and keeps reviews, over one session (the caller owns the transaction)."""

    def __init__(self, session: Session, clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.clock = clock

    def messages(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        reviewed: bool | None = None,
        limit: int | None = None,
    ) -> list[UnansweredMessage]:
        """Logged messages dated in [start, end) (all when not given), newest first.

        Args:
            reviewed: Only reviewed (True) or not yet reviewed (False) messages.
            limit: At most this many.
        """
        statement = (
            select(ServiceRecord, UnansweredReview)
            .outerjoin(UnansweredReview, UnansweredReview.record_id == ServiceRecord.id)
            .where(ServiceRecord.kind == UNANSWERED_KIND)
        )
        if start is not None:
            statement = statement.where(ServiceRecord.created_at >= start)
        if end is not None:
            statement = statement.where(ServiceRecord.created_at < end)
        if reviewed is True:
            statement = statement.where(UnansweredReview.record_id.is_not(None))
        elif reviewed is False:
            statement = statement.where(UnansweredReview.record_id.is_(None))
        statement = statement.order_by(ServiceRecord.created_at.desc(), ServiceRecord.id.desc())
        if limit is not None:
            statement = statement.limit(limit)
        return [UnansweredMessage(record, review) for record, review in self.session.execute(statement)]

    def review(
        self, record_id: int, intent: str | None, new_topic: str | None, reviewer: str
    ) -> UnansweredMessage:
        """Gives a logged message its intent, or names it a new topic (replacing an earlier review).

        Raises:
            NotFoundError: message_not_found, when no unanswered record has this id.
        """
        record = self.session.get(ServiceRecord, record_id)
        if record is None or record.kind != UNANSWERED_KIND:
            raise NotFoundError("message_not_found", "no such unanswered message")
        review = self.session.get(UnansweredReview, record_id)
        if review is None:
            review = UnansweredReview(record_id=record_id)
            self.session.add(review)
        review.intent, review.new_topic = intent, new_topic
        review.reviewed_by, review.reviewed_at = reviewer, self.clock()
        self.session.flush()
        return UnansweredMessage(record, review)


def message_json(message: UnansweredMessage) -> dict[str, Any]:
    """A logged message as the API serves it: the record, its text masked again, and its review.

    The bot masks the text before writing it; it is masked again here so that a message
    written by an older or faulty client never reaches a screen unmasked.
    """
    body = record_json(message.record)
    details = dict(body["details"] or {})
    details["text"] = mask_personal_data(str(details.get("text") or ""))
    body["details"] = details
    review = message.review
    body["review"] = (
        None
        if review is None
        else {
            "intent": review.intent,
            "new_topic": review.new_topic,
            "reviewed_by": review.reviewed_by,
            "reviewed_at": iso(review.reviewed_at),
        }
    )
    return body
