"""Photos (A4, A8): the retake's subject, and a reviewed photo becoming the permit's photo (latest one wins)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from handlers.registry import HandlerError, operator
from models import db, utcnow
from models.domain import Permit, Person, Photo
from processes.domain.permits import find_permit
from processes.integrity import require_intact

PHOTO_FOLDER = "photos"


def store_root() -> str:
    """The photo file store's folder under the platform's DATA_DIR."""
    from processes.platform import get_platform

    return str(Path(get_platform().settings.DATA_DIR).resolve() / PHOTO_FOLDER)


@operator("photo.begin", transactional=True)
def begin_retake(*, permit_number: str) -> dict[str, Any]:
    """Whose photo is retaken, and where the photo binaries are kept (not in workflow data)."""
    permit = find_permit(permit_number)
    if permit.status in ("cancelled", "voided"):
        raise HandlerError("PERMIT_CANCELLED", "居住证已注销或作废，无需更新照片", {"status": permit.status})
    person = require_intact(db.session.get(Person, permit.person_id))
    if person.deceased:
        raise HandlerError("PERSON_DECEASED", "该人员已登记死亡，不能办理业务")
    return {
        "permit_number": permit.number,
        "id_number": person.id_number,
        "name": person.name,
        "mobile": person.mobile or "",
        "store_root": store_root(),
    }


def _taken_at(value: str | None) -> datetime:
    """When the photo was taken; a time without offset is Shanghai local time (the photo service's clock)."""
    if not value:
        return utcnow()
    from processes.platform import get_platform

    taken = datetime.fromisoformat(value)
    return taken if taken.tzinfo else taken.replace(tzinfo=get_platform().settings.zone)


@operator("photo.adopt", transactional=True)
def adopt_photo(*, permit_number: str, photo_file: dict, review: dict, decided_by: str = "system") -> dict:
    """Record the reviewed photo (history kept, A4) and make it the permit's photo."""
    permit: Permit = find_permit(permit_number)
    taken = _taken_at(photo_file.get("taken_at"))
    row = Photo(
        person_id=permit.person_id,
        source=photo_file.get("source", "retake"),
        sm3=photo_file["sm3"],
        size=int(photo_file["size"]),
        mime=photo_file["mime"],
        storage_key=photo_file["sm3"],
        taken_at=taken,
        review_status="passed" if review.get("passed") else "accepted",
        review_score=review.get("score"),
        review_reasons=list(review.get("reasons") or []),
    )
    db.session.add(row)
    db.session.flush()
    permit.photo_id = row.id
    return {"photo_id": row.id, "sm3": row.sm3, "decided_by": decided_by}
