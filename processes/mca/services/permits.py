"""B1.3-11: permit application, photo retake, issuance, endorsement, address move, changes, loss, reissue."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import select

from models import HumanTask, ProcessInstance, db
from models.domain import Endorsement, Permit, Photo, ResidenceRegistration
from processes import files, tasks
from processes.domain.reissue import current_permit
from processes.errors import Conflict, NotFound, ValidationFailed
from processes.mca.catalog import CallContext, interface
from processes.mca.services.common import (
    HISTORY_LIMIT,
    WHO,
    find_person,
    form,
    identity,
    photo_view,
    start,
    submissions,
)
from processes.sms import request_sms
from processes.stepping import Actor

WAIT = ("waitSeconds",)


def permit_of(person_id: int, number: str | None = None) -> Permit:
    """The person's current permit, or the named one of theirs; MCA_PERMIT_NOT_FOUND otherwise."""
    query = select(Permit).where(Permit.person_id == person_id)
    permit = (
        db.session.execute(query.where(Permit.number == number)).scalar_one_or_none()
        if number
        else current_permit(person_id)
    )
    if permit is None:
        raise NotFound("MCA_PERMIT_NOT_FOUND", "未查询到该申请人的居住证")
    return permit


def registration_view(registration_id: int | None) -> dict[str, Any] | None:
    """What a channel may see of a registration, or None."""
    r = db.session.get(ResidenceRegistration, registration_id) if registration_id else None
    if r is None:
        return None
    return {
        "number": r.number,
        "status": r.status,
        "address": r.address,
        "district": r.district,
        "service_point": r.service_point,
        "registered_on": r.registered_on.isoformat() if r.registered_on else None,
        "valid_until": r.valid_until.isoformat() if r.valid_until else None,
    }


def _permit_view(permit: Permit) -> dict[str, Any]:
    return {
        "permit_number": permit.number,
        "status": permit.status,
        "card_status": permit.card_status,
        "express": permit.express,
        "expanded_eligibility": permit.expanded_eligibility,
        "submitted_at": permit.created_at.isoformat(),
        "valid_from": permit.valid_from.isoformat() if permit.valid_from else None,
        "valid_until": permit.valid_until.isoformat() if permit.valid_until else None,
    }


def _review(permit: Permit) -> dict[str, Any]:
    """Review status: the permit's state plus the open review tasks of its application instance."""
    if permit.instance_id is None:
        return {"instance_status": None, "pending_steps": []}
    instance = db.session.get(ProcessInstance, permit.instance_id)
    steps = db.session.execute(
        select(HumanTask.name, HumanTask.approval_level).where(
            HumanTask.instance_id == permit.instance_id, HumanTask.status == "ready"
        )
    ).all()
    return {
        "instance_status": instance.status if instance else None,
        "pending_steps": [{"name": n, "approval_level": level} for n, level in steps],
    }


@interface("permit.detailQuery", 3, "居住证新办：申请详情（身份、居住、提交时间、审核状态）", WHO, ("permitNumber",))
def permit_detail(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Identity, residence, submission time and review status of the applicant's (current or named) permit."""
    person = find_person(data)
    permit = permit_of(person.id, data.get("permitNumber"))
    return {
        "identity": identity(person),
        "residence": registration_view(permit.registration_id),
        "permit": _permit_view(permit),
        "review": _review(permit),
    }


@interface("permit.photoQuery", 3, "居住证新办：获取申请照片（Base64）", WHO, ("permitNumber",))
def permit_photos(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """The permit's photo with its bytes."""
    person = find_person(data)
    permit = permit_of(person.id, data.get("permitNumber"))
    photo = db.session.get(Photo, permit.photo_id) if permit.photo_id else None
    return {"permit_number": permit.number, "photos": [p for p in [photo_view(photo, True)] if p]}


@interface(
    "permit.apply",
    3,
    "居住证新办：上传（提交）申请",
    ("businessKey", *WHO, "mobile", "delivery"),
    ("servicePoint", "district", "addressDetail", "postcode", *WAIT),
    writes=True,
)
def permit_apply(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Start a new-permit application (A6): real-time HRSS check, residence rules, reviews."""
    mapping = {
        "idNumber": "id_number",
        "name": "name",
        "mobile": "mobile",
        "servicePoint": "service_point",
        "delivery": "delivery",
        "district": "district",
        "addressDetail": "address_detail",
        "postcode": "postcode",
    }
    return start(ctx, "permit_application", data, form(data, mapping))


@interface("retake.historyQuery", 4, "照片重拍：重拍记录及审核意见", WHO)
def retake_history(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Every photo of the person, newest first, with review status and reasons."""
    person = find_person(data)
    photos = db.session.execute(
        select(Photo)
        .where(Photo.person_id == person.id)
        .order_by(Photo.taken_at.desc(), Photo.id.desc())
        .limit(HISTORY_LIMIT)
    ).scalars()
    return {"photos": [photo_view(p) for p in photos]}


@interface(
    "retake.upload",
    4,
    "照片重拍：上传重拍照片（重新进入审核）",
    (*WHO, "permitNumber", "photoBase64", "photoMime"),
    writes=True,
)
def retake_upload(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Store the photo and complete the applicant's upload step of the permit's retake process (A8).

    Operations start a permit's retake with business key "PR-{permit number}"; that is how it is found here.
    """
    person = find_person(data)
    permit = permit_of(person.id, data["permitNumber"])
    try:
        content = base64.b64decode(data["photoBase64"], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(
            "MCA_FIELD_INVALID", "照片内容不是合法的Base64", {"fields": {"photoBase64": "Base64"}}
        ) from None
    task = db.session.execute(
        select(HumanTask)
        .where(
            HumanTask.process_key == "photo_retake",
            HumanTask.business_key == f"PR-{permit.number}",
            HumanTask.role == "applicant",
            HumanTask.status == "ready",
        )
        .order_by(HumanTask.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if task is None:
        raise Conflict("MCA_NO_RETAKE_PENDING", "该居住证当前没有待上传的重拍照片")
    ref, _ = files.upload_file(content, data["photoMime"], ctx.actor, ctx.platform.settings.API_MAX_BODY_BYTES)
    # The retake task belongs to an operations-started instance: the app acts for the holder it just named
    # (ID number, name and permit number all matched), so the completion runs with system visibility.
    agent = Actor(kind="ops", name=ctx.actor.name, request_id=ctx.request_id, extra=ctx.actor.extra)
    done, instance = tasks.complete_task(ctx.platform, task.id, {"photo": ref["id"]}, agent)
    return {"file": ref, "task": done.name, "instance_status": instance.status}


@interface("issuance.statusQuery", 5, "居住证发放：制证与发放状态、发证机构、领取方式", WHO)
def issuance_status(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Production and issuing state of the current permit, the issuing office and pickup method."""
    person = find_person(data)
    permit = permit_of(person.id)
    residence = registration_view(permit.registration_id) or {}
    return {
        **_permit_view(permit),
        "pickup": permit.pickup,
        "waybill_no": permit.waybill_no,
        "issued_at": permit.issued_at.isoformat() if permit.issued_at else None,
        "issuing_office": {"service_point": residence.get("service_point"), "district": residence.get("district")},
    }


@interface("issuance.notice", 5, "居住证发放：发送领证／发证通知短信", (*WHO, "permitNumber"), writes=True)
def issuance_notice(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Queue the card-ready or card-issued SMS (block list honoured; a repeat returns the first message)."""
    person = find_person(data)
    permit = permit_of(person.id, data["permitNumber"])
    if permit.status == "issued":
        template, params = "CARD_ISSUED", {"name": person.name, "permit_no": permit.number}
    elif permit.card_status == "made":
        office = (registration_view(permit.registration_id) or {}).get("service_point") or "受理网点"
        template, params = "CARD_READY", {"name": person.name, "office": office}
    else:
        raise Conflict("MCA_CARD_NOT_READY", "居住证尚未制作完成，不能发送发放通知", {"status": permit.status})
    if not person.mobile:
        raise Conflict("MCA_NO_MOBILE", "申请人没有登记手机号码")
    message, created = request_sms(
        ctx.platform,
        template,
        person.mobile,
        params,
        id_number=person.id_number,
        business_key=permit.number,
        actor=ctx.actor,
        dedupe_key=f"mca-notice:{permit.number}:{template}",
    )
    return {"template": template, "message_id": message.id, "status": message.status, "created": created}


@interface(
    "endorsement.submit",
    6,
    "签注：提交签注申请（类型、时间、事由）",
    ("businessKey", *WHO, "permitNumber", "endorsementType"),
    ("endorsementReason", "requestedAt", *WAIT),
    writes=True,
)
def endorsement_submit(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Start the endorsement process (A7 rules: automatic when they pass, a clerk otherwise)."""
    person = find_person(data)
    permit = permit_of(person.id, data["permitNumber"])
    return start(
        ctx,
        "auto_endorsement",
        data,
        {
            "permit_number": permit.number,
            "id_number": person.id_number,
            "endorsement_type": data["endorsementType"],
            "endorsement_reason": data.get("endorsementReason", ""),
            "requested_on": data.get("requestedAt", ""),
        },
    )


@interface("endorsement.historyQuery", 6, "签注：签注历史查询", WHO)
def endorsement_history(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Every endorsement of the person's permits, newest first."""
    person = find_person(data)
    rows = db.session.execute(
        select(Endorsement, Permit.number)
        .join(Permit, Permit.id == Endorsement.permit_id)
        .where(Permit.person_id == person.id)
        .order_by(Endorsement.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    return {
        "endorsements": [
            {
                "permit_number": n,
                "kind": e.kind,
                "endorsed_on": e.endorsed_on.isoformat(),
                "valid_until": e.valid_until.isoformat(),
                "reasons": e.reasons,
            }
            for e, n in rows
        ]
    }


@interface(
    "endorsement.reissue", 6, "签注：异常停用证件补证并重新签注", ("businessKey", *WHO), ("note", *WAIT), writes=True
)
def endorsement_reissue(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Reissue a card stopped by an anomaly (as a damage-type reissue); the new card carries the endorsement."""
    note = "异常停用补证并重新签注" + (f"：{data['note']}" if data.get("note") else "")
    return start(
        ctx,
        "permit_reissue",
        data,
        {"id_number": data["idNumber"], "name": data["name"], "reissue_type": "damage", "note": note[:500]},
    )


def _loss(ctx: CallContext, data: dict[str, Any], action: str) -> dict[str, Any]:
    return start(
        ctx,
        "permit_loss_report",
        data,
        {
            "id_number": data["idNumber"],
            "name": data["name"],
            "action": action,
            "reporter_id_number": data["reporterIdNumber"],
        },
    )


@interface("loss.report", 10, "挂失", ("businessKey", *WHO, "reporterIdNumber"), WAIT, writes=True)
def loss_report(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Report the permit lost."""
    return _loss(ctx, data, "report")


@interface("loss.cancel", 10, "解除挂失（须原挂失人）", ("businessKey", *WHO, "reporterIdNumber"), WAIT, writes=True)
def loss_cancel(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Cancel a loss report."""
    return _loss(ctx, data, "cancel")


@interface("reissue.progressQuery", 11, "补领证件：办理进度查询", WHO)
def reissue_progress(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """The current permit and this channel's reissue submissions."""
    person = find_person(data)
    permit = current_permit(person.id)
    return {
        "permit": _permit_view(permit) if permit else None,
        "submissions": submissions(ctx, person.id_number, ("permit_reissue",)),
    }


@interface(
    "reissue.submit", 11, "补领证件：提交补领申请", ("businessKey", *WHO, "reissueType"), ("note", *WAIT), writes=True
)
def reissue_submit(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Start a reissue (loss, damage or after a loss report)."""
    return start(
        ctx,
        "permit_reissue",
        data,
        form(data, {"idNumber": "id_number", "name": "name", "reissueType": "reissue_type", "note": "note"}),
    )
