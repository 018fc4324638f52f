"""Card-factory (制卡厂) simulator: production batches in, per-card results out."""

from __future__ import annotations

from typing import Any

from integrations.simulators import common
from integrations.simulators.app import _guarded
from integrations.simulators.common import Invalid
from integrations.simulators.dataset import photo_profile

blueprint = common.blueprint("sim_card_factory", "/card-factory")

MAX_CARDS = 500


def _card(card: Any, n: int) -> dict[str, Any]:
    if not isinstance(card, dict):
        raise Invalid("INVALID_CARD", f"cards[{n}] must be an object", 422)
    try:
        return {
            "permit_no": common.text(card, "permit_no", max_len=32),
            "id_number": common.id_number(card),
            "name": common.text(card, "name", max_len=50),
            "photo_sm3": common.sm3_field(card, "photo_sm3"),
            "valid_until": common.iso_date(card.get("valid_until"), "valid_until").isoformat(),
            "rare_chars_ready": common.flag(card, "rare_chars_ready"),
        }
    except Invalid as exc:  # name the card, so the exporter knows which record to fix
        raise Invalid("INVALID_CARD", f"cards[{n}]: {exc.message}", 422) from None


def outcome(card: dict[str, Any]) -> tuple[str, str | None]:
    """('made', None) or ('failed', reason in Chinese) for one card record."""
    person = common.lookup(card["id_number"])
    if person is None:
        return "failed", "身份信息核验未通过"
    if person.name != card["name"]:
        return "failed", "姓名与身份信息不一致"
    if person.rare_name and not card["rare_chars_ready"]:
        return "failed", "姓名含生僻字，字库尚未预处理"
    profile = photo_profile(person)
    if profile is None or not profile.passed:
        return "failed", "照片不符合制证要求"
    return "made", None


@blueprint.post("/v1/batches")
def export_batch() -> Any:
    """Receive a production batch; the same batch_ref again returns the first receipt."""
    body = common.json_body()
    batch_ref = common.text(body, "batch_ref", max_len=40)
    express = common.flag(body, "express")
    raw = body.get("cards")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CARDS:
        raise Invalid("INVALID_BATCH", f"cards must hold 1-{MAX_CARDS} records", 422)
    cards = [_card(card, n) for n, card in enumerate(raw)]
    if len({c["permit_no"] for c in cards}) != len(cards):
        raise Invalid("DUPLICATE_CARD", "a permit number occurs twice in the batch", 422)

    def create(batch_id: str) -> dict[str, Any]:
        results = []
        for n, card in enumerate(cards, start=1):
            made, reason = outcome(card)
            results.append(
                {
                    "permit_no": card["permit_no"],
                    "outcome": made,
                    "reason": reason,
                    "card_no": f"SHJZ{batch_id[-6:]}{n:04d}" if made == "made" else None,
                }
            )
        return {
            "id": batch_id,
            "batch_ref": batch_ref,
            "express": express,
            "received_at": common.now(),
            "results": results,
        }

    record, duplicate = common.store("card_factory.batches", "BATCH").remember(batch_ref, body, create)
    return _guarded(
        "card_factory.export",
        {
            "batch_id": record["id"],
            "batch_ref": batch_ref,
            "accepted": len(record["results"]),
            "received_at": record["received_at"],
            "duplicate": duplicate,
        },
    )


@blueprint.get("/v1/batches/<batch_id>/results")
def batch_results(batch_id: str) -> Any:
    """Per-card production results of a batch."""
    record = common.store("card_factory.batches", "BATCH").get(batch_id)
    results = record["results"]
    made = sum(1 for r in results if r["outcome"] == "made")
    return _guarded(
        "card_factory.results",
        {"batch_id": batch_id, "status": "completed", "results": results, "made": made, "failed": len(results) - made},
    )
