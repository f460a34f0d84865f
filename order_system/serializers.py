"""The wire shapes of the order system's API (see openapi.yaml), built from the models.

Times are ISO 8601 in Beijing time with the offset written out; amounts are strings with
two decimals. The customer's phone number never leaves the service except masked.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from order_system.models import (
    BUSINESS_TZ,
    Customer,
    Order,
    OrderItem,
    Refund,
    ReturnRequest,
    Shipment,
)
from service_common.pii import mask_phone

Json = dict[str, Any]


def iso_time(value: datetime | None) -> str | None:
    """`value` as ISO 8601 in Beijing time, to the second (2024-05-01T10:00:00+08:00)."""
    return None if value is None else value.astimezone(BUSINESS_TZ).isoformat(timespec="seconds")


def money(value: Decimal | None) -> str | None:
    """`value` as a string with two decimals."""
    return None if value is None else f"{value:.2f}"


def customer_json(customer: Customer) -> Json:
    """A customer as the by-account lookup returns it."""
    return {
        "customer_id": customer.id,
        "name": customer.name,
        "masked_phone": mask_phone(customer.phone),
    }


def order_summary_json(order: Order) -> Json:
    """One line of a customer's order list."""
    return {
        "order_id": order.id,
        "status": order.status,
        "paid_at": iso_time(order.paid_at),
        "amount": money(order.payment.amount) if order.payment else None,
        "item_names": [item.name for item in order.items],
    }


def item_json(item: OrderItem) -> Json:
    """An order line with its flags."""
    return {
        "sku": item.sku,
        "name": item.name,
        "category": item.category,
        "price": money(item.price),
        "quantity": item.quantity,
        "flags": item.flags,
    }


def shipment_json(shipment: Shipment | None) -> Json | None:
    """An order's parcel, or None when it has not been shipped."""
    if shipment is None:
        return None
    return {
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "status": shipment.status,
        "shipped_at": iso_time(shipment.shipped_at),
        "delivered_at": iso_time(shipment.delivered_at),
        "estimated_delivery": iso_time(shipment.estimated_delivery),
    }


def return_json(request: ReturnRequest) -> Json:
    """A return or exchange request."""
    return {
        "return_id": request.id,
        "order_id": request.order_id,
        "type": request.type,
        "status": request.status,
        "skus": request.skus,
        "reason": request.reason,
        "quality_issue": request.quality_issue,
        "created_at": iso_time(request.created_at),
        "goods_received_at": iso_time(request.goods_received_at),
    }


def refund_json(refund: Refund) -> Json:
    """A refund."""
    return {
        "refund_id": refund.id,
        "order_id": refund.order_id,
        "amount": money(refund.amount),
        "status": refund.status,
        "method": refund.method,
        "reason": refund.reason,
        "return_id": refund.return_id,
        "agreed_at": iso_time(refund.agreed_at),
        "goods_received_at": iso_time(refund.goods_received_at),
        "completed_at": iso_time(refund.completed_at),
    }


def order_json(order: Order) -> Json:
    """An order with everything about it, except the customer's personal data."""
    return {
        "order_id": order.id,
        "customer_id": order.customer_id,
        "status": order.status,
        "paid_at": iso_time(order.paid_at),
        "shipped_at": iso_time(order.shipped_at),
        "delivered_at": iso_time(order.delivered_at),
        "return_shipping_insurance": order.return_shipping_insurance,
        "payment": (
            {"method": order.payment.method, "amount": money(order.payment.amount)}
            if order.payment
            else None
        ),
        "items": [item_json(item) for item in order.items],
        "shipment": shipment_json(order.shipment),
        "returns": [return_json(request) for request in order.returns],
        "refunds": [refund_json(refund) for refund in order.refunds],
    }
