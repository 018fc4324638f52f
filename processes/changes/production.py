"""C2.1 production changes: normal → express, pause / resume / terminate production, wrong-card reset."""

from __future__ import annotations

from typing import Any

from handlers.registry import HandlerError
from models.domain import Permit
from processes.changes.common import PERMIT_FIELD, permit, person_of, require_unchanged, who
from processes.changes.registry import ChangeType, Prepared, form, register
from processes.domain.reissue import request_new_card

QUEUED = ("queued", "failed")  # not handed to the card factory yet


def _state(row: Permit) -> dict[str, Any]:
    return {
        "status": row.status,
        "card_status": row.card_status,
        "express": row.express,
        "production_paused": row.production_paused,
    }


def _check_express(row: Permit) -> None:
    if row.status not in ("approved", "producing") or row.card_status in ("made", "delivered"):
        raise HandlerError("EXPRESS_NOT_ALLOWED", "只有尚在制证中的居住证才能转为快证", {"status": row.status})
    if row.express:
        raise HandlerError("ALREADY_EXPRESS", "该居住证已按快证制作")


def _check_pause(row: Permit) -> None:
    if row.status != "approved" or row.card_status not in QUEUED:
        raise HandlerError(
            "PAUSE_NOT_ALLOWED", "只有待制证（尚未交制卡厂）的居住证才能暂停制证", {"status": row.status}
        )
    if row.production_paused:
        raise HandlerError("ALREADY_PAUSED", "该居住证已暂停制证")


def _check_paused(row: Permit) -> None:
    if row.status != "approved" or not row.production_paused:
        raise HandlerError("NOT_PAUSED", "该居住证未暂停制证")


def _check_reset(row: Permit) -> None:
    if not (row.status == "issued" or (row.status == "producing" and row.card_status == "made")):
        raise HandlerError("RESET_NOT_ALLOWED", "只有已制卡或已发证的居住证才能错证重置", {"status": row.status})


def _express(row: Permit, number: str) -> dict[str, Any]:
    row.express = True
    return _state(row)


def _pause(row: Permit, number: str) -> dict[str, Any]:
    row.production_paused = True  # card production's batch collection skips paused permits
    return _state(row)


def _resume(row: Permit, number: str) -> dict[str, Any]:
    row.production_paused = False
    return _state(row)


def _terminate(row: Permit, number: str) -> dict[str, Any]:
    from processes.changes.undo import _cancel_instance

    row.status = "voided"
    cancelled = _cancel_instance(row.instance_id, f"变更申请 {number} 终止制证")
    return _state(row) | {"instance_cancelled": cancelled}


def _reset(row: Permit, number: str) -> dict[str, Any]:
    # The wrong card is voided and kept as a record; a replacement with the same data and validity is queued.
    new = request_new_card(row)
    return {"old": _state(row), "new": {"number": new.number, **_state(new)}}


def _kind(code: str, label: str, levels: int, check, action, description: str) -> None:
    def prepare(fields: dict[str, Any]) -> Prepared:
        row = permit(fields["permit_number"])
        check(row)
        return Prepared(f"{who(person_of(row))} {row.number}", row.number, row.person_id, _state(row), {"操作": label})

    def apply(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
        row = permit(fields["permit_number"])
        require_unchanged(_state(row), before)
        check(row)
        return action(row, number)

    register(
        ChangeType(
            code=code,
            label=label,
            group="production",
            levels=levels,
            form=form(code, label, [PERMIT_FIELD]),
            prepare=prepare,
            apply=apply,
            description=description,
        )
    )


_kind("production_express", "普通证转快证", 1, _check_express, _express, "尚未制卡的居住证改按快证制作，一级审核。")
_kind(
    "production_pause", "暂停制证", 1, _check_pause, _pause, "尚未交制卡厂的居住证暂停制证，批量制证时跳过，一级审核。"
)
_kind("production_resume", "恢复制证", 1, _check_paused, _resume, "暂停的居住证恢复制证，进入下一批次，一级审核。")
_kind(
    "production_terminate",
    "终止制证",
    2,
    _check_paused,
    _terminate,
    "暂停的居住证终止制证：居住证作废，其申请流程取消，二级复核。",
)
_kind(
    "card_reset",
    "错证重置",
    2,
    _check_reset,
    _reset,
    "错证作废（原证记录保留），按原信息和有效期重新制证，二级复核。",
)
