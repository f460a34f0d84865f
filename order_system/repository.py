"""The order system's business operations over one SQLAlchemy session.

The repository knows nothing of HTTP: it raises `NotFoundError`, `ConflictError` and
`InvalidRequestError`, each with a stable code, and the API maps them to 404, 409 and 422.
The caller owns the transaction (`with session.begin(): ...`).

Creating returns and refunds is idempotent: a request carries a key, the key is stored in
the same transaction as what it created, and its primary key makes a concurrent duplicate
fail instead of creating a second return or refund.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from order_system.models import (
    BUSINESS_TZ,
    ChannelAccount,
    Customer,
    IdempotencyKey,
    Order,
    Refund,
    ReturnItem,
    ReturnRequest,
)

T = TypeVar("T", ReturnRequest, Refund)

# Refunds that count against what can still be refunded.
_LIVE_REFUND_STATUSES = frozenset({"processing", "succeeded"})
# A return in any other status still covers its items.
_CLOSED_RETURN_STATUSES = frozenset({"rejected"})
_NEW_ID_ATTEMPTS = 5


class RepositoryError(Exception):
    """A business operation was refused.

    Args:
        code: Stable machine-readable code, e.g. `order_not_found`.
        message: Explanation for the caller (no personal data).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFoundError(RepositoryError):
    """The customer, order or return does not exist."""


class ConflictError(RepositoryError):
    """The request contradicts the order's state or an earlier request with the same key."""


class InvalidRequestError(RepositoryError):
    """The request is well-formed but names things the order does not have."""


@dataclass(frozen=True)
class NewReturn:
    """A validated request to return or exchange items."""

    type: str
    skus: tuple[str, ...]
    reason: str
    quality_issue: bool


@dataclass(frozen=True)
class NewRefund:
    """A validated request to refund part or all of an order."""

    amount: Decimal
    reason: str
    return_id: str | None


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(timezone.utc)


class OrderRepository:
    """Reads and changes orders within the caller's transaction.

    Args:
        session: A session inside a transaction.
        clock: Returns the current aware time; tests pass a fixed one.
    """

    def __init__(self, session: Session, clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.clock = clock

    # ----------------------------------------------------------------- reading

    def customer_by_account(self, channel: str, account_id: str) -> Customer:
        """The customer behind a channel account.

        Raises:
            NotFoundError: customer_not_found.
        """
        statement = (
            select(Customer)
            .join(ChannelAccount, ChannelAccount.customer_id == Customer.id)
            .where(ChannelAccount.channel == channel, ChannelAccount.account_id == account_id)
        )
        customer = self.session.execute(statement).scalars().first()
        if customer is None:
            raise NotFoundError("customer_not_found", "no customer has this account")
        return customer

    def recent_orders(self, customer_id: str, limit: int) -> list[Order]:
        """A customer's latest orders, newest first (by payment time, then id).

        Raises:
            NotFoundError: customer_not_found.
        """
        if self.session.get(Customer, customer_id) is None:
            raise NotFoundError("customer_not_found", "no such customer")
        statement = (
            select(Order)
            .where(Order.customer_id == customer_id)
            .options(selectinload(Order.items), selectinload(Order.payment))
            # Orders never paid have no paid_at; they sort last on both backends.
            .order_by(Order.paid_at.is_(None), Order.paid_at.desc(), Order.id.desc())
            .limit(limit)
        )
        return list(self.session.execute(statement).scalars())

    def order(self, order_id: str, *, for_update: bool = False) -> Order:
        """An order with everything about it loaded.

        Args:
            order_id: The order's id.
            for_update: Lock the order's row until the transaction ends (PostgreSQL; SQLite
                transactions are already exclusive, see `db.make_engine`).

        Raises:
            NotFoundError: order_not_found.
        """
        statement = (
            select(Order)
            .where(Order.id == order_id)
            .options(
                selectinload(Order.items),
                selectinload(Order.payment),
                selectinload(Order.shipment),
                selectinload(Order.returns).selectinload(ReturnRequest.items),
                selectinload(Order.refunds),
            )
        )
        if for_update:
            statement = statement.with_for_update(of=Order)
        order = self.session.execute(statement).scalars().first()
        if order is None:
            raise NotFoundError("order_not_found", "no such order")
        return order

    def phone_last4_matches(self, order_id: str, last4: str) -> bool:
        """Whether `last4` are the last four digits of the order's customer's phone.

        Raises:
            NotFoundError: order_not_found.
        """
        statement = (
            select(Customer.phone)
            .join(Order, Order.customer_id == Customer.id)
            .where(Order.id == order_id)
        )
        phone = self.session.execute(statement).scalar_one_or_none()
        if phone is None:
            raise NotFoundError("order_not_found", "no such order")
        return secrets.compare_digest(str(phone)[-4:], last4)

    # ----------------------------------------------------------------- creating

    def create_return(
        self, order_id: str, request: NewReturn, idempotency_key: str
    ) -> tuple[ReturnRequest, bool]:
        """Creates a return request, or gives back the one created under the same key.

        Returns:
            The return request, and whether it was created by this call.

        Raises:
            NotFoundError: order_not_found.
            ConflictError: idempotency_conflict, order_not_delivered, order_closed,
                return_exists (an item already has a return that was not rejected).
            InvalidRequestError: unknown_sku.
        """
        order = self.order(order_id, for_update=True)
        fingerprint = _fingerprint("create_return", order_id, asdict(request))
        replayed = self._replay(ReturnRequest, "create_return", idempotency_key, fingerprint)
        if replayed is not None:
            return replayed, False
        _check_returnable(order, request.skus)

        def build(new_id: str) -> ReturnRequest:
            return ReturnRequest(
                id=new_id,
                order_id=order.id,
                type=request.type,
                status="requested",
                reason=request.reason,
                quality_issue=request.quality_issue,
                created_at=self.clock(),
                items=[ReturnItem(sku=sku) for sku in sorted(set(request.skus))],
            )

        return self._create(
            ReturnRequest, "R", build, "create_return", idempotency_key, fingerprint
        )

    def create_refund(
        self, order_id: str, request: NewRefund, idempotency_key: str
    ) -> tuple[Refund, bool]:
        """Creates a refund in `processing`, or gives back the one created under the same key.

        The refund goes back by the order's payment method, agreed now.

        Returns:
            The refund, and whether it was created by this call.

        Raises:
            NotFoundError: order_not_found.
            ConflictError: idempotency_conflict, order_not_paid.
            InvalidRequestError: unknown_return, amount_exceeds_refundable.
        """
        order = self.order(order_id, for_update=True)
        fingerprint = _fingerprint("create_refund", order_id, asdict(request))
        replayed = self._replay(Refund, "create_refund", idempotency_key, fingerprint)
        if replayed is not None:
            return replayed, False
        return_request = _return_of(order, request.return_id)
        _check_refundable(order, request.amount)

        def build(new_id: str) -> Refund:
            return Refund(
                id=new_id,
                order_id=order.id,
                return_id=request.return_id,
                amount=request.amount,
                status="processing",
                method=order.payment.method,
                reason=request.reason,
                agreed_at=self.clock(),
                goods_received_at=return_request.goods_received_at if return_request else None,
            )

        return self._create(Refund, "RF", build, "create_refund", idempotency_key, fingerprint)

    def _replay(
        self, model: type[T], operation: str, key: str, fingerprint: str
    ) -> T | None:
        """What an earlier request with `key` created, or None if the key is new.

        Raises:
            ConflictError: idempotency_conflict, when the key was used for another request.
        """
        stored = self.session.get(IdempotencyKey, key, populate_existing=True)
        if stored is None:
            return None
        if stored.operation != operation or stored.request_fingerprint != fingerprint:
            raise ConflictError(
                "idempotency_conflict",
                "this Idempotency-Key was already used for a different request",
            )
        resource = self.session.get(model, stored.resource_id)
        if resource is None:  # the resource was removed by reloading fixtures
            raise ConflictError(
                "idempotency_conflict", "what this Idempotency-Key created no longer exists"
            )
        return resource

    def _create(
        self,
        model: type[T],
        id_prefix: str,
        build: Callable[[str], T],
        operation: str,
        key: str,
        fingerprint: str,
    ) -> tuple[T, bool]:
        """Saves `build(new id)` together with its idempotency key, in a savepoint.

        A concurrent request with the same key makes the key's insert fail; the savepoint
        is rolled back and that request's result is returned instead.
        """
        for _ in range(_NEW_ID_ATTEMPTS):
            resource = build(_new_id(id_prefix, self.clock()))
            try:
                with self.session.begin_nested():
                    self.session.add(resource)
                    self.session.add(
                        IdempotencyKey(
                            key=key,
                            operation=operation,
                            request_fingerprint=fingerprint,
                            resource_id=resource.id,
                            created_at=self.clock(),
                        )
                    )
            except IntegrityError:
                replayed = self._replay(model, operation, key, fingerprint)
                if replayed is not None:
                    return replayed, False
                continue  # the random id was taken: draw another one
            return resource, True
        raise RuntimeError(f"could not draw a free {model.__name__} id")


def _check_returnable(order: Order, skus: Sequence[str]) -> None:
    if order.status == "closed":
        raise ConflictError("order_closed", "the order is closed")
    if order.status != "delivered" or order.delivered_at is None:
        raise ConflictError("order_not_delivered", "the order has not been delivered yet")
    order_skus = {item.sku for item in order.items}
    if any(sku not in order_skus for sku in skus):
        raise InvalidRequestError("unknown_sku", "a sku is not an item of this order")
    for existing in order.returns:
        if existing.status not in _CLOSED_RETURN_STATUSES and set(existing.skus) & set(skus):
            raise ConflictError(
                "return_exists", f"return {existing.id} already covers an item of this request"
            )


def _return_of(order: Order, return_id: str | None) -> ReturnRequest | None:
    if return_id is None:
        return None
    for request in order.returns:
        if request.id == return_id:
            return request
    raise InvalidRequestError("unknown_return", "return_id is not a return of this order")


def _check_refundable(order: Order, amount: Decimal) -> None:
    if order.payment is None or order.paid_at is None:
        raise ConflictError("order_not_paid", "the order has not been paid")
    already = sum(
        (refund.amount for refund in order.refunds if refund.status in _LIVE_REFUND_STATUSES),
        Decimal("0"),
    )
    if amount > order.payment.amount - already:
        raise InvalidRequestError(
            "amount_exceeds_refundable",
            f"at most {order.payment.amount - already:.2f} can still be refunded",
        )


def _fingerprint(operation: str, order_id: str, request: dict[str, Any]) -> str:
    """A digest of what a request asks for, to tell a retry from a different request."""
    canonical = json.dumps(
        {"operation": operation, "order_id": order_id, "request": request},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _new_id(prefix: str, now: datetime) -> str:
    """A new public id: prefix, the Beijing date, and eight random digits (R2405010123456789)."""
    return f"{prefix}{now.astimezone(BUSINESS_TZ):%y%m%d}{secrets.randbelow(10**8):08d}"
