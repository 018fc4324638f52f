"""Client of the card factory (制卡厂): production batches out, per-card results in (C2.1, C4.1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from urllib.parse import quote

from integrations.http import JsonHttpClient
from integrations.responses import call_as

MAX_BATCH = 500  # the factory refuses larger batches


@dataclass(frozen=True)
class CardRecord:
    """One permit to produce; the photo travels by reference (its SM3), never inline."""

    permit_no: str
    id_number: str
    name: str
    photo_sm3: str
    valid_until: str  # YYYY-MM-DD
    rare_chars_ready: bool = False  # the name's rare characters are in the factory's font (C2.2)


@dataclass(frozen=True)
class BatchReceipt:
    """The factory's receipt for an exported batch."""

    batch_id: str
    batch_ref: str
    accepted: int
    received_at: str
    duplicate: bool


@dataclass(frozen=True)
class CardResult:
    """What became of one card: made (with its card number) or failed (with a Chinese reason)."""

    permit_no: str
    outcome: str  # made | failed
    reason: str | None
    card_no: str | None


@dataclass(frozen=True)
class BatchResults:
    """Per-card results of a batch."""

    batch_id: str
    status: str  # in_production | completed
    results: tuple[CardResult, ...]
    made: int
    failed: int


class CardFactoryClient(JsonHttpClient):
    """Typed operations on the card factory."""

    system = "card_factory"

    def export_batch(
        self, batch_ref: str, cards: Sequence[CardRecord], *, express: bool = False, business_key: str | None = None
    ) -> BatchReceipt:
        """Export a production batch; exporting the same batch_ref again is answered as a duplicate."""
        if not 1 <= len(cards) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} cards")
        body = {"batch_ref": batch_ref, "express": express, "cards": [asdict(card) for card in cards]}
        return call_as(
            self, BatchReceipt, "export_batch", "POST", "/v1/batches", body=body, business_key=business_key or batch_ref
        )

    def batch_results(self, batch_id: str, *, business_key: str | None = None) -> BatchResults:
        """Import the per-card results of a batch."""
        path = f"/v1/batches/{quote(batch_id, safe='')}/results"
        return call_as(self, BatchResults, "batch_results", "GET", path, business_key=business_key)
