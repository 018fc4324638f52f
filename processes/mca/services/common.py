"""Shared pieces of the MCA 3.0 services: the applicant lookup, starting processes, submissions, photos."""

from __future__ import annotations

import base64
import logging
from typing import Any

from sqlalchemy import select

from handlers.photo import PhotoStore
from handlers.registry import HandlerError
from integrations.idnumber import mask
from models import ProcessInstance, db
from models.domain import Person, Photo
from models.mca import McaSubmission
from models.protection import blind_index, blind_indexes
from processes import instances
from processes.domain.photos import store_root
from processes.errors import Conflict, NotFound
from processes.mca.catalog import CallContext
from processes.unit_of_work import transaction

log = logging.getLogger(__name__)
# Read-only lists are bounded: a person's history is short, but a query must never return a whole table.
HISTORY_LIMIT = 50
# Every field a person-scoped interface takes to identify the applicant.
WHO = ("idNumber", "name")


def find_person(data: dict[str, Any]) -> Person:
    """The applicant named by idNumber + name; a wrong name answers like an unknown person (no confirmation)."""
    person = db.session.execute(select(Person).where(Person.id_number == data["idNumber"])).scalar_one_or_none()
    if person is None or person.name != data["name"]:
        raise NotFound("MCA_PERSON_NOT_FOUND", "未查询到该申请人的登记信息（身份证号码与姓名须一致）")
    return person


def identity(person: Person) -> dict[str, Any]:
    """What a channel may see of a person's identity (ID number masked)."""
    return {
        "id_number": mask(person.id_number),
        "name": person.name,
        "gender": person.gender,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "ethnicity": person.ethnicity,
    }


def person_digest(id_number: str) -> str:
    """Blind index (HMAC-SM3, current key, key id carried) of an ID number: the table never holds the number."""
    return blind_index(id_number)


def start(
    ctx: CallContext, process_key: str, data: dict[str, Any], form_data: dict[str, Any], wait: float | None = None
) -> dict[str, Any]:
    """Start a process as the app's channel (idempotent by businessKey) and record the submission."""
    business_key = data["businessKey"]
    instance, created = instances.start_instance(
        ctx.platform,
        process_key,
        business_key,
        form_data,
        ctx.actor,
        idempotency_key=f"mca:{ctx.app_id}:{business_key}",
    )
    # The start commits on its own; the submission follows. A crash in between leaves an instance without its
    # submission, so every answer (also the replay a retry gets, created=False) inserts it when missing.
    _record_submission(ctx, process_key, business_key, instance.public_id, form_data.get("id_number", ""))
    seconds = data.get("waitSeconds", 3) if wait is None else wait
    seconds = min(float(seconds), ctx.platform.settings.START_WAIT_MAX_SECONDS)
    instance = instances.wait_while_running(instance, seconds)
    return {"created": created, "instance": instances.describe(ctx.platform, instance, ctx.actor)}


def _record_submission(ctx: CallContext, process_key: str, business_key: str, instance_id: str, id_number: str) -> None:
    """Insert this app's submission record of an instance unless it is there (unique per app and instance)."""
    exists = select(McaSubmission.id).where(
        McaSubmission.app_id == ctx.app_id, McaSubmission.instance_id == instance_id
    )
    if db.session.execute(exists).first() is not None:
        return
    try:
        with transaction():
            db.session.add(
                McaSubmission(
                    app_id=ctx.app_id,
                    interface_code=ctx.interface_code,
                    process_key=process_key,
                    business_key=business_key,
                    instance_id=instance_id,
                    person_digest=person_digest(id_number),
                )
            )
    except Conflict as exc:  # a concurrent retry inserted it first
        if exc.code != "DUPLICATE":
            raise


def submissions(ctx: CallContext, id_number: str, process_keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """This app's submissions of these processes for a person, newest first, with their current state."""
    rows = db.session.execute(
        select(McaSubmission, ProcessInstance)
        .join(ProcessInstance, ProcessInstance.public_id == McaSubmission.instance_id)
        .where(
            McaSubmission.person_digest.in_(blind_indexes(id_number)),  # under every key version
            McaSubmission.process_key.in_(process_keys),
            McaSubmission.app_id == ctx.app_id,
            ProcessInstance.channel_id == ctx.actor.channel_id,
        )
        .order_by(McaSubmission.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    return [
        {
            "business_key": s.business_key,
            "process_key": s.process_key,
            "instance_id": s.instance_id,
            "submitted_at": s.created_at.isoformat(),
            "status": i.status,
            "completed_at": i.completed_at.isoformat() if i.completed_at else None,
            "result": i.result,
        }
        for s, i in rows
    ]


def photo_view(photo: Photo | None, with_content: bool = False) -> dict[str, Any] | None:
    """A photo's metadata (and its bytes as base64 when asked); never the storage path."""
    if photo is None:
        return None
    out: dict[str, Any] = {
        "photo_id": photo.id,
        "source": photo.source,
        "sm3": photo.sm3,
        "size": photo.size,
        "mime": photo.mime,
        "taken_at": photo.taken_at.isoformat(),
        "review_status": photo.review_status,
        "review_score": photo.review_score,
        "review_reasons": photo.review_reasons or [],
    }
    if with_content:
        try:
            out["content_base64"] = base64.b64encode(PhotoStore(store_root()).get(photo.sm3)).decode("ascii")
        except HandlerError as exc:  # the record stays readable when its binary is gone
            log.warning("photo %s: %s", photo.id, exc.message)
            out["content_base64"] = None
    return out


def form(data: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Start-form data (snake_case, as the BPMN forms name it) from the request's lowerCamelCase fields."""
    return {target: data[source] for source, target in mapping.items() if source in data}
