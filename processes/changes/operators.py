"""The change_request process's operators: apply an approved change in one transaction, or close it unchanged."""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import select

from handlers.registry import HandlerError, operator
from integrations.crypto import sm3_hex
from models import ProcessEvent, ProcessInstance, db, utcnow
from models.changes import ChangeRequest
from processes.changes.registry import get_type

CLOSED = ("rejected", "withdrawn", "failed")


def token_digest(token: str) -> str:
    """What a request stores of its instance's token."""
    return sm3_hex("permitflow-change-token:" + token)


def _request(request_id: int, token: str) -> ChangeRequest:
    row = db.session.execute(
        select(ChangeRequest).where(ChangeRequest.id == int(request_id)).with_for_update()
    ).scalar_one_or_none()
    if row is None or not row.instance_token or not hmac.compare_digest(row.instance_token, token_digest(token)):
        raise HandlerError("CHANGE_NOT_FOUND", f"变更申请 {request_id} 不存在或不属于本流程实例")
    return row


def release(row: ChangeRequest) -> None:
    """Let the change type free what its submission reserved (e.g. a death-list file) when it ends unapplied."""
    change_type = get_type(row.change_type)
    hook = change_type.extra.get("on_close") if change_type else None
    if hook is not None:
        hook(row.fields, row.status)


def verified_approvers(row: ChangeRequest) -> list[str]:
    """The approvers of levels 1..row.levels, checked against the request's own process history.

    The diagram alone is not trusted (a forged or mis-published diagram could call change.apply directly):
    each required level's latest decision must be "approve", by a different person at each level, none of
    them the submitter. HandlerError (permanent: the request fails, nothing is applied) otherwise.
    """
    from processes.approvals import decision_history  # here: approvals imports the platform, which imports us
    from processes.platform import get_platform

    instance = db.session.get(ProcessInstance, row.instance_id) if row.instance_id else None
    if instance is None or instance.process_key != "change_request":
        raise HandlerError("CHANGE_NOT_APPROVED", f"变更申请 {row.number} 没有审批记录，不能执行")
    latest: dict[int, dict[str, Any]] = {}
    for step in decision_history(get_platform(), instance):
        if step["level"] >= 1:
            latest[step["level"]] = step
    submitters = {row.submitted_by, instance.started_by}
    approvers: list[str] = []
    for level in range(1, row.levels + 1):
        step = latest.get(level)
        if step is None or step["decision"] != "approve":
            raise HandlerError("CHANGE_NOT_APPROVED", f"变更申请 {row.number} 缺少第{level}级审批通过记录，不能执行")
        if step["actor"] in submitters or step["actor"] in approvers:
            raise HandlerError(
                "FOUR_EYES",
                f"变更申请 {row.number} 的第{level}级审批人 {step['actor']} 是提交人或已在其他级审批，不能执行",
            )
        approvers.append(step["actor"])
    return approvers


def _deciders(row: ChangeRequest) -> str | None:
    """Who completed the approval steps, in order (from the instance's append-only history)."""
    if row.instance_id is None:
        return None
    names = db.session.execute(
        select(ProcessEvent.actor)
        .where(ProcessEvent.instance_id == row.instance_id, ProcessEvent.kind == "task_completed")
        .order_by(ProcessEvent.id)
    ).scalars()
    return ",".join(dict.fromkeys(names))[:64] or None


@operator("change.apply", transactional=True)
def apply_change(*, request_id: int, token: str, comment: str = "") -> dict[str, Any]:
    """Apply an approved change request: the type's applier, before/after kept, audited — all or nothing."""
    from processes import audit  # here: processes.audit imports the platform, which imports this module

    row = _request(request_id, token)
    if row.status != "pending":
        raise HandlerError("CHANGE_NOT_PENDING", f"变更申请 {row.number} 当前状态为 {row.status}，不能执行")
    change_type = get_type(row.change_type)
    if change_type is None:
        raise HandlerError("CHANGE_TYPE_UNKNOWN", f"变更类型 {row.change_type} 未注册")
    approvers = verified_approvers(row)
    after = change_type.apply(row.fields, row.before, row.number)
    push = after.pop("push", None)  # external effects the diagram performs after the commit (e-licence push)
    row.after = after
    row.status, row.finished_at = "applied", utcnow()
    row.decided_by = _deciders(row)
    row.outcome_note = (comment or "")[:500] or None
    audit.record(
        "change.apply",
        object_type="change_request",
        object_id=row.number,
        details={"type": row.change_type, "target": row.target, "fields": sorted(after), "approved_by": approvers},
    )
    return {"number": row.number, "status": "applied", "push": push}


@operator("change.close", transactional=True)
def close_change(*, request_id: int, token: str, status: str, note: str = "") -> dict[str, Any]:
    """Close a change request without changing any business data (rejected, or failed when applied)."""
    from processes import audit

    if status not in CLOSED:
        raise HandlerError("CHANGE_STATUS_INVALID", f"变更申请不能以 {status} 结束")
    row = _request(request_id, token)
    if row.status != "pending":
        return {"number": row.number, "status": row.status}
    row.status, row.finished_at = status, utcnow()
    row.decided_by = _deciders(row)
    row.outcome_note = (note or "")[:500] or None
    release(row)
    audit.record(
        f"change.{status}",
        object_type="change_request",
        object_id=row.number,
        details={"type": row.change_type, "target": row.target, "note": row.outcome_note},
    )
    return {"number": row.number, "status": status}
