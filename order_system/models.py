"""The order database: customers, their channel accounts, orders and their after-sales.

Plain SQLAlchemy 1.4 declarative classes, used 2.0-style (`future=True` engine,
`select()`). Times are stored in UTC and always come back timezone-aware; money is stored
as integer cents so that SQLite and PostgreSQL both keep it exact.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

from service_common.db import UtcDateTime

Base: Any = declarative_base()

CHANNELS = ("web", "wechat", "phone")
ORDER_STATUSES = ("created", "paid", "shipped", "delivered", "cancelled", "closed")
RETURN_TYPES = ("return", "exchange")
RETURN_STATUSES = ("requested", "approved", "in_transit", "received", "rejected", "completed")
REFUND_STATUSES = ("processing", "succeeded", "failed", "rejected")
SHIPMENT_STATUSES = ("in_transit", "delivered")
ITEM_FLAGS = (
    "customized",
    "perishable",
    "digital_download",
    "periodical",
    "confirmed_non_returnable",
)
CENT = Decimal("0.01")
# Business dates (signed-for days, working days) and the times the API shows are Beijing time.
BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


class Money(TypeDecorator):
    """A `Decimal` amount with two places, stored as integer cents."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> int | None:
        if value is None:
            return None
        cents = value * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"{value} has more than two decimal places")
        return int(cents)

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(value) / 100).quantize(CENT)


class Customer(Base):
    """A shopper."""

    __tablename__ = "customers"

    id = Column(String(32), primary_key=True)
    name = Column(String(100), nullable=False)
    phone = Column(String(20), nullable=False)

    accounts = relationship(
        "ChannelAccount", back_populates="customer", cascade="all, delete-orphan"
    )
    orders = relationship("Order", back_populates="customer", cascade="all, delete-orphan")


class ChannelAccount(Base):
    """How a customer is known on one channel: a web login, a WeChat openid, a phone number.

    The customer's phone number is also a `phone` account, so that a caller id finds them.
    """

    __tablename__ = "channel_accounts"
    __table_args__ = (UniqueConstraint("channel", "account_id", name="uq_channel_account"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(String(16), nullable=False)
    account_id = Column(String(128), nullable=False)
    customer_id = Column(
        String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )

    customer = relationship("Customer", back_populates="accounts")


class Order(Base):
    """An order with its items, payment, shipment and after-sales."""

    __tablename__ = "orders"

    id = Column(String(32), primary_key=True)
    customer_id = Column(
        String(32), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status = Column(String(16), nullable=False)
    paid_at = Column(UtcDateTime)
    shipped_at = Column(UtcDateTime)
    delivered_at = Column(UtcDateTime)
    return_shipping_insurance = Column(Boolean, nullable=False, default=False)

    customer = relationship("Customer", back_populates="orders")
    items = relationship(
        "OrderItem", back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.id"
    )
    payment = relationship(
        "Payment", back_populates="order", uselist=False, cascade="all, delete-orphan"
    )
    shipment = relationship(
        "Shipment", back_populates="order", uselist=False, cascade="all, delete-orphan"
    )
    returns = relationship(
        "ReturnRequest",
        back_populates="order",
        cascade="all, delete-orphan",
        order_by="ReturnRequest.created_at",
    )
    refunds = relationship(
        "Refund", back_populates="order", cascade="all, delete-orphan", order_by="Refund.agreed_at"
    )


class OrderItem(Base):
    """One line of an order. The flags are the legal exclusions from no-reason returns."""

    __tablename__ = "order_items"
    __table_args__ = (UniqueConstraint("order_id", "sku", name="uq_order_item_sku"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    order_id = Column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sku = Column(String(64), nullable=False)
    name = Column(String(200), nullable=False)
    category = Column(String(64), nullable=False)
    price = Column(Money, nullable=False)
    quantity = Column(Integer, nullable=False)
    customized = Column(Boolean, nullable=False, default=False)
    perishable = Column(Boolean, nullable=False, default=False)
    digital_download = Column(Boolean, nullable=False, default=False)
    periodical = Column(Boolean, nullable=False, default=False)
    confirmed_non_returnable = Column(Boolean, nullable=False, default=False)

    order = relationship("Order", back_populates="items")

    @property
    def flags(self) -> list[str]:
        """The names of the flags that are set, in `ITEM_FLAGS` order."""
        return [flag for flag in ITEM_FLAGS if getattr(self, flag)]


class Payment(Base):
    """How an order was paid."""

    __tablename__ = "payments"

    order_id = Column(String(32), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    method = Column(String(32), nullable=False)
    amount = Column(Money, nullable=False)

    order = relationship("Order", back_populates="payment")


class Shipment(Base):
    """The parcel of an order."""

    __tablename__ = "shipments"

    order_id = Column(String(32), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    carrier = Column(String(64), nullable=False)
    tracking_number = Column(String(64), nullable=False)
    status = Column(String(16), nullable=False)
    shipped_at = Column(UtcDateTime, nullable=False)
    delivered_at = Column(UtcDateTime)
    estimated_delivery = Column(UtcDateTime)

    order = relationship("Order", back_populates="shipment")


class ReturnRequest(Base):
    """A request to return or exchange some items of an order."""

    __tablename__ = "return_requests"

    id = Column(String(32), primary_key=True)
    order_id = Column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    type = Column(String(16), nullable=False)
    status = Column(String(16), nullable=False)
    reason = Column(Text, nullable=False, default="")
    quality_issue = Column(Boolean, nullable=False, default=False)
    created_at = Column(UtcDateTime, nullable=False)
    goods_received_at = Column(UtcDateTime)

    order = relationship("Order", back_populates="returns")
    items = relationship(
        "ReturnItem",
        back_populates="return_request",
        cascade="all, delete-orphan",
        order_by="ReturnItem.sku",
    )

    @property
    def skus(self) -> list[str]:
        """The SKUs this request covers."""
        return [item.sku for item in self.items]


class ReturnItem(Base):
    """One SKU covered by a return request."""

    __tablename__ = "return_items"

    return_id = Column(
        String(32), ForeignKey("return_requests.id", ondelete="CASCADE"), primary_key=True
    )
    sku = Column(String(64), primary_key=True)

    return_request = relationship("ReturnRequest", back_populates="items")


class Refund(Base):
    """Money going back to the customer, by the original payment method."""

    __tablename__ = "refunds"

    id = Column(String(32), primary_key=True)
    order_id = Column(
        String(32), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    return_id = Column(String(32), ForeignKey("return_requests.id", ondelete="SET NULL"))
    amount = Column(Money, nullable=False)
    status = Column(String(16), nullable=False)
    method = Column(String(32), nullable=False)
    reason = Column(Text, nullable=False, default="")
    agreed_at = Column(UtcDateTime, nullable=False)
    goods_received_at = Column(UtcDateTime)
    completed_at = Column(UtcDateTime)

    order = relationship("Order", back_populates="refunds")


class IdempotencyKey(Base):
    """A creating request already served, so that a retry gets the same resource back.

    The primary key is what makes a retry safe under concurrency: two requests with the
    same key cannot both insert their row, whatever they looked up before.
    """

    __tablename__ = "order_idempotency_keys"

    key = Column(String(128), primary_key=True)
    operation = Column(String(32), nullable=False)
    request_fingerprint = Column(String(64), nullable=False)
    resource_id = Column(String(32), nullable=False)
    created_at = Column(UtcDateTime, nullable=False)
