"""C1.2 process flags: card-production status, photo-review result and express flag (recovery from anomalies)."""

from __future__ import annotations

from typing import Any

from handlers.registry import HandlerError
from models import db
from models.domain import Permit, Photo
from processes.changes.common import PERMIT_FIELD, need_one, permit, person_of, require_unchanged, who
from processes.changes.registry import ChangeType, Prepared, form, register
from processes.integrity import require_intact

CARD_STATUSES = [
    ["none", "未制证"],
    ["queued", "待制证"],
    ["made", "已制卡"],
    ["failed", "制卡失败"],
    ["delivered", "已交付"],
]
REVIEW_RESULTS = [["pending", "待审核"], ["passed", "审核通过"], ["failed", "审核不通过"]]
YES_NO = [["true", "是"], ["false", "否"]]
FIELDS = ("card_status", "photo_review", "express")


def _photo(row: Permit) -> Photo | None:
    return require_intact(db.session.get(Photo, row.photo_id)) if row.photo_id else None


def _current(row: Permit, wanted: dict[str, Any]) -> dict[str, Any]:
    photo = _photo(row)
    values = {"card_status": row.card_status, "photo_review": photo.review_status if photo else None}
    values["express"] = "true" if row.express else "false"
    return {k: values[k] for k in wanted}


def _wanted(fields: dict[str, Any]) -> dict[str, Any]:
    need_one(fields, FIELDS, "请至少选择一项需要修改的流程标志")
    return {k: fields[k] for k in FIELDS if fields.get(k) not in (None, "")}


def _prepare(fields: dict[str, Any]) -> Prepared:
    row = permit(fields["permit_number"])
    wanted = _wanted(fields)
    if "photo_review" in wanted and row.photo_id is None:
        raise HandlerError("NO_PHOTO", "该居住证没有制证照片，不能修改照片审核结果")
    before = _current(row, wanted)
    if before == wanted:
        raise HandlerError("NOTHING_TO_CHANGE", "修改后的流程标志与现状相同，无需修改")
    return Prepared(f"{who(person_of(row))} {row.number}", row.number, row.person_id, before, wanted)


def _apply(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    row = permit(fields["permit_number"])
    wanted = _wanted(fields)
    require_unchanged(_current(row, wanted), before)
    if "card_status" in wanted:
        row.card_status = wanted["card_status"]
    if "express" in wanted:
        row.express = wanted["express"] == "true"
    if "photo_review" in wanted:
        photo = _photo(row)
        photo.review_status = wanted["photo_review"]
        photo.review_reasons = [*(photo.review_reasons or []), f"数据修改 {number}"]
    return _current(row, wanted)


register(
    ChangeType(
        code="process_flags",
        label="制证状态、照片审核结果、快证标志修改",
        group="flags",
        levels=1,
        form=form(
            "process_flags",
            "流程标志修改",
            [
                PERMIT_FIELD,
                {"name": "card_status", "label": "制证状态", "type": "choice", "choices": CARD_STATUSES},
                {"name": "photo_review", "label": "照片审核结果", "type": "choice", "choices": REVIEW_RESULTS},
                {"name": "express", "label": "快证标志", "type": "choice", "choices": YES_NO},
            ],
        ),
        prepare=_prepare,
        apply=_apply,
        description="用于异常恢复：修改居住证的制证状态、制证照片的审核结果或快证标志，一级审核。",
    )
)
