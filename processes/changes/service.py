"""Change-request services: submit (validated, checked, before-values captured), withdraw, list and show."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import exists, false, func, select

from handlers.registry import HandlerError
from integrations.crypto import sm3_hex
from models import ProcessInstance, db
from models.changes import ChangeRequest
from models.domain import ResidenceRegistration
from processes import audit, case_scope
from processes.changes.operators import release, token_digest
from processes.changes.registry import ChangeType, get_type, types_for_role, value_label
from processes.errors import Conflict, Forbidden, NotFound, ProcessError, ValidationFailed
from processes.files import check_upload, file_reference, upload_file
from processes.instances import cancel_instance, start_instance
from processes.permissions import permissions_for
from processes.platform import Platform
from processes.stepping import Actor
from processes.unit_of_work import transaction

PROCESS_KEY = "change_request"
VIEW_PERMISSION = "change.view"
MAX_REASON = 500
MAX_ATTACHMENTS = 10
STATUS_LABELS = {
    "pending": "审批中",
    "applied": "已生效",
    "rejected": "未通过",
    "withdrawn": "已撤回",
    "failed": "执行失败",
}


def actor_role(actor: Actor) -> str | None:
    """The staff role of an actor (one role per account)."""
    return actor.roles[0] if actor.roles else None


def submittable(actor: Actor) -> list[ChangeType]:
    """The change types this actor's role may submit."""
    return types_for_role(actor_role(actor))


def _type_for(actor: Actor, code: str) -> ChangeType:
    change_type = get_type(code)
    if change_type is None:
        raise NotFound("CHANGE_TYPE_UNKNOWN", "变更类型不存在", {"change_type": code})
    if actor_role(actor) not in change_type.submit_roles:
        raise Forbidden("CHANGE_TYPE_DENIED", f"您的角色不能提交“{change_type.label}”")
    return change_type


def _attachments(ids: list[Any], actor: Actor) -> list[dict[str, Any]]:
    if len(ids) > MAX_ATTACHMENTS:
        raise ValidationFailed("FORM_INVALID", "附件过多", {"fields": {"attachments": f"最多{MAX_ATTACHMENTS}个附件"}})
    refs = []
    for file_id in ids:
        ref = file_reference(file_id, actor)
        if ref is None:
            raise ValidationFailed("FORM_INVALID", "附件不存在", {"fields": {"attachments": "附件不存在，请重新上传"}})
        refs.append(ref)
    return refs


def _summary(change_type: ChangeType, before: dict[str, Any], proposed: dict[str, Any]) -> str:
    lines = [f"{change_type.group_label} · {change_type.label}"]
    for key, value in proposed.items():
        lines.append(f"{value_label(key)}：{display_value(before.get(key))} → {display_value(value)}")
    return "\n".join(lines)[:2000]


def display_value(value: Any) -> str:
    """A before/after value for people: empty shown as such, long digit strings (ID numbers, mobiles) masked."""
    if value is None or value == "":
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    text = str(value)
    # Approvers see the summary in the task's case data: long digit strings (ID numbers, mobiles) masked.
    if len(text) >= 11 and text[:11].isdigit():
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    return text


def submit(
    platform: Platform,
    actor: Actor,
    type_code: str,
    data: dict[str, Any],
    reason: Any,
    attachment_ids: list[Any] | None = None,
) -> ChangeRequest:
    """Validate and check a change request, record it and start its approval process (one transaction)."""
    change_type = _type_for(actor, type_code)
    errors: dict[str, str] = {}
    try:
        fields = change_type.form.validate(data, actor)
    except ValidationFailed as exc:
        errors.update(exc.details.get("fields", {}))
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > MAX_REASON:
        errors["reason"] = f"请填写变更原因（不超过{MAX_REASON}字）"
    if errors:
        raise ValidationFailed("FORM_INVALID", "表单填写有误，请按提示修改", {"fields": errors})
    with transaction():
        attachments = _attachments(list(attachment_ids or []), actor)
        try:
            prepared = change_type.prepare(fields)
        except HandlerError as exc:
            raise ValidationFailed(exc.code, exc.message, {"fields": {}, **exc.details}) from exc
        number = f"BG{datetime.now(platform.settings.zone):%Y%m%d}{secrets.token_hex(4).upper()}"
        row = ChangeRequest(
            number=number,
            change_type=change_type.code,
            business_group=change_type.group,
            levels=change_type.levels,
            status="pending",
            subject=prepared.subject[:120],
            target=prepared.target,
            person_id=prepared.person_id,
            reason=text,
            attachments=attachments,
            submitted_by=actor.name,
            submitted_role=actor_role(actor) or "",
        )
        row.fields = fields
        row.before = prepared.before
        token = secrets.token_hex(16)
        row.instance_token = token_digest(token)
        db.session.add(row)
        db.session.flush()
        start = {
            "request_id": row.id,
            "number": number,
            "token": token,
            "change_type": change_type.code,
            "type_label": f"{change_type.group_label} · {change_type.label}",
            "levels": change_type.levels,
            "subject": row.subject,
            "summary": _summary(change_type, prepared.before, prepared.proposed),
        }
        instance, _ = start_instance(platform, PROCESS_KEY, number, start, actor)
        row.instance_id = instance.id
        audit.record(
            "change.submit",
            object_type="change_request",
            object_id=number,
            details={"type": change_type.code, "target": row.target, "levels": row.levels},
        )
    return row


@dataclass(frozen=True)
class Upload:
    """A file sent with a change-request form, not stored yet."""

    content: bytes
    mime: str


def submit_with_uploads(
    platform: Platform,
    actor: Actor,
    type_code: str,
    data: dict[str, Any],
    reason: Any,
    files: dict[str, Upload],
    attachments: list[Upload],
) -> ChangeRequest:
    """Submit a form with uploaded files: everything is checked before any file is stored, so a refused request
    leaves no file behind (the store is content-addressed and shared, so files are never deleted afterwards)."""
    change_type = _type_for(actor, type_code)
    _precheck(platform, actor, change_type, data, reason, files, attachments)
    max_bytes = platform.settings.API_MAX_BODY_BYTES
    stored = {name: upload_file(u.content, u.mime, actor, max_bytes)[0]["id"] for name, u in files.items()}
    attachment_ids = [upload_file(u.content, u.mime, actor, max_bytes)[0]["id"] for u in attachments]
    return submit(platform, actor, type_code, {**data, **stored}, reason, attachment_ids)


def _precheck(
    platform: Platform,
    actor: Actor,
    change_type: ChangeType,
    data: dict[str, Any],
    reason: Any,
    files: dict[str, Upload],
    attachments: list[Upload],
) -> None:
    """The submit checks, with each uploaded file standing in by its digest (ValidationFailed as submit would)."""
    errors: dict[str, str] = {}
    max_bytes = platform.settings.API_MAX_BODY_BYTES
    for name, upload in files.items():
        try:
            check_upload(upload.content, upload.mime, max_bytes)
        except ProcessError as exc:
            errors[name] = exc.message
    if len(attachments) > MAX_ATTACHMENTS:
        errors["attachments"] = f"最多{MAX_ATTACHMENTS}个附件"
    for upload in attachments:
        try:
            check_upload(upload.content, upload.mime, max_bytes)
        except ProcessError as exc:
            errors["attachments"] = exc.message
    form = replace(change_type.form, fields=tuple(f for f in change_type.form.fields if f.name not in files))
    fields: dict[str, Any] = {}
    try:
        fields = form.validate({k: v for k, v in data.items() if k not in files}, actor)
    except ValidationFailed as exc:
        errors.update(exc.details.get("fields", {}))
    text = reason.strip() if isinstance(reason, str) else ""
    if not text or len(text) > MAX_REASON:
        errors["reason"] = f"请填写变更原因（不超过{MAX_REASON}字）"
    if errors:
        raise ValidationFailed("FORM_INVALID", "表单填写有误，请按提示修改", {"fields": errors})
    for name, upload in files.items():
        digest = sm3_hex(upload.content)
        fields[name] = {"id": digest[:16], "sm3": digest, "size": len(upload.content), "mime": upload.mime}
    with transaction():  # read-only: the identity check and before-values, as submit will redo them
        try:
            change_type.prepare(fields)
        except HandlerError as exc:
            raise ValidationFailed(exc.code, exc.message, {"fields": {}, **exc.details}) from exc


def get_request(number: str) -> ChangeRequest:
    """A change request by number, or NotFound."""
    row = db.session.execute(select(ChangeRequest).where(ChangeRequest.number == number)).scalar_one_or_none()
    if row is None:
        raise NotFound("CHANGE_NOT_FOUND", "变更申请不存在", {"number": number})
    return row


def withdraw(platform: Platform, actor: Actor, number: str, reason: Any = "") -> ChangeRequest:
    """The submitter withdraws a request still in approval: its process is cancelled, nothing changes."""
    with transaction():
        row = get_request(number)
        if row.submitted_by != actor.name:
            raise Forbidden("CHANGE_NOT_YOURS", "只能撤回本人提交的变更申请")
        if row.status != "pending":
            raise Conflict("CHANGE_NOT_PENDING", "该变更申请已结束，不能撤回", {"status": row.status})
        instance = db.session.get(ProcessInstance, row.instance_id)
        note = (reason.strip() if isinstance(reason, str) else "") or "申请人撤回"
        cancel_instance(platform, instance.public_id, actor, note[:200])
        row.status, row.outcome_note = "withdrawn", note[:500]
        release(row)
        row.finished_at = instance.completed_at
        audit.record("change.withdraw", object_type="change_request", object_id=number, details={"note": note})
    return row


@dataclass
class RequestPage:
    """A page of change requests."""

    items: list[ChangeRequest]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages."""
        return max(1, -(-self.total // self.per_page))


def _require_view(actor: Actor) -> None:
    """Only staff whose role grants change.view (data operators, approvers) read change requests."""
    if actor.kind != "user" or not any(VIEW_PERMISSION in permissions_for(role) for role in actor.roles):
        raise Forbidden("CHANGE_VIEW_DENIED", "您没有查看变更申请的权限")


def _scope(actor: Actor):
    """A WHERE clause limiting requests to the district-scoped actor's district (by the subject's active
    registration), or None for roles that see every district. A request without a subject is in no district."""
    if not case_scope.is_scoped(actor):
        return None
    district = actor.extra["district"]
    if not district:
        return false()
    return exists(
        select(ResidenceRegistration.id).where(
            ResidenceRegistration.person_id == ChangeRequest.person_id,
            ResidenceRegistration.district == district,
            ResidenceRegistration.status == "active",
        )
    )


def list_requests(
    actor: Actor,
    *,
    status: str | None = None,
    change_type: str | None = None,
    group: str | None = None,
    submitted_by: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> RequestPage:
    """Change requests the actor may see (permission, district scope), newest first, filtered."""
    _require_view(actor)
    query = select(ChangeRequest)
    scope = _scope(actor)
    if scope is not None:
        query = query.where(scope)
    if status:
        query = query.where(ChangeRequest.status == status)
    if change_type:
        query = query.where(ChangeRequest.change_type == change_type)
    if group:
        query = query.where(ChangeRequest.business_group == group)
    if submitted_by:
        query = query.where(ChangeRequest.submitted_by == submitted_by)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(
        query.order_by(ChangeRequest.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).scalars()
    return RequestPage(list(rows), total, page, per_page)


def request_detail(actor: Actor, number: str) -> dict[str, Any]:
    """A change request the actor may see, with its type, values before / requested / after, and its process.

    Outside the actor's district scope it does not exist for them (NotFound, as for an unknown number).
    """
    _require_view(actor)
    row = get_request(number)
    scope = _scope(actor)
    if (
        scope is not None
        and not db.session.execute(select(ChangeRequest.id).where(ChangeRequest.id == row.id, scope)).first()
    ):
        raise NotFound("CHANGE_NOT_FOUND", "变更申请不存在", {"number": number})
    change_type = get_type(row.change_type)
    instance = db.session.get(ProcessInstance, row.instance_id) if row.instance_id else None
    fields = row.fields
    labels = {f.name: f.label for f in change_type.form.fields} if change_type else {}
    return {
        "request": row,
        "type": change_type,
        "status_label": STATUS_LABELS.get(row.status, row.status),
        "fields": [(labels.get(k, k), v) for k, v in fields.items()],
        "before": row.before,
        "after": row.after,
        "instance": instance,
    }
