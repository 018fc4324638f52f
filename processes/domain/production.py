"""A6 card production batches: collect queued permits, record the export, import results and wake each permit."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from handlers.registry import HandlerError, operator
from integrations.card_factory import MAX_BATCH
from models import db, utcnow
from models.domain import Permit, Person, Photo, ProductionBatch, ProductionItem
from models.process import ProcessInstance
from processes.integrity import require_intact

CARD_RESULT_MESSAGE = "card_result"  # the message each permit's instance waits for after approval


@operator("production.collect_batch", transactional=True)
def collect_batch(*, batch_ref: str, express: bool = False) -> dict[str, Any]:
    """Take the queued permits (at most one factory batch) into a new batch; count 0 when nothing waits."""
    if db.session.execute(select(ProductionBatch.id).where(ProductionBatch.batch_ref == batch_ref)).first():
        raise HandlerError("BATCH_EXISTS", f"制证批次 {batch_ref} 已存在")
    permits = (
        db.session.execute(
            select(Permit)
            .where(
                Permit.status == "approved",
                Permit.card_status == "queued",
                Permit.express.is_(express),
                Permit.production_paused.is_(False),
            )
            .order_by(Permit.id)
            .limit(MAX_BATCH)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    if not permits:
        return {"batch_ref": batch_ref, "count": 0, "cards": []}
    batch = ProductionBatch(batch_ref=batch_ref, express=express, status="collected")
    db.session.add(batch)
    db.session.flush()
    from processes.changes.rare_chars import name_ready  # C2.2: the rare-character library decides readiness

    cards = []
    for permit in permits:
        person = require_intact(db.session.get(Person, permit.person_id))
        photo = require_intact(db.session.get(Photo, permit.photo_id))
        db.session.add(ProductionItem(batch_id=batch.id, permit_id=permit.id))
        permit.status = "producing"
        cards.append(
            {
                "permit_no": permit.number,
                "id_number": person.id_number,
                "name": person.name,
                "photo_sm3": photo.sm3,
                "valid_until": permit.valid_until.isoformat(),
                "rare_chars_ready": permit.rare_chars_ready or name_ready(person.name),
            }
        )
    return {"batch_ref": batch_ref, "count": len(cards), "cards": cards}


def _batch(batch_ref: str) -> ProductionBatch:
    batch = db.session.execute(
        select(ProductionBatch).where(ProductionBatch.batch_ref == batch_ref)
    ).scalar_one_or_none()
    if batch is None:
        raise HandlerError("BATCH_NOT_FOUND", f"制证批次 {batch_ref} 不存在")
    return batch


@operator("production.mark_exported", transactional=True)
def mark_exported(*, batch_ref: str, factory_batch_id: str) -> dict[str, Any]:
    """Record the factory's batch id once the export was accepted."""
    batch = _batch(batch_ref)
    batch.status, batch.factory_batch_id, batch.exported_at = "exported", factory_batch_id, utcnow()
    return {"batch_ref": batch_ref, "status": "exported"}


@operator("production.import_results", transactional=True)
def import_results(*, batch_ref: str, results: list) -> dict[str, Any]:
    """Store each card's result and correlate `card_result` to its permit's instance (business key)."""
    # Imported here: the platform imports this module while it is itself being imported.
    from processes.instances import send_message  # the platform's correlation, joined to this transaction
    from processes.stepping import Actor

    batch = _batch(batch_ref)
    if batch.status == "imported":
        raise HandlerError("BATCH_ALREADY_IMPORTED", f"制证批次 {batch_ref} 的结果已导入")
    by_number = {r["permit_no"]: r for r in results}
    items = db.session.execute(select(ProductionItem).where(ProductionItem.batch_id == batch.id)).scalars().all()
    platform, actor = current_app.extensions["permitflow"], Actor("system", "card_production")
    made = failed = notified = 0
    for item in items:
        permit = require_intact(db.session.get(Permit, item.permit_id))
        result = by_number.get(permit.number)
        if result is None:  # the factory lost it: a failure the clerk can requeue
            result = {"outcome": "failed", "reason": "制卡厂未返回该卡结果", "card_no": None}
        item.result, item.reason = result["outcome"], result.get("reason")
        if result["outcome"] == "made":
            permit.card_status, made = "made", made + 1
        else:
            permit.status, permit.card_status, failed = "approved", "failed", failed + 1
        instance = db.session.get(ProcessInstance, permit.instance_id) if permit.instance_id else None
        if instance is not None:
            payload = {
                "outcome": result["outcome"],
                "reason": result.get("reason") or "",
                "card_no": result.get("card_no") or "",
                "batch_ref": batch_ref,
            }
            send_message(platform, CARD_RESULT_MESSAGE, instance.business_key, payload, actor)
            notified += 1
    batch.status, batch.imported_at = "imported", utcnow()
    return {"batch_ref": batch_ref, "made": made, "failed": failed, "notified": notified}
