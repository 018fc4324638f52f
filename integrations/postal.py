"""Client of the postal service (邮政): delivery of finished permits and its tracking (B1.16)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import quote

from integrations.http import JsonHttpClient
from integrations.responses import call_as


@dataclass(frozen=True)
class DeliveryOrder:
    """A permit to deliver: recipient and address in Shanghai or elsewhere."""

    order_ref: str  # ours, unique per delivery: pushing it again returns the same waybill
    permit_no: str
    recipient_name: str
    recipient_mobile: str
    province: str
    city: str
    district: str
    address_detail: str
    postcode: str


@dataclass(frozen=True)
class Waybill:
    """The postal service's waybill for an order."""

    waybill_no: str
    order_ref: str
    accepted_at: str
    duplicate: bool


@dataclass(frozen=True)
class TrackingEvent:
    """One step of a delivery; descriptions are in Chinese."""

    at: str
    status: str  # accepted | in_transit | delivered | returned
    location: str
    description: str


@dataclass(frozen=True)
class Tracking:
    """A waybill's events, oldest first, and its current status."""

    waybill_no: str
    status: str
    events: tuple[TrackingEvent, ...]


class PostalClient(JsonHttpClient):
    """Typed operations on the postal service."""

    system = "postal"

    def push_order(self, order: DeliveryOrder, *, business_key: str | None = None) -> Waybill:
        """Push a delivery order and get its waybill."""
        return call_as(
            self,
            Waybill,
            "push_order",
            "POST",
            "/v1/orders",
            body=asdict(order),
            business_key=business_key or order.order_ref,
        )

    def tracking(self, waybill_no: str, *, business_key: str | None = None) -> Tracking:
        """The tracking events of a waybill."""
        return call_as(
            self,
            Tracking,
            "tracking",
            "GET",
            f"/v1/waybills/{quote(waybill_no, safe='')}/events",
            business_key=business_key,
        )
