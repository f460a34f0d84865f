"""Client of the shop's order system (the reference one is ``order_system/``).

One :class:`OrderClient` method per API call, returning frozen dataclasses parsed from
the JSON of ``order_system/serializers.py``. :class:`Order`, :class:`Item` and
:class:`Refund` satisfy the policy engine's ``OrderLike``, ``ItemLike`` and
``RefundLike``, so actions pass them to the policy as they are.

The client is synchronous: call it with ``asyncio.to_thread`` from an action (see
:mod:`bot.actions.http_client`). Failures are the typed errors of that module, plus
:class:`OrderNotFoundError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from bot.actions.http_client import (
    JsonApiClient,
    JsonFields,
    NotFoundError,
    RetryPolicy,
)
from bot.actions.settings import ActionSettings
from service_common.breaker import CircuitBreaker

CENT = Decimal("0.01")


class OrderNotFoundError(NotFoundError):
    """The order system has no order with this id (HTTP 404 ``order_not_found``)."""


# --------------------------------------------------------------------------------------
# Typed results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    """The owner of a channel account.

    Attributes:
        customer_id: The order system's customer id, e.g. ``C001``.
        name: The customer's name (personal data: kept out of ``repr``).
        masked_phone: The phone as the service shows it, e.g. ``138****8000``.
    """

    customer_id: str
    name: str = field(repr=False)
    masked_phone: str


@dataclass(frozen=True)
class OrderSummary:
    """One line of a customer's order list.

    Attributes:
        order_id: The order number.
        status: created, paid, shipped, delivered, cancelled or closed.
        paid_at: When it was paid, or None.
        amount: The amount paid, or None when there is no payment.
        item_names: The names of its items, in order.
    """

    order_id: str
    status: str
    paid_at: datetime | None
    amount: Decimal | None
    item_names: tuple[str, ...]


@dataclass(frozen=True)
class Payment:
    """How an order was paid: ``method`` (wechat_pay, alipay, bank_card...) and ``amount``."""

    method: str
    amount: Decimal


@dataclass(frozen=True)
class Item:
    """An order line (satisfies the policy engine's ``ItemLike``).

    Attributes:
        sku: The stock-keeping unit, e.g. ``AP-TS-01``.
        name: The product name shown to the shopper.
        category: The product category, e.g. ``apparel``.
        price: The unit price.
        quantity: How many were bought.
        flags: Legal exclusions from no-reason returns, e.g. ``{"customized"}``.
    """

    sku: str
    name: str
    category: str
    price: Decimal
    quantity: int
    flags: frozenset[str]


@dataclass(frozen=True)
class Shipment:
    """An order's parcel.

    Attributes:
        carrier: The carrier's name, e.g. ``顺丰速运``.
        tracking_number: The carrier's tracking number.
        status: in_transit or delivered.
        shipped_at: When it left the warehouse, or None.
        delivered_at: When it was signed for, or None.
        estimated_delivery: When it is expected, or None.
    """

    carrier: str
    tracking_number: str
    status: str
    shipped_at: datetime | None
    delivered_at: datetime | None
    estimated_delivery: datetime | None


@dataclass(frozen=True)
class ReturnRequest:
    """A return or exchange request.

    Attributes:
        return_id: The request's id, e.g. ``R2001``.
        order_id: The order it belongs to.
        return_type: ``return`` or ``exchange`` (``type`` on the wire).
        status: requested, approved, in_transit, received, rejected or completed.
        skus: The items it covers.
        reason: The shopper's reason ("" when none was given).
        quality_issue: Whether a quality problem is claimed.
        created_at: When it was requested, or None.
        goods_received_at: When the merchant received the goods back, or None.
    """

    return_id: str
    order_id: str
    return_type: str
    status: str
    skus: tuple[str, ...]
    reason: str
    quality_issue: bool
    created_at: datetime | None
    goods_received_at: datetime | None


@dataclass(frozen=True)
class Refund:
    """A refund (satisfies the policy engine's ``RefundLike``).

    Attributes:
        refund_id: The refund's id, e.g. ``RF2001``.
        order_id: The order it belongs to.
        amount: The amount refunded.
        status: processing, succeeded, failed or rejected.
        method: Where the money goes back to (the payment method).
        reason: Why ("" when no reason was recorded).
        return_id: The return it pays for, or None.
        agreed_at: When the refund was agreed, or None.
        goods_received_at: When returned goods were received, or None.
        completed_at: When the money was sent, or None.
    """

    refund_id: str
    order_id: str
    amount: Decimal
    status: str
    method: str
    reason: str
    return_id: str | None
    agreed_at: datetime | None
    goods_received_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True)
class Order:
    """An order with everything about it except the customer's personal data.

    Satisfies the policy engine's ``OrderLike``.

    Attributes:
        order_id: The order number.
        customer_id: The owner's customer id.
        status: created, paid, shipped, delivered, cancelled or closed.
        paid_at: When it was paid, or None.
        shipped_at: When it was shipped, or None.
        delivered_at: When it was signed for, or None.
        return_shipping_insurance: Whether return shipping insurance was bought.
        payment: How it was paid, or None when unpaid.
        items: Its lines.
        shipment: Its parcel, or None when not shipped.
        returns: Its return and exchange requests, oldest first.
        refunds: Its refunds, oldest first.
    """

    order_id: str
    customer_id: str
    status: str
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    return_shipping_insurance: bool
    payment: Payment | None
    items: tuple[Item, ...]
    shipment: Shipment | None
    returns: tuple[ReturnRequest, ...]
    refunds: tuple[Refund, ...]

    def item(self, sku: str) -> Item | None:
        """The line with this SKU, or None."""
        return next((item for item in self.items if item.sku == sku), None)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-safe summary for a handoff ticket: what an agent needs, no personal data."""
        return {
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "status": self.status,
            "paid_at": _iso(self.paid_at),
            "shipped_at": _iso(self.shipped_at),
            "delivered_at": _iso(self.delivered_at),
            "return_shipping_insurance": self.return_shipping_insurance,
            "payment": (
                {"method": self.payment.method, "amount": _money(self.payment.amount)}
                if self.payment
                else None
            ),
            "items": [
                {
                    "sku": item.sku,
                    "name": item.name,
                    "category": item.category,
                    "price": _money(item.price),
                    "quantity": item.quantity,
                    "flags": sorted(item.flags),
                }
                for item in self.items
            ],
            "shipment": (
                {
                    "carrier": self.shipment.carrier,
                    "tracking_number": self.shipment.tracking_number,
                    "status": self.shipment.status,
                }
                if self.shipment
                else None
            ),
            "returns": [
                {
                    "return_id": request.return_id,
                    "type": request.return_type,
                    "status": request.status,
                    "skus": list(request.skus),
                    "quality_issue": request.quality_issue,
                    "created_at": _iso(request.created_at),
                }
                for request in self.returns
            ],
            "refunds": [
                {
                    "refund_id": refund.refund_id,
                    "amount": _money(refund.amount),
                    "status": refund.status,
                    "method": refund.method,
                    "agreed_at": _iso(refund.agreed_at),
                    "completed_at": _iso(refund.completed_at),
                }
                for refund in self.refunds
            ],
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


# --------------------------------------------------------------------------------------
# Parsing the wire shapes (order_system/serializers.py)
# --------------------------------------------------------------------------------------


def parse_customer(value: Any) -> Customer:
    """A Customer from the by-account answer."""
    fields = JsonFields(value, "customer")
    return Customer(
        customer_id=fields.text("customer_id"),
        name=fields.text("name"),
        masked_phone=fields.text("masked_phone"),
    )


def parse_order_summary(fields: JsonFields) -> OrderSummary:
    """An OrderSummary from one element of a customer's order list."""
    return OrderSummary(
        order_id=fields.text("order_id"),
        status=fields.text("status"),
        paid_at=fields.optional_time("paid_at"),
        amount=fields.optional_amount("amount"),
        item_names=fields.texts("item_names"),
    )


def parse_item(fields: JsonFields) -> Item:
    """An Item from an order's ``items`` element."""
    return Item(
        sku=fields.text("sku"),
        name=fields.text("name"),
        category=fields.text("category"),
        price=fields.amount("price"),
        quantity=fields.integer("quantity"),
        flags=frozenset(fields.texts("flags")) if fields.raw.get("flags") is not None else frozenset(),
    )


def parse_shipment(fields: JsonFields) -> Shipment:
    """A Shipment from its JSON object."""
    return Shipment(
        carrier=fields.text("carrier"),
        tracking_number=fields.text("tracking_number"),
        status=fields.text("status"),
        shipped_at=fields.optional_time("shipped_at"),
        delivered_at=fields.optional_time("delivered_at"),
        estimated_delivery=fields.optional_time("estimated_delivery"),
    )


def parse_return(fields: JsonFields) -> ReturnRequest:
    """A ReturnRequest from its JSON object."""
    return ReturnRequest(
        return_id=fields.text("return_id"),
        order_id=fields.text("order_id"),
        return_type=fields.text("type"),
        status=fields.text("status"),
        skus=fields.texts("skus"),
        reason=fields.optional_text("reason") or "",
        quality_issue=fields.boolean("quality_issue"),
        created_at=fields.optional_time("created_at"),
        goods_received_at=fields.optional_time("goods_received_at"),
    )


def parse_refund(fields: JsonFields) -> Refund:
    """A Refund from its JSON object."""
    return Refund(
        refund_id=fields.text("refund_id"),
        order_id=fields.text("order_id"),
        amount=fields.amount("amount"),
        status=fields.text("status"),
        method=fields.text("method"),
        reason=fields.optional_text("reason") or "",
        return_id=fields.optional_text("return_id"),
        agreed_at=fields.optional_time("agreed_at"),
        goods_received_at=fields.optional_time("goods_received_at"),
        completed_at=fields.optional_time("completed_at"),
    )


def parse_order(value: Any) -> Order:
    """An Order from the get-order answer."""
    fields = JsonFields(value, "order")
    payment = fields.optional_child("payment")
    shipment = fields.optional_child("shipment")
    return Order(
        order_id=fields.text("order_id"),
        customer_id=fields.text("customer_id"),
        status=fields.text("status"),
        paid_at=fields.optional_time("paid_at"),
        shipped_at=fields.optional_time("shipped_at"),
        delivered_at=fields.optional_time("delivered_at"),
        return_shipping_insurance=fields.boolean("return_shipping_insurance"),
        payment=(
            Payment(method=payment.text("method"), amount=payment.amount("amount"))
            if payment
            else None
        ),
        items=tuple(parse_item(item) for item in fields.children("items")),
        shipment=parse_shipment(shipment) if shipment else None,
        returns=tuple(parse_return(request) for request in fields.children("returns")),
        refunds=tuple(parse_refund(refund) for refund in fields.children("refunds")),
    )


def _list_of(key: str, parse: Callable[[JsonFields], Any]) -> Callable[[Any], list[Any]]:
    """A parser of ``{key: [...]}`` answers."""

    def parse_list(value: Any) -> list[Any]:
        return [parse(element) for element in JsonFields(value, "answer").children(key)]

    return parse_list


def _parse_optional_shipment(value: Any) -> Shipment | None:
    shipment = JsonFields(value, "answer").optional_child("shipment")
    return parse_shipment(shipment) if shipment else None


def _parse_match(value: Any) -> bool:
    return JsonFields(value, "answer").boolean("match")


# --------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------


class OrderClient(JsonApiClient):
    """The order system's API, one method per call.

    Reads (GET) are retried on transient failures; creating calls are retried too,
    because they carry an idempotency key the service honours. Verifying a phone number
    is a POST without a key and is not retried.

    Args:
        base_url: The order system's URL (ORDERS_URL).
        token: Its bearer token (ORDERS_TOKEN).
        connect_timeout_s: Seconds to wait for a connection.
        read_timeout_s: Seconds to wait for each read of the answer.
        retry: Retries of calls safe to repeat.
        breaker: The order system's circuit breaker; share one per process.
        session: The HTTP session; a new one when None.
        sleep: How to wait between retries.
    """

    service_name = "order system"

    @classmethod
    def from_settings(cls, settings: ActionSettings) -> OrderClient:
        """A client configured from the action server's settings."""
        orders = settings.orders
        return cls(
            orders.url,
            orders.token,
            connect_timeout_s=orders.connect_timeout_s,
            read_timeout_s=orders.read_timeout_s,
            retry=RetryPolicy(max_retries=orders.max_retries, backoff_s=orders.backoff_s),
            breaker=CircuitBreaker(orders.breaker_failures, orders.breaker_cooldown_s),
        )

    def customer_by_account(self, channel: str, account_id: str) -> Customer | None:
        """Who owns a channel account (web, wechat or phone), or None when nobody does.

        Raises:
            RequestRejectedError: 422 for an unknown channel or a malformed account id.
            ServiceUnavailableError: The order system cannot answer now.
        """
        operation = "customer_by_account"
        try:
            answer = self._get(
                "/api/customers/by-account",
                operation=operation,
                params={"channel": channel, "account_id": account_id},
            )
        except NotFoundError as error:
            if error.code == "customer_not_found":
                return None
            raise
        return self._parse(operation, parse_customer, answer)

    def get_order(self, order_id: str) -> Order:
        """The order with this number.

        Raises:
            OrderNotFoundError: There is no such order.
            ServiceUnavailableError: The order system cannot answer now.
        """
        operation = "get_order"
        answer = self._for_order(order_id, operation, lambda path: self._get(path, operation=operation))
        return self._parse(operation, parse_order, answer)

    def recent_orders(self, customer_id: str, limit: int = 5) -> list[OrderSummary]:
        """A customer's latest orders, newest first.

        Args:
            customer_id: The customer's id.
            limit: How many, 1 to 50.

        Raises:
            NotFoundError: ``customer_not_found``.
            RequestRejectedError: 422 for a limit out of range.
            ServiceUnavailableError: The order system cannot answer now.
        """
        operation = "recent_orders"
        answer = self._get(
            f"/api/customers/{_segment(customer_id)}/orders",
            operation=operation,
            params={"limit": str(limit)},
        )
        return self._parse(operation, _list_of("orders", parse_order_summary), answer)

    def verify_phone_last4(self, order_id: str, last4: str) -> bool:
        """Whether ``last4`` are the last four digits of the phone on the order.

        The phone itself never leaves the order system. Not retried: a POST without an
        idempotency key.

        Raises:
            OrderNotFoundError: There is no such order.
            RequestRejectedError: 422 when ``last4`` is not four digits.
            ServiceUnavailableError: The order system cannot answer now.
        """
        operation = "verify_phone_last4"
        answer = self._for_order(
            order_id,
            operation,
            lambda path: self._post(f"{path}/verify-phone", {"last4": last4}, operation=operation),
        )
        return self._parse(operation, _parse_match, answer)

    def get_shipment(self, order_id: str) -> Shipment | None:
        """The order's parcel, or None when it has not been shipped.

        Raises:
            OrderNotFoundError: There is no such order.
            ServiceUnavailableError: The order system cannot answer now.
        """
        operation = "get_shipment"
        answer = self._for_order(
            order_id, operation, lambda path: self._get(f"{path}/shipment", operation=operation)
        )
        return self._parse(operation, _parse_optional_shipment, answer)

    def list_returns(self, order_id: str) -> list[ReturnRequest]:
        """The order's return and exchange requests, oldest first.

        Raises:
            OrderNotFoundError: There is no such order.
            ServiceUnavailableError: The order system cannot answer now.
        """
        operation = "list_returns"
        answer = self._for_order(
            order_id, operation, lambda path: self._get(f"{path}/returns", operation=operation)
        )
        return self._parse(operation, _list_of("returns", parse_return), answer)

    def list_refunds(self, order_id: str) -> list[Refund]:
        """The order's refunds, oldest first.

        Raises:
            OrderNotFoundError: There is no such order.
            ServiceUnavailableError: The order system cannot answer now.
        """
        operation = "list_refunds"
        answer = self._for_order(
            order_id, operation, lambda path: self._get(f"{path}/refunds", operation=operation)
        )
        return self._parse(operation, _list_of("refunds", parse_refund), answer)

    def create_return(
        self,
        order_id: str,
        *,
        skus: list[str],
        return_type: str = "return",
        reason: str,
        quality_issue: bool,
        idempotency_key: str,
    ) -> ReturnRequest:
        """Creates a return (or exchange) request; the same key gives back the same request.

        Args:
            order_id: The order.
            skus: The items to return.
            return_type: ``return`` or ``exchange``.
            reason: The shopper's reason (at most 500 characters).
            quality_issue: Whether a quality problem is claimed.
            idempotency_key: Unique per intended request, e.g. conversation id + order id.

        Raises:
            OrderNotFoundError: There is no such order.
            RequestRejectedError: 409 (``order_not_delivered``, ``order_closed``,
                ``return_exists``, ``idempotency_conflict``) or 422 (``unknown_sku``,
                invalid fields).
            ServiceUnavailableError: The order system cannot answer now.
        """
        operation = "create_return"
        body = {"type": return_type, "skus": list(skus), "reason": reason, "quality_issue": quality_issue}
        answer = self._for_order(
            order_id,
            operation,
            lambda path: self._post(
                f"{path}/returns", body, operation=operation, idempotency_key=idempotency_key
            ),
        )
        return self._parse(operation, lambda value: parse_return(JsonFields(value, "return")), answer)

    def create_refund(
        self,
        order_id: str,
        *,
        amount: Decimal,
        reason: str,
        return_id: str | None,
        idempotency_key: str,
    ) -> Refund:
        """Creates a refund (in ``processing``); the same key gives back the same refund.

        Args:
            order_id: The order.
            amount: How much, with at most two decimals.
            reason: Why (at most 500 characters).
            return_id: The return it pays for, or None.
            idempotency_key: Unique per intended refund.

        Raises:
            ValueError: ``amount`` has more than two decimals (money is never rounded here).
            OrderNotFoundError: There is no such order.
            RequestRejectedError: 409 (``order_not_paid``, ``idempotency_conflict``) or 422
                (``amount_exceeds_refundable``, ``unknown_return``, invalid fields).
            ServiceUnavailableError: The order system cannot answer now.
        """
        if not amount.is_finite() or amount != amount.quantize(CENT):
            raise ValueError("amount must be a finite amount with at most two decimals")
        operation = "create_refund"
        body = {"amount": _money(amount), "reason": reason, "return_id": return_id}
        answer = self._for_order(
            order_id,
            operation,
            lambda path: self._post(
                f"{path}/refunds", body, operation=operation, idempotency_key=idempotency_key
            ),
        )
        return self._parse(operation, lambda value: parse_refund(JsonFields(value, "refund")), answer)

    def _for_order(self, order_id: str, operation: str, call: Callable[[str], Any]) -> Any:
        """``call("/api/orders/<order_id>")``, turning ``order_not_found`` into OrderNotFoundError."""
        try:
            return call(f"/api/orders/{_segment(order_id)}")
        except NotFoundError as error:
            if error.code == "order_not_found" or error.code == "not_found":
                raise OrderNotFoundError(self.service_name, operation, error.code) from None
            raise


def _segment(value: str) -> str:
    """``value`` as one URL path segment (a slash or '?' in it cannot change the route)."""
    return quote(value, safe="")
