"""Card factory handlers (A6): export a production batch and import its per-card results."""

from __future__ import annotations

from typing import Any

from handlers.registry import operator
from integrations.card_factory import CardFactoryClient, CardRecord
from integrations.errors import TransientError


@operator("card_factory.export_batch", clients=("card_factory",), max_attempts=5, backoff_seconds=2.0)
def export_batch(*, card_factory: CardFactoryClient, batch_ref: str, cards: list, express: bool = False) -> dict:
    """Export the batch (idempotent by batch_ref: a retried export is answered as a duplicate)."""
    receipt = card_factory.export_batch(batch_ref, [CardRecord(**card) for card in cards], express=express)
    return {"batch_id": receipt.batch_id, "accepted": receipt.accepted, "duplicate": receipt.duplicate}


@operator("card_factory.fetch_results", clients=("card_factory",), max_attempts=20, backoff_seconds=30.0)
def fetch_results(*, card_factory: CardFactoryClient, batch_id: str) -> dict[str, Any]:
    """The batch's per-card results; still in production is transient, so the job retries later."""
    results = card_factory.batch_results(batch_id)
    if results.status != "completed":
        raise TransientError("IN_PRODUCTION", "制卡厂仍在制作该批次", system="card_factory")
    return {
        "made": results.made,
        "failed": results.failed,
        "results": [
            {"permit_no": r.permit_no, "outcome": r.outcome, "reason": r.reason, "card_no": r.card_no}
            for r in results.results
        ],
    }
