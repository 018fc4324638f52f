"""Four-eyes publication of diagram drafts: the author submits, a different analyst approves or rejects.

Deploying a diagram changes what the platform does for every new case (and, through its expressions, what code
runs), so no one publishes their own change: the author (process.design) submits the validated draft with a
comment; another person holding process.publish reviews exactly that XML and only their approval deploys it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from integrations.crypto import sm3_hex
from models import DiagramDraft, db, utcnow
from processes import audit
from processes.deployment import DeployResult, deploy_sources, latest_definition
from processes.design import check_open, get_draft, validate
from processes.errors import Conflict, DeploymentError, Forbidden, NotFound, ValidationFailed
from processes.platform import Platform
from processes.unit_of_work import transaction

COMMENT_MAX = 500


def _text(value: Any, field: str, required_message: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ValidationFailed("COMMENT_REQUIRED", required_message, {"fields": {field: required_message}})
    if len(text) > COMMENT_MAX:
        message = f"不能超过 {COMMENT_MAX} 个字"
        raise ValidationFailed("COMMENT_TOO_LONG", message, {"fields": {field: message}})
    return text


def _object_id(draft: DiagramDraft) -> str:
    return f"{draft.kind}:{draft.key}"


def submit_draft(platform: Platform, draft_id: int, comment: Any, author: str) -> DiagramDraft:
    """The author asks for publication: the draft must pass the deploy checks and differ from the latest version."""
    text = _text(comment, "comment", "提交发布必须填写变更说明")
    draft = get_draft(draft_id, author)
    check_open(draft)
    report = validate(platform, draft.kind, draft.key, draft.file_name, draft.source_xml)
    if not report.ok:
        raise DeploymentError(
            "DEPLOYMENT_INVALID", f"草稿有{len(report.problems)}处问题，不能提交发布", {"problems": report.problems}
        )
    latest = latest_definition(draft.kind, draft.key)
    if latest is not None and latest.source_xml == draft.source_xml:
        raise Conflict(
            "NO_CHANGE", f"草稿与当前版本 v{latest.version} 相同，没有可发布的变更", {"version": latest.version}
        )
    with transaction():
        draft.status = "submitted"
        draft.problems = 0
        draft.submitted_by, draft.submitted_at, draft.submit_comment = author, utcnow(), text
        draft.submitted_checksum = sm3_hex(draft.source_xml)
        draft.reviewed_by = draft.reviewed_at = draft.review_note = None
        draft.updated_at = utcnow()
        audit.record(
            "process.submit",
            object_type="diagram_draft",
            object_id=_object_id(draft),
            details={"draft_id": draft.id, "comment": text, "checksum": draft.submitted_checksum},
        )
    return draft


def withdraw_submission(draft_id: int, author: str) -> DiagramDraft:
    """The author takes a submitted draft back to edit it further."""
    with transaction():
        draft = _locked(draft_id)
        if draft.author != author:
            raise Forbidden("DRAFT_NOT_YOURS", "只能撤回自己提交的草稿", {"draft_id": draft_id})
        _check_submitted(draft)
        draft.status = "open"
        draft.updated_at = utcnow()
        audit.record(
            "process.submit_withdraw",
            object_type="diagram_draft",
            object_id=_object_id(draft),
            details={"draft_id": draft.id},
        )
    return draft


def review_queue() -> list[DiagramDraft]:
    """Drafts awaiting review, oldest submission first."""
    return list(
        db.session.execute(
            select(DiagramDraft).where(DiagramDraft.status == "submitted").order_by(DiagramDraft.submitted_at)
        ).scalars()
    )


def submission(draft_id: int) -> DiagramDraft:
    """A submitted draft, for a reviewer to read (NotFound when it is not awaiting review)."""
    draft = db.session.get(DiagramDraft, draft_id)
    if draft is None or draft.status != "submitted":
        raise NotFound("SUBMISSION_NOT_FOUND", "没有待审核的该草稿", {"draft_id": draft_id})
    return draft


def own_submission(draft: DiagramDraft, reviewer: str) -> bool:
    """True when the reviewer wrote or submitted the draft (and so may not review it)."""
    return reviewer in (draft.author, draft.submitted_by)


def approve(
    platform: Platform, draft_id: int, reviewer: str, permissions: Collection[str], note: Any = ""
) -> list[DeployResult]:
    """A different analyst with process.publish approves: the exact submitted XML is deployed as a new version.

    Returns the deployments, the draft's own first (a DMN draft also redeploys the processes using it).
    """
    text = note.strip()[:COMMENT_MAX] if isinstance(note, str) else ""
    with transaction():
        draft = _reviewable(draft_id, reviewer, permissions, "approve")
        if sm3_hex(draft.source_xml) != draft.submitted_checksum:
            raise Conflict("DRAFT_CHANGED", "草稿内容与提交时不一致，不能发布，请作者重新提交")
        comment = draft.submit_comment or ""
        results = deploy_sources(platform, [(draft.file_name, draft.source_xml)], reviewer, comment)
        own = next(r for r in results if r.kind == draft.kind and r.key == draft.key)
        if not own.created:
            raise Conflict(
                "NO_CHANGE", f"草稿与当前版本 v{own.version} 相同，没有可发布的变更", {"version": own.version}
            )
        draft.status = "published"
        draft.published_definition_id = own.definition_id
        draft.reviewed_by, draft.reviewed_at, draft.review_note = reviewer, utcnow(), text or None
        draft.updated_at = utcnow()
        audit.record(
            "process.publish",
            object_type="process_definition",
            object_id=f"{own.kind}:{own.key}:v{own.version}",
            details={
                "comment": comment,
                "versions": [f"{r.kind}:{r.key}:v{r.version}" for r in results if r.created],
                "draft_id": draft.id,
                "author": draft.author,
                "submitted_by": draft.submitted_by,
                "approved_by": reviewer,
                "checksum": draft.submitted_checksum,
            },
        )
    return [own, *(r for r in results if r is not own)]


def reject(draft_id: int, reviewer: str, permissions: Collection[str], reason: Any) -> DiagramDraft:
    """A different analyst with process.publish sends the draft back to its author with a reason."""
    text = _text(reason, "reason", "退回必须填写原因")
    with transaction():
        draft = _reviewable(draft_id, reviewer, permissions, "reject")
        draft.status = "open"
        draft.reviewed_by, draft.reviewed_at, draft.review_note = reviewer, utcnow(), text
        draft.updated_at = utcnow()
        audit.record(
            "process.publish_reject",
            object_type="diagram_draft",
            object_id=_object_id(draft),
            details={"draft_id": draft.id, "author": draft.author, "reason": text},
        )
    return draft


def _locked(draft_id: int) -> DiagramDraft:
    draft = db.session.execute(
        select(DiagramDraft).where(DiagramDraft.id == draft_id).with_for_update()
    ).scalar_one_or_none()
    if draft is None:
        raise NotFound("DRAFT_NOT_FOUND", "草稿不存在", {"draft_id": draft_id})
    return draft


def _check_submitted(draft: DiagramDraft) -> None:
    if draft.status != "submitted":
        raise Conflict("DRAFT_NOT_SUBMITTED", "该草稿不在待审核状态", {"status": draft.status})


def _reviewable(draft_id: int, reviewer: str, permissions: Collection[str], action: str) -> DiagramDraft:
    """The locked submitted draft, when the reviewer may decide it; refusals are audited."""
    draft = _locked(draft_id)
    _check_submitted(draft)
    refusal = None
    if "process.publish" not in permissions:
        refusal = Forbidden("PERMISSION_DENIED", "审核发布需要“发布流程”权限")
    elif own_submission(draft, reviewer):
        refusal = Forbidden(
            "FOUR_EYES",
            "双人复核：不能审核本人编写或提交的草稿，请由另一位有发布权限的人员审核",
            {"draft_id": draft_id},
        )
    if refusal is not None:
        audit.log(
            f"process.review_{action}",
            result="denied",
            object_type="diagram_draft",
            object_id=_object_id(draft),
            details={"draft_id": draft.id, "reason": refusal.code},
        )
        raise refusal
    return draft
